//! Fetched lists, kept in the diary database (`crate::diary::TrackStore`) per emotion, strategy
//! and taste: the latest list and the pool of every track fetched for it, so a restart or a
//! network blip still has music. Lists fresh by the user's schedule (`music_refresh`) are served
//! without asking Spotify; older ones only when Spotify fails. The JSON files this cache used to
//! write (`~/.cache/emotune/music`) are imported once, then removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

use super::{Recommendation, Strategy, Track};
use crate::diary::{DiaryError, PoolTrack, Refresh, TrackStore};
use crate::emotion::Emotion;

/// An old cache file: the recommendation with its whole pool, and when it was saved.
#[derive(Deserialize)]
struct Stored {
    saved_at: u64,
    recommendation: Recommendation,
}

/// An old cache file's recommendation and when it was saved (Unix seconds).
pub(crate) fn parse_entry(bytes: &[u8]) -> serde_json::Result<(Recommendation, u64)> {
    let doc: Stored = serde_json::from_slice(bytes)?;
    Ok((doc.recommendation, doc.saved_at))
}

/// The store's key of a list: the old cache file's name without `.json`.
fn key(e: Emotion, s: Strategy, tag: &str) -> String {
    format!("{}-{}{tag}", e.name(), s.name())
}

fn now_ms() -> i64 {
    crate::clock::unix_now().as_millis() as i64
}

pub struct Cache {
    state: Mutex<State>,
    refresh: Refresh,
    /// Unix ms; a field so tests can set the clock.
    now: fn() -> i64,
}

enum State {
    /// Not opened yet: the first use opens it, on the thread that serves the music.
    Closed {
        path: PathBuf,
        legacy: Option<PathBuf>,
    },
    Open(TrackStore),
    /// It could not be opened; said once, and the music goes on without it.
    Off,
}

/// A stored list: its tracks are the whole pool; `heard` those ever opened or played.
pub(crate) struct Cached {
    pub(crate) recommendation: Recommendation,
    pub(crate) heard: HashSet<String>,
    pub(crate) age: Duration,
}

impl Cache {
    /// Lists in the database at `db` (opened at first use), renewed on the `refresh` schedule.
    pub fn new(db: impl Into<PathBuf>, refresh: Refresh) -> Cache {
        Cache {
            state: Mutex::new(State::Closed {
                path: db.into(),
                legacy: None,
            }),
            refresh,
            now: now_ms,
        }
    }

    /// Imports the old cache files in `dir` when the database is opened.
    pub(crate) fn importing(self, dir: Option<PathBuf>) -> Cache {
        let state = match self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            State::Closed { path, .. } => State::Closed { path, legacy: dir },
            other => other,
        };
        Cache {
            state: Mutex::new(state),
            ..self
        }
    }

    #[cfg(test)]
    fn with_clock(self, now: fn() -> i64) -> Cache {
        Cache { now, ..self }
    }

    /// Runs `f` on the store, opening it first if need be. None when it is off or `f` failed
    /// (logged: a cache fault costs the cache, never the music).
    fn with_store<T>(&self, f: impl FnOnce(&mut TrackStore) -> Result<T, DiaryError>) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let State::Closed { path, legacy } = &*state {
            *state = match TrackStore::open(path) {
                Ok(mut store) => {
                    if let Some(dir) = legacy {
                        import_dir(&mut store, dir);
                    }
                    State::Open(store)
                }
                Err(e) => {
                    tracing::warn!("music lists are not kept between runs: {e}");
                    State::Off
                }
            };
        }
        let State::Open(store) = &mut *state else {
            return None;
        };
        f(store)
            .inspect_err(|e| tracing::warn!("music lists: {e}"))
            .ok()
    }

    /// Saves a fetched list: it replaces the mood's list, and its tracks join the mood's pool.
    pub(crate) fn store(&self, rec: &Recommendation, tag: &str) {
        let key = key(rec.emotion, rec.strategy, tag);
        let Some((json, tracks)) = split(rec) else {
            return;
        };
        let now = (self.now)();
        self.with_store(|s| s.put(&key, &json, &tracks, now));
    }

    /// The mood's stored list with its whole pool, never-heard tracks first; `fresh_only`
    /// ignores a list fetched before the schedule's last boundary.
    pub(crate) fn load(
        &self,
        e: Emotion,
        s: Strategy,
        tag: &str,
        fresh_only: bool,
    ) -> Option<Cached> {
        let key = key(e, s, tag);
        let now = (self.now)();
        let list = self.with_store(|st| st.get(&key)).flatten()?;
        if fresh_only && !self.refresh.is_fresh(list.fetched, now) {
            return None;
        }
        let mut rec: Recommendation = match serde_json::from_str(&list.recommendation) {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!("the stored music list {key} is unreadable ({err}); fetching again");
                return None;
            }
        };
        let heard = list.pool.iter().filter(|p| p.heard);
        let heard = heard.map(|p| p.track.uri.clone()).collect();
        rec.tracks = list.pool.into_iter().map(|p| from_pool(p.track)).collect();
        let age = u64::try_from(now.saturating_sub(list.fetched)).unwrap_or(0);
        (!rec.tracks.is_empty()).then(|| Cached {
            recommendation: rec,
            heard,
            age: Duration::from_millis(age),
        })
    }

    /// Which of `tracks` were ever opened or played (none when the store is off).
    pub(crate) fn heard(&self, tracks: &[Track]) -> HashSet<String> {
        let uris = tracks.iter().map(|t| t.uri.as_str());
        self.with_store(|s| s.heard(uris)).unwrap_or_default()
    }
}

