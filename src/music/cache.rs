//! Recommendations (with their full track pool) cached on disk per emotion and strategy, so a
//! restart or a network blip still has music. Fresh entries are served without asking Spotify;
//! stale ones only when Spotify fails.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Recommendation, Strategy};
use crate::emotion::Emotion;

#[derive(Serialize, Deserialize)]
struct Stored {
    saved_at: u64,
    recommendation: Recommendation,
}

/// A cache file's recommendation and its age at `now` (Unix seconds).
pub(crate) fn parse_entry(
    bytes: &[u8],
    now: u64,
) -> serde_json::Result<(Recommendation, Duration)> {
    let doc: Stored = serde_json::from_slice(bytes)?;
    let age = Duration::from_secs(now.saturating_sub(doc.saved_at));
    Ok((doc.recommendation, age))
}

pub struct Cache {
    dir: PathBuf,
    pub(crate) ttl: Duration,
}

fn now() -> u64 {
    crate::clock::unix_now().as_secs()
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>, ttl: Duration) -> Cache {
        Cache {
            dir: dir.into(),
            ttl,
        }
    }

    fn path(&self, e: Emotion, s: Strategy, tag: &str) -> PathBuf {
        self.dir
            .join(format!("{}-{}{tag}.json", e.name(), s.name()))
    }

    /// Saves atomically; failures only cost the cache, never the music.
    pub(crate) fn store(&self, rec: &Recommendation, tag: &str) {
        let doc = Stored {
            saved_at: now(),
            recommendation: rec.clone(),
        };
        let path = self.path(rec.emotion, rec.strategy, tag);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec(&doc)?)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::warn!("cannot write music cache {}: {e}", path.display());
        }
    }

    /// The cached recommendation and its age; `fresh_only` ignores entries older than the TTL.
    /// A corrupt entry is logged and removed (it is only a copy; the next fetch rewrites it).
    pub(crate) fn load(
        &self,
        e: Emotion,
        s: Strategy,
        tag: &str,
        fresh_only: bool,
    ) -> Option<(Recommendation, Duration)> {
        let path = self.path(e, s, tag);
        let bytes = std::fs::read(&path).ok()?;
        let (rec, age) = match parse_entry(&bytes, now()) {
            Ok(d) => d,
            Err(err) => {
                tracing::warn!(
                    "music cache entry {} is corrupt ({err}); removed, the list is fetched again",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        (!fresh_only || age <= self.ttl).then_some((rec, age))
    }
}
