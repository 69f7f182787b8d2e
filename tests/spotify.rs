//! The real rspotify client against a local server that speaks Spotify's Web API: token,
//! search, playlist items, and each failure (401, 403, 404, 429 + Retry-After, 500, a hang).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emotune::Emotion;
use emotune::config::SpotifyCredentials;
use emotune::music::mapping::Mapping;
use emotune::music::service::Music;
use emotune::music::spotify::SpotifySource;
use emotune::music::{SourceKind, SourcePreference, Strategy};
use serde_json::json;

const SECRET: &str = "sup3r-s3cret-value";
const TOKEN: &str = "tok-abcdef-0123456789";

/// How the fake Spotify answers.
#[derive(Clone, Default)]
struct Script {
    token_status: u16,
    /// Status per playlist id for /items (default 200).
    items_status: HashMap<String, u16>,
    /// Playlist ids answering 429 (Retry-After: 1) the first time only.
    rate_limit_once: Vec<String>,
    /// Never answer /items for these (the client must time out).
    hang: Vec<String>,
    /// This server's own URL, for album-art links.
    base: String,
}

struct FakeSpotify {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeSpotify {
    fn start(script: Script) -> FakeSpotify {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (log.clone(), stop.clone());
        let script = Arc::new(Mutex::new(Script {
            base: url.clone(),
            ..script
        }));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (l, script) = (l.clone(), script.clone());
                std::thread::spawn(move || serve(conn, &l, &script));
            }
        });
        FakeSpotify { url, log, stop }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Stops accepting: later connections are refused, like a server that went away.
    fn kill(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }

    fn source(&self, timeout: Duration) -> SpotifySource {
        let creds = SpotifyCredentials {
            client_id: "my-client-id".into(),
            client_secret: SECRET.into(),
            redirect_uri: None,
        };
        SpotifySource::new(
            &creds,
            Some(format!("{}/v1/", self.url)),
            Some(format!("{}/", self.url)),
            timeout,
        )
    }
}

fn serve(mut conn: TcpStream, log: &Mutex<Vec<String>>, script: &Mutex<Script>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().expect("log").push(path.clone());
    let (status, extra, body) = route(&path, script);
    if status == 0 {
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

fn route(path: &str, script: &Mutex<Script>) -> (u16, String, Vec<u8>) {
    let (status, extra, body) = route_text(path, script);
    if path == "/art.png" {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbaImage::from_pixel(4, 4, image::Rgba([200, 30, 30, 255]))
            .write_to(&mut png, image::ImageFormat::Png)
            .expect("png");
        return (200, String::new(), png.into_inner());
    }
    (status, extra, body.into_bytes())
}

fn route_text(path: &str, script: &Mutex<Script>) -> (u16, String, String) {
    let mut sc = script.lock().expect("script");
    if path.starts_with("/api/token") {
        if sc.token_status != 200 {
            return (
                sc.token_status,
                String::new(),
                r#"{"error":"invalid_client"}"#.into(),
            );
        }
        return (
            200,
            String::new(),
            json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}).to_string(),
        );
    }
    if path.starts_with("/v1/search") {
        let items: Vec<_> = ["PLAYLISTaaaaaaaaaaaaa01", "PLAYLISTbbbbbbbbbbbbb02"]
            .iter()
            .enumerate()
            .map(|(i, id)| playlist_json(id, &format!("Mood list {}", i + 1)))
            .collect();
        let page = json!({"playlists": {"href": "x", "items": items, "limit": 10, "next": null, "offset": 0, "previous": null, "total": 2}});
        return (200, String::new(), page.to_string());
    }
    if let Some(rest) = path.strip_prefix("/v1/playlists/") {
        let id = rest.split('/').next().unwrap_or("").to_string();
        if sc.hang.contains(&id) {
            return (0, String::new(), String::new());
        }
        if let Some(pos) = sc.rate_limit_once.iter().position(|p| *p == id) {
            sc.rate_limit_once.remove(pos);
            return (429, "Retry-After: 1\r\n".into(), "{}".into());
        }
        let status = sc.items_status.get(&id).copied().unwrap_or(200);
        if status != 200 {
            return (
                status,
                String::new(),
                json!({"error": {"status": status, "message": "nope"}}).to_string(),
            );
        }
        let tracks: Vec<_> = (0..12).map(|n| item_json(&id, n, &sc.base)).collect();
        let page = json!({"href": "x", "items": tracks, "limit": 50, "next": null, "offset": 0, "previous": null, "total": 12});
        return (200, String::new(), page.to_string());
    }
    (404, String::new(), "{}".into())
}

