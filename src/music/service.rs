//! The music service: fresh stored list → Spotify → stale stored list → offline catalog, and a
//! thread with its own tokio runtime so the UI never waits on the network. Tracks never opened
//! or played come first in every list served from Spotify or the store.

use std::collections::HashSet;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use super::cache::{Cache, Cached};
use super::catalog::Catalog;
use super::language::Taste;
use super::mapping::Mapping;
use super::recommender::{Ask, Recommender};
use super::spotify::{SpotifyError, SpotifySource};
use super::{Recommendation, SourceKind, SourcePreference, Strategy};
use crate::config::SpotifyEnv;
use crate::diary::Refresh;
use crate::emotion::Emotion;
use crate::service::{Events, Notify};

/// Tracks handed to the listener per recommendation.
pub(crate) const TRACKS_SHOWN: usize = 20;

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
    pub notes: Vec<Note>,
}

/// Why a recommendation did not come straight from Spotify. Typed so the UI can react (the
/// credentials badge) without reading the wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Note {
    #[error("{0}")]
    Spotify(SpotifyError),
    #[error("no Spotify credentials; using the offline catalog")]
    NoCredentials,
    #[error("serving a cached list from {minutes} min ago")]
    Cached { minutes: u64 },
    #[error("your playlist \"{playlist}\": {error}; using the mapping's searches")]
    OwnPlaylist {
        playlist: String,
        error: super::spotify::AccountError,
    },
}

/// Why no recommendation could be given at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MusicError {
    #[error(
        "no Spotify credentials: set RSPOTIFY_CLIENT_ID and RSPOTIFY_CLIENT_SECRET (or a .env file)"
    )]
    NoCredentials,
    #[error("{0}")]
    Spotify(SpotifyError),
    #[error("cannot start the music runtime: {0}")]
    Runtime(String),
    #[error("the music thread crashed ({0}); it restarted")]
    Panicked(String),
    #[error("the music thread crashed {0} times in a row and was stopped; restart emotune")]
    GaveUp(usize),
}

impl MusicError {
    /// Whether Spotify refused the app's credentials (the settings badge says so).
    pub fn is_rejection(&self) -> bool {
        matches!(self, MusicError::Spotify(SpotifyError::Rejected(_)))
    }
}

impl Outcome {
    /// Whether Spotify refused the app's credentials on the way to this list.
    pub fn credentials_rejected(&self) -> bool {
        self.notes
            .iter()
            .any(|n| matches!(n, Note::Spotify(SpotifyError::Rejected(_))))
    }
}

/// Whether Spotify credentials are usable, as the settings panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialStatus {
    Missing,
    Present,
    Rejected,
}

