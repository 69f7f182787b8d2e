//! The music service: Spotify → fresh cache → stale cache → offline catalog, and a thread with
//! its own tokio runtime so the UI never waits on the network.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cache::{Cache, DEFAULT_TTL};
use super::catalog::Catalog;
use super::mapping::Mapping;
use super::spotify::SpotifySource;
use super::{Recommendation, SourceKind, SourcePreference, Strategy};
use crate::config::SpotifyCredentials;
use crate::emotion::Emotion;

/// Tracks handed to the listener per recommendation.
pub const TRACKS_SHOWN: usize = 20;

pub struct Music {
    mapping: Mapping,
    catalog: Catalog,
    spotify: Option<SpotifySource>,
    cache: Option<Cache>,
}

/// A recommendation and what had to give way for it (shown to the user, never secrets).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub recommendation: Recommendation,
    pub notes: Vec<String>,
}

/// Whether Spotify credentials are usable, as the settings panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    Missing,
    Present,
    Rejected,
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Fisher–Yates with a xorshift stream: enough to vary the list, no crypto needed.
fn shuffle<T>(v: &mut [T], mut s: u64) {
    s |= 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

fn sample(mut rec: Recommendation, source: SourceKind, seed: u64) -> Recommendation {
    shuffle(&mut rec.tracks, seed);
    rec.tracks.truncate(TRACKS_SHOWN);
    rec.source = source;
    rec
}

impl Music {
    pub fn new(mapping: Mapping, spotify: Option<SpotifySource>, cache: Option<Cache>) -> Music {
        Music {
            mapping,
            catalog: Catalog::builtin(),
            spotify,
            cache,
        }
    }

    /// Mapping from the user's config dir (else built in), credentials from the environment /
    /// .env, cache in the user's cache dir. Returns warnings (a broken mapping file, say).
    pub fn from_env(timeout: Duration, ttl: Option<Duration>) -> (Music, Vec<String>) {
        let (mapping, warning) = Mapping::load(Mapping::user_path().as_deref());
        let spotify = SpotifyCredentials::from_env().map(|c| SpotifySource::from_env(&c, timeout));
        let cache = Cache::default_dir().map(|d| Cache::new(d, ttl.unwrap_or(DEFAULT_TTL)));
        (
            Music::new(mapping, spotify, cache),
            warning.into_iter().collect(),
        )
    }

    pub fn has_spotify(&self) -> bool {
        self.spotify.is_some()
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// `refresh` skips the fresh cache (the user asked for new music, or a scheduled renewal).
    pub async fn recommend(
        &self,
        e: Emotion,
        s: Strategy,
        pref: SourcePreference,
        refresh: bool,
    ) -> Result<Outcome, String> {
        let entry = self.mapping.entry(e, s);
        let seed = seed();
        let mut notes = Vec::new();
        if pref == SourcePreference::Offline {
            let rec = self
                .catalog
                .recommend(e, s, &entry.label, TRACKS_SHOWN, seed);
            return Ok(Outcome {
                recommendation: rec,
                notes,
            });
        }
        if pref == SourcePreference::Auto
            && !refresh
            && let Some((rec, _)) = self.cache.as_ref().and_then(|c| c.load(e, s, true))
        {
            return Ok(Outcome {
                recommendation: sample(rec, SourceKind::Cache, seed),
                notes,
            });
        }
        match &self.spotify {
            Some(sp) => match sp.fetch(entry, seed).await {
                Ok((playlist, tracks)) => {
                    let full = Recommendation {
                        emotion: e,
                        strategy: s,
                        source: SourceKind::Spotify,
                        playlist,
                        tracks,
                    };
                    if let Some(c) = &self.cache {
                        c.store(&full);
                    }
                    return Ok(Outcome {
                        recommendation: sample(full, SourceKind::Spotify, seed),
                        notes,
                    });
                }
                Err(err) if pref == SourcePreference::Spotify => return Err(err.to_string()),
                Err(err) => notes.push(err.to_string()),
            },
            None if pref == SourcePreference::Spotify => {
                return Err("no Spotify credentials: set RSPOTIFY_CLIENT_ID and RSPOTIFY_CLIENT_SECRET (or a .env file)".into());
            }
            None => notes.push("no Spotify credentials; using the offline catalog".into()),
        }
        if let Some((rec, age)) = self.cache.as_ref().and_then(|c| c.load(e, s, false)) {
            notes.push(format!(
                "serving a cached list from {} min ago",
                age.as_secs() / 60
            ));
            return Ok(Outcome {
                recommendation: sample(rec, SourceKind::Cache, seed),
                notes,
            });
        }
        let rec = self
            .catalog
            .recommend(e, s, &entry.label, TRACKS_SHOWN, seed);
        Ok(Outcome {
            recommendation: rec,
            notes,
        })
    }
}

pub struct MusicRequest {
    pub emotion: Emotion,
    pub strategy: Strategy,
    pub refresh: bool,
}

pub enum MusicEvent {
    Ready(Outcome),
    Failed(String),
    /// Album art for a track, fetched after its list (small images, decoded off the UI thread).
    Art {
        url: String,
        image: image::RgbaImage,
    },
}

/// Album-art images are small; anything bigger is not what we asked for.
const MAX_ART_BYTES: usize = 2 << 20;

async fn fetch_art(client: &reqwest::Client, url: &str) -> Option<image::RgbaImage> {
    let resp = client.get(url).send().await.ok()?.error_for_status().ok()?;
    let bytes = resp.bytes().await.ok()?;
    if bytes.len() > MAX_ART_BYTES {
        return None;
    }
    image::load_from_memory(&bytes).ok().map(|i| i.to_rgba8())
}

/// The music thread: takes requests, answers with events, wakes the UI through `notify`.
pub struct MusicHandle {
    tx: Sender<MusicRequest>,
    rx: Receiver<MusicEvent>,
}

impl MusicHandle {
    pub fn spawn(music: Music, notify: Arc<dyn Fn() + Send + Sync>) -> MusicHandle {
        let (tx, req_rx) = channel::<MusicRequest>();
        let (ev_tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("music".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ev_tx.send(MusicEvent::Failed(format!(
                            "cannot start the music runtime: {e}"
                        )));
                        notify();
                        return;
                    }
                };
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(3))
                    .build()
                    .ok();
                while let Ok(mut req) = req_rx.recv() {
                    // Only the newest request matters; older ones were overtaken by the user.
                    while let Ok(newer) = req_rx.try_recv() {
                        req = newer;
                    }
                    let ev = match rt.block_on(music.recommend(
                        req.emotion,
                        req.strategy,
                        SourcePreference::Auto,
                        req.refresh,
                    )) {
                        Ok(o) => MusicEvent::Ready(o),
                        Err(e) => MusicEvent::Failed(e),
                    };
                    let art: Vec<String> = match &ev {
                        MusicEvent::Ready(o) => {
                            let mut urls: Vec<String> = o
                                .recommendation
                                .tracks
                                .iter()
                                .filter_map(|t| t.album_art.clone())
                                .collect();
                            urls.dedup();
                            urls
                        }
                        _ => Vec::new(),
                    };
                    if ev_tx.send(ev).is_err() {
                        return;
                    }
                    notify();
                    for url in art {
                        if let Some(client) = &http
                            && let Some(image) = rt.block_on(fetch_art(client, &url))
                        {
                            if ev_tx.send(MusicEvent::Art { url, image }).is_err() {
                                return;
                            }
                            notify();
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the music thread: {e}");
        }
        MusicHandle { tx, rx }
    }

    pub fn request(&self, r: MusicRequest) {
        let _ = self.tx.send(r);
    }

    pub fn poll(&self) -> Vec<MusicEvent> {
        self.rx.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_seed() {
        let mut a: Vec<u32> = (0..30).collect();
        let mut b = a.clone();
        shuffle(&mut a, 1);
        shuffle(&mut b, 2);
        assert_ne!(a, b);
        a.sort();
        assert_eq!(a, (0..30).collect::<Vec<_>>());
    }

    #[test]
    fn offline_without_credentials() {
        let m = Music::new(Mapping::builtin(), None, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let o = rt
            .block_on(m.recommend(
                Emotion::Sad,
                Strategy::Uplift,
                SourcePreference::Auto,
                false,
            ))
            .expect("offline");
        assert_eq!(o.recommendation.source, SourceKind::Offline);
        assert!(o.recommendation.tracks.len() >= 10);
        assert!(o.notes[0].contains("no Spotify credentials"));
        let err = rt
            .block_on(m.recommend(
                Emotion::Sad,
                Strategy::Uplift,
                SourcePreference::Spotify,
                false,
            ))
            .expect_err("no creds");
        assert!(err.contains("RSPOTIFY_CLIENT_ID"));
    }
}