fn playlist_json(id: &str, name: &str) -> serde_json::Value {
    json!({
        "collaborative": false, "external_urls": {"spotify": format!("https://open.spotify.com/playlist/{id}")},
        "href": "x", "id": id, "images": [], "name": name,
        "owner": {"display_name": "someone", "external_urls": {}, "href": "x", "id": "someone"},
        "public": true, "snapshot_id": "s", "items": {"href": "x", "total": 12}
    })
}

fn item_json(playlist: &str, n: u32, base: &str) -> serde_json::Value {
    let tid = format!("{}{:02}", &playlist[..20], n);
    json!({
        "added_at": null, "added_by": null, "is_local": false,
        "item": {
            "album": {"album_type": "album", "artists": [], "external_urls": {}, "href": null, "id": null,
                      "images": [{"height": 64, "url": format!("{base}/art.png"), "width": 64},
                                 {"height": 640, "url": format!("{base}/big.png"), "width": 640}], "name": "Album"},
            "artists": [{"external_urls": {}, "href": null, "id": null, "name": format!("Artist {n}")}],
            "disc_number": 1, "duration_ms": 200000 + n, "explicit": false, "external_ids": {},
            "external_urls": {"spotify": format!("https://open.spotify.com/track/{tid}")},
            "href": null, "id": tid, "is_local": false, "name": format!("Song {n} of {playlist}"),
            "preview_url": null, "track_number": n + 1, "type": "track"
        }
    })
}

fn music(fake: &FakeSpotify, timeout: Duration, cache: Option<&std::path::Path>) -> Music {
    let cache = cache.map(|d| {
        emotune::music::cache::Cache::new(d.join("diary.sqlite3"), emotune::diary::Refresh::Daily)
    });
    Music::new(Mapping::builtin(), Some(fake.source(timeout)), cache)
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(f)
}

#[test]
fn tracks_come_from_the_first_readable_playlist() {
    let fake = FakeSpotify::start(Script {
        token_status: 200,
        ..Default::default()
    });
    let m = music(&fake, Duration::from_secs(3), None);
    let o = block(m.recommend(
        Emotion::Happy,
        Strategy::Match,
        SourcePreference::Spotify,
        true,
    ))
    .expect("spotify");
    let r = &o.recommendation;
    assert_eq!(r.source, SourceKind::Spotify);
    assert_eq!(r.tracks.len(), 12);
    assert!(r.playlist.name.starts_with("Mood list"));
    let t = &r.tracks[0];
    assert!(t.uri.starts_with("spotify:track:PLAYLIST"), "{}", t.uri);
    assert!(t.url.starts_with("https://open.spotify.com/track/"));
    assert!(t.duration_ms.is_some_and(|d| d >= 200_000));
    assert_eq!(
        t.album_art.as_deref(),
        Some(format!("{}/art.png", fake.url).as_str())
    );
    let reqs = fake.requests();
    assert!(
        reqs.iter().any(|p| p.starts_with("/v1/search")
            && p.contains("limit=10")
            && p.contains("type=playlist")),
        "{reqs:?}"
    );
}

#[test]
fn a_profile_language_and_market_reach_the_search() {
    let fake = FakeSpotify::start(Script {
        token_status: 200,
        ..Default::default()
    });
    let m = music(&fake, Duration::from_secs(3), None);
    let taste = emotune::music::language::Taste {
        language: "telugu".into(),
        market: Some("IN".into()),
    };
    let o = block(m.recommend_for(
        Emotion::Sad,
        Strategy::Match,
        SourcePreference::Spotify,
        true,
        &taste,
    ))
    .expect("spotify");
    assert_eq!(o.recommendation.source, SourceKind::Spotify);
    let reqs = fake.requests();
    let search = reqs
        .iter()
        .find(|p| p.starts_with("/v1/search"))
        .expect("a search");
    assert!(search.contains("market=IN"), "{search}");
    assert!(search.contains("q=telugu"), "{search}");
}

#[test]
fn playlists_answering_403_or_404_are_skipped() {
    for status in [403, 404] {
        let mut script = Script {
            token_status: 200,
            ..Default::default()
        };
        script
            .items_status
            .insert("PLAYLISTaaaaaaaaaaaaa01".into(), status);
        let fake = FakeSpotify::start(script);
        // Seed 0 keeps the search order, so the refused playlist is tried first.
        let entry = Mapping::builtin()
            .entry(Emotion::Sad, Strategy::Match)
            .clone();
        let (playlist, tracks) = block(fake.source(Duration::from_secs(3)).fetch(&entry, 0, None))
            .expect("second playlist");
        assert_eq!(playlist.name, "Mood list 2");
        assert!(
            tracks
                .iter()
                .all(|t| t.title.ends_with("PLAYLISTbbbbbbbbbbbbb02"))
        );
        let reqs = fake.requests();
        assert!(
            reqs.iter()
                .any(|p| p.starts_with("/v1/playlists/PLAYLISTaaaaaaaaaaaaa01/items")),
            "{reqs:?}"
        );
    }
}