fn seed() -> u64 {
    crate::clock::unix_now().as_nanos() as u64
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

/// A shuffled `TRACKS_SHOWN` of the list, the tracks never heard first.
fn sample(
    mut rec: Recommendation,
    source: SourceKind,
    seed: u64,
    heard: &HashSet<String>,
) -> Recommendation {
    shuffle(&mut rec.tracks, seed);
    // Stable: each part stays shuffled.
    rec.tracks.sort_by_key(|t| heard.contains(&t.uri));
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

    /// Mapping from the user's config dir (else built in), Spotify as the environment says,
    /// lists in the diary database (the old cache folder imported into it), renewed on
    /// `refresh`. Returns warnings (a broken mapping file, say).
    pub(crate) fn from_user(
        env: &SpotifyEnv,
        timeout: Duration,
        refresh: Refresh,
    ) -> (Music, Vec<String>) {
        let (mapping, warning) = Mapping::load(Mapping::user_path().as_deref());
        let spotify = SpotifySource::of(env, timeout);
        let legacy = crate::config::cache_dir().map(|d| d.join("music"));
        let cache =
            crate::diary::Diary::default_path().map(|p| Cache::new(p, refresh).importing(legacy));
        (
            Music::new(mapping, spotify, cache),
            warning.into_iter().collect(),
        )
    }

    pub(crate) fn has_spotify(&self) -> bool {
        self.spotify.is_some()
    }

    pub(crate) fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// `refresh` skips the fresh cache (the user asked for new music, or a scheduled renewal).
    pub async fn recommend(
        &self,
        e: Emotion,
        s: Strategy,
        pref: SourcePreference,
        refresh: bool,
    ) -> Result<Outcome, MusicError> {
        self.recommend_for(e, s, pref, refresh, &Taste::default())
            .await
    }

    /// `recommend` for a person's taste: searches in their language and market, their
    /// language's catalog lists first.
    pub async fn recommend_for(
        &self,
        e: Emotion,
        s: Strategy,
        pref: SourcePreference,
        refresh: bool,
        taste: &Taste,
    ) -> Result<Outcome, MusicError> {
        let entry = &taste.entry(self.mapping.entry(e, s));
        let tag = taste.cache_tag();
        let lang = taste.language.as_str();
        let seed = seed();
        let mut notes = Vec::new();
        if pref == SourcePreference::Offline {
            let rec = self
                .catalog
                .recommend(e, s, &entry.label, TRACKS_SHOWN, seed, lang);
            return Ok(Outcome {
                recommendation: rec,
                notes,
            });
        }
        if pref == SourcePreference::Auto
            && !refresh
            && let Some(c) = self.cache.as_ref().and_then(|c| c.load(e, s, &tag, true))
        {
            return Ok(Outcome {
                recommendation: sample(c.recommendation, SourceKind::Cache, seed, &c.heard),
                notes,
            });
        }
        match &self.spotify {
            Some(sp) => match sp.fetch(entry, seed, taste.market.as_deref()).await {
                Ok((playlist, tracks)) => {
                    let full = Recommendation {
                        emotion: e,
                        strategy: s,
                        source: SourceKind::Spotify,
                        playlist,
                        tracks,
                    };
                    let mut heard = HashSet::new();
                    if let Some(c) = &self.cache {
                        c.store(&full, &tag);
                        heard = c.heard(&full.tracks);
                    }
                    return Ok(Outcome {
                        recommendation: sample(full, SourceKind::Spotify, seed, &heard),
                        notes,
                    });
                }
                Err(err) if pref == SourcePreference::Spotify => {
                    return Err(MusicError::Spotify(err));
                }
                Err(err) => notes.push(Note::Spotify(err)),
            },
            None if pref == SourcePreference::Spotify => return Err(MusicError::NoCredentials),
            None => notes.push(Note::NoCredentials),
        }
        if let Some(Cached {
            recommendation,
            heard,
            age,
        }) = self.cache.as_ref().and_then(|c| c.load(e, s, &tag, false))
        {
            notes.push(Note::Cached {
                minutes: age.as_secs() / 60,
            });
            return Ok(Outcome {
                recommendation: sample(recommendation, SourceKind::Cache, seed, &heard),
                notes,
            });
        }
        let rec = self
            .catalog
            .recommend(e, s, &entry.label, TRACKS_SHOWN, seed, lang);
        Ok(Outcome {
            recommendation: rec,
            notes,
        })
    }
}

/// A list asked of the music thread.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicRequest {
    /// Echoed in the answer: the window shows the answer to its latest request only.
    pub id: u64,
    pub ask: Ask,
}

pub enum MusicEvent {
    Ready {
        id: u64,
        outcome: Outcome,
    },
    /// `id`: the request that failed; None when the thread itself did.
    Failed {
        id: Option<u64>,
        error: MusicError,
    },
    /// Album art for a track, fetched after its list (small images, decoded off the UI thread).
    Art {
        url: String,
        image: image::RgbaImage,
    },
}

/// Album-art images are small; anything bigger is not what we asked for.
const MAX_ART_BYTES: usize = 2 << 20;
/// What decoding one may allocate (a 640×640 cover takes 1.6 MiB): a header claiming more is
/// refused before anything is allocated.
const MAX_ART_DECODE: u64 = 64 << 20;

async fn fetch_art(client: &reqwest::Client, url: &str) -> Option<image::RgbaImage> {
    let resp = client.get(url).send().await.ok()?.error_for_status().ok()?;
    let bytes = resp.bytes().await.ok()?;
    decode_art(&bytes)
}

/// An album cover from the bytes a server sent (None for anything that is not a small image).
pub(crate) fn decode_art(bytes: &[u8]) -> Option<image::RgbaImage> {
    if bytes.len() > MAX_ART_BYTES {
        return None;
    }
    crate::capture::decode_image(bytes, MAX_ART_DECODE)
        .ok()
        .map(|i| i.to_rgba8())
}

