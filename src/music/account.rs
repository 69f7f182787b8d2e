//! Signing in to Spotify and what a signed-in user can do.
//!
//! Authorization Code with PKCE: the browser goes to Spotify's authorize page and comes back to
//! a loopback listener on 127.0.0.1 (the port of `RSPOTIFY_REDIRECT_URI`, registered in the
//! Spotify dashboard). The token is kept in the config dir with mode 0600, refreshed before it
//! expires (and once more on a 401), and never logged or shown.
//!
//! Why plain reqwest and not rspotify here: rspotify 0.16 creates playlists through
//! `POST /users/{id}/playlists` and adds items through `/tracks`, both gone from the 2026
//! development-mode API; the few user calls are simpler to keep in one small client with one
//! error mapping. rspotify still serves the client-credentials search (`spotify.rs`).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

pub use super::callback::Loopback;
use super::callback::{self, Refusal, Verdict};

/// Used when `RSPOTIFY_REDIRECT_URI` is not set; register it in the Spotify dashboard.
pub const DEFAULT_REDIRECT: &str = "http://127.0.0.1:8888/callback";
/// Read the user's playlists and name, write private playlists, start playback.
pub const SCOPES: &str = "playlist-read-private playlist-modify-private \
                          user-modify-playback-state user-read-private";
