use super::*;
use crate::emotion::Emotion::{self, *};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emotune-diary-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("diary.sqlite3")
}

/// Probabilities leaning on one emotion.
fn lean(e: Emotion, p: f32) -> [f32; Emotion::COUNT] {
    let mut v = [(1.0 - p) / 6.0; Emotion::COUNT];
    v[e.index()] = p;
    v
}

/// Local noon of today, in Unix ms.
fn noon() -> i64 {
    local_midnight_ms(&local_day_before(0)).expect("today") + 12 * 3_600_000
}

/// A session of `secs` samples from `t0`, leaning on `e`.
fn session(w: &mut Writer, t0: i64, secs: i64, e: Emotion) {
    w.push(Entry::Start {
        t: t0,
        source: "folder".into(),
        profile: Some("ann".into()),
    });
    for s in 0..secs {
        w.push(Entry::Sample {
            t: t0 + s * 1000,
            probs: lean(e, 0.7),
            mood: Some(e),
        });
    }
    w.push(Entry::End {
        t: t0 + secs * 1000,
    });
}

#[test]
fn samples_go_in_and_the_history_adds_them_up_by_day_and_hour() {
    let path = tmp("sum");
    let mut w = Writer::open(&path, 0).expect("open");
    let t0 = noon();
    session(&mut w, t0, 90, Happy);
    session(&mut w, t0 + 3_600_000, 30, Sad);
    w.flush().expect("flush");
    let d = Diary::open(&path).expect("reopen");
    let s = d.summary(7).expect("summary");
    assert_eq!(s.sessions.len(), 2);
    assert_eq!(s.sessions[0].samples, 30, "newest first");
    assert_eq!(s.sessions[1].samples, 90);
    assert_eq!(s.seconds.0[Happy.index()], 90);
    assert_eq!(s.seconds.0[Sad.index()], 30);
    assert_eq!(s.per_day.len(), 1);
    assert_eq!(s.per_day[0].seconds.total(), 120);
    assert_eq!(s.by_hour[12].seconds.0[Happy.index()], 90);
    assert_eq!(s.by_hour[13].seconds.0[Sad.index()], 30);
    let v = s.by_hour[12].valence.expect("valence at noon");
    assert!((v - valence(&lean(Happy, 0.7))).abs() < 0.01, "{v}");
    assert!(s.by_hour[13].valence.expect("13h") < 0.0);
    let tl = d.timeline(s.sessions[1].id).expect("timeline");
    assert_eq!(tl.len(), 90);
    assert_eq!(tl[0].t, t0);
    assert!((tl[0].probs[Happy.index()] - 0.7).abs() < 1e-3);
    assert_eq!(tl[0].mood, Some(Happy));
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_as_it_is() {
    let path = tmp("notdb");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let junk = b"my notes, not a database\n".repeat(200);
    std::fs::write(&path, &junk).expect("write");
    let e = Diary::open(&path).err().expect("refused");
    assert!(matches!(e, DiaryError::NotADatabase { .. }), "{e}");
    assert!(e.to_string().contains("Move it away"), "{e}");
    assert_eq!(std::fs::read(&path).expect("read"), junk);
}

#[test]
fn a_diary_from_a_newer_version_is_refused_untouched() {
    let path = tmp("newer");
    drop(Diary::open(&path).expect("create"));
    let c = rusqlite::Connection::open(&path).expect("raw");
    c.pragma_update(None, "user_version", schema::LATEST + 1)
        .expect("bump");
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    drop(c);
    let before = std::fs::read(&path).expect("read");
    let e = Diary::open(&path).err().expect("refused");
    assert!(
        matches!(e, DiaryError::Newer { found, .. } if found == schema::LATEST + 1),
        "{e}"
    );
    assert!(e.to_string().contains("Update emotune"), "{e}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_lock_held_elsewhere_keeps_the_entries_until_it_is_released() {
    let path = tmp("locked");
    let mut w = Writer::open(&path, 0).expect("open");
    let other = rusqlite::Connection::open(&path).expect("other");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    session(&mut w, noon(), 5, Fear);
    let e = w.flush().expect_err("busy");
    assert!(e.is_busy(), "{e}");
    other.execute_batch("COMMIT").expect("unlock");
    w.flush().expect("written once the lock is gone");
    let d = Diary::open(&path).expect("reopen");
    assert_eq!(d.summary(1).expect("summary").seconds.total(), 5);
}

#[test]
fn a_new_diary_locked_by_another_program_is_reported_as_locked() {
    let path = tmp("locked-new");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let other = rusqlite::Connection::open(&path).expect("other");
    other
        .execute_batch("CREATE TABLE x(a); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);")
        .expect("lock");
    let e = Diary::open(&path).err().expect("locked");
    assert!(matches!(e, DiaryError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("second emotune"), "{e}");
}

#[test]
fn a_full_disk_stops_the_writer_without_losing_what_was_written() {
    let path = tmp("full");
    let mut w = Writer::open(&path, 0).expect("open");
    session(&mut w, noon(), 60, Happy);
    w.flush().expect("first minute");
    // SQLite's own size cap answers SQLITE_FULL exactly as a full disk does.
    let pages: i64 = w
        .diary
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("pages");
    w.diary
        .conn
        .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 1))
        .expect("cap");
    session(&mut w, noon() + 3_600_000, 20_000, Sad);
    let e = w.flush().expect_err("full");
    assert!(matches!(e, DiaryError::Full { .. }), "{e}");
    drop(w);
    let d = Diary::open(&path).expect("still opens");
    let s = d.summary(1).expect("summary");
    assert_eq!(s.seconds.total(), 60, "the first minute is kept whole");
    assert_eq!(s.sessions.len(), 1);
}

#[test]
fn forgetting_a_session_or_a_day_deletes_its_rows_and_its_hours() {
    let path = tmp("forget");
    let mut w = Writer::open(&path, 0).expect("open");
    let today = noon();
    let old = today - 3 * 86_400_000;
    session(&mut w, old, 40, Angry);
    session(&mut w, today, 50, Happy);
    session(&mut w, today + 60_000, 20, Sad);
    w.flush().expect("flush");
    drop(w);
    let mut d = Diary::open(&path).expect("open");
    let s = d.summary(7).expect("summary");
    assert_eq!(s.seconds.total(), 110);
    let sad = s.sessions[0].id;
    assert_eq!(d.forget(&Forget::Session(sad)).expect("forget session"), 20);
    let s = d.summary(7).expect("summary");
    assert_eq!(s.seconds.0[Sad.index()], 0, "its hours are rebuilt");
    assert_eq!(s.seconds.0[Happy.index()], 50);
    assert_eq!(
        d.forget(&Forget::Before(local_day_before(1)))
            .expect("before"),
        40
    );
    let s = d.summary(7).expect("summary");
    assert_eq!(s.seconds.total(), 50);
    assert_eq!(s.sessions.len(), 1);
    assert!(d.timeline(sad).expect("timeline").is_empty());
    assert!(matches!(
        d.forget(&Forget::Before("last week".into())),
        Err(DiaryError::Other { message, .. }) if message.contains("YYYY-MM-DD")
    ));
    assert_eq!(d.forget(&Forget::All).expect("all"), 50);
    let s = d.summary(90).expect("summary");
    assert_eq!(s.seconds.total(), 0);
    assert!(s.sessions.is_empty());
}

#[test]
fn uplift_lists_and_tracks_are_scored_by_the_valence_around_them() {
    let path = tmp("helped");
    let mut w = Writer::open(&path, 0).expect("open");
    let t0 = noon();
    w.push(Entry::Start {
        t: t0,
        source: "camera".into(),
        profile: None,
    });
    for s in 0..900 {
        // Sad for three minutes, then happy.
        let e = if s < 180 { Sad } else { Happy };
        w.push(Entry::Sample {
            t: t0 + s * 1000,
            probs: lean(e, 0.8),
            mood: Some(e),
        });
    }
    let shown = Shown {
        emotion: "sad".into(),
        strategy: "uplift".into(),
        source: "offline".into(),
        playlist: "Lift".into(),
        url: "https://example.org/l".into(),
        tracks: vec![("Sun".into(), "Band".into(), "spotify:track:1".into())],
    };
    w.push(Entry::Shown {
        t: t0 + 150_000,
        shown: Box::new(shown),
    });
    w.push(Entry::Play {
        t: t0 + 170_000,
        play: Play {
            action: "open".into(),
            title: "Sun".into(),
            artists: "Band".into(),
            uri: "spotify:track:1".into(),
        },
    });
    w.flush().expect("flush");
    let h = w.diary.summary(1).expect("summary").helped;
    assert_eq!((h.uplift_lists, h.measured), (1, 1));
    let (b, a) = (
        h.valence_before.expect("before"),
        h.valence_after.expect("after"),
    );
    assert!(b < -0.5 && a > 0.5, "{b} -> {a}");
    assert_eq!(h.tracks.len(), 1);
    assert_eq!((h.tracks[0].title.as_str(), h.tracks[0].times), ("Sun", 1));
}

#[test]
fn the_recorder_samples_once_a_second_and_notes_mood_changes() {
    let path = tmp("recorder");
    let notify: std::sync::Arc<dyn Fn() + Send + Sync> = std::sync::Arc::new(|| {});
    let mut r = Recorder::spawn(path.clone(), 0, notify);
    r.start("folder", None);
    let t0 = noon();
    // 10 s at 30 frames a second; the mood settles on happy after 4 s.
    for f in 0..300 {
        let t = t0 + f * 1000 / 30;
        let stable = (f >= 120).then_some(Happy);
        r.frame(t, Some(lean(Happy, 0.6)), stable);
    }
    drop(r);
    let d = Diary::open(&path).expect("open");
    let s = d.summary(1).expect("summary");
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(s.sessions[0].samples, 10);
    let moods: i64 = d
        .conn
        .query_row("SELECT count(*) FROM moods", [], |r| r.get(0))
        .expect("moods");
    assert_eq!(moods, 1);
    assert!(s.sessions[0].ended >= t0 + 9_000);
}

#[test]
fn a_recorder_on_a_file_that_is_not_sqlite_turns_history_off_and_says_why() {
    let path = tmp("recorder-notdb");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let junk = b"my notes\n".repeat(100);
    std::fs::write(&path, &junk).expect("write");
    let notify: std::sync::Arc<dyn Fn() + Send + Sync> = std::sync::Arc::new(|| {});
    let mut r = Recorder::spawn(path.clone(), 0, notify);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while r.off_reason().is_none() && std::time::Instant::now() < deadline {
        r.poll();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        matches!(r.off_reason(), Some(DiaryError::NotADatabase { .. })),
        "{:?}",
        r.off_reason()
    );
    assert!(!r.on());
    r.start("folder", None);
    drop(r);
    assert_eq!(std::fs::read(&path).expect("read"), junk);
}

#[test]
fn a_panic_in_the_writer_turns_history_off_and_says_so() {
    let path = tmp("panic");
    let notify: std::sync::Arc<dyn Fn() + Send + Sync> = std::sync::Arc::new(|| {});
    let h = DiaryHandle::spawn(path.clone(), 0, notify);
    h.send(Entry::Panic);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut off = None;
    while off.is_none() && std::time::Instant::now() < deadline {
        off = h.poll().into_iter().find_map(|ev| match ev {
            DiaryEvent::Off(e) => Some(e),
            _ => None,
        });
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let e = off.expect("the crash is reported");
    assert!(matches!(e, DiaryError::Crashed { .. }), "{e}");
    assert!(e.to_string().contains("history is off"), "{e}");
    // Dropping the handle after the crash returns (it joins the thread).
    drop(h);
    assert!(Diary::open(&path).is_ok(), "the file is still a diary");
}

#[test]
fn exports_hold_every_sample() {
    let path = tmp("export");
    let mut w = Writer::open(&path, 0).expect("open");
    session(&mut w, noon(), 12, Neutral);
    w.flush().expect("flush");
    let dir = path.parent().expect("dir");
    let csv = dir.join("out.csv");
    assert_eq!(w.diary.export(&csv, ExportFormat::Csv).expect("csv"), 12);
    let text = std::fs::read_to_string(&csv).expect("read");
    assert_eq!(text.lines().count(), 13);
    assert!(text.starts_with("session,time,angry,disgust,fear,happy,neutral,sad,surprise,mood"));
    let json = dir.join("out.json");
    assert_eq!(w.diary.export(&json, ExportFormat::Json).expect("json"), 12);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("read")).expect("valid");
    assert_eq!(v["samples"].as_array().map(Vec::len), Some(12));
    assert_eq!(v["sessions"][0]["profile"], "ann");
    assert_eq!(v["samples"][0]["mood"], "neutral");
}
