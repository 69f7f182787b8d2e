//! Spotify through rspotify (client-credentials flow): search playlists, skip the ones that
//! answer 403/404 (Spotify-owned editorial playlists in development mode), read their items.
//! The client secret and the token are never logged or put in an error message.

use std::time::Duration;

use rspotify::model::{PlayableItem, PlaylistId, SearchResult, SearchType};
use rspotify::prelude::*;
use rspotify::{ClientCredsSpotify, ClientError, Config, Credentials};

use super::mapping::MappingEntry;
use super::{PlaylistRef, Track};
use crate::config::SpotifyCredentials;

/// Spotify's development-mode limit on search results.
const SEARCH_LIMIT: u32 = 10;
/// Longest Retry-After we wait for; beyond it we fall back instead of stalling the music.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpotifyError {
    #[error(
        "Spotify rejected the app credentials (HTTP {0}): check RSPOTIFY_CLIENT_ID / RSPOTIFY_CLIENT_SECRET"
    )]
    Rejected(u16),
    #[error("Spotify is rate-limiting us (retry after {0} s)")]
    RateLimited(u64),
    #[error("Spotify did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Spotify is unreachable: {0}")]
    Unreachable(String),
    #[error("Spotify answered HTTP {0}")]
    Status(u16),
    #[error("no playable playlist found for {0}")]
    NothingFound(String),
    #[error("unexpected answer from Spotify: {0}")]
    Protocol(String),
}

/// What went wrong with one request, with what is needed to react to it.
enum Failure {
    Status(u16, Option<u64>),
    Other(SpotifyError),
}

fn classify(e: ClientError) -> Failure {
    match e {
        ClientError::Http(h) => match *h {
            rspotify::http::HttpError::StatusCode(resp) => {
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                Failure::Status(resp.status().as_u16(), retry)
            }
            rspotify::http::HttpError::Client(c) => {
                // reqwest's message can include the URL but never headers or the body.
                Failure::Other(SpotifyError::Unreachable(c.without_url().to_string()))
            }
        },
        ClientError::ParseJson(e) => Failure::Other(SpotifyError::Protocol(e.to_string())),
        other => Failure::Other(SpotifyError::Protocol(other.to_string())),
    }
}

fn to_error(f: Failure) -> SpotifyError {
    match f {
        Failure::Status(s @ (400 | 401), _) => SpotifyError::Rejected(s),
        Failure::Status(429, r) => SpotifyError::RateLimited(r.unwrap_or(0)),
        Failure::Status(s, _) => SpotifyError::Status(s),
        Failure::Other(e) => e,
    }
}

pub struct SpotifySource {
    client: ClientCredsSpotify,
    timeout: Duration,
}

impl SpotifySource {
    /// `api_url` / `auth_url` override Spotify's base URLs (EMOTUNE_SPOTIFY_API_URL /
    /// EMOTUNE_SPOTIFY_AUTH_URL: tests, proxies).
    pub fn new(
        creds: &SpotifyCredentials,
        api_url: Option<String>,
        auth_url: Option<String>,
        timeout: Duration,
    ) -> Self {
        let mut config = Config::default();
        if let Some(u) = api_url {
            config.api_base_url = u;
        }
        if let Some(u) = auth_url {
            config.auth_base_url = u;
        }
        let creds = Credentials::new(&creds.client_id, &creds.client_secret);
        SpotifySource {
            client: ClientCredsSpotify::with_config(creds, config),
            timeout,
        }
    }

