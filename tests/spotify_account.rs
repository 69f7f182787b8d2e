//! Signing in to Spotify and the signed-in user's calls, through the real binary against a
//! local server on 127.0.0.1 that speaks Spotify's accounts and Web API: the PKCE exchange
//! (the server checks code_verifier against code_challenge), a forged state, a refresh after
//! expiry, save, play, 401/403/404/429 on each call, the token file's mode and the logs.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use sha2::Digest;

const CODE: &str = "auth-code-123";
const ACCESS: &str = "AT1-secret-access";
const REFRESHED: &str = "AT2-secret-access";
const REFRESH: &str = "RT1-secret-refresh";

#[derive(Default)]
struct State {
    /// The code_challenge the browser carried to the authorize page.
    challenge: String,
    /// The access token the API accepts now.
    valid: String,
    /// Route → status to answer instead (Retry-After: 7 with 429).
    fail: HashMap<&'static str, u16>,
    /// (method, path, body) of each request.
    log: Vec<(String, String, String)>,
}

struct Fake {
    url: String,
    state: Arc<Mutex<State>>,
}

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn route(method: &str, path: &str, auth: &str, body: &str, st: &mut State) -> (u16, Value) {
    let key = match (method, path.split('?').next().unwrap_or("")) {
        ("POST", "/api/token") => "token",
        ("GET", "/v1/me") => "me",
        ("GET", "/v1/me/playlists") => "playlists",
        ("POST", "/v1/me/playlists") => "create",
        ("POST", p) if p.starts_with("/v1/playlists/") && p.ends_with("/items") => "items",
        ("GET", p) if p.starts_with("/v1/playlists/") && p.ends_with("/items") => "read_items",
        ("PUT", "/v1/me/player/play") => "play",
        _ => return (404, json!({"error": "no route"})),
    };
    if let Some(&s) = st.fail.get(key) {
        return (s, json!({"error": {"status": s}}));
    }
    if key == "token" {
        let f = form(body);
        let ok = match f.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                f.get("code").map(String::as_str) == Some(CODE)
                    && f.get("client_id").map(String::as_str) == Some("cid")
                    && !st.challenge.is_empty()
                    && challenge == st.challenge
            }
            Some("refresh_token") => f.get("refresh_token").map(String::as_str) == Some(REFRESH),
            _ => false,
        };
        if !ok {
            return (400, json!({"error": "invalid_grant"}));
        }
        let refreshing = f.get("grant_type").map(String::as_str) == Some("refresh_token");
        st.valid = if refreshing { REFRESHED } else { ACCESS }.into();
        let mut t = json!({"access_token": st.valid, "token_type": "Bearer", "expires_in": 3600,
                           "scope": "playlist-modify-private"});
        if !refreshing {
            t["refresh_token"] = json!(REFRESH);
        }
        return (200, t);
    }
    if auth != format!("Bearer {}", st.valid) {
        return (
            401,
            json!({"error": {"status": 401, "message": "The access token expired"}}),
        );
    }
    match key {
        "me" => (200, json!({"id": "u1", "display_name": "Ada"})),
        "playlists" => (
            200,
            json!({"items": [{"id": "p9", "name": "Mine", "uri": "spotify:playlist:p9"}], "next": null}),
        ),
        "create" => (201, json!({"id": "pl1", "uri": "spotify:playlist:pl1"})),
        "items" => (201, json!({"snapshot_id": "s1"})),
        // 2026's `item`, the older `track`, an episode and a removed track (null).
        "read_items" => (
            200,
            json!({"items": [
                {"item": {"name": "Own 1", "uri": "spotify:track:OT1", "duration_ms": 2000,
                          "artists": [{"name": "Me"}], "external_urls": {}, "album": {"images": []}}},
                {"track": {"name": "Own 2", "uri": "spotify:track:OT2", "artists": []}},
                {"item": {"name": "A show", "uri": "spotify:episode:E1"}},
                {"item": null}
            ]}),
        ),
        _ => (204, Value::Null),
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let (mut len, mut auth) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth = h["authorization:".len()..].trim().to_string();
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (status, answer) = {
        let mut st = state.lock().expect("state");
        st.log.push((method.clone(), path.clone(), body.clone()));
        route(&method, &path, &auth, &body, &mut st)
    };
    let text = if answer.is_null() {
        String::new()
    } else {
        answer.to_string()
    };
    let retry = if status == 429 {
        "Retry-After: 7\r\n"
    } else {
        ""
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{text}",
        text.len()
    );
}

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Fake { url, state }
    }

    fn calls(&self) -> Vec<(String, String, String)> {
        self.state.lock().expect("state").log.clone()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// The binary as a fresh user of the fake Spotify; `redirect_port` for the loopback.
fn cmd(fake: &Fake, home: &Path, redirect_port: u16) -> Command {
    let mut c = emotune();
    isolate(&mut c, home)
        .env("RSPOTIFY_CLIENT_ID", "cid")
        .env(
            "RSPOTIFY_REDIRECT_URI",
            format!("http://127.0.0.1:{redirect_port}/callback"),
        )
        .env("EMOTUNE_SPOTIFY_AUTH_URL", format!("{}/", fake.url))
        .env("EMOTUNE_SPOTIFY_API_URL", format!("{}/v1/", fake.url))
        .env("EMOTUNE_LOG", "trace");
    c
}

fn token_path(home: &Path) -> PathBuf {
    home.join("config/emotune/spotify-token.json")
}

fn param(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or("")
        .to_string()
}

/// Plays the browser: follows the redirect to the loopback with `code` and `state`.
fn browser_returns(port: u16, state: &str) -> String {
    let mut last = None;
    for _ in 0..50 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                let req =
                    format!("GET /callback?code={CODE}&state={state} HTTP/1.1\r\nHost: x\r\n\r\n");
                s.write_all(req.as_bytes()).expect("send");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                return answer;
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the loopback never listened: {last:?}");
}

/// Runs `spotify login --no-browser`, answering as the browser with `forge` or the real state.
fn login(fake: &Fake, home: &Path, forge: Option<&str>) -> (i32, String, String, String) {
    let port = free_port();
    let mut child = cmd(fake, home, port)
        .args(["spotify", "login", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut url = String::new();
    out.read_line(&mut url).expect("the authorize URL");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        url.starts_with(&format!("{}/authorize?", fake.url)),
        "{url}"
    );
    fake.state.lock().expect("state").challenge = param(url.trim(), "code_challenge");
    let state = param(url.trim(), "state");
    let page = browser_returns(port, forge.unwrap_or(&state));
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    (code, url + &rest, err, page)
}

fn assert_no_secret(texts: &[&str]) {
    for t in texts {
        for s in [ACCESS, REFRESHED, REFRESH, CODE] {
            assert!(!t.contains(s), "{s} leaked: {t}");
        }
    }
}

#[test]
fn pkce_sign_in_saves_a_private_token_and_never_logs_it() {
    let fake = Fake::start();
    let home = temp_dir("pkce");
    let (code, out, err, page) = login(&fake, &home, None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed in as Ada"), "{out}");
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("Signed in"),
        "{page}"
    );
    let token = std::fs::read_to_string(token_path(&home)).expect("token file");
    assert!(token.contains(ACCESS) && token.contains(REFRESH));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(token_path(&home))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let calls = fake.calls();
    let exchange = calls
        .iter()
        .find(|c| c.1 == "/api/token")
        .expect("token call");
    assert!(exchange.2.contains("code_verifier="), "{}", exchange.2);
    assert!(
        !exchange.2.contains("client_secret"),
        "PKCE sends no secret"
    );
    assert_no_secret(&[&err, &out[out.find('\n').unwrap_or(0)..]]);
    let (status, _, _) = run(cmd(&fake, &home, 1).args(["spotify", "logout"]));
    assert!(status.status.success());
    assert!(!token_path(&home).exists());
}

#[test]
fn a_forged_state_is_rejected_and_nothing_is_saved() {
    let fake = Fake::start();
    let home = temp_dir("pkce-state");
    let (code, _, err, page) = login(&fake, &home, Some("forged-state"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("state mismatch"), "{err}");
    assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    assert!(!token_path(&home).exists());
    assert!(
        fake.calls().iter().all(|c| c.1 != "/api/token"),
        "no exchange"
    );
}

/// Sends `request` to the loopback as raw bytes and returns the whole answer.
fn send_raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // The listener may answer before it has read everything (an over-long line).
    let _ = s.write_all(request);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn malformed_callbacks_get_a_400_and_the_sign_in_keeps_waiting() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let waiter = std::thread::spawn(move || {
        emotune::music::spotify::oauth::wait_for_code(
            &listener,
            "/callback",
            "good-state",
            std::time::Duration::from_secs(60),
        )
    });
    let long = format!(
        "GET /callback?state={} HTTP/1.1\r\n\r\n",
        "a".repeat(100_000)
    );
    let cases: [&[u8]; 9] = [
        "GET /callback?state=%€ HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
        b"GET /callback?state=% HTTP/1.1\r\n\r\n",
        b"GET /callback?code=%ZZ&state=x HTTP/1.1\r\n\r\n",
        // Not UTF-8, raw and percent-encoded.
        b"GET /callback?state=\xff\xfe HTTP/1.1\r\n\r\n",
        b"GET /callback?code=%FF&state=good-state HTTP/1.1\r\n\r\n",
        long.as_bytes(),
        b"\x00\x01 garbage\r\n\r\n",
        b"GET /callback?state=good-state",
        b"",
    ];
    for req in cases {
        let answer = send_raw(port, req);
        let shown = String::from_utf8_lossy(&req[..req.len().min(60)]);
        assert!(answer.starts_with("HTTP/1.1 400"), "{shown:?} -> {answer}");
    }
    assert!(
        !waiter.is_finished(),
        "a malformed request ended the sign-in"
    );
    let ok = send_raw(
        port,
        b"GET /callback?code=the%2Fcode&state=good-state HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert_eq!(
        waiter.join().expect("the listener never panics"),
        Ok("the/code".to_string())
    );
}

/// A signed-in user: a token file, and a fresh cached list of Spotify tracks for happy/match.
fn signed_in(home: &Path, access: &str, expires_at: u64) {
    let t = json!({"access_token": access, "refresh_token": REFRESH, "expires_at": expires_at,
                   "scope": ""});
    std::fs::create_dir_all(home.join("config/emotune")).expect("dir");
    std::fs::write(token_path(home), t.to_string()).expect("token");
    let tracks: Vec<Value> = (1..=3)
        .map(|i| {
            json!({"title": format!("Song {i}"), "artists": ["Band"], "duration_ms": 1000,
                        "url": format!("https://open.spotify.com/track/T{i}"),
                        "uri": format!("spotify:track:T{i}")})
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let cached = json!({"saved_at": now, "recommendation": {"emotion": "happy",
        "strategy": "match", "source": "spotify", "playlist": {"name": "Happy hits", "url": null},
        "tracks": tracks}});
    // The user picked one of their own playlists for sad (match): it is kept in their profile.
    let profiles = home.join("data/emotune/profiles");
    std::fs::create_dir_all(&profiles).expect("profiles");
    let profile = json!({"version": 1, "name": "default",
        "own_playlists": {"sad/match": {"id": "p9", "name": "Mine"}}});
    std::fs::write(profiles.join("default.json"), profile.to_string()).expect("profile");
    let music = home.join("cache/emotune/music");
    std::fs::create_dir_all(&music).expect("dir");
    std::fs::write(music.join("happy-match.json"), cached.to_string()).expect("cache");
}

const FAR: u64 = 4_000_000_000;

/// The JSON body of the first `method` request to `path`.
fn body_of(calls: &[(String, String, String)], method: &str, path: &str) -> Value {
    let call = calls
        .iter()
        .find(|c| c.0 == method && c.1 == path)
        .unwrap_or_else(|| panic!("no {method} {path} in {calls:?}"));
    serde_json::from_str(&call.2).expect("json body")
}

#[test]
fn an_expired_token_is_refreshed_silently_then_play_starts() {
    let fake = Fake::start();
    let home = temp_dir("refresh");
    signed_in(&home, "AT0-expired", 1);
    let (out, stdout, stderr) =
        run(cmd(&fake, &home, 1).args(["spotify", "play", "--emotion", "happy"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("playing 3 tracks"), "{stdout}");
    let calls = fake.calls();
    assert_eq!(calls[0].1, "/api/token");
    assert!(calls[0].2.contains("grant_type=refresh_token"));
    let body = body_of(&calls, "PUT", "/v1/me/player/play");
    let mut uris: Vec<&str> = body["uris"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    uris.sort_unstable();
    assert_eq!(
        uris,
        ["spotify:track:T1", "spotify:track:T2", "spotify:track:T3"]
    );
    let token = std::fs::read_to_string(token_path(&home)).expect("token");
    assert!(
        token.contains(REFRESHED) && token.contains(REFRESH),
        "kept the refresh token"
    );
    assert_no_secret(&[&stdout, &stderr]);
}

/// `emotune spotify ARGS --json` for a user signed in with a valid token; it must succeed.
/// Returns its JSON answer, stdout and stderr.
fn run_signed_in(fake: &Fake, name: &str, args: &[&str]) -> (Value, String, String) {
    let home = temp_dir(name);
    fake.state.lock().expect("state").valid = ACCESS.into();
    signed_in(&home, ACCESS, FAR);
    let (out, stdout, stderr) = run(cmd(fake, &home, 1).arg("spotify").args(args).arg("--json"));
    assert!(out.status.success(), "{stderr}");
    let v = serde_json::from_str(stdout.trim()).expect("json");
    (v, stdout, stderr)
}

#[test]
fn a_mood_with_an_own_playlist_plays_its_tracks() {
    let fake = Fake::start();
    let (v, stdout, stderr) = run_signed_in(&fake, "own", &["play", "--emotion", "sad"]);
    assert_eq!(
        (v["playing"].as_str(), v["tracks"].as_u64()),
        (Some("Mine"), Some(2))
    );
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.0 == "GET" && c.1.starts_with("/v1/playlists/p9/items")),
        "read the picked playlist in the account"
    );
    let body = body_of(&calls, "PUT", "/v1/me/player/play");
    assert_eq!(
        body["uris"],
        json!(["spotify:track:OT1", "spotify:track:OT2"])
    );
    assert_no_secret(&[&stdout, &stderr]);
}

#[test]
fn an_own_playlist_left_in_an_older_settings_file_still_plays() {
    let fake = Fake::start();
    let home = temp_dir("own-legacy");
    fake.state.lock().expect("state").valid = ACCESS.into();
    signed_in(&home, ACCESS, FAR);
    std::fs::remove_file(home.join("data/emotune/profiles/default.json")).expect("no profile");
    let settings = "[own_playlists.\"sad/match\"]\nid = \"p9\"\nname = \"Mine\"\n";
    std::fs::write(home.join("config/emotune/settings.toml"), settings).expect("settings");
    let (out, stdout, stderr) =
        run(cmd(&fake, &home, 1).args(["spotify", "play", "--emotion", "sad", "--json"]));
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(v["playing"].as_str(), Some("Mine"), "{stdout}");
}

#[test]
fn save_creates_a_private_playlist_and_adds_the_tracks() {
    let fake = Fake::start();
    let (v, stdout, stderr) = run_signed_in(&fake, "save", &["save", "--emotion", "happy"]);
    assert_eq!(v["saved"]["id"], "pl1");
    assert_eq!(v["tracks"], 3);
    let calls = fake.calls();
    let body = body_of(&calls, "POST", "/v1/me/playlists");
    assert_eq!(body["public"], false);
    assert!(
        body["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("emotune · happy (match) · 20"))
    );
    let body = body_of(&calls, "POST", "/v1/playlists/pl1/items");
    assert_eq!(body["uris"].as_array().map(Vec::len), Some(3));
    assert!(
        calls.iter().all(|c| !c.1.starts_with("/v1/users/")),
        "no /users/{{id}}/playlists"
    );
    assert_no_secret(&[&stdout, &stderr]);
}

#[test]
fn every_call_reports_401_403_404_and_429_clearly() {
    // (route that fails, command, what 401 / 403 / 404 / 429 must say)
    let cases: [(&str, &[&str], [&str; 4]); 6] = [
        (
            "me",
            &["spotify", "status"],
            [
                "sign in again",
                "refused to read your profile",
                "could not find",
                "in 7 s",
            ],
        ),
        (
            "playlists",
            &["spotify", "playlists"],
            [
                "sign in again",
                "refused to list your playlists",
                "could not find",
                "in 7 s",
            ],
        ),
        (
            "create",
            &["spotify", "save", "--emotion", "happy"],
            [
                "sign in again",
                "refused to create a playlist",
                "could not find",
                "in 7 s",
            ],
        ),
        (
            "items",
            &["spotify", "save", "--emotion", "happy"],
            [
                "sign in again",
                "refused to add tracks",
                "could not find",
                "in 7 s",
            ],
        ),
        (
            "read_items",
            &["spotify", "play", "--emotion", "sad"],
            [
                "sign in again",
                "refused to read the playlist's tracks",
                "could not find",
                "in 7 s",
            ],
        ),
        (
            "play",
            &["spotify", "play", "--emotion", "happy"],
            [
                "sign in again",
                "Premium",
                "no active Spotify device",
                "in 7 s",
            ],
        ),
    ];
    for (route, args, said) in cases {
        for (status, want) in [401, 403, 404, 429].into_iter().zip(said) {
            fails_clearly(route, args, status, want);
        }
    }
}

/// `args` against a server where `route` answers `status`: exit 1 and `want` in the message.
fn fails_clearly(route: &'static str, args: &[&str], status: u16, want: &str) {
    let fake = Fake::start();
    let home = temp_dir(&format!("err-{route}-{status}"));
    {
        let mut st = fake.state.lock().expect("state");
        st.valid = ACCESS.into();
        st.fail.insert(route, status);
    }
    signed_in(&home, ACCESS, FAR);
    let (out, stdout, stderr) = run(cmd(&fake, &home, 1).args(args));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{route} {status}: {stdout}{stderr}"
    );
    assert!(stderr.contains(want), "{route} {status}: {stderr}");
    assert!(!stderr.contains("panicked"));
    if status == 401 {
        // One silent refresh, then the retry, before giving up.
        assert!(
            fake.calls()
                .iter()
                .any(|c| c.2.contains("grant_type=refresh_token"))
        );
    }
    assert_no_secret(&[&stdout, &stderr]);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn without_a_sign_in_the_commands_say_how() {
    let fake = Fake::start();
    let home = temp_dir("no-sign-in");
    for args in [
        &["spotify", "status"][..],
        &["spotify", "play", "--emotion", "sad"],
    ] {
        let (out, _, stderr) = run(cmd(&fake, &home, 1).args(args));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains("emotune spotify login"), "{stderr}");
    }
    let (out, _, stderr) = run(cmd(&fake, &home, 1).env_remove("RSPOTIFY_CLIENT_ID").args([
        "spotify",
        "login",
        "--no-browser",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("RSPOTIFY_CLIENT_ID"), "{stderr}");
}

#[test]
fn settings_show_the_signed_in_user_in_the_window() {
    let has_xvfb = Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_xvfb {
        eprintln!("xvfb-run missing: window not started");
        return;
    }
    let fake = Fake::start();
    fake.state.lock().expect("state").valid = ACCESS.into();
    let home = temp_dir("settings-shot");
    signed_in(&home, ACCESS, FAR);
    let shot = home.join("settings.png");
    let mut c = Command::new("xvfb-run");
    c.args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_emotune"))
        .arg("--source")
        .arg(astronaut())
        .args(["--show-settings", "--quit-after", "5", "--screenshot"])
        .arg(&shot);
    let base = cmd(&fake, &home, 1);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.current_dir(home.as_path()).env("EMOTUNE_LOG", "warn");
    let (out, _, stderr) = run(&mut c);
    assert!(out.status.success(), "{stderr}");
    assert!(
        fake.calls().iter().any(|c| c.1 == "/v1/me"),
        "asked who is signed in"
    );
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.0 == "GET" && c.1.starts_with("/v1/me/playlists")),
        "fetched the playlists for the per-mood pickers"
    );
    let img = image::open(&shot).expect("screenshot").to_rgb8();
    assert!(img.width() >= 720 && img.height() >= 480);
    if let Ok(dir) = std::env::var("EMOTUNE_SHOT_DIR") {
        let _ = std::fs::copy(&shot, Path::new(&dir).join("settings-signed-in.png"));
    }
    let _ = std::fs::remove_dir_all(&home);
}
