//! JSON from Spotify and from the files that keep it: the token file and the token endpoint's
//! answer, the music cache, search results, playlist items, and the signed-in user's calls
//! with every status (error bodies included).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rspotify::model::{Page, PlaylistItem, SearchResult};
use serde_json::{Value, json};

use super::mutate::{json_text, mutated, raw, trees};
use super::{Input, accepted, check, fuzz};
use crate::music::Track;
use crate::music::spotify::Token;
use crate::music::spotify::search::CatchPanic;
use crate::music::spotify::user_api::{self as account, Call};

const JSON: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"\\uDFFF\\uD800\"",
    b"1.7976931348623157e309",
    b"-0.0",
    b"\"spotify:track:\"",
    b"\"item\"",
    b"\"track\"",
    b"\"items\"",
    b"\"id\"",
];

/// Documents as seeds for both kinds of edits.
fn json_inputs(docs: Vec<Value>) -> BoxedStrategy<Input> {
    let bytes = docs.iter().map(json_text).collect();
    prop_oneof![
        3 => trees(docs, json_text, JSON),
        3 => mutated(bytes, JSON),
        1 => raw(),
    ]
    .boxed()
}

/// Checks what every parsed track must be: a Spotify track with a link.
fn check_tracks(tracks: &[Track]) -> Result<(), TestCaseError> {
    for t in tracks {
        let _ = t.length();
        check(
            t.uri.starts_with("spotify:track:") && !t.url.is_empty(),
            || format!("not a playable track: {t:?}"),
        )?;
    }
    Ok(())
}

/// The token file, the token endpoint's answer (ours and rspotify's).
#[test]
fn token_file() {
    let docs = vec![
        json!({"access_token": "BQD-at", "refresh_token": "AQC-rt", "expires_at": 1_767_225_600u64,
               "scope": "playlist-read-private user-read-private"}),
        json!({"access_token": "BQD-at", "refresh_token": null, "expires_at": 0}),
        json!({"access_token": "BQD-at", "token_type": "Bearer", "expires_in": 3600,
               "refresh_token": "AQC-rt", "scope": "playlist-read-private"}),
        json!({"access_token": "BQD-at", "token_type": "Bearer", "expires_in": 3600}),
    ];
    fuzz("token_file", json_inputs(docs), |input| {
        if let Ok(t) = Token::parse(&input.0) {
            accepted();
            let saved = serde_json::to_vec(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again = Token::parse(&saved);
            check(again.as_ref().ok() == Some(&t), || {
                format!("a saved token reads back as {again:?}")
            })?;
        }
        let now = crate::clock::unix_now().as_secs();
        if let Ok(t) = Token::from_answer(&input.0, now) {
            accepted();
            check(t.expires_at >= now, || {
                format!("expires at {} < now", t.expires_at)
            })?;
        }
        Ok(())
    });
}

/// The old music cache's files, read once to import them into the diary database.
#[test]
fn music_cache() {
    let rec = json!({
        "emotion": "happy", "strategy": "match", "source": "spotify",
        "playlist": {"name": "Happy Hits", "url": "https://open.spotify.com/playlist/x"},
        "tracks": [{"title": "Song", "artists": ["Band"], "duration_ms": 200_000,
                    "url": "https://open.spotify.com/track/t", "uri": "spotify:track:t",
                    "album_art": "https://i.scdn.co/image/a"},
                   {"title": "Other", "artists": [], "duration_ms": null,
                    "url": "https://open.spotify.com/search/x", "uri": "spotify:search:x"}]
    });
    let docs = vec![json!({"saved_at": 1_767_225_600u64, "recommendation": rec})];
    fuzz("music_cache", json_inputs(docs), |input| {
        if let Ok((rec, _saved_at)) = crate::music::cache::parse_entry(&input.0) {
            accepted();
            rec.tracks.iter().for_each(|t| {
                let _ = t.length();
            });
            // The store keeps an imported list as JSON: it must read back as the same list.
            let json =
                serde_json::to_string(&rec).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = serde_json::from_str::<crate::music::Recommendation>(&json).ok();
            check(back.as_ref() == Some(&rec), || {
                format!("{json} reads back as {back:?}")
            })?;
        }
        Ok(())
    });
}

fn playlist_json(id: &str, name: &str) -> Value {
    json!({
        "collaborative": false, "external_urls": {"spotify": format!("https://open.spotify.com/playlist/{id}")},
        "href": "x", "id": id, "images": [], "name": name,
        "owner": {"display_name": "someone", "external_urls": {}, "href": "x", "id": "someone"},
        "public": true, "snapshot_id": "s", "items": {"href": "x", "total": 12}
    })
}

fn page(items: Vec<Value>) -> Value {
    json!({"href": "x", "items": items, "limit": 50, "next": null, "offset": 0,
           "previous": null, "total": 2})
}

/// `GET /search?type=playlist`, as rspotify reads it, then the hits we take from it.
#[test]
fn spotify_search() {
    let hits = vec![
        playlist_json("37i9dQZF1DXdPec7aLTmlC", "Happy Hits"),
        playlist_json("5KbTzqKBqxQRD8OBtJTZhS", "Sad Songs 🎵"),
    ];
    let docs = vec![
        json!({"playlists": page(hits)}),
        json!({"playlists": page(vec![])}),
        json!({"error": {"status": 429, "message": "API rate limit exceeded"}}),
    ];
    // As the app reads it: rspotify's parse, its panics caught (`CatchPanic`).
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    fuzz("spotify_search", json_inputs(docs), |input| {
        let parse = async { serde_json::from_slice::<SearchResult>(&input.0) };
        let Ok(Ok(res)) = rt.block_on(CatchPanic(Box::pin(parse))) else {
            return Ok(());
        };
        accepted();
        let n = match &res {
            SearchResult::Playlists(p) => p.items.len(),
            _ => 0,
        };
        let hits = crate::music::spotify::search::search_hits(res, 7);
        check(hits.len() == n, || {
            format!("{n} playlists gave {} hits", hits.len())
        })
    });
}

fn item_json(n: u32, key: &str) -> Value {
    let tid = format!("4uLU6hMCjMI75M1A2tKU{n:02}");
    json!({
        "added_at": "2026-01-01T00:00:00Z", "added_by": null, "is_local": false,
        key: {
            "album": {"album_type": "album", "artists": [], "external_urls": {}, "href": null, "id": null,
                      "images": [{"height": 64, "url": "https://i.scdn.co/image/s", "width": 64},
                                 {"height": 640, "url": "https://i.scdn.co/image/b", "width": 640}],
                      "name": "Album"},
            "artists": [{"external_urls": {}, "href": null, "id": null, "name": format!("Artist {n}")}],
            "disc_number": 1, "duration_ms": 200_000 + n, "explicit": false, "external_ids": {},
            "external_urls": {"spotify": format!("https://open.spotify.com/track/{tid}")},
            "href": null, "id": tid, "is_local": false, "name": format!("Song {n}"),
            "preview_url": null, "track_number": n + 1, "type": "track",
            "uri": format!("spotify:track:{tid}")
        }
    })
}

/// `GET /playlists/{id}/items`: rspotify's page (the client-credentials source) and our own
/// reading of it (the signed-in user's playlists).
#[test]
fn spotify_items() {
    let local = json!({"added_at": null, "added_by": null, "is_local": true, "item": null});
    let docs = vec![
        page(vec![item_json(1, "item"), item_json(2, "track"), local]),
        page(vec![item_json(3, "item")]),
    ];
    fuzz("spotify_items", json_inputs(docs), |input| {
        if let Ok(p) = serde_json::from_slice::<Page<PlaylistItem>>(&input.0) {
            accepted();
            check_tracks(&crate::music::spotify::search::tracks_of(p))?;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&input.0) {
            check_tracks(&account::items_of(&v))?;
        }
        Ok(())
    });
}

const CALLS: [Call; 6] = [
    Call::Me,
    Call::Playlists,
    Call::Create,
    Call::AddItems,
    Call::Play,
    Call::ReadItems,
];

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => Just(200u16),
        1 => Just(201),
        1 => Just(204),
        1 => Just(400),
        1 => Just(401),
        1 => Just(403),
        1 => Just(404),
        2 => Just(429),
        1 => Just(500),
        1 => Just(503),
        1 => any::<u16>(),
    ]
}