/// How long the sign-in waits for the browser to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// Refresh this long before the token expires.
const EXPIRY_MARGIN: u64 = 60;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    #[error("set RSPOTIFY_CLIENT_ID (your app's client id from the Spotify dashboard) to sign in")]
    NoClientId,
    #[error(
        "{0} is not a loopback redirect: use http://127.0.0.1:PORT/callback (default {DEFAULT_REDIRECT})"
    )]
    BadRedirect(String),
    #[error("not signed in to Spotify: run `emotune spotify login` (or Sign in under Settings)")]
    NotSignedIn,
    #[error("the Spotify sign-in expired or was revoked: sign in again")]
    SignInExpired,
    #[error(
        "the answer from the browser does not belong to this sign-in (state mismatch); start \
         the sign-in again"
    )]
    StateMismatch,
    #[error("Spotify sign-in was refused: {0}")]
    Denied(String),
    #[error("nobody came back from the browser within {} s; start the sign-in again", .0.as_secs())]
    Timeout(Duration),
    #[error(
        "no active Spotify device: open Spotify on a phone or computer, play anything for a \
         moment, then try again"
    )]
    NoActiveDevice,
    #[error("playing from emotune needs Spotify Premium (Spotify answered 403)")]
    NotPremium,
    #[error(
        "Spotify refused to {0} (HTTP 403); in development mode your account must be added \
         under Users in the app's dashboard"
    )]
    Forbidden(&'static str),
    #[error("Spotify could not find what was asked to {0} (HTTP 404)")]
    NotFound(&'static str),
    #[error("Spotify is rate-limiting us; try again in {0} s")]
    RateLimited(u64),
    #[error("Spotify answered HTTP {0} to {1}")]
    Status(u16, &'static str),
    #[error("Spotify is unreachable: {0}")]
    Unreachable(String),
    #[error("unexpected answer from Spotify: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(String),
}

type Result<T> = std::result::Result<T, AccountError>;

/// Spotify's base URLs; `EMOTUNE_SPOTIFY_API_URL` / `EMOTUNE_SPOTIFY_AUTH_URL` override them.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Ends with `/`, e.g. `https://api.spotify.com/v1/`.
    pub api: String,
    /// Ends with `/`, e.g. `https://accounts.spotify.com/`.
    pub auth: String,
}

fn with_slash(s: String) -> String {
    if s.ends_with('/') { s } else { s + "/" }
}

impl Endpoints {
    pub fn from_env() -> Endpoints {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        Endpoints {
            api: with_slash(
                var("EMOTUNE_SPOTIFY_API_URL").unwrap_or("https://api.spotify.com/v1/".into()),
            ),
            auth: with_slash(
                var("EMOTUNE_SPOTIFY_AUTH_URL").unwrap_or("https://accounts.spotify.com/".into()),
            ),
        }
    }
}

/// An access token and how to renew it. `Debug` shows neither secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
    #[serde(default)]
    pub scope: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Token {
    /// A token as the token file holds it (JSON).
    pub(crate) fn parse(bytes: &[u8]) -> std::result::Result<Token, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The token endpoint's answer (JSON), its lifetime counted from `now` (Unix seconds).
    pub(crate) fn from_answer(body: &[u8], now: u64) -> Result<Token> {
        let a: TokenAnswer = serde_json::from_slice(body)
            .map_err(|e| AccountError::Protocol(format!("token answer: {e}")))?;
        Ok(Token {
            access_token: a.access_token,
            refresh_token: a.refresh_token,
            expires_at: now.saturating_add(a.expires_in),
            scope: a.scope,
        })
    }

    fn expired(&self) -> bool {
        crate::clock::unix_now().as_secs() + EXPIRY_MARGIN >= self.expires_at
    }
}

/// The token file: `~/.config/emotune/spotify-token.json`, mode 0600.
#[derive(Debug, Clone)]
pub struct TokenStore {
    pub path: PathBuf,
}

impl TokenStore {
    pub fn default_path() -> Option<PathBuf> {
        crate::config::config_dir().map(|d| d.join("spotify-token.json"))
    }

    pub fn load(&self) -> Result<Option<Token>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Token::parse(&bytes).map(Some).map_err(|e| {
                AccountError::Io(format!(
                    "{}: unreadable token ({e}); sign in again",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AccountError::Io(format!("{}: {e}", self.path.display()))),
        }
    }

    /// Written to a temp file created with mode 0600, then renamed over the old one.
    pub fn save(&self, t: &Token) -> Result<()> {
        let io = |e: std::io::Error| AccountError::Io(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        let bytes = serde_json::to_vec(t).map_err(|e| AccountError::Io(e.to_string()))?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// True when there was a token to forget.
    pub fn delete(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AccountError::Io(format!("{}: {e}", self.path.display()))),
        }
    }
}

/// The PKCE pair and the anti-forgery state of one sign-in.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
    pub state: String,
}

fn random_string(len: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Io(format!("no randomness: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636, S256).
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

impl Pkce {
    pub fn new() -> Result<Pkce> {
        let verifier = random_string(64)?;
        Ok(Pkce {
            challenge: challenge_of(&verifier),
            verifier,
            state: random_string(24)?,
        })
    }
}

/// The redirect URI to use: `RSPOTIFY_REDIRECT_URI` (or `SPOTIPY_REDIRECT_URI`), else the default.
pub fn redirect_uri() -> String {
    crate::config::env_first(&["RSPOTIFY_REDIRECT_URI", "SPOTIPY_REDIRECT_URI"])
        .unwrap_or_else(|| DEFAULT_REDIRECT.to_string())
}

pub fn authorize_url(ep: &Endpoints, client_id: &str, redirect: &str, p: &Pkce) -> String {
    let q = crate::music::encode_query;
    format!(
        "{}authorize?client_id={}&response_type=code&redirect_uri={}&code_challenge_method=S256\
         &code_challenge={}&state={}&scope={}",
        ep.auth,
        q(client_id),
        q(redirect),
        p.challenge,
        q(&p.state),
        q(SCOPES)
    )
}

/// Waits on `listener` for the browser's redirect to `path`; returns the code once its state
/// matches. Other paths (a favicon) get a 404 and malformed requests a 400, and the wait goes on;
/// a well-formed answer with another state ends it (`callback::judge`).
pub fn wait_for_code(
    listener: &TcpListener,
    path: &str,
    state: &str,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    listener
        .set_nonblocking(true)
        .map_err(|e| AccountError::Io(e.to_string()))?;
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(AccountError::Timeout(timeout));
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(AccountError::Io(e.to_string())),
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let verdict = match callback::read_request_line(&conn) {
            Ok(line) => callback::judge(&line, path, state),
            Err(why) => Verdict::Again("400 Bad Request", why),
        };
        let (status, text) = verdict.answer();
        callback::respond(&conn, status, text);
        match verdict {
            Verdict::Again(..) => {}
            Verdict::Code(code) => return Ok(code),
            Verdict::Refused(Refusal::StateMismatch) => return Err(AccountError::StateMismatch),
            Verdict::Refused(Refusal::Denied(e)) => return Err(AccountError::Denied(e)),
            Verdict::Refused(Refusal::NoCode) => {
                return Err(AccountError::Protocol(
                    "the redirect carried no code".into(),
                ));
            }
        }
    }
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub display_name: String,
}

/// One of the user's playlists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserPlaylist {
    pub id: String,
    pub name: String,
    pub uri: String,
}

/// A signed-in Spotify account.
pub struct Account {
    http: reqwest::Client,
    ep: Endpoints,
    client_id: String,
    store: TokenStore,
    token: Token,
}

fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| AccountError::Io(e.to_string()))
}

