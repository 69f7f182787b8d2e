//! Bad inputs through the command line: every case of the corpus into `classify` and into
//! `--source` (the bench runs the app's source path headless), broken models, broken
//! settings, mapping, cache and `.env`. Each must end in a message naming the file, a non-zero
//! exit where the command cannot do its job, no panic and no user file lost.
//! `cargo test --release --test bad_inputs -- --nocapture` prints the outcome table.

mod common;
mod corpus;

use common::*;
use corpus::Expect;

/// One line of what happened, for the table: exit code and the first line of the error (or
/// of the answer, when it succeeded).
fn outcome(out: &std::process::Output, stdout: &str, stderr: &str) -> String {
    let code = out.status.code().map_or("signal".into(), |c| c.to_string());
    if out.status.success() && stderr.trim().is_empty() {
        let first = stdout.lines().next().unwrap_or("").trim();
        return format!(
            "exit {code}: {}",
            first.chars().take(110).collect::<String>()
        );
    }
    let first = stderr
        .lines()
        .find(|l| {
            let l = l.to_lowercase();
            l.contains("error") || l.contains("warn")
        })
        .unwrap_or("");
    format!(
        "exit {code}: {}",
        first.chars().take(110).collect::<String>()
    )
}

fn assert_no_panic(what: &str, out: &std::process::Output, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "{what} panicked:\n{stderr}"
    );
    assert!(out.status.code().is_some(), "{what} was killed:\n{stderr}");
}

