//! The binary's command-line contract (DESIGN.md), driven as a user would.

mod common;

use common::*;

#[test]
fn help_lists_the_subcommands() {
    let (out, stdout, _) = run(emotune().arg("--help"));
    assert!(out.status.success());
    for sub in ["classify", "eval", "bench", "devices"] {
        assert!(stdout.contains(sub), "--help lacks {sub}:\n{stdout}");
    }
}

#[test]
fn unknown_subcommands_and_bad_flags_get_a_usage_error() {
    let (out, _, stderr) = run(emotune().arg("frobnicate"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("Usage"), "{stderr}");
    let (out, _, stderr) = run(emotune().args(["classify", "--bogus", "x.png"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("--bogus"), "{stderr}");
    let (out, _, stderr) = run(emotune().args(["eval", "--data", "x", "--split", "Train"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("PrivateTest"), "{stderr}");
    let (out, _, stderr) = run(emotune().args(["--resolution", "1280by720", "devices"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("WIDTHxHEIGHT"), "{stderr}");
    let (out, _, stderr) = run(emotune().args(["--fps", "0", "devices"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("0.1 to 240"), "{stderr}");
}

#[test]
fn devices_lists_cameras_or_says_none() {
    let (out, stdout, _) = run(emotune().arg("devices"));
    assert!(out.status.success());
    let none = stdout.contains("no cameras found");
    let some = stdout.lines().any(|l| l.starts_with("camera:"));
    assert!(none ^ some, "{stdout}");
    let (out, stdout, _) = run(emotune().args(["devices", "--json"]));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(v.is_array());
}

#[test]
fn the_app_without_a_display_says_so_and_fails_cleanly() {
    let (out, _, stderr) = run(emotune()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["--source", "tests/fixtures/astronaut.png"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stderr.contains("xvfb-run"), "{stderr}");
}

#[test]
fn classify_answers_good_files_and_reports_broken_ones() {
    let dir = temp_dir("classify");
    let broken = dir.join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8\xff not really a jpeg").expect("write");
    let text = dir.join("notes.png");
    std::fs::write(&text, "hello").expect("write");
    let missing = dir.join("missing.png");
    let (out, stdout, _) = run(emotune()
        .arg("classify")
        .arg("--json")
        .arg(astronaut())
        .arg(&broken)
        .arg(&text)
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1), "a failed image means exit 1");
    let docs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    assert_eq!(docs.len(), 4);
    let good = &docs[0];
    assert!(good["error"].is_null());
    let faces = good["faces"].as_array().expect("faces");
    assert_eq!(
        faces.len(),
        1,
        "the astronaut portrait has one face: {good}"
    );
    let face = &faces[0];
    let b: Vec<i64> = face["box"]
        .as_array()
        .expect("box")
        .iter()
        .map(|v| v.as_i64().expect("int"))
        .collect();
    // The face is in the upper middle of the 512×512 portrait.
    assert!(
        b[0] > 100 && b[0] < 260 && b[1] > 20 && b[1] < 160 && b[2] > 80 && b[2] < 260,
        "{b:?}"
    );
    let scores = face["scores"].as_object().expect("scores");
    assert_eq!(scores.len(), 7);
    let sum: f64 = scores.values().map(|v| v.as_f64().expect("f64")).sum();
    assert!((sum - 1.0).abs() < 1e-3);
    let conf = face["confidence"].as_f64().expect("confidence");
    assert!(
        (conf
            - scores[face["emotion"].as_str().expect("emotion")]
                .as_f64()
                .expect("f64"))
        .abs()
            < 1e-6
    );
    for (doc, name) in docs[1..]
        .iter()
        .zip(["broken.jpg", "notes.png", "missing.png"])
    {
        let err = doc["error"].as_str().expect("an error message");
        assert!(err.contains(name), "{err}");
        assert_eq!(doc["faces"].as_array().map(|a| a.len()), Some(0));
    }
}

#[test]
fn classify_assume_face_uses_the_whole_image() {
    let dir = temp_dir("assume");
    let img = dir.join("face.png");
    image::open(astronaut())
        .expect("fixture")
        .crop_imm(150, 60, 140, 140)
        .resize_exact(48, 48, image::imageops::FilterType::Triangle)
        .save(&img)
        .expect("save");
    let (out, stdout, stderr) = run(emotune()
        .args(["classify", "--json", "--assume-face"])
        .arg(&img)
        .env_remove("TORCH_CPP_LOG_LEVEL"));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["faces"][0]["box"], serde_json::json!([0, 0, 48, 48]));
    // A clean run says nothing on stderr: in particular not libtorch's int8 deprecation notice.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn a_wrong_model_file_is_a_clear_error() {
    let dir = temp_dir("badmodel");
    let bogus = dir.join("model.pt");
    std::fs::write(&bogus, b"not a torchscript archive").expect("write");
    let (out, _, stderr) = run(emotune()
        .arg("--model")
        .arg(&bogus)
        .args(["classify"])
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("model.pt") && stderr.contains("TorchScript"),
        "{stderr}"
    );
    let (out, _, stderr) = run(emotune()
        .arg("--model")
        .arg(dir.join("absent.pt"))
        .args(["classify"])
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("absent.pt") && stderr.contains("EMOTUNE_MODEL"),
        "{stderr}"
    );
}

#[test]
fn eval_on_private_test_agrees_with_the_python_evaluation() {
    let Some(data) = fer2013() else {
        eprintln!("SKIPPED: FER-2013 not found (set FER2013_DIR or keep ../shared/datasets)");
        return;
    };
    // Written by training/ when it exported the shipped model (PyTorch, same file, same split,
    // FER+ labels from ../shared/datasets/ferplus.csv, which eval finds by itself).
    let python: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("models/metrics.json")).expect("models/metrics.json"),
    )
    .expect("metrics JSON");
    let png = temp_dir("eval").join("cm.png");
    let (out, stdout, stderr) = run(emotune()
        .args(["eval", "--json", "--split", "PrivateTest", "--data"])
        .arg(&data)
        .arg("--confusion")
        .arg(&png));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["labels"], "ferplus");
    // FER+'s usual PrivateTest: ties and contempt/unknown/not-a-face rows left out.
    assert_eq!(v["n"], 3349);
    assert_eq!(v["n"], python["n"]);
    assert_eq!(v["folder_n"], 3589);
    // Accuracy within 0.3 points. Macro-F1 weighs the few disgust faces like the many happy
    // ones: one borderline disgust face moves it by ~0.2 points, so it gets 0.5.
    for (key, tol) in [
        ("accuracy", 0.003),
        ("macro_f1", 0.005),
        ("accuracy_4class", 0.003),
        ("folder_accuracy", 0.003),
        ("ece", 0.005),
        ("ece_votes", 0.005),
        ("kl", 0.01),
    ] {
        let rust = v[key].as_f64().expect(key);
        let py = python[key].as_f64().expect(key);
        assert!(
            (rust - py).abs() <= tol,
            "{key}: Rust {rust:.4} vs Python {py:.4}"
        );
    }
    assert_eq!(v["per_class"].as_object().map(|m| m.len()), Some(7));
    assert!(image::open(&png).is_ok(), "confusion PNG written");

    // The folder labels alone: the whole split.
    let (out, stdout, stderr) = run(emotune()
        .args([
            "eval", "--json", "--labels", "folder", "--limit", "50", "--data",
        ])
        .arg(&data));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["n"], 50);
    assert!(v.get("ece").is_none(), "{v}");

    // A vote table that is not there, or not FER+'s, is named with the way out.
    let (out, _, stderr) = run(emotune()
        .args(["eval", "--votes", "/no/such/ferplus.csv", "--data"])
        .arg(&data));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("/no/such/ferplus.csv"), "{stderr}");
    let junk = temp_dir("eval-votes").join("votes.csv");
    std::fs::write(&junk, "file,label\nx.jpg,happy\n").expect("write");
    let (out, _, stderr) = run(emotune()
        .arg("eval")
        .arg("--votes")
        .arg(&junk)
        .arg("--data")
        .arg(&data));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("votes.csv") && stderr.contains("first line"),
        "{stderr}"
    );
}

#[test]
fn bench_reports_the_contract_fields_and_refuses_a_missing_source() {
    // Behaviour only: the shape of the report and that every frame of a still photo has its face.
    // Speed itself is measured with `emotune bench` by hand (docs/performance.md), not asserted here.
    let (out, stdout, stderr) = run(emotune()
        .args(["bench", "--json", "--frames", "12", "--source"])
        .arg(astronaut()));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON document");
    assert_eq!(v["frames"], 12);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(512), Some(512))
    );
    assert!(v["fps"].as_f64().is_some_and(|f| f > 0.0), "{v}");
    for key in ["detect", "classify", "classify_per_face", "total"] {
        let (p50, p95) = (v[key]["p50"].as_f64(), v[key]["p95"].as_f64());
        assert!(
            matches!((p50, p95), (Some(a), Some(b)) if 0.0 < a && a <= b),
            "{key}: {v}"
        );
    }
    assert_eq!(v["faces_per_frame"].as_f64(), Some(1.0), "{v}");
    assert!(
        v["total"]["p50"].as_f64() >= v["classify"]["p50"].as_f64(),
        "{v}"
    );

    let missing = temp_dir("bench").join("no-such-frames");
    let (out, stdout, stderr) = run(emotune().args(["bench", "--source"]).arg(&missing));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("no-such-frames"), "{stderr}");
}