    /// Base URLs from the environment.
    pub(crate) fn from_env(creds: &SpotifyCredentials, timeout: Duration) -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        Self::new(
            creds,
            var("EMOTUNE_SPOTIFY_API_URL"),
            var("EMOTUNE_SPOTIFY_AUTH_URL"),
            timeout,
        )
    }

    /// Runs one request with the timeout; a 429 is retried once after its Retry-After.
    async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, SpotifyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        for attempt in 0..2 {
            let r = tokio::time::timeout(self.timeout, f())
                .await
                .map_err(|_| SpotifyError::Timeout(self.timeout))?;
            match r {
                Ok(v) => return Ok(v),
                Err(e) => match classify(e) {
                    Failure::Status(429, retry) if attempt == 0 => {
                        let wait = Duration::from_secs(retry.unwrap_or(1));
                        if wait > MAX_RETRY_AFTER {
                            return Err(SpotifyError::RateLimited(wait.as_secs()));
                        }
                        tracing::info!("Spotify asked us to wait {wait:?}; retrying once");
                        tokio::time::sleep(wait).await;
                    }
                    f => return Err(to_error(f)),
                },
            }
        }
        Err(SpotifyError::RateLimited(0))
    }

    async fn ensure_token(&self) -> Result<(), SpotifyError> {
        let has = self
            .client
            .get_token()
            .lock()
            .await
            .map(|t| t.is_some())
            .unwrap_or(false);
        if has {
            return Ok(());
        }
        self.call(|| self.client.request_token()).await
    }

    /// Tracks of one playlist (first 50 items), or the HTTP status that refused it.
    async fn playlist_tracks(&self, id: &PlaylistId<'static>) -> Result<Vec<Track>, SpotifyError> {
        let page = self
            .call(|| {
                self.client
                    .playlist_items_manual(id.as_ref(), None, None, Some(50), Some(0))
            })
            .await?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|it| match it.item {
                Some(PlayableItem::Track(t)) => {
                    let id = t.id?;
                    let uri = id.uri();
                    Some(Track {
                        url: t.external_urls.get("spotify").cloned().unwrap_or_else(|| {
                            format!("https://open.spotify.com/track/{}", id.id())
                        }),
                        uri,
                        title: t.name,
                        artists: t.artists.into_iter().map(|a| a.name).collect(),
                        duration_ms: u64::try_from(t.duration.num_milliseconds()).ok(),
                        album_art: t
                            .album
                            .images
                            .into_iter()
                            .min_by_key(|i| i.width.unwrap_or(u32::MAX))
                            .map(|i| i.url),
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Finds a playlist for the mapping entry and returns its tracks. Playlists listed in the
    /// entry come first, then search hits; hits answering 403/404 are skipped. `seed` rotates
    /// the order of the hits so the same mood does not always get the same playlist.
    pub async fn fetch(
        &self,
        entry: &MappingEntry,
        seed: u64,
    ) -> Result<(PlaylistRef, Vec<Track>), SpotifyError> {
        self.ensure_token().await?;
        let mut candidates: Vec<(PlaylistId<'static>, String, Option<String>)> = entry
            .playlists
            .iter()
            .filter_map(|p| parse_playlist_id(p).map(|id| (id, entry.label.clone(), None)))
            .collect();
        let fixed = candidates.len();
        for q in &entry.queries {
            let res = self
                .call(|| {
                    self.client.search(
                        q,
                        SearchType::Playlist,
                        None,
                        None,
                        Some(SEARCH_LIMIT),
                        None,
                    )
                })
                .await?;
            if let SearchResult::Playlists(page) = res {
                let mut hits: Vec<_> = page
                    .items
                    .into_iter()
                    .map(|p| (p.id, p.name, p.external_urls.get("spotify").cloned()))
                    .collect();
                if !hits.is_empty() {
                    let k = (seed % hits.len() as u64) as usize;
                    hits.rotate_left(k);
                }
                candidates.extend(hits);
            }
            if candidates.len() > fixed {
                break;
            }
        }
        for (id, name, url) in candidates {
            match self.playlist_tracks(&id).await {
                Ok(tracks) if !tracks.is_empty() => {
                    let url = url
                        .or_else(|| Some(format!("https://open.spotify.com/playlist/{}", id.id())));
                    return Ok((PlaylistRef { name, url }, tracks));
                }
                Ok(_) => tracing::info!("playlist {} has no playable tracks; next", id.id()),
                Err(SpotifyError::Status(s @ (403 | 404))) => {
                    tracing::info!(
                        "playlist {} answered {s} (not readable in development mode); next",
                        id.id()
                    )
                }
                Err(e) => return Err(e),
            }
        }
        Err(SpotifyError::NothingFound(entry.label.clone()))
    }
}

/// A playlist id from a bare id, a `spotify:playlist:` URI or an open.spotify.com URL.
pub(crate) fn parse_playlist_id(s: &str) -> Option<PlaylistId<'static>> {
    let s = s.trim();
    let id = s
        .strip_prefix("spotify:playlist:")
        .or_else(|| {
            s.split("/playlist/")
                .nth(1)
                .map(|r| r.split(['?', '/']).next().unwrap_or(r))
        })
        .unwrap_or(s);
    PlaylistId::from_id(id.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_ids_from_uris_and_urls() {
        let want = "37i9dQZF1DXdPec7aLTmlC";
        for s in [
            want.to_string(),
            format!("spotify:playlist:{want}"),
            format!("https://open.spotify.com/playlist/{want}?si=abc"),
        ] {
            assert_eq!(
                parse_playlist_id(&s).map(|p| p.id().to_string()),
                Some(want.to_string()),
                "{s}"
            );
        }
        assert!(parse_playlist_id("not an id!").is_none());
    }
}