#[test]
fn every_bad_image_is_refused_by_name_and_odd_formats_are_read() {
    let dir = temp_dir("bad-images");
    let cases = corpus::images(&dir);
    let root_reads = corpus::reads_locked_files(&dir);
    println!("| input | what it is | `classify` | `--source` (bench) |\n|---|---|---|---|");
    for case in &cases {
        let path = case.path.to_string_lossy().into_owned();
        let (c_out, c_std, c_err) = run(emotune().args(["classify", &path]));
        let (s_out, s_std, s_err) =
            run(emotune().args(["bench", "--frames", "2", "--source", &path]));
        assert_no_panic(case.name, &c_out, &c_err);
        assert_no_panic(case.name, &s_out, &s_err);
        let refused = match case.expect {
            Expect::Refused => true,
            Expect::Read => false,
            Expect::RefusedUnlessRoot => !root_reads,
        };
        for (cmd, out, err) in [("classify", &c_out, &c_err), ("--source", &s_out, &s_err)] {
            if refused {
                assert!(
                    !out.status.success(),
                    "{cmd} {}: accepted\n{err}",
                    case.name
                );
                assert!(
                    err.contains(case.name),
                    "{cmd} {}: message lacks the file: {err}",
                    case.name
                );
            } else {
                assert!(out.status.success(), "{cmd} {}: refused\n{err}", case.name);
            }
        }
        println!(
            "| `{}` | {} | {} | {} |",
            case.name,
            case.what,
            outcome(&c_out, &c_std, &c_err),
            outcome(&s_out, &s_std, &s_err)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_models_are_refused_by_name() {
    let dir = temp_dir("bad-models");
    let real = std::fs::read(model()).expect("the shipped model");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.pt", real[..real.len() / 3].to_vec()),
        ("notes.pt", b"this is not TorchScript".to_vec()),
        ("empty.pt", Vec::new()),
    ];
    let mut paths: Vec<(String, std::path::PathBuf)> = cases
        .into_iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).expect("write");
            (name.to_string(), p)
        })
        .collect();
    paths.push(("missing.pt".into(), dir.join("missing.pt")));
    for (name, p) in &paths {
        let (out, _, err) = run(emotune()
            .arg("--model")
            .arg(p)
            .args(["classify", "tests/fixtures/astronaut.png"]));
        assert_no_panic(name, &out, &err);
        assert!(!out.status.success(), "{name} accepted");
        assert!(err.contains(name.as_str()), "{name}: {err}");
        println!("| model `{name}` | {} |", outcome(&out, "", &err));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_settings_file_is_kept_with_a_backup_and_defaults_used() {
    let home = temp_dir("bad-settings");
    let cfg = home.join("config/emotune");
    std::fs::create_dir_all(&cfg).expect("dir");
    let broken = "music_cache_hours = \"a day\"\n[pipeline\n";
    std::fs::write(cfg.join("settings.toml"), broken).expect("write");
    let (out, _, err) = run(isolate(
        emotune().args(["recommend", "--emotion", "happy", "--source", "offline"]),
        &home,
    ));
    assert_no_panic("settings", &out, &err);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("settings.toml") && err.contains("settings.toml.bak"),
        "{err}"
    );
    let kept = std::fs::read_to_string(cfg.join("settings.toml")).expect("kept");
    assert_eq!(
        kept, broken,
        "the user's file is never overwritten silently"
    );
    let bak = std::fs::read_to_string(cfg.join("settings.toml.bak")).expect("backup");
    assert_eq!(bak, broken);
    println!("| broken `settings.toml` | {} |", outcome(&out, "", &err));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_broken_mapping_falls_back_to_the_built_in_one_and_says_so() {
    let home = temp_dir("bad-mapping");
    let cfg = home.join("config/emotune");
    std::fs::create_dir_all(&cfg).expect("dir");
    std::fs::write(cfg.join("mapping.toml"), "[happy\nmatch = 3").expect("write");
    let (out, stdout, err) = run(isolate(
        emotune().args(["recommend", "--emotion", "happy", "--source", "offline"]),
        &home,
    ));
    assert_no_panic("mapping", &out, &err);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("mapping.toml"), "{err}");
    assert!(!stdout.trim().is_empty(), "music still comes");
    assert_eq!(
        std::fs::read_to_string(cfg.join("mapping.toml")).expect("kept"),
        "[happy\nmatch = 3"
    );
    println!("| broken `mapping.toml` | {} |", outcome(&out, "", &err));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_corrupt_cache_entry_is_dropped_with_a_warning() {
    let home = temp_dir("bad-cache");
    let music = home.join("cache/emotune/music");
    std::fs::create_dir_all(&music).expect("dir");
    let entry = music.join("happy-match.json");
    std::fs::write(&entry, "{\"saved_at\": 17, \"recommendation\": [").expect("write");
    let (out, stdout, err) = run(isolate(
        emotune()
            .env("EMOTUNE_LOG", "warn")
            .args(["recommend", "--emotion", "happy"]),
        &home,
    ));
    assert_no_panic("cache", &out, &err);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("happy-match.json") && err.contains("corrupt"),
        "{err}"
    );
    assert!(!entry.exists(), "the corrupt copy is removed");
    assert!(!stdout.trim().is_empty(), "music still comes");
    println!("| corrupt cache entry | {} |", outcome(&out, "", &err));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_malformed_env_file_is_named_without_showing_its_lines() {
    let home = temp_dir("bad-env");
    let secret = "s3cr3t-do-not-print";
    std::fs::write(
        home.join(".env"),
        format!("RSPOTIFY_CLIENT_ID=abc\nRSPOTIFY_CLIENT_SECRET {secret}\n"),
    )
    .expect("write");
    let (out, stdout, err) = run(isolate(
        emotune().args(["recommend", "--emotion", "sad", "--source", "offline"]),
        &home,
    ));
    assert_no_panic(".env", &out, &err);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(".env") && err.contains("NAME=value"), "{err}");
    assert!(!err.contains(secret) && !stdout.contains(secret), "{err}");
    println!("| malformed `.env` | {} |", outcome(&out, "", &err));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn blazeface_options_out_of_range_are_refused_by_name() {
    let photo = astronaut();
    let photo = photo.to_string_lossy();
    for (flag, value) in [("--neural-score", "1.5"), ("--neural-saturation", "1.2")] {
        let (out, _, err) =
            run(emotune().args(["bench", "--frames", "1", "--source", &photo, flag, value]));
        assert_no_panic(flag, &out, &err);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains("not a number from 0 to 1"),
            "{err}"
        );
    }
    // In range, the bench runs with it.
    let (out, _, err) = run(emotune().args([
        "bench",
        "--frames",
        "2",
        "--source",
        &photo,
        "--neural-saturation",
        "1",
    ]));
    assert!(out.status.success(), "{err}");
}