#[test]
fn rejected_credentials_say_so_and_fall_back() {
    let fake = FakeSpotify::start(Script {
        token_status: 401,
        ..Default::default()
    });
    let m = music(&fake, Duration::from_secs(3), None);
    let err = block(m.recommend(
        Emotion::Angry,
        Strategy::Uplift,
        SourcePreference::Spotify,
        true,
    ))
    .expect_err("401");
    assert!(err.is_rejection(), "{err:?}");
    let err = err.to_string();
    assert!(
        err.contains("RSPOTIFY_CLIENT_ID") && err.contains("401"),
        "{err}"
    );
    assert!(!err.contains(SECRET));
    let o = block(m.recommend(
        Emotion::Angry,
        Strategy::Uplift,
        SourcePreference::Auto,
        true,
    ))
    .expect("fallback");
    assert_eq!(o.recommendation.source, SourceKind::Offline);
    assert!(o.credentials_rejected(), "{:?}", o.notes);
}

#[test]
fn rate_limit_is_honoured_once() {
    let mut script = Script {
        token_status: 200,
        ..Default::default()
    };
    script.rate_limit_once = vec![
        "PLAYLISTaaaaaaaaaaaaa01".into(),
        "PLAYLISTbbbbbbbbbbbbb02".into(),
    ];
    let fake = FakeSpotify::start(script);
    let m = music(&fake, Duration::from_secs(3), None);
    let t0 = Instant::now();
    let o = block(m.recommend(
        Emotion::Fear,
        Strategy::Match,
        SourcePreference::Spotify,
        true,
    ))
    .expect("after retry");
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(o.recommendation.source, SourceKind::Spotify);
    let item_calls = fake
        .requests()
        .iter()
        .filter(|p| p.contains("/items"))
        .count();
    assert_eq!(item_calls, 2, "one 429, one retry");
}

#[test]
fn server_errors_and_hangs_fall_back_quickly() {
    let mut script = Script {
        token_status: 200,
        ..Default::default()
    };
    script
        .items_status
        .insert("PLAYLISTaaaaaaaaaaaaa01".into(), 500);
    script
        .items_status
        .insert("PLAYLISTbbbbbbbbbbbbb02".into(), 500);
    let fake = FakeSpotify::start(script);
    let o = block(music(&fake, Duration::from_secs(2), None).recommend(
        Emotion::Neutral,
        Strategy::Match,
        SourcePreference::Auto,
        true,
    ))
    .expect("fallback");
    assert_eq!(o.recommendation.source, SourceKind::Offline);
    assert!(
        o.notes.iter().any(|n| n.to_string().contains("500")),
        "{:?}",
        o.notes
    );

    let mut script = Script {
        token_status: 200,
        ..Default::default()
    };
    script.hang = vec![
        "PLAYLISTaaaaaaaaaaaaa01".into(),
        "PLAYLISTbbbbbbbbbbbbb02".into(),
    ];
    let fake = FakeSpotify::start(script);
    let t0 = Instant::now();
    let o = block(music(&fake, Duration::from_secs(1), None).recommend(
        Emotion::Neutral,
        Strategy::Match,
        SourcePreference::Auto,
        true,
    ))
    .expect("fallback");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(o.recommendation.source, SourceKind::Offline);
    assert!(
        o.notes
            .iter()
            .any(|n| n.to_string().contains("did not answer")),
        "{:?}",
        o.notes
    );
}

#[test]
fn a_killed_server_is_answered_from_cache_within_5_seconds() {
    let dir = common::temp_dir("music-cache");
    let fake = FakeSpotify::start(Script {
        token_status: 200,
        ..Default::default()
    });
    let m = music(&fake, Duration::from_secs(3), Some(&dir));
    let first = block(m.recommend(
        Emotion::Surprise,
        Strategy::Uplift,
        SourcePreference::Auto,
        true,
    ))
    .expect("live");
    assert_eq!(first.recommendation.source, SourceKind::Spotify);
    fake.kill();
    let t0 = Instant::now();
    let again = block(m.recommend(
        Emotion::Surprise,
        Strategy::Uplift,
        SourcePreference::Auto,
        true,
    ))
    .expect("cached");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(again.recommendation.source, SourceKind::Cache);
    assert_eq!(again.recommendation.playlist, first.recommendation.playlist);
    // Without refresh a fresh cache is served without touching the network at all.
    let cached = block(m.recommend(
        Emotion::Surprise,
        Strategy::Uplift,
        SourcePreference::Auto,
        false,
    ))
    .expect("cached");
    assert_eq!(cached.recommendation.source, SourceKind::Cache);
}