#[test]
fn the_app_renders_a_screenshot_under_xvfb() {
    let Ok(xvfb) = which("xvfb-run") else {
        eprintln!("SKIPPED: xvfb-run not installed (make test installs it)");
        return;
    };
    let dir = temp_dir("shot");
    let shot = dir.join("shot.png");
    let mut cmd = std::process::Command::new(xvfb);
    let (out, _, stderr) = run(isolate(&mut cmd, &dir)
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_emotune"))
        .arg("--source")
        .arg(repo().join("tests/fixtures"))
        .arg("--screenshot")
        .arg(&shot)
        .args(["--quit-after", "5"]));
    assert!(out.status.success(), "{stderr}");
    let img = image::open(&shot).expect("a PNG").to_rgb8();
    assert!(
        img.width() >= 720 && img.height() >= 480,
        "{:?}",
        img.dimensions()
    );
    // Not a blank window: the feed and the panels put many distinct colours on screen.
    let distinct: std::collections::HashSet<[u8; 3]> =
        img.pixels().step_by(7).map(|p| p.0).collect();
    assert!(distinct.len() > 500, "only {} colours", distinct.len());
}

fn which(cmd: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(cmd))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

// Built on the synthetic rooms and test faces (feature `measure`).
#[cfg(feature = "measure")]
/// Writes `n` frames of `kind` with their truth.json into `dir/<set name>`.
fn write_set(dir: &std::path::Path, kind: emotune::vision::scene::SetKind, n: u32) {
    use emotune::vision::scene::{set_frame, set_room};
    use emotune::vision::testset::ASTRONAUT_FACE;
    let portrait = image::open(astronaut()).expect("fixture").to_rgb8();
    let set = dir.join(kind.name());
    std::fs::create_dir_all(&set).expect("set dir");
    let room = set_room(kind, 5);
    let mut truth = Vec::new();
    for i in 0..n {
        let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, i, 5);
        let name = format!("{i:04}.png");
        f.frame.save(set.join(&name)).expect("frame");
        let faces: Vec<_> = f.faces.iter().map(|b| b.to_array()).collect();
        truth.push(serde_json::json!({"file": name, "faces": faces}));
    }
    let doc = serde_json::json!({ "frames": truth });
    std::fs::write(set.join("truth.json"), doc.to_string()).expect("truth");
}

