//! Calibration and corrections in the window, driven with fake frames.

use std::time::Duration;

use super::*;
use crate::emotion::EmotionScores;
use crate::pipeline::mood::MoodState;
use crate::pipeline::{FaceResult, FrameResult, Timings};
use crate::vision::BBox;

const SADDISH: [f32; 7] = [0.05, 0.02, 0.03, 0.05, 0.25, 0.55, 0.05];

/// A frame at `ms` with one face reading `scores`, or none.
fn frame(ms: u64, scores: Option<[f32; 7]>) -> Event {
    let faces = scores
        .map(|s| {
            let s = EmotionScores(s);
            FaceResult {
                track_id: 1,
                bbox: BBox::new(20.0, 10.0, 24.0, 24.0),
                roll: 0.0,
                scores: s,
                raw: s,
                unadjusted: Some(s),
                personal: false,
            }
        })
        .into_iter()
        .collect();
    Event::Frame(Box::new(FrameResult {
        frame: Arc::new(image::RgbImage::new(64, 48)),
        at: Duration::from_millis(ms),
        faces,
        group: None,
        mood: MoodState {
            stable: None,
            candidate: None,
            settled: 0.0,
            changed: false,
        },
        timings: Timings::default(),
    }))
}

fn adjusted(sent: &[WorkerCommand]) -> Option<bool> {
    sent.iter().rev().find_map(|c| match c {
        WorkerCommand::Adjust(a) => Some(a.is_some()),
        _ => None,
    })
}

#[test]
fn calibrating_sends_the_adjustment_shows_it_and_undo_takes_it_back() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes
        .worker_events
        .send(frame(0, Some(SADDISH)))
        .expect("frame");
    h.run();
    h.get_by_label("not calibrated");
    h.get_by_label("Calibrate").click();
    h.run();
    h.get_by_label("Look at the camera with a relaxed face…");
    for i in 1..=50 {
        fakes
            .worker_events
            .send(frame(i * 33, Some(SADDISH)))
            .expect("frame");
    }
    h.run();
    h.get_by_label("Look at the camera with a relaxed face…");
    assert_eq!(adjusted(&fakes.sent()), None, "not before 3 s");
    for i in 51..=100 {
        fakes
            .worker_events
            .send(frame(i * 33, Some(SADDISH)))
            .expect("frame");
    }
    h.run();
    assert_eq!(adjusted(&fakes.sent()), Some(true));
    h.get_by_label_contains("Calibrated on 9");
    h.get_by_label("calibrated");
    h.get_by_label("Undo").click();
    h.run();
    assert_eq!(adjusted(&fakes.sent()), Some(false));
    h.get_by_label("not calibrated");
}

#[test]
fn a_calibration_without_a_face_is_refused_and_changes_nothing() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes
        .worker_events
        .send(frame(0, Some(SADDISH)))
        .expect("frame");
    h.run();
    h.get_by_label("Calibrate").click();
    h.run();
    for i in 1..=100 {
        fakes
            .worker_events
            .send(frame(i * 33, None))
            .expect("frame");
    }
    h.run();
    h.get_by_label_contains("Calibration not saved: no face was seen");
    assert_eq!(adjusted(&fakes.sent()), None);
    h.get_by_label("not calibrated");
}

#[test]
fn a_correction_changes_the_adjustment_and_can_be_forgotten() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes
        .worker_events
        .send(frame(0, Some(SADDISH)))
        .expect("frame");
    h.run();
    h.get_by_label("That's not it…").click();
    h.run();
    h.get_by_role_and_label(Role::Button, "neutral").click();
    h.run();
    assert_eq!(adjusted(&fakes.sent()), Some(true));
    h.get_by_label_contains("Noted: neutral, not sad");
    h.get_by_label("Forget 1 correction(s)").click();
    h.run();
    assert_eq!(adjusted(&fakes.sent()), Some(false));
}