/// Collects everything logged at any level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buf").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_secret_and_the_token_never_reach_the_logs() {
    let buf = Captured::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let mut script = Script {
        token_status: 200,
        ..Default::default()
    };
    // Both hits refused: each skip is logged, then the offline catalog serves.
    for id in ["PLAYLISTaaaaaaaaaaaaa01", "PLAYLISTbbbbbbbbbbbbb02"] {
        script.items_status.insert(id.into(), 403);
    }
    let fake = FakeSpotify::start(script);
    let m = music(&fake, Duration::from_secs(3), None);
    tracing::subscriber::with_default(subscriber, || {
        let o = block(m.recommend(
            Emotion::Happy,
            Strategy::Uplift,
            SourcePreference::Auto,
            true,
        ))
        .expect("ok");
        assert_eq!(o.recommendation.source, SourceKind::Offline);
        assert!(
            o.notes
                .iter()
                .any(|n| n.to_string().contains("no playable playlist")),
            "{:?}",
            o.notes
        );
        let bad = FakeSpotify::start(Script {
            token_status: 401,
            ..Default::default()
        });
        let o = block(music(&bad, Duration::from_secs(3), None).recommend(
            Emotion::Happy,
            Strategy::Uplift,
            SourcePreference::Auto,
            true,
        ))
        .expect("fallback");
        assert!(o.notes.iter().all(|n| !n.to_string().contains(SECRET)));
    });
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("buf")).into_owned();
    assert!(logs.contains("answered 403"), "the skip is logged: {logs}");
    // The Basic auth header the token request carries.
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("my-client-id:{SECRET}"))
    };
    for needle in [SECRET, TOKEN, basic.as_str()] {
        assert!(!logs.contains(needle), "{needle} leaked into the logs");
    }
}

#[test]
fn cli_recommend_uses_the_local_server_then_the_offline_catalog() {
    let fake = FakeSpotify::start(Script {
        token_status: 200,
        ..Default::default()
    });
    let home = common::temp_dir("cli-music");
    let mut offline = common::emotune();
    let (out, stdout, _) = common::run(common::isolate(&mut offline, &home).args([
        "recommend",
        "--emotion",
        "sad",
        "--strategy",
        "uplift",
        "--json",
    ]));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["source"], "offline");
    assert_eq!(v["emotion"], "sad");
    assert_eq!(v["strategy"], "uplift");
    assert!(v["tracks"].as_array().expect("tracks").len() >= 10);

    let mut live = common::emotune();
    common::isolate(&mut live, &home)
        .env("SPOTIPY_CLIENT_ID", "my-client-id")
        .env("SPOTIPY_CLIENT_SECRET", SECRET)
        .env("EMOTUNE_SPOTIFY_API_URL", format!("{}/v1/", fake.url))
        .env("EMOTUNE_SPOTIFY_AUTH_URL", format!("{}/", fake.url))
        .env("EMOTUNE_LOG", "trace");
    let (out, stdout, stderr) = common::run(live.args([
        "recommend",
        "--emotion",
        "happy",
        "--json",
        "--source",
        "spotify",
    ]));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["source"], "spotify");
    assert!(
        v["tracks"][0]["uri"]
            .as_str()
            .expect("uri")
            .starts_with("spotify:track:")
    );
    for needle in [SECRET, TOKEN] {
        if let Some(i) = stderr.find(needle) {
            panic!(
                "{needle} leaked: ...{}...",
                &stderr[i.saturating_sub(300)..(i + 100).min(stderr.len())]
            );
        }
    }
}

#[test]
fn the_music_thread_delivers_the_list_then_its_album_art() {
    use emotune::music::recommender::Ask;
    use emotune::music::service::{MusicEvent, MusicHandle, MusicRequest};
    let fake = FakeSpotify::start(Script {
        token_status: 200,
        ..Default::default()
    });
    let handle = MusicHandle::spawn(
        music(&fake, Duration::from_secs(3), None).into(),
        Arc::new(|| {}),
    );
    handle.request(MusicRequest {
        id: 1,
        ask: Ask {
            refresh: true,
            ..Ask::new(Emotion::Happy, Strategy::Match)
        },
    });
    let (mut ready, mut art) = (false, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && art.is_none() {
        for ev in handle.poll() {
            match ev {
                MusicEvent::Ready { id, outcome } => {
                    ready = id == 1 && outcome.recommendation.source == SourceKind::Spotify
                }
                MusicEvent::Art { url, image } => art = Some((url, image.dimensions())),
                MusicEvent::Failed { error, .. } => panic!("{error}"),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready, "the list arrived first");
    assert_eq!(art, Some((format!("{}/art.png", fake.url), (4, 4))));
}