fn unreachable(e: &reqwest::Error) -> AccountError {
    if e.is_timeout() {
        return AccountError::Unreachable("no answer in time".into());
    }
    // Without the URL: it can hold a query, never a secret, but it says nothing useful.
    AccountError::Unreachable(
        e.to_string()
            .split(" for url")
            .next()
            .unwrap_or("")
            .to_string(),
    )
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
    #[serde(default)]
    scope: String,
}

async fn token_request(
    http: &reqwest::Client,
    ep: &Endpoints,
    form: &[(&str, &str)],
) -> Result<Token> {
    let resp = http
        .post(format!("{}api/token", ep.auth))
        .form(form)
        .send()
        .await
        .map_err(|e| unreachable(&e))?;
    match resp.status().as_u16() {
        200 => {}
        400 | 401 => return Err(AccountError::SignInExpired),
        429 => return Err(AccountError::RateLimited(retry_after(&resp))),
        s => return Err(AccountError::Status(s, "sign in")),
    }
    let body = resp.bytes().await.map_err(|e| unreachable(&e))?;
    Token::from_answer(&body, crate::clock::unix_now().as_secs())
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    retry_secs(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
    )
}

/// A `Retry-After` header's seconds (1 when it is missing or not a number of seconds).
pub(crate) fn retry_secs(header: Option<&str>) -> u64 {
    header.and_then(|v| v.trim().parse().ok()).unwrap_or(1)
}

/// What one API call's answer means: its JSON (Null for an empty body), or the error its
/// status says (`retry`: seconds to wait after a 429). An error's body is never read.
pub(crate) fn answer(call: Call, status: u16, retry: u64, body: &[u8]) -> Result<Value> {
    if !(200..300).contains(&status) {
        return Err(call.error(status, retry));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| AccountError::Protocol(format!("{}: {e}", call.what())))
}

/// What a call is, for its error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    Me,
    Playlists,
    Create,
    AddItems,
    Play,
    ReadItems,
}

impl Call {
    fn what(self) -> &'static str {
        match self {
            Call::Me => "read your profile",
            Call::Playlists => "list your playlists",
            Call::Create => "create a playlist",
            Call::AddItems => "add tracks to the playlist",
            Call::Play => "start playback",
            Call::ReadItems => "read the playlist's tracks",
        }
    }

    fn error(self, status: u16, retry: u64) -> AccountError {
        match (self, status) {
            (_, 401) => AccountError::SignInExpired,
            (Call::Play, 403) => AccountError::NotPremium,
            (Call::Play, 404) => AccountError::NoActiveDevice,
            (c, 403) => AccountError::Forbidden(c.what()),
            (c, 404) => AccountError::NotFound(c.what()),
            (_, 429) => AccountError::RateLimited(retry),
            (c, s) => AccountError::Status(s, c.what()),
        }
    }
}

