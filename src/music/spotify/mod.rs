//! Spotify's Web API, in four parts:
//! - `search`: the app's own client-credentials search (rspotify), for lists by mood;
//! - `oauth`: the signed-in user's Authorization Code with PKCE sign-in and token refresh
//!   (rspotify's `AuthCodePkceSpotify`), with the browser's way back in `callback`;
//! - `token`: the token and its file (mode 0600);
//! - `user_api`: the signed-in user's calls (`/me`, playlists, playback).
//!
//! The user's calls are plain reqwest, not rspotify: rspotify 0.16 creates playlists through
//! `POST /users/{id}/playlists` and adds items through `/tracks`, both gone from the 2026
//! development-mode API, and the few calls left are simpler in one client with one error
//! mapping. Neither the client secret nor a token is ever logged or shown.

pub(crate) mod callback;
pub mod oauth;
pub mod search;
pub mod token;
pub mod user_api;

use std::time::Duration;

use crate::config::SpotifyEnv;

pub use search::{SpotifyError, SpotifySource};
pub use token::Token;
pub(crate) use token::TokenStore;
pub(crate) use user_api::{Account, User, UserPlaylist};

/// Used when `RSPOTIFY_REDIRECT_URI` is not set; register it in the Spotify dashboard.
pub(crate) const DEFAULT_REDIRECT: &str = "http://127.0.0.1:8888/callback";
/// Read the user's playlists and name, write private playlists, start playback.
pub(crate) const SCOPES: [&str; 4] = [
    "playlist-read-private",
    "playlist-modify-private",
    "user-modify-playback-state",
    "user-read-private",
];
/// How long the sign-in waits for the browser to come back.
pub(crate) const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

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

pub(crate) type Result<T> = std::result::Result<T, AccountError>;

/// Spotify's base URLs, each ending with `/`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// e.g. `https://api.spotify.com/v1/`.
    pub api: String,
    /// e.g. `https://accounts.spotify.com/`.
    pub auth: String,
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

impl Endpoints {
    /// Spotify's, unless the environment replaced them.
    pub fn of(env: &SpotifyEnv) -> Endpoints {
        Endpoints {
            api: with_slash(
                env.api_url
                    .as_deref()
                    .unwrap_or("https://api.spotify.com/v1/"),
            ),
            auth: with_slash(
                env.auth_url
                    .as_deref()
                    .unwrap_or("https://accounts.spotify.com/"),
            ),
        }
    }
}

/// What the sign-in needs from the environment: the app's client id, the loopback redirect,
/// the base URLs and the token file.
#[derive(Debug, Clone)]
pub(crate) struct SignInConfig {
    pub client_id: String,
    pub redirect: String,
    pub endpoints: Endpoints,
    pub store: TokenStore,
}

impl SignInConfig {
    /// Errors name what is missing: the client id, or a config folder for the token.
    pub fn of(env: &SpotifyEnv) -> Result<SignInConfig> {
        Ok(SignInConfig {
            client_id: env.client_id.clone().ok_or(AccountError::NoClientId)?,
            redirect: env
                .redirect_uri
                .clone()
                .unwrap_or_else(|| DEFAULT_REDIRECT.to_string()),
            endpoints: Endpoints::of(env),
            store: TokenStore::of(env)?,
        })
    }
}

/// The name a saved playlist gets: the mood and the date.
pub(crate) fn playlist_name(e: crate::Emotion, s: crate::music::Strategy, date: &str) -> String {
    format!("emotune · {e} ({}) · {date}", s.name())
}

/// Spotify track URIs of a recommendation (catalog tracks are searches and cannot be saved).
pub(crate) fn track_uris(rec: &crate::music::Recommendation) -> Vec<String> {
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
    fn endpoints_end_with_a_slash_and_the_sign_in_names_what_is_missing() {
        let env = SpotifyEnv {
            api_url: Some("http://127.0.0.1:9/v1".into()),
            ..SpotifyEnv::default()
        };
        let ep = Endpoints::of(&env);
        assert_eq!(ep.api, "http://127.0.0.1:9/v1/");
        assert_eq!(ep.auth, "https://accounts.spotify.com/");
        assert_eq!(
            SignInConfig::of(&env).map(|_| ()),
            Err(AccountError::NoClientId)
        );
        let env = SpotifyEnv {
            client_id: Some("cid".into()),
            token_path: Some("/tmp/t.json".into()),
            ..env
        };
        let c = SignInConfig::of(&env).expect("complete");
        assert_eq!(c.redirect, DEFAULT_REDIRECT);
    }
}
