//! Profiles from the command line, as a user (and the held-back measurement) drives them.

mod common;

use std::path::Path;

use common::*;

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.lines().next().unwrap_or("")).expect("one JSON document")
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn neutral_ref_without_a_face_is_a_clear_error() {
    let no_face = repo().join("assets/icon.png");
    let (out, stdout, stderr) = run(emotune()
        .args(["classify", "--neutral-ref"])
        .arg(&no_face)
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("icon.png") && stderr.contains("no face found"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing classified: {stdout}");
}

#[test]
fn neutral_ref_calibrates_one_run_and_keeps_the_model_scores() {
    let home = temp_dir("neutral-ref");
    let mut c = emotune();
    let (out, stdout, stderr) = run(isolate(&mut c, &home)
        .args(["classify", "--json", "--neutral-ref"])
        .arg(astronaut())
        .arg("--")
        .arg(astronaut()));
    assert!(out.status.success(), "{stderr}");
    let face = &json(&stdout)["faces"][0];
    // The reference is this very face: it reads as a typical relaxed face.
    assert_eq!(face["emotion"], "neutral", "{stdout}");
    assert_eq!(
        face["unadjusted"]["happy"].as_f64().map(|p| p > 0.5),
        Some(true)
    );
    assert!(
        files(&home).is_empty(),
        "nothing stored: {:?}",
        files(&home)
    );
}

#[test]
fn a_profile_calibrated_on_the_command_line_survives_and_stores_no_image() {
    let home = temp_dir("profile-cli");
    let cmd = |args: &[&str]| {
        let mut c = emotune();
        isolate(&mut c, &home).args(args);
        c
    };
    let (out, _, stderr) = run(&mut cmd(&[
        "profile",
        "create",
        "Ana",
        "--language",
        "telugu",
    ]));
    assert!(out.status.success(), "{stderr}");
    let a = astronaut();
    let a = a.to_str().expect("utf-8 path");
    let (out, _, stderr) = run(&mut cmd(&["profile", "calibrate", "ana", "--neutral", a]));
    assert!(out.status.success(), "{stderr}");
    // Each command is a new process: what it reads was stored by the one before.
    let (out, stdout, stderr) = run(&mut cmd(&["classify", "--json", "--profile", "Ana", a]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(json(&stdout)["faces"][0]["emotion"], "neutral", "{stdout}");
    let (_, stdout, _) = run(&mut cmd(&["profile", "list", "--json"]));
    let list = json(&stdout);
    let ana = &list["profiles"][0];
    assert_eq!(ana["name"], "Ana");
    assert_eq!(ana["calibrated"], true);
    assert_eq!(ana["language"], "telugu");
    let out_file = home.join("ana-export.json");
    let (out, _, stderr) = run(&mut cmd(&[
        "profile",
        "export",
        "ana",
        "--out",
        out_file.to_str().expect("utf-8"),
    ]));
    assert!(out.status.success(), "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("export")).expect("json");
    assert!(doc["corrections"].is_array() && doc["neutral_reference"]["frames"] == 1);
    // The profile folder holds JSON numbers and the active marker, no picture.
    let dir = home.join("data/emotune/profiles");
    let stored = files(&dir);
    assert!(!stored.is_empty());
    for f in stored {
        let bytes = std::fs::read(&f).expect("read");
        let text = String::from_utf8(bytes.clone()).expect("text, not an image");
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(name == "active" || name.ends_with(".json"), "{name}");
        assert!(bytes.len() < 16 * 1024, "{name}: {} bytes", bytes.len());
        if name.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
        }
    }
    let (out, _, _) = run(&mut cmd(&["profile", "delete", "ana"]));
    assert!(out.status.success());
    let (out, _, stderr) = run(&mut cmd(&["classify", "--profile", "ana", a]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no profile named"), "{stderr}");
}

#[test]
fn a_corrupt_profile_is_named_kept_and_the_rest_still_works() {
    let home = temp_dir("profile-corrupt");
    let dir = home.join("data/emotune/profiles");
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bob.json");
    std::fs::write(&bad, "{\"name\": 12").expect("write");
    let cmd = |args: &[&str]| {
        let mut c = emotune();
        isolate(&mut c, &home).args(args);
        c
    };
    let (out, _, stderr) = run(&mut cmd(&["profile", "list"]));
    assert!(out.status.success());
    assert!(
        stderr.contains("bob.json") && stderr.contains("kept"),
        "{stderr}"
    );
    let a = astronaut();
    let a = a.to_str().expect("utf-8 path");
    let (out, _, stderr) = run(&mut cmd(&["classify", "--profile", "bob", a]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("bob.json"), "{stderr}");
    let (out, stdout, _) = run(&mut cmd(&["classify", a]));
    assert!(out.status.success() && stdout.contains("happy"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&bad).expect("kept"),
        "{\"name\": 12",
        "the file is left as it was"
    );
}

/// The calibration protocol end to end on what the repository has: one person's three copies
/// of the smiling astronaut portrait, two filed as neutral and one as happy, plus a picture
/// without a face. Leave-one-out: each "neutral" copy is calibrated on the other and reads
/// neutral (right), the "happy" one on both and reads neutral too (wrong); the model alone
/// reads all three as happy.
#[test]
fn profile_evaluate_runs_the_leave_one_out_protocol() {
    let dir = temp_dir("evaluate");
    let put = |rel: &str, from: &Path| {
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from, &to).expect("copy");
    };
    put("eileen/neutral/a.png", &astronaut());
    put("eileen/neutral/b.png", &astronaut());
    put("eileen/happy/c.png", &astronaut());
    put("eileen/not-an-emotion/d.png", &astronaut());
    put("nobody/neutral/icon.png", &repo().join("assets/icon.png"));
    let (out, stdout, stderr) = run(emotune().args(["profile", "evaluate", "--json"]).arg(&dir));
    assert!(out.status.success(), "{stderr}");
    let v = json(&stdout);
    let all = &v["all"];
    assert_eq!(
        (
            all["n"].as_u64(),
            all["raw"].as_u64(),
            all["calibrated"].as_u64()
        ),
        (Some(3), Some(1), Some(2)),
        "{stdout}"
    );
    assert_eq!(v["people"]["eileen"]["n"].as_u64(), Some(3), "{stdout}");
    let no_face = v["no_face"].as_array().expect("no_face");
    assert!(
        no_face.len() == 1 && no_face[0].as_str().is_some_and(|p| p.ends_with("icon.png")),
        "{stdout}"
    );
    let (bad, _, stderr) = run(emotune()
        .args(["profile", "evaluate"])
        .arg(dir.join("nobody/neutral")));
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("DIR/<person>/<emotion>/<image>"),
        "{stderr}"
    );
}
