use std::cell::Cell;

use super::*;
use crate::music::{PlaylistRef, SourceKind};

thread_local! {
    /// The test's clock (each test runs on its own thread).
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn clock() -> i64 {
    NOW.with(Cell::get)
}

const HOUR: i64 = 3_600_000;

/// Local noon of a fixed day, so an hour on is the same local day in any time zone.
fn noon() -> i64 {
    crate::diary::local_midnight_ms("2026-03-04").expect("a date") + 12 * HOUR
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emotune-lists-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn track(n: u32) -> Track {
    Track {
        title: format!("Song {n}"),
        artists: vec!["Band".into()],
        duration_ms: Some(180_000),
        url: format!("https://open.spotify.com/track/T{n}"),
        uri: format!("spotify:track:T{n}"),
        album_art: n
            .is_multiple_of(2)
            .then(|| format!("https://i.scdn.co/image/{n}")),
    }
}

fn rec(e: Emotion, name: &str, tracks: impl IntoIterator<Item = u32>) -> Recommendation {
    Recommendation {
        emotion: e,
        strategy: Strategy::Match,
        source: SourceKind::Spotify,
        playlist: PlaylistRef {
            name: name.into(),
            url: Some(format!("https://open.spotify.com/playlist/{name}")),
        },
        tracks: tracks.into_iter().map(track).collect(),
    }
}

fn sorted(mut tracks: Vec<Track>) -> Vec<Track> {
    tracks.sort_by(|a, b| a.uri.cmp(&b.uri));
    tracks
}

#[test]
fn a_stored_list_is_fresh_until_the_schedule_renews_it() {
    let dir = tmp("fresh");
    let cache = Cache::new(dir.join("diary.sqlite3"), Refresh::Daily).with_clock(clock);
    NOW.set(noon());
    let first = rec(Emotion::Happy, "Hits", 1..=3);
    cache.store(&first, "");
    NOW.set(noon() + HOUR);
    let got = cache
        .load(Emotion::Happy, Strategy::Match, "", true)
        .expect("fresh an hour on");
    assert_eq!(got.age, Duration::from_millis(HOUR as u64));
    assert_eq!(got.recommendation.playlist, first.playlist);
    assert_eq!(sorted(got.recommendation.tracks), first.tracks);
    // The next day it is stale: only served when nothing fresher can be had.
    NOW.set(noon() + 24 * HOUR);
    assert!(
        cache
            .load(Emotion::Happy, Strategy::Match, "", true)
            .is_none()
    );
    let stale = cache
        .load(Emotion::Happy, Strategy::Match, "", false)
        .expect("stale");
    assert_eq!(stale.age, Duration::from_secs(24 * 3600));
    // Another taste is another list.
    assert!(
        cache
            .load(Emotion::Happy, Strategy::Match, "-hindi", false)
            .is_none()
    );
}

#[test]
fn a_refresh_adds_its_tracks_to_those_already_stored() {
    let dir = tmp("pool");
    let cache = Cache::new(dir.join("diary.sqlite3"), Refresh::Daily).with_clock(clock);
    NOW.set(noon());
    cache.store(&rec(Emotion::Sad, "Old", 1..=3), "-hindi");
    NOW.set(noon() + 25 * HOUR);
    cache.store(&rec(Emotion::Sad, "New", 3..=5), "-hindi");
    let got = cache
        .load(Emotion::Sad, Strategy::Match, "-hindi", true)
        .expect("fresh");
    assert_eq!(got.recommendation.playlist.name, "New");
    assert_eq!(
        sorted(got.recommendation.tracks),
        (1..=5).map(track).collect::<Vec<_>>()
    );
    assert!(got.heard.is_empty());
}

#[test]
fn an_old_cache_folder_is_imported_once_and_a_corrupt_file_is_dropped() {
    let dir = tmp("import");
    let old = dir.join("music");
    std::fs::create_dir_all(&old).expect("dir");
    let saved_at = (noon() / 1000) as u64;
    let doc = |r: &Recommendation| {
        serde_json::json!({"saved_at": saved_at, "recommendation": r}).to_string()
    };
    let angry = rec(Emotion::Angry, "Loud", 1..=4);
    std::fs::write(old.join("angry-match.json"), doc(&angry)).expect("write");
    std::fs::write(old.join("angry-match-k-pop-KR.json"), doc(&angry)).expect("write");
    std::fs::write(
        old.join("fear-match.json"),
        "{\"saved_at\": 1, \"recommendation\": [",
    )
    .expect("write");
    // A list under another mood's name is not served for this one.
    std::fs::write(old.join("happy-match.json"), doc(&angry)).expect("write");
    std::fs::write(old.join("sad-match.json.tmp"), "{").expect("write");
    let cache = Cache::new(dir.join("diary.sqlite3"), Refresh::Daily)
        .importing(Some(old.clone()))
        .with_clock(clock);
    NOW.set(noon() + HOUR);
    let got = cache
        .load(Emotion::Angry, Strategy::Match, "", true)
        .expect("imported");
    assert_eq!(got.age, Duration::from_millis(HOUR as u64));
    assert_eq!(sorted(got.recommendation.tracks), angry.tracks);
    let tagged = cache.load(Emotion::Angry, Strategy::Match, "-k-pop-KR", true);
    assert!(tagged.is_some());
    assert!(
        cache
            .load(Emotion::Fear, Strategy::Match, "", false)
            .is_none()
    );
    assert!(
        cache
            .load(Emotion::Happy, Strategy::Match, "", false)
            .is_none()
    );
    assert!(!old.exists(), "the old folder is gone once imported");
}

#[test]
fn an_unreadable_old_cache_is_ignored() {
    let dir = tmp("import-file");
    let old = dir.join("music");
    std::fs::create_dir_all(&dir).expect("dir");
    // A file where the folder should be: read_dir fails, and the import is skipped.
    std::fs::write(&old, "not a folder").expect("write");
    let cache = Cache::new(dir.join("diary.sqlite3"), Refresh::Daily)
        .importing(Some(old.clone()))
        .with_clock(clock);
    NOW.set(noon());
    cache.store(&rec(Emotion::Neutral, "Calm", 1..=2), "");
    assert!(
        cache
            .load(Emotion::Neutral, Strategy::Match, "", true)
            .is_some()
    );
    assert_eq!(std::fs::read_to_string(&old).expect("kept"), "not a folder");
}

#[test]
fn without_a_usable_database_there_is_simply_no_cache() {
    let dir = tmp("broken-db");
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("diary.sqlite3");
    std::fs::write(&db, "not sqlite at all").expect("write");
    let cache = Cache::new(&db, Refresh::Daily).with_clock(clock);
    NOW.set(noon());
    cache.store(&rec(Emotion::Happy, "Hits", 1..=3), "");
    assert!(
        cache
            .load(Emotion::Happy, Strategy::Match, "", false)
            .is_none()
    );
    assert!(cache.heard(&[track(1)]).is_empty());
    assert!(matches!(*cache.state.lock().expect("state"), State::Off));
    assert_eq!(
        std::fs::read_to_string(&db).expect("kept"),
        "not sqlite at all"
    );
}
