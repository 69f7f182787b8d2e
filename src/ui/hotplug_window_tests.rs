//! A camera plugged in after the window opened.

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
