use std::path::PathBuf;

use rusqlite::params;

use super::*;
use crate::diary::Refresh;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emotune-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("diary.sqlite3")
}

fn track(n: u32) -> PoolTrack {
    PoolTrack {
        uri: format!("spotify:track:T{n}"),
        title: format!("Song {n}"),
        artists: vec!["Band".into(), format!("Guest {n}")],
        duration_ms: Some(200_000 + u64::from(n)),
        url: format!("https://open.spotify.com/track/T{n}"),
        album_art: None,
    }
}

fn uris(list: &StoredList) -> Vec<String> {
    list.pool.iter().map(|p| p.track.uri.clone()).collect()
}

const T0: i64 = 1_772_000_000_000;
const HOUR: i64 = 3_600_000;

#[test]
fn a_list_comes_back_with_its_tracks_and_its_age() {
    let path = tmp("round-trip");
    let mut s = TrackStore::open(&path).expect("open");
    assert_eq!(s.get("happy-match").expect("get"), None);
    let tracks = [track(1), track(2)];
    s.put("happy-match", "{\"x\":1}", &tracks, T0).expect("put");
    let got = s.get("happy-match").expect("get").expect("stored");
    assert_eq!(got.recommendation, "{\"x\":1}");
    assert_eq!(got.fetched, T0);
    let mut back: Vec<PoolTrack> = got.pool.iter().map(|p| p.track.clone()).collect();
    back.sort_by(|a, b| a.uri.cmp(&b.uri));
    assert_eq!(back, tracks);
    assert!(got.pool.iter().all(|p| p.first_seen == T0 && !p.heard));
    // Its age is judged by the caller's clock and schedule: fresh later that day, not a day on.
    let daily = Refresh::Daily;
    let noon = crate::diary::local_midnight_ms(&crate::diary::local_day_before(0)).expect("today")
        + 12 * HOUR;
    s.put("sad-match", "{}", &[], noon).expect("put");
    let fetched = s.get("sad-match").expect("get").expect("stored").fetched;
    assert!(daily.is_fresh(fetched, noon + HOUR));
    assert!(!daily.is_fresh(fetched, noon + 24 * HOUR));
    // Other keys are other lists; a second connection (the music thread's) sees the same.
    assert_eq!(s.get("happy-uplift").expect("get"), None);
    let other = TrackStore::open(&path).expect("second connection");
    assert_eq!(
        other.get("happy-match").expect("get").map(|l| l.fetched),
        Some(T0)
    );
}

#[test]
fn a_refresh_adds_to_the_pool_and_keeps_what_was_there() {
    let mut s = TrackStore::open(&tmp("pool")).expect("open");
    s.put("calm", "{\"v\":1}", &[track(1), track(2)], T0)
        .expect("put");
    let mut renamed = track(2);
    renamed.title = "Song 2 (remastered)".into();
    renamed.album_art = Some("https://i.scdn.co/image/a".into());
    s.put(
        "calm",
        "{\"v\":2}",
        &[renamed.clone(), track(3)],
        T0 + 25 * HOUR,
    )
    .expect("refresh");
    let got = s.get("calm").expect("get").expect("stored");
    assert_eq!(got.recommendation, "{\"v\":2}");
    assert_eq!(got.fetched, T0 + 25 * HOUR);
    // Newest first: track 3 is new, 1 and 2 keep the time they first came.
    assert_eq!(
        uris(&got),
        ["spotify:track:T3", "spotify:track:T1", "spotify:track:T2"]
    );
    let two = got.pool.iter().find(|p| p.track.uri == renamed.uri);
    assert_eq!(two.map(|p| (&p.track, p.first_seen)), Some((&renamed, T0)));
}

#[test]
fn tracks_never_opened_or_played_come_first() {
    let mut s = TrackStore::open(&tmp("heard")).expect("open");
    let tracks: Vec<PoolTrack> = (1..=4).map(track).collect();
    s.put("sad-uplift", "{}", &tracks, T0).expect("put");
    // The diary writer records plays on its own connection; WAL lets both write.
    let diary = Diary::open(s.path()).expect("diary");
    for (action, n) in [("open", 1), ("play", 3), ("save", 2)] {
        diary
            .conn
            .execute(
                "INSERT INTO plays (t, action, title, artists, uri) VALUES (?1, ?2, '', '', ?3)",
                params![T0, action, format!("spotify:track:T{n}")],
            )
            .expect("play");
    }
    let got = s.get("sad-uplift").expect("get").expect("stored");
    let order: Vec<(String, bool)> = got
        .pool
        .iter()
        .map(|p| (p.track.uri.clone(), p.heard))
        .collect();
    // A saved list is not a heard track: 2 counts as new.
    assert_eq!(
        order,
        [
            ("spotify:track:T2".to_string(), false),
            ("spotify:track:T4".to_string(), false),
            ("spotify:track:T1".to_string(), true),
            ("spotify:track:T3".to_string(), true),
        ]
    );
    let heard = s
        .heard(["spotify:track:T1", "spotify:track:T2", "spotify:track:T9"])
        .expect("heard");
    assert_eq!(heard.into_iter().collect::<Vec<_>>(), ["spotify:track:T1"]);
}

#[test]
fn an_import_never_replaces_a_newer_list() {
    let mut s = TrackStore::open(&tmp("import")).expect("open");
    s.put("happy-match", "{\"new\":1}", &[track(1)], T0)
        .expect("put");
    s.import("happy-match", "{\"old\":1}", &[track(2)], T0 - HOUR)
        .expect("import");
    let got = s.get("happy-match").expect("get").expect("stored");
    assert_eq!(
        (got.recommendation.as_str(), got.fetched),
        ("{\"new\":1}", T0)
    );
    // Its tracks still join the pool, dated when they were first seen.
    assert_eq!(uris(&got), ["spotify:track:T1", "spotify:track:T2"]);
    s.import("sad-match", "{\"old\":2}", &[], T0 - HOUR)
        .expect("import");
    let got = s.get("sad-match").expect("get").expect("stored");
    assert_eq!(got.fetched, T0 - HOUR);
}

#[test]
fn a_database_that_cannot_be_used_is_an_error_not_a_panic() {
    let path = tmp("not-sqlite");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    std::fs::write(&path, b"this is not a database, and must stay as it is").expect("write");
    let e = TrackStore::open(&path).err().expect("refused");
    assert!(
        matches!(e, crate::diary::DiaryError::NotADatabase { .. }),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&path).expect("kept"),
        b"this is not a database, and must stay as it is"
    );
}

#[test]
fn two_connections_opening_a_new_file_at_once_both_get_the_schema() {
    let path = tmp("race");
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || TrackStore::open(&p).map(|_| ()))
        })
        .collect();
    for o in opens {
        assert_eq!(o.join().expect("no panic"), Ok(()));
    }
    let s = TrackStore::open(&path).expect("open");
    let v: i64 =
        s.db.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
    assert_eq!(v, crate::diary::schema::LATEST);
}
