//! The source chooser: a camera plugged in after the window opened, and the built-in folder
//! browser, whose listings are read off the UI thread.

use super::*;

#[test]
fn a_camera_plugged_in_later_opens_when_nothing_else_is() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes.probe.send(Probe::default()).expect("probe");
    h.run();
    h.get_by_label("No camera found");
    h.get_by_label_contains("noticed within a few seconds");
    assert!(fakes.sent().is_empty());
    fakes
        .probe
        .send(Probe {
            cameras: vec!["USB webcam (0)".into()],
            spotify_app: false,
        })
        .expect("probe");
    h.run();
    let sent = fakes.sent();
    assert!(
        matches!(
            sent.as_slice(),
            [WorkerCommand::SetSource(SourceSpec::Camera(0))]
        ),
        "{} commands sent",
        sent.len()
    );
}

#[test]
fn a_camera_plugged_in_while_a_folder_plays_is_offered_not_forced() {
    let (app, fakes) = window(Some(SourceSpec::Path("/photos".into())));
    let mut h = harness(app);
    fakes.probe.send(Probe::default()).expect("probe");
    fakes
        .worker_events
        .send(Event::SourceOpened("folder /photos (3 images)".into()))
        .expect("opened");
    h.run();
    let _ = fakes.sent();
    fakes
        .probe
        .send(Probe {
            cameras: vec!["USB webcam (0)".into()],
            spotify_app: false,
        })
        .expect("probe");
    h.run();
    assert!(fakes.sent().is_empty(), "the folder keeps playing");
    h.get_by_label_contains("camera connected: USB webcam (0)");
}

#[test]
fn the_browser_lists_a_folder_off_the_ui_thread() {
    let dir = std::env::temp_dir().join(format!("emotune-browse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("holiday")).expect("dirs");
    for name in ["a.png", "b.jpg", "notes.txt"] {
        std::fs::write(dir.join(name), b"x").expect("file");
    }
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes.probe.send(Probe::default()).expect("probe");
    h.run();
    h.get_by_role(Role::TextInput).focus();
    h.run();
    h.get_by_role(Role::TextInput)
        .type_text(&dir.display().to_string());
    h.run();
    h.get_by_label("Browse…").click();
    let start = std::time::Instant::now();
    while h.query_by_label("Replay this folder (2 images)").is_none() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "no listing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The spinner repaints until the listing comes.
        h.run_steps(2);
    }
    h.get_by_label("holiday/");
    h.get_by_label("Replay this folder (2 images)").click();
    h.run();
    let sent = fakes.sent();
    assert!(
        matches!(sent.as_slice(), [WorkerCommand::SetSource(SourceSpec::Path(p))] if *p == dir),
        "{} commands sent",
        sent.len()
    );
}
