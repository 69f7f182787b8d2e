//! The History tab and the window's diary recording, with a real diary in a temporary folder.

use std::time::{Duration, Instant};

use super::*;
use crate::diary::{Diary, Entry, Writer};
use crate::emotion::EmotionScores;
use crate::pipeline::FaceResult;
use crate::pipeline::worker::bare_result;
use crate::vision::BBox;

fn diary_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emotune-hist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("diary.sqlite3")
}

fn recorder(path: &Path) -> crate::diary::Recorder {
    crate::diary::Recorder::spawn(path.to_path_buf(), 0, Arc::new(|| {}))
}

/// Runs the window until `label` shows, or fails after a few seconds (the diary answers
/// from its own thread).
fn wait_for(h: &mut Harness<'_, EmotuneApp>, label: &str) {
    let start = Instant::now();
    while h.query_by_label_contains(label).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{label:?} never showed"
        );
        std::thread::sleep(Duration::from_millis(20));
        // A spinner repaints while the diary answers.
        h.run_steps(2);
    }
}

#[test]
fn the_history_tab_shows_the_days_opens_a_session_and_forgets_all() {
    let path = diary_path("tab");
    let mut w = Writer::open(&path, 0).expect("diary");
    let t0 = crate::clock::unix_now().as_millis() as i64 - 600_000;
    w.push(Entry::Start {
        t: t0,
        source: "camera".into(),
        profile: None,
    });
    for s in 0..120 {
        let mut p = [0.05f32; 7];
        p[Emotion::Happy.index()] = 0.7;
        w.push(Entry::Sample {
            t: t0 + s * 1000,
            probs: p,
            mood: Some(Emotion::Happy),
        });
    }
    w.flush().expect("flush");
    drop(w);
    let (app, _fakes) = window_with(None, recorder(&path));
    let mut h = harness(app);
    h.run();
    h.get_by_label("History").click();
    h.run_steps(2);
    wait_for(&mut h, "Mood per day");
    h.get_by_label("Mood by hour of day");
    h.get_by_label_contains("Kept on this computer only");
    h.get_by_label_contains("2 min");
    h.get_by_label("Open").click();
    h.run();
    wait_for(&mut h, "its mood second by second");
    h.get_by_label("Close").click();
    h.run();
    assert!(h.query_by_label_contains("second by second").is_none());
    h.get_by_label("Forget all…").click();
    h.run();
    h.get_by_label("Yes, delete").click();
    h.run_steps(2);
    wait_for(&mut h, "Nothing recorded in these days yet");
    h.get_by_label("Live").click();
    h.run();
    let d = Diary::open(&path).expect("open");
    assert_eq!(d.summary(7).expect("summary").seconds.total(), 0);
}

#[test]
fn the_window_records_a_session_with_its_source_kind_and_samples() {
    let path = diary_path("record");
    let (app, fakes) = window_with(None, recorder(&path));
    let mut h = harness(app);
    fakes
        .worker_events
        .send(Event::SourceOpened(
            "folder /home/ann/secret-album (3 images)".into(),
        ))
        .expect("opened");
    h.run();
    let scores = EmotionScores([0.05, 0.02, 0.03, 0.7, 0.1, 0.05, 0.05]);
    let start = Instant::now();
    // A little over two wall-clock seconds of frames: at least two samples.
    while start.elapsed() < Duration::from_millis(2100) {
        let mut r = bare_result(Arc::new(image::RgbImage::new(64, 48)), start.elapsed());
        r.faces = vec![FaceResult {
            track_id: 1,
            bbox: BBox::new(20.0, 10.0, 24.0, 24.0),
            roll: 0.0,
            scores,
            raw: scores,
            unadjusted: Some(scores),
            personal: false,
        }];
        fakes
            .worker_events
            .send(Event::Frame(Box::new(r)))
            .expect("frame");
        h.run();
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(h);
    let d = Diary::open(&path).expect("open");
    let s = d.summary(1).expect("summary");
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(
        s.sessions[0].source, "folder",
        "the path stays out of the diary"
    );
    assert!(s.sessions[0].samples >= 2, "{}", s.sessions[0].samples);
    assert!(s.seconds.0[Emotion::Happy.index()] >= 2);
}