fn retry_after() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("120".to_string())),
        Just(Some(" 3 ".to_string())),
        Just(Some("18446744073709551616".to_string())),
        Just(Some("Wed, 21 Oct 2026 07:28:00 GMT".to_string())),
        any::<String>().prop_map(Some),
    ]
}

/// The signed-in user's calls: every status with any body (error bodies too) and any
/// `Retry-After`, then what `/me`, `/me/playlists`, `/items` and a created playlist give.
#[test]
fn spotify_answers() {
    let docs = vec![
        json!({"id": "user1", "display_name": "Ada", "country": "SE"}),
        json!({"items": [{"id": "p1", "name": "Mine", "uri": "spotify:playlist:p1"}, {"name": "no id"}],
               "next": "https://api.spotify.com/v1/me/playlists?offset=50", "total": 51}),
        json!({"id": "p2", "name": "emotune · happy (match)", "uri": "spotify:playlist:p2"}),
        json!({"error": {"status": 403, "message": "Forbidden"}}),
        json!({"error": "invalid_grant", "error_description": "Refresh token revoked"}),
    ];
    let inputs = (status(), retry_after(), json_inputs(docs), 0..CALLS.len());
    fuzz("spotify_answers", inputs, |(status, retry, body, call)| {
        let retry = account::retry_secs(retry.as_deref());
        let answer = account::answer(CALLS[call], status, retry, &body.0);
        if !(200..300).contains(&status) {
            let _ = answer.as_ref().map_err(ToString::to_string);
            return check(answer.is_err(), || {
                format!("HTTP {status} was taken as {answer:?}")
            });
        }
        let Ok(v) = answer else {
            return Ok(());
        };
        accepted();
        let _ = account::user_of(&v);
        let (page, _more) = account::playlists_of(&v);
        let listed = v["items"].as_array().map_or(0, Vec::len);
        check(page.len() <= listed, || {
            format!("{listed} items gave {} playlists", page.len())
        })?;
        check_tracks(&account::items_of(&v))?;
        let _ = account::created_id(&v);
        Ok(())
    });
}