impl Account {
    /// Runs the whole sign-in: `show_url` gets the authorize URL (print it, open a browser),
    /// then the loopback waits for the browser, the code is exchanged and the token saved.
    pub async fn login(
        ep: Endpoints,
        client_id: &str,
        redirect: &str,
        store: TokenStore,
        show_url: impl FnOnce(&str),
    ) -> Result<Account> {
        let loopback = Loopback::parse(redirect)
            .ok_or_else(|| AccountError::BadRedirect(redirect.to_string()))?;
        let listener = TcpListener::bind(("127.0.0.1", loopback.port)).map_err(|e| {
            AccountError::Io(format!(
                "cannot listen on 127.0.0.1:{} for the sign-in ({e}); is another sign-in running?",
                loopback.port
            ))
        })?;
        let pkce = Pkce::new()?;
        show_url(&authorize_url(&ep, client_id, redirect, &pkce));
        let (path, state) = (loopback.path.clone(), pkce.state.clone());
        let code = tokio::task::spawn_blocking(move || {
            wait_for_code(&listener, &path, &state, LOGIN_TIMEOUT)
        })
        .await
        .map_err(|e| AccountError::Io(e.to_string()))??;
        let http = client(Duration::from_secs(10))?;
        let token = token_request(
            &http,
            &ep,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", client_id),
                ("code_verifier", &pkce.verifier),
            ],
        )
        .await?;
        store.save(&token)?;
        Ok(Account {
            http,
            ep,
            client_id: client_id.to_string(),
            store,
            token,
        })
    }

    /// The account whose token is stored, if any.
    pub fn from_store(ep: Endpoints, client_id: &str, store: TokenStore) -> Result<Account> {
        let token = store.load()?.ok_or(AccountError::NotSignedIn)?;
        Ok(Account {
            http: client(Duration::from_secs(10))?,
            ep,
            client_id: client_id.to_string(),
            store,
            token,
        })
    }

    /// From the environment and the default token file.
    pub fn from_env() -> Result<Account> {
        let client_id = crate::config::env_first(&["RSPOTIFY_CLIENT_ID", "SPOTIPY_CLIENT_ID"])
            .ok_or(AccountError::NoClientId)?;
        let path = TokenStore::default_path().ok_or(AccountError::NotSignedIn)?;
        Account::from_store(Endpoints::from_env(), &client_id, TokenStore { path })
    }

    async fn refresh(&mut self) -> Result<()> {
        let Some(refresh) = self.token.refresh_token.clone() else {
            return Err(AccountError::SignInExpired);
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", self.client_id.as_str()),
        ];
        let mut t = token_request(&self.http, &self.ep, &form).await?;
        // Spotify may keep the old refresh token; then it stays valid.
        t.refresh_token = t.refresh_token.or(Some(refresh));
        self.store.save(&t)?;
        self.token = t;
        tracing::info!("Spotify token refreshed");
        Ok(())
    }

    /// One API call: refreshed first when due, and once more after a 401.
    async fn call(
        &mut self,
        call: Call,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        if self.token.expired() {
            self.refresh().await?;
        }
        let mut retried = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.ep.api))
                .bearer_auth(&self.token.access_token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| unreachable(&e))?;
            let status = resp.status().as_u16();
            if status == 401 && !retried {
                retried = true;
                self.refresh().await?;
                continue;
            }
            if !(200..300).contains(&status) {
                return answer(call, status, retry_after(&resp), &[]);
            }
            let bytes = resp.bytes().await.map_err(|e| unreachable(&e))?;
            return answer(call, status, 0, &bytes);
        }
    }

    pub async fn me(&mut self) -> Result<User> {
        let v = self
            .call(Call::Me, reqwest::Method::GET, "me", None)
            .await?;
        Ok(user_of(&v))
    }

    /// The user's playlists (up to 200).
    pub async fn playlists(&mut self) -> Result<Vec<UserPlaylist>> {
        let mut out = Vec::new();
        for offset in (0..200).step_by(50) {
            let path = format!("me/playlists?limit=50&offset={offset}");
            let v = self
                .call(Call::Playlists, reqwest::Method::GET, &path, None)
                .await?;
            let (page, more) = playlists_of(&v);
            out.extend(page);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// The tracks of one of the user's playlists (the first 100; private ones too, which the
    /// app's own client-credentials token cannot read). Episodes and local files are skipped.
    pub async fn playlist_tracks(&mut self, id: &str) -> Result<Vec<crate::music::Track>> {
        let path = format!("playlists/{id}/items?limit=100");
        let v = self
            .call(Call::ReadItems, reqwest::Method::GET, &path, None)
            .await?;
        Ok(items_of(&v))
    }

    /// The mood's list from the playlist the user picked for it (shared by the window and
    /// `spotify save/play`). An empty playlist is an error: the caller falls back.
    pub async fn own_recommendation(
        &mut self,
        emotion: crate::Emotion,
        strategy: crate::music::Strategy,
        p: &crate::config::OwnPlaylist,
    ) -> Result<crate::music::Recommendation> {
        let tracks = self.playlist_tracks(&p.id).await?;
        if tracks.is_empty() {
            return Err(AccountError::Protocol(format!(
                "your playlist \"{}\" has no playable tracks",
                p.name
            )));
        }
        Ok(crate::music::Recommendation {
            emotion,
            strategy,
            source: crate::music::SourceKind::Spotify,
            playlist: crate::music::PlaylistRef {
                name: p.name.clone(),
                url: Some(format!("https://open.spotify.com/playlist/{}", p.id)),
            },
            tracks,
        })
    }

    /// A new private playlist holding `uris` (in batches of 100, Spotify's limit).
    pub async fn save_playlist(&mut self, name: &str, uris: &[String]) -> Result<UserPlaylist> {
        let body = json!({
            "name": name,
            "public": false,
            "description": "Made by emotune from the mood it read on your face",
        });
        let v = self
            .call(
                Call::Create,
                reqwest::Method::POST,
                "me/playlists",
                Some(&body),
            )
            .await?;
        let id = created_id(&v)?;
        for chunk in uris.chunks(100) {
            let path = format!("playlists/{id}/items");
            let body = json!({ "uris": chunk });
            self.call(Call::AddItems, reqwest::Method::POST, &path, Some(&body))
                .await?;
        }
        Ok(UserPlaylist {
            uri: v["uri"].as_str().unwrap_or("").to_string(),
            name: name.to_string(),
            id,
        })
    }

    /// Starts `uris` on the user's active device.
    pub async fn play(&mut self, uris: &[String]) -> Result<()> {
        let body = json!({ "uris": uris });
        self.call(
            Call::Play,
            reqwest::Method::PUT,
            "me/player/play",
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

/// Who `GET /me` says is signed in.
pub(crate) fn user_of(v: &Value) -> User {
    let id = v["id"].as_str().unwrap_or_default().to_string();
    User {
        display_name: v["display_name"].as_str().unwrap_or(&id).to_string(),
        id,
    }
}

/// One page of `GET /me/playlists` (those without an id left out), and whether more follow.
pub(crate) fn playlists_of(v: &Value) -> (Vec<UserPlaylist>, bool) {
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let page = items
        .iter()
        .filter_map(|p| {
            Some(UserPlaylist {
                id: p["id"].as_str()?.to_string(),
                name: p["name"].as_str().unwrap_or("").to_string(),
                uri: p["uri"].as_str().unwrap_or("").to_string(),
            })
        })
        .collect();
    (page, !v["next"].is_null() && !items.is_empty())
}

/// The playable tracks of `GET /playlists/{id}/items`.
pub(crate) fn items_of(v: &Value) -> Vec<crate::music::Track> {
    // 2026's /items answers each entry as `item`; older answers call it `track`.
    let entry = |i: &'_ Value| -> Option<crate::music::Track> {
        track_of(if i["item"].is_object() {
            &i["item"]
        } else {
            &i["track"]
        })
    };
    v["items"]
        .as_array()
        .map(|items| items.iter().filter_map(entry).collect())
        .unwrap_or_default()
}

/// The id of the playlist `POST /me/playlists` created.
pub(crate) fn created_id(v: &Value) -> Result<String> {
    v["id"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| AccountError::Protocol("the new playlist has no id".into()))
}

/// A playable track from the Web API's JSON, or None (episodes, local files, removed tracks).
fn track_of(t: &Value) -> Option<crate::music::Track> {
    let uri = t["uri"]
        .as_str()
        .filter(|u| u.starts_with("spotify:track:"))?;
    let id = uri.trim_start_matches("spotify:track:");
    Some(crate::music::Track {
        title: t["name"].as_str()?.to_string(),
        artists: t["artists"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        duration_ms: t["duration_ms"].as_u64(),
        url: t["external_urls"]["spotify"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("https://open.spotify.com/track/{id}")),
        uri: uri.to_string(),
        album_art: t["album"]["images"]
            .as_array()
            .and_then(|imgs| {
                imgs.iter()
                    .min_by_key(|i| i["width"].as_u64().unwrap_or(u64::MAX))
            })
            .and_then(|i| i["url"].as_str().map(String::from)),
    })
}

/// The name a saved playlist gets: the mood and the date.
pub fn playlist_name(e: crate::Emotion, s: crate::music::Strategy, date: &str) -> String {
    format!("emotune · {e} ({}) · {date}", s.name())
}

/// Spotify track URIs of a recommendation (catalog tracks are searches and cannot be saved).
pub fn track_uris(rec: &crate::music::Recommendation) -> Vec<String> {
    rec.tracks
        .iter()
        .filter(|t| t.uri.starts_with("spotify:track:"))
        .map(|t| t.uri.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::new().expect("pkce");
        assert_eq!(p.verifier.len(), 64);
        assert_ne!(p.state, Pkce::new().expect("pkce").state);
    }

    /// Found by `fuzz::spotify_items`: an empty `external_urls.spotify` gave a track an empty
    /// link; it gets the track's page instead.
    #[test]
    fn an_empty_spotify_link_falls_back_to_the_track_page() {
        let v = json!({"items": [{"item": {"name": "S", "uri": "spotify:track:abc",
                                           "external_urls": {"spotify": ""}}}]});
        let tracks = items_of(&v);
        assert_eq!(tracks[0].url, "https://open.spotify.com/track/abc");
    }

    /// A token endpoint answering a lifetime beyond the end of time expires at the end of time
    /// (it wrapped around to the past in a release build, and panicked in a debug one).
    #[test]
    fn a_huge_token_lifetime_saturates() {
        let body = br#"{"access_token":"a","expires_in":18446744073709551615}"#;
        let t = Token::from_answer(body, 1_767_225_600).expect("a token");
        assert_eq!(t.expires_at, u64::MAX);
        assert!(!t.expired());
        assert!(Token::from_answer(b"{\"access_token\":\"a\"}", 0).is_err());
    }

    #[test]
    fn dates_and_names() {
        let d = crate::clock::today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"), "{d}");
        assert_eq!(
            playlist_name(
                crate::Emotion::Happy,
                crate::music::Strategy::Match,
                "2026-11-22"
            ),
            "emotune · happy (match) · 2026-11-22"
        );
    }

    #[test]
    fn the_token_file_is_private_and_debug_hides_it() {
        let dir = std::env::temp_dir().join(format!("emotune-token-{}", std::process::id()));
        let store = TokenStore {
            path: dir.join("spotify-token.json"),
        };
        let t = Token {
            access_token: "at-secret".into(),
            refresh_token: Some("rt-secret".into()),
            expires_at: 1,
            scope: String::new(),
        };
        store.save(&t).expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&store.path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.load().expect("load"), Some(t.clone()));
        assert!(!format!("{t:?}").contains("secret"));
        assert!(store.delete().expect("delete"));
        assert_eq!(store.load().expect("gone"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// What the window asks of the account thread.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountJob {
    /// Who is signed in (at start, when a token is stored).
    Status,
    SignIn,
    SignOut,
    Save {
        name: String,
        uris: Vec<String>,
    },
    Play {
        uris: Vec<String>,
    },
    /// The user's playlists, for the settings to pick from.
    Playlists,
    /// A list for the mood from the playlist the user picked for it.
    Tracks {
        emotion: crate::Emotion,
        strategy: crate::music::Strategy,
        playlist: crate::config::OwnPlaylist,
    },
}

/// What the account thread answers.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    /// Open this page in a browser to sign in (also opened automatically when possible).
    AuthorizeUrl(String),
    SignedIn(User),
    SignedOut,
    Saved {
        name: String,
        tracks: usize,
    },
    Playing {
        tracks: usize,
    },
    Playlists(Vec<UserPlaylist>),
    Tracks(Box<crate::music::Recommendation>),
    /// The user's own playlist for a mood could not be read; the app falls back to the mapping.
    TracksFailed {
        emotion: crate::Emotion,
        strategy: crate::music::Strategy,
        playlist: String,
        error: AccountError,
    },
    Failed(AccountError),
}

/// The account thread: sign-in (which waits on the browser for minutes) and the user's calls
/// run here, away from the UI and the music thread.
pub struct AccountHandle {
    tx: std::sync::mpsc::Sender<AccountJob>,
    rx: std::sync::mpsc::Receiver<AccountEvent>,
}

impl AccountHandle {
    pub fn spawn(notify: std::sync::Arc<dyn Fn() + Send + Sync>) -> AccountHandle {
        let (tx, jobs) = std::sync::mpsc::channel::<AccountJob>();
        let (events, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("account".into())
            .spawn(move || {
                let send = |e: AccountEvent| {
                    let _ = events.send(e);
                    notify();
                };
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => return send(AccountEvent::Failed(AccountError::Io(e.to_string()))),
                };
                crate::restart_on_panic(
                    || {
                        while let Ok(job) = jobs.recv() {
                            match rt.block_on(run_job(job, &send)) {
                                Ok(Some(e)) => send(e),
                                Ok(None) => {}
                                Err(e) => send(AccountEvent::Failed(e)),
                            }
                        }
                    },
                    |r| {
                        tracing::error!("account thread: {r:?}");
                        send(AccountEvent::Failed(AccountError::Io(
                            "the Spotify account thread crashed; it restarted".into(),
                        )));
                        true
                    },
                );
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the account thread: {e}");
        }
        AccountHandle { tx, rx }
    }

    /// A handle on channels the caller serves itself (tests drive the UI with a fake).
    pub fn from_channels(
        tx: std::sync::mpsc::Sender<AccountJob>,
        rx: std::sync::mpsc::Receiver<AccountEvent>,
    ) -> AccountHandle {
        AccountHandle { tx, rx }
    }

    pub fn send(&self, job: AccountJob) {
        let _ = self.tx.send(job);
    }

    pub fn poll(&self) -> Vec<AccountEvent> {
        self.rx.try_iter().collect()
    }
}

async fn run_job(job: AccountJob, send: &impl Fn(AccountEvent)) -> Result<Option<AccountEvent>> {
    match job {
        AccountJob::Status => match Account::from_env() {
            Ok(mut a) => Ok(Some(AccountEvent::SignedIn(a.me().await?))),
            // Not signed in (or no client id) is not an error at start.
            Err(AccountError::NotSignedIn | AccountError::NoClientId) => Ok(None),
            Err(e) => Err(e),
        },
        AccountJob::SignIn => {
            let client_id = crate::config::env_first(&["RSPOTIFY_CLIENT_ID", "SPOTIPY_CLIENT_ID"])
                .ok_or(AccountError::NoClientId)?;
            let path = TokenStore::default_path().ok_or(AccountError::NotSignedIn)?;
            let mut a = Account::login(
                Endpoints::from_env(),
                &client_id,
                &redirect_uri(),
                TokenStore { path },
                |url| {
                    send(AccountEvent::AuthorizeUrl(url.to_string()));
                    if crate::platform::display_available() {
                        let _ = open::that_detached(url);
                    }
                },
            )
            .await?;
            Ok(Some(AccountEvent::SignedIn(a.me().await?)))
        }
        AccountJob::SignOut => {
            if let Some(path) = TokenStore::default_path() {
                TokenStore { path }.delete()?;
            }
            Ok(Some(AccountEvent::SignedOut))
        }
        AccountJob::Save { name, uris } => {
            let mut a = Account::from_env()?;
            a.save_playlist(&name, &uris).await?;
            Ok(Some(AccountEvent::Saved {
                name,
                tracks: uris.len(),
            }))
        }
        AccountJob::Play { uris } => {
            let mut a = Account::from_env()?;
            a.play(&uris).await?;
            Ok(Some(AccountEvent::Playing { tracks: uris.len() }))
        }
        AccountJob::Playlists => Ok(Some(AccountEvent::Playlists(
            Account::from_env()?.playlists().await?,
        ))),
        AccountJob::Tracks {
            emotion,
            strategy,
            playlist,
        } => Ok(Some(own_list(emotion, strategy, playlist).await)),
    }
}

/// The mood's list from the user's own playlist, or why not (never a bare failure: the app
/// must know to fall back to the mapping for this mood).
async fn own_list(
    emotion: crate::Emotion,
    strategy: crate::music::Strategy,
    playlist: crate::config::OwnPlaylist,
) -> AccountEvent {
    let rec = match Account::from_env() {
        Ok(mut a) => a.own_recommendation(emotion, strategy, &playlist).await,
        Err(e) => Err(e),
    };
    match rec {
        Ok(rec) => AccountEvent::Tracks(Box::new(rec)),
        Err(error) => AccountEvent::TracksFailed {
            emotion,
            strategy,
            playlist: playlist.name,
            error,
        },
    }
}
