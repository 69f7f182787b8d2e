//! `emotune bench --rate FPS` (DESIGN.md): paced like a camera, it reports CPU, latency,
//! processed and dropped frames and RSS. Fields and sanity only: timing depends on the machine.

mod common;

use common::*;

fn write_set(dir: &std::path::Path, kind: emotune::vision::scene::SetKind, n: u32) {
    use emotune::vision::scene::{set_frame, set_room};
    use emotune::vision::testset::ASTRONAUT_FACE;
    let portrait = image::open(astronaut()).expect("fixture").to_rgb8();
    std::fs::create_dir_all(dir).expect("set dir");
    let room = set_room(kind, 5);
    for i in 0..n {
        let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, i, 5);
        f.frame
            .save(dir.join(format!("{i:04}.png")))
            .expect("frame");
    }
}

#[test]
fn a_paced_run_reports_cpu_latency_frames_and_memory() {
    use emotune::vision::scene::{SetKind, Texture};
    let dir = temp_dir("rate").join("move");
    write_set(&dir, SetKind::Move(Texture::Clutter), 12);
    let (out, stdout, stderr) = run(emotune()
        .args([
            "bench",
            "--rate",
            "30",
            "--duration",
            "2s",
            "--json",
            "--source",
        ])
        .arg(&dir));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON document");
    let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
    assert_eq!(num("rate"), 30.0);
    let (offered, processed, dropped) = (
        num("frames_offered"),
        num("frames_processed"),
        num("frames_dropped"),
    );
    // 2 s at 30 fps: about 60 frames offered (the set of 12 looped), each processed or dropped.
    assert!((50.0..=62.0).contains(&offered), "{v}");
    assert!(processed >= 1.0 && processed + dropped <= offered, "{v}");
    assert!(num("duration_s") >= 2.0, "{v}");
    if cfg!(unix) {
        let cpu = num("cpu_pct");
        // All threads together on however many cores: above zero, below all of them.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(cpu > 0.0 && cpu <= 100.0 * cores as f64 + 5.0, "{v}");
    }
    let lat = &v["latency"];
    let (p50, p95) = (
        lat["p50"].as_f64().expect("p50"),
        lat["p95"].as_f64().expect("p95"),
    );
    assert!(p50 > 0.0 && p95 >= p50, "{v}");
    if cfg!(target_os = "linux") {
        let (peak, last) = (num("rss_peak_kib"), num("rss_final_kib"));
        assert!(last > 1024.0 && peak >= last, "{v}");
    }
    assert!(num("faces_per_frame") > 0.5, "the face is found: {v}");
    assert!(v["mood_changes"].is_array(), "{v}");
}

#[test]
fn bad_rates_durations_and_sources_are_refused() {
    let (out, _, stderr) = run(emotune()
        .args(["bench", "--rate", "0", "--source"])
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("0.1 to 240"), "{stderr}");
    let (out, _, stderr) = run(emotune()
        .args(["bench", "--rate", "30", "--duration", "soon", "--source"])
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a duration"), "{stderr}");
    let (out, _, stderr) = run(emotune()
        .args(["bench", "--rate", "30", "--duration", "0s", "--source"])
        .arg(astronaut()));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("too short"), "{stderr}");
    let missing = temp_dir("rate-missing").join("nothing-here");
    let (out, stdout, stderr) = run(emotune()
        .args(["bench", "--rate", "30", "--json", "--source"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    assert!(stderr.contains("nothing-here"), "{stderr}");
}
