//! Mood → playlist → tracks: a user-editable mapping, Spotify (rspotify), an on-disk cache and
//! an embedded offline catalog, tried in that order so there is always something to play.

pub mod account;
pub mod cache;
pub(crate) mod catalog;
pub mod language;
pub mod mapping;
pub mod recommender;
pub mod service;
pub mod spotify;

use serde::{Deserialize, Serialize};

/// Match the mood, or lift it. Defined with `Emotion` (a leaf), so `config` can key the
/// user's own playlists by it without importing `music`.
pub use crate::emotion::Strategy;

/// Where a recommendation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Spotify,
    Cache,
    Offline,
}

/// Which sources `recommend` may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum SourcePreference {
    /// Spotify when configured and reachable, then the cache, then the offline catalog.
    #[default]
    Auto,
    Spotify,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub title: String,
    pub artists: Vec<String>,
    pub duration_ms: Option<u64>,
    /// open.spotify.com link (a search link for catalog tracks).
    pub url: String,
    /// `spotify:track:…` (or `spotify:search:…` for catalog tracks).
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_art: Option<String>,
}

impl Track {
    /// The track's length as m:ss.
    pub(crate) fn length(&self) -> Option<String> {
        self.duration_ms
            .map(|ms| format!("{}:{:02}", ms / 60_000, ms / 1000 % 60))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaylistRef {
    pub name: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub emotion: crate::Emotion,
    pub strategy: Strategy,
    pub source: SourceKind,
    pub playlist: PlaylistRef,
    pub tracks: Vec<Track>,
}

/// Percent-encodes a search query for open.spotify.com/search/… and spotify:search:….
pub(crate) fn encode_query(q: &str) -> String {
    let mut out = String::with_capacity(q.len() * 3);
    for b in q.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether the desktop knows a handler for `spotify:` links (Linux: xdg-mime; elsewhere the
/// Spotify installer registers one, so assume yes).
pub(crate) fn spotify_app_registered() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::process::Command::new("xdg-mime")
        .args(["query", "default", "x-scheme-handler/spotify"])
        .output()
        .map(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode_query("Don't Stop Me Now Queen"),
            "Don%27t%20Stop%20Me%20Now%20Queen"
        );
        assert_eq!(encode_query("Sigur Rós"), "Sigur%20R%C3%B3s");
    }
}
