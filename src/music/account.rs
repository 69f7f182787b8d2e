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

//!
//! The parts live in sibling files and are re-exported here, so `music::account::…` stays the
//! one path: the token and its file in `token.rs`, the user's REST calls in `user_api.rs`, the
//! browser's redirect in `callback.rs`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::Digest;

pub use super::callback::Loopback;
use super::callback::{self, Refusal, Verdict};
pub use super::token::{Token, TokenStore};
pub use super::user_api::{Account, User, UserPlaylist};
/// The answer readers, for the fuzz targets (src/fuzz, built for tests only).
#[cfg(test)]
pub(crate) use super::user_api::{
    Call, answer, created_id, items_of, playlists_of, retry_secs, user_of,
};

/// Used when `RSPOTIFY_REDIRECT_URI` is not set; register it in the Spotify dashboard.
pub const DEFAULT_REDIRECT: &str = "http://127.0.0.1:8888/callback";
/// Read the user's playlists and name, write private playlists, start playback.
pub const SCOPES: &str = "playlist-read-private playlist-modify-private \
                          user-modify-playback-state user-read-private";
/// How long the sign-in waits for the browser to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

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