#[cfg(feature = "measure")]
#[test]
fn bench_on_textured_rooms_reports_one_box_per_face_and_no_false_positives() {
    use emotune::vision::scene::{SetKind, Texture};
    let dir = temp_dir("sets");
    write_set(&dir, SetKind::Move(Texture::Clutter), 40);
    write_set(&dir, SetKind::Cold, 20);
    let (out, stdout, stderr) = run(emotune().args(["bench", "--json", "--source"]).arg(&dir));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON document");
    let sets = v["sets"].as_array().expect("one report per set");
    assert_eq!(sets.len(), 2, "{v}");
    for s in sets {
        assert_eq!(s["false_positives"], 0, "{s}");
        assert_eq!(s["truth_faces_per_frame"], 1.0, "{s}");
    }
    let by_name = |n: &str| sets.iter().find(|s| s["set"] == n).expect(n);
    let moving = by_name("move-clutter");
    assert_eq!(moving["frames"], 40);
    // One face in every frame: one box in every frame, none doubled.
    assert_eq!(moving["faces_per_frame"], 1.0, "{moving}");
    assert_eq!(moving["missed"], 0, "{moving}");
    // Tracked between the periodic rescans (which run in the background): a moving face is
    // not mistaken for a scene cut.
    assert!(
        moving["full_scans"].as_u64() <= Some(40 / 10 + 1),
        "{moving}"
    );
    let cold = by_name("cold");
    assert!(cold["faces_per_frame"].as_f64() >= Some(0.85), "{cold}");
    assert_eq!(cold["full_scans"], 20, "a new scene every frame: {cold}");
}

#[cfg(feature = "measure")]
#[test]
fn eval_through_the_detector_finds_the_faces_and_keeps_the_accuracy() {
    let Some(data) = fer2013() else {
        eprintln!("SKIPPED: FER-2013 not found (set FER2013_DIR or keep ../shared/datasets)");
        return;
    };
    let (out, stdout, stderr) = run(emotune()
        .args([
            "eval",
            "--json",
            "--through-detector",
            "--split",
            "PrivateTest",
        ])
        .args(["--limit", "400", "--data"])
        .arg(&data));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let d = &v["through_detector"];
    assert_eq!(d["frames"], 400, "{v}");
    // rustface finds ~85 % of FER-2013's faces (docs/detection.md: the rest score below its threshold).
    assert!(d["detection_rate"].as_f64() >= Some(0.8), "{d}");
    assert!(d["false_positives"].as_u64() <= Some(8), "{d}");
    // The tuned crop keeps what the classifier sees close to the dataset's own framing.
    let (through, direct) = (
        v["accuracy"].as_f64(),
        d["direct_accuracy_detected"].as_f64(),
    );
    assert!(
        matches!((through, direct), (Some(t), Some(g)) if (t - g).abs() <= 0.06),
        "through {through:?} vs direct {direct:?}"
    );
    // Tuning looks at PublicTest only.
    let (out, _, stderr) = run(emotune()
        .args([
            "eval",
            "--through-detector",
            "--tune-crop",
            "--split",
            "PrivateTest",
        ])
        .arg("--data")
        .arg(&data));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("PublicTest"), "{stderr}");
}
