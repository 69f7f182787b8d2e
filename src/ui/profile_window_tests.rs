//! Calibration and corrections in the window, driven with fake frames.

use std::time::Duration;

use super::*;
use crate::emotion::EmotionScores;
use crate::pipeline::FaceResult;
use crate::pipeline::worker::bare_result;
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
    let mut r = bare_result(
        Arc::new(image::RgbImage::new(64, 48)),
        Duration::from_millis(ms),
    );
    r.faces = faces;
    Event::Frame(Box::new(r))
}

fn adjusted(sent: &[WorkerCommand]) -> Option<bool> {
    sent.iter().rev().find_map(|c| match c {
        WorkerCommand::Adjust(a) => Some(a.is_some()),
        _ => None,
    })
}

/// A window showing one face, with `Calibrate` clicked.
fn calibrating() -> (Harness<'static, EmotuneApp>, Fakes) {
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
    (h, fakes)
}

/// Frames `from..=to`, 33 ms apart, each with the face or without.
fn feed(
    h: &mut Harness<'static, EmotuneApp>,
    fakes: &Fakes,
    frames: std::ops::RangeInclusive<u64>,
    face: bool,
) {
    for i in frames {
        let f = frame(i * 33, face.then_some(SADDISH));
        fakes.worker_events.send(f).expect("frame");
    }
    h.run();
}

#[test]
fn calibrating_sends_the_adjustment_shows_it_and_undo_takes_it_back() {
    let (mut h, fakes) = calibrating();
    feed(&mut h, &fakes, 1..=50, true);
    h.get_by_label("Look at the camera with a relaxed face…");
    assert_eq!(adjusted(&fakes.sent()), None, "not before 3 s");
    feed(&mut h, &fakes, 51..=100, true);
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
    let (mut h, fakes) = calibrating();
    feed(&mut h, &fakes, 1..=100, false);
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

#[test]
fn own_playlists_from_an_older_settings_file_move_into_the_profile() {
    use crate::music::Strategy;
    use crate::profile::{OwnPlaylist, Store};
    use crate::ui::profile::ProfilePanel;
    let dir = std::env::temp_dir().join(format!("emotune-own-move-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pick = |id: &str| OwnPlaylist {
        id: id.into(),
        name: format!("list {id}"),
    };
    let legacy = std::collections::BTreeMap::from([
        ("sad/uplift".to_string(), pick("old1")),
        ("happy/match".to_string(), pick("old2")),
    ]);
    let id = |p: &crate::profile::Profile, e, s| p.own_playlist(e, s).map(|p| p.id.clone());
    let (mut panel, _) = ProfilePanel::load(Some(Store::new(dir.clone())), None);
    // A pick the profile already has wins over the old file's.
    panel
        .profile
        .own_playlists
        .insert("happy/match".into(), pick("new"));
    panel.adopt_own_playlists(&legacy);
    assert!(!panel.take_moved(), "not before the profile is written");
    let (store, saved, what) = panel.take_save().expect("the profile is saved");
    // A failed write keeps them in the settings; the next good one lets them go.
    panel.saved(what.clone(), Err(crate::Error::Invalid("disk full".into())));
    assert!(!panel.take_moved());
    store.save(&saved).expect("save");
    panel.saved(what, Ok(()));
    assert!(panel.take_moved());
    let back = store.load("default").expect("load").expect("profile");
    assert_eq!(
        id(&back, Emotion::Sad, Strategy::Uplift).as_deref(),
        Some("old1")
    );
    assert_eq!(
        id(&back, Emotion::Happy, Strategy::Match).as_deref(),
        Some("new")
    );
    // A profile file that could not be read is never written over: the picks are used, and
    // stay in the settings.
    std::fs::write(dir.join("default.json"), "{ broken").expect("write");
    let (mut broken, warnings) = ProfilePanel::load(Some(Store::new(dir.clone())), None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    broken.adopt_own_playlists(&legacy);
    assert!(broken.take_save().is_none() && !broken.take_moved());
    assert_eq!(
        id(&broken.profile, Emotion::Sad, Strategy::Uplift).as_deref(),
        Some("old1")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("default.json")).expect("read"),
        "{ broken"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