/// A list as the store keeps it: its JSON without the tracks, which go to the pool.
fn split(rec: &Recommendation) -> Option<(String, Vec<PoolTrack>)> {
    let head = Recommendation {
        tracks: Vec::new(),
        ..rec.clone()
    };
    let json = serde_json::to_string(&head)
        .inspect_err(|e| tracing::warn!("cannot store the music list: {e}"))
        .ok()?;
    Some((json, rec.tracks.iter().map(to_pool).collect()))
}

fn to_pool(t: &Track) -> PoolTrack {
    PoolTrack {
        uri: t.uri.clone(),
        title: t.title.clone(),
        artists: t.artists.clone(),
        duration_ms: t.duration_ms,
        url: t.url.clone(),
        album_art: t.album_art.clone(),
    }
}

fn from_pool(t: PoolTrack) -> Track {
    Track {
        title: t.title,
        artists: t.artists,
        duration_ms: t.duration_ms,
        url: t.url,
        uri: t.uri,
        album_art: t.album_art,
    }
}

/// Moves the old cache files in `dir` into the store. A readable one is imported (a newer
/// stored list wins) and removed; a corrupt one is logged and removed (it was only a copy); the
/// folder goes once empty. One that cannot be read, or a folder that cannot, is left alone.
fn import_dir(store: &mut TrackStore, dir: &Path) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(
                "the old music cache {} cannot be read ({e}); ignored",
                dir.display()
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".json.tmp") {
            // A write cut short: never a whole list.
            let _ = std::fs::remove_file(&path);
        } else if let Some(stem) = name.strip_suffix(".json") {
            let stem = stem.to_string();
            if let Err(e) = import_file(store, &path, &stem) {
                tracing::warn!("cannot import the old music cache: {e}");
                return;
            }
        }
    }
    if std::fs::remove_dir(dir).is_ok() {
        tracing::info!(
            "the old music cache {} moved into {}",
            dir.display(),
            store.path().display()
        );
    }
}

/// One old cache file; an error only when the store itself failed (the rest then waits).
fn import_file(store: &mut TrackStore, path: &Path, stem: &str) -> Result<(), DiaryError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(
                "the old music cache entry {} cannot be read ({e}); ignored",
                path.display()
            );
            return Ok(());
        }
    };
    let parsed = parse_entry(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|(rec, saved)| {
            // The name holds the taste tag, the content the mood: they must agree.
            let base = key(rec.emotion, rec.strategy, "");
            match stem.strip_prefix(&base) {
                Some(tag) if tag.is_empty() || tag.starts_with('-') => Ok((rec, saved)),
                _ => Err(format!("it holds a list for {base}")),
            }
        });
    match parsed {
        Ok((rec, saved_at)) => {
            if let Some((json, tracks)) = split(&rec) {
                let fetched = i64::try_from(saved_at.saturating_mul(1000)).unwrap_or(i64::MAX);
                store.import(stem, &json, &tracks, fetched)?;
            }
        }
        Err(err) => tracing::warn!(
            "music cache entry {} is corrupt ({err}); removed, the list is fetched again",
            path.display()
        ),
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
