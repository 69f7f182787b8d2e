//! Spotify through rspotify (client-credentials flow): search playlists, skip the ones that
//! answer 403/404 (Spotify-owned editorial playlists in development mode), read their items.
//! The client secret and the token are never logged or put in an error message.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rspotify::model::{Page, PlayableItem, PlaylistId, PlaylistItem, SearchResult, SearchType};
use rspotify::prelude::*;
use rspotify::{ClientCredsSpotify, ClientError, Config, Credentials};

use crate::config::SpotifyCredentials;
use crate::music::mapping::MappingEntry;
use crate::music::{PlaylistRef, Track};

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

/// A future whose panic, while it is polled, becomes an error. rspotify 0.16 panics on some
/// answers it cannot read (a playlist without `items` or `tracks`: "missing items/tracks"), and
/// a bad answer must cost the request, not the music thread.
pub(crate) struct CatchPanic<F>(pub(crate) Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, SpotifyError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(SpotifyError::Protocol(format!(
                "the answer could not be read ({})",
                crate::panic_message(p.as_ref())
            )))),
        }
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

    /// With the environment's credentials and base URLs; None without credentials.
    pub(crate) fn of(env: &crate::config::SpotifyEnv, timeout: Duration) -> Option<Self> {
        let creds = env.credentials()?;
        Some(Self::new(
            &creds,
            env.api_url.clone(),
            env.auth_url.clone(),
            timeout,
        ))
    }

    /// Runs one request with the timeout; a 429 is retried once after its Retry-After.
    async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, SpotifyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        for attempt in 0..2 {
            let r = tokio::time::timeout(self.timeout, CatchPanic(Box::pin(f())))
                .await
                .map_err(|_| SpotifyError::Timeout(self.timeout))??;
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
        Ok(tracks_of(page))
    }

    /// Finds a playlist for the mapping entry and returns its tracks. Playlists listed in the
    /// entry come first, then search hits; hits answering 403/404 are skipped. `seed` rotates
    /// the order of the hits so the same mood does not always get the same playlist.
    pub async fn fetch(
        &self,
        entry: &MappingEntry,
        seed: u64,
        market: Option<&str>,
    ) -> Result<(PlaylistRef, Vec<Track>), SpotifyError> {
        // An unknown code is left out rather than failing the music.
        let market = market
            .and_then(|m| serde_json::from_value::<rspotify::model::Country>(m.into()).ok())
            .map(rspotify::model::Market::Country);
        self.ensure_token().await?;
        let mut candidates: Vec<Candidate> = entry
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
                        market,
                        None,
                        Some(SEARCH_LIMIT),
                        None,
                    )
                })
                .await?;
            candidates.extend(search_hits(res, seed));
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

/// A playlist to try: its id, its name and its page on open.spotify.com.
pub(crate) type Candidate = (PlaylistId<'static>, String, Option<String>);

/// The playlists a search answered (`GET /search?type=playlist`), rotated by `seed`.
pub(crate) fn search_hits(res: SearchResult, seed: u64) -> Vec<Candidate> {
    let SearchResult::Playlists(page) = res else {
        return Vec::new();
    };
    let mut hits: Vec<_> = page
        .items
        .into_iter()
        .map(|p| {
            let url = p.external_urls.get("spotify").filter(|u| !u.is_empty());
            (p.id, p.name, url.cloned())
        })
        .collect();
    if !hits.is_empty() {
        let k = (seed % hits.len() as u64) as usize;
        hits.rotate_left(k);
    }
    hits
}

/// The playable tracks of a page of playlist items (`GET /playlists/{id}/items`); episodes,
/// local files and removed tracks are left out.
pub(crate) fn tracks_of(page: Page<PlaylistItem>) -> Vec<Track> {
    page.items
        .into_iter()
        .filter_map(|it| match it.item {
            Some(PlayableItem::Track(t)) => {
                let id = t.id?;
                let uri = id.uri();
                Some(Track {
                    url: t
                        .external_urls
                        .get("spotify")
                        .filter(|u| !u.is_empty())
                        .cloned()
                        .unwrap_or_else(|| format!("https://open.spotify.com/track/{}", id.id())),
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
        .collect()
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

    /// Found by `fuzz::spotify_search`: rspotify 0.16 panics ("missing items/tracks") reading a
    /// search hit that has neither `items` nor `tracks`. Every request runs in `CatchPanic`.
    #[test]
    fn a_search_hit_without_items_is_an_error_not_a_panic() {
        let body = r#"{"playlists":{"href":"x","items":[{"collaborative":false,
            "external_urls":{},"href":"x","id":"37i9dQZF1DXdPec7aLTmlC","images":[],"name":"H",
            "owner":{"display_name":null,"external_urls":{},"href":"x","id":"o"},"public":true,
            "snapshot_id":"s"}],"limit":10,"next":null,"offset":0,"previous":null,"total":1}}"#;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let parse = async { serde_json::from_str::<SearchResult>(body) };
        let r = rt.block_on(CatchPanic(Box::pin(parse)));
        assert!(
            matches!(&r, Err(SpotifyError::Protocol(m)) if m.contains("missing items")),
            "{r:?}"
        );
        let with_items = body.replace(
            r#""snapshot_id":"s""#,
            r#""snapshot_id":"s","items":{"href":"x","total":1}"#,
        );
        let hits = search_hits(serde_json::from_str(&with_items).expect("a search page"), 0);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].2, None, "an empty link is no link");
    }

    /// Found by `fuzz::spotify_items` (in `account::items_of`; this reading had the same gap):
    /// an empty `external_urls.spotify` gave a track an empty link; it gets the track's page.
    #[test]
    fn an_empty_spotify_link_falls_back_to_the_track_page() {
        let body = r#"{"href":"x","items":[{"added_at":null,"added_by":null,"is_local":false,
            "item":{"album":{"album_type":"album","artists":[],"external_urls":{},"href":null,
            "id":null,"images":[],"name":"A"},"artists":[],"disc_number":1,"duration_ms":200003,
            "explicit":false,"external_ids":{},"external_urls":{"spotify":""},"href":null,
            "id":"4uLU6hMCjMI75M1A2tKU03","is_local":false,"name":"Song 3","preview_url":null,
            "track_number":4,"type":"track"}}],"limit":50,"next":null,"offset":0,
            "previous":null,"total":1}"#;
        let tracks = tracks_of(serde_json::from_str(body).expect("a page of items"));
        assert_eq!(
            tracks[0].url,
            "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKU03"
        );
    }
}