/// Each album-art URL once, in list order (a set: shuffled lists repeat art out of order).
fn art_urls(o: &Outcome) -> Vec<String> {
    let mut seen = HashSet::new();
    o.recommendation
        .tracks
        .iter()
        .filter_map(|t| t.album_art.clone())
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

/// The music thread's end of the request channel (it outlives a restart of the loop).
struct Served {
    requests: tokio::sync::mpsc::UnboundedReceiver<MusicRequest>,
}

impl Served {
    /// Answers requests until the UI hangs up. A newer request overtakes an older one, and
    /// interrupts the album-art downloads of the list before it.
    async fn serve(
        &mut self,
        out: &Events<MusicEvent>,
        music: &Recommender,
        http: Option<&reqwest::Client>,
    ) {
        let mut next = None;
        loop {
            let mut req = match next.take() {
                Some(r) => r,
                None => match self.requests.recv().await {
                    Some(r) => r,
                    None => return,
                },
            };
            while let Ok(newer) = self.requests.try_recv() {
                req = newer;
            }
            let id = req.id;
            let ev = match music.recommend(&req.ask).await {
                Ok(outcome) => MusicEvent::Ready { id, outcome },
                Err(error) => MusicEvent::Failed {
                    id: Some(id),
                    error,
                },
            };
            let art = match &ev {
                MusicEvent::Ready { outcome, .. } => art_urls(outcome),
                _ => Vec::new(),
            };
            if !out.deliver(ev) {
                return;
            }
            let Some(client) = http else { continue };
            for url in art {
                let fetched = url.clone();
                tokio::select! {
                    image = fetch_art(client, &fetched) => {
                        if let Some(image) = image && !out.deliver(MusicEvent::Art { url, image }) {
                            return;
                        }
                    }
                    newer = self.requests.recv() => {
                        match newer {
                            Some(r) => next = Some(r),
                            None => return,
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// The music thread: takes requests, answers with events, wakes the UI through `notify`.
pub struct MusicHandle {
    tx: tokio::sync::mpsc::UnboundedSender<MusicRequest>,
    rx: Receiver<MusicEvent>,
}

impl MusicHandle {
    /// Starts the thread (`service::spawn`): a panic while serving is reported as
    /// `MusicError::Panicked` and serving resumes with the same channels. Requests run on the
    /// shared network runtime.
    pub fn spawn(music: Recommender, notify: Notify) -> MusicHandle {
        let (tx, requests) = tokio::sync::mpsc::unbounded_channel();
        let mut served = Served { requests };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .ok();
        let crashed = |r: crate::Restart| MusicEvent::Failed {
            id: None,
            error: match r {
                crate::Restart::Panicked(msg) => MusicError::Panicked(msg),
                crate::Restart::GaveUp(n) => MusicError::GaveUp(n),
            },
        };
        let s =
            crate::service::spawn(
                "music",
                notify,
                crashed,
                move |out| match crate::service::runtime() {
                    Ok(rt) => rt.block_on(served.serve(out, &music, http.as_ref())),
                    Err(e) => out.send(MusicEvent::Failed {
                        id: None,
                        error: MusicError::Runtime(e),
                    }),
                },
            );
        MusicHandle { tx, rx: s.events }
    }

    /// A handle on channels the caller serves itself (tests drive the UI with a fake).
    #[cfg(test)]
    pub(crate) fn from_channels(
        tx: tokio::sync::mpsc::UnboundedSender<MusicRequest>,
        rx: Receiver<MusicEvent>,
    ) -> MusicHandle {
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
    fn tracks_never_heard_come_first_and_stay_shuffled() {
        let track = |n: u32| super::super::Track {
            title: format!("Song {n}"),
            artists: Vec::new(),
            duration_ms: None,
            url: String::new(),
            uri: format!("spotify:track:T{n}"),
            album_art: None,
        };
        let rec = Recommendation {
            emotion: Emotion::Happy,
            strategy: Strategy::Match,
            source: SourceKind::Spotify,
            playlist: super::super::PlaylistRef {
                name: "Hits".into(),
                url: None,
            },
            tracks: (0..40).map(track).collect(),
        };
        // Every even track heard: the 20 shown are the 20 odd ones, shuffled.
        let heard = (0..40).step_by(2).map(|n| track(n).uri).collect();
        let a = sample(rec.clone(), SourceKind::Cache, 7, &heard);
        let b = sample(rec, SourceKind::Cache, 8, &heard);
        assert_eq!(a.source, SourceKind::Cache);
        assert_eq!(a.tracks.len(), TRACKS_SHOWN);
        assert!(a.tracks.iter().all(|t| !heard.contains(&t.uri)));
        assert_ne!(a.tracks, b.tracks);
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
        assert_eq!(o.notes, vec![Note::NoCredentials]);
        let err = rt
            .block_on(m.recommend(
                Emotion::Sad,
                Strategy::Uplift,
                SourcePreference::Spotify,
                false,
            ))
            .expect_err("no creds");
        assert_eq!(err, MusicError::NoCredentials);
        assert!(err.to_string().contains("RSPOTIFY_CLIENT_ID"));
    }
}
