//! Fetched music lists and their track pools, in the diary database (tables `lists` and `pool`).
//!
//! The music thread opens its own `TrackStore`: a SQLite connection belongs to one thread, and
//! WAL lets it and the diary writer commit side by side. The store knows nothing of the music
//! module's types (the module graph points music → diary only): a list is the JSON the music
//! side wrote, and tracks are plain `PoolTrack`s. Times are Unix milliseconds, passed in, so
//! tests set the clock.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{OptionalExtension, params};

use super::{Diary, Result};

/// Tracks kept per list; the oldest go first past this, so years of refreshes stay small.
const MAX_POOL: i64 = 2_000;

/// A track as the pool keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PoolTrack {
    pub uri: String,
    pub title: String,
    pub artists: Vec<String>,
    pub duration_ms: Option<u64>,
    pub url: String,
    pub album_art: Option<String>,
}

/// A pooled track, when it first came, and whether it was ever opened or played.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pooled {
    pub track: PoolTrack,
    pub first_seen: i64,
    pub heard: bool,
}

/// A stored list: the JSON the music side saved, when it was fetched, and the whole pool with
/// the tracks never heard first (newest first within each).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredList {
    pub recommendation: String,
    pub fetched: i64,
    pub pool: Vec<Pooled>,
}

/// The music lists' end of the diary database.
pub(crate) struct TrackStore {
    db: Diary,
}

/// How `put` treats a list already stored under the key.
#[derive(Clone, Copy, PartialEq)]
enum Replace {
    Always,
    /// Only by a newer one (importing old files must not undo a fetch).
    IfNewer,
}

impl TrackStore {
    /// Opens (creating and migrating) the database as `Diary::open` does, with its faults.
    pub fn open(path: &Path) -> Result<TrackStore> {
        Ok(TrackStore {
            db: Diary::open(path)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Saves a list fetched at `fetched`: its JSON replaces the key's, its tracks join the pool.
    /// Tracks already there keep their `first_seen`; their details are brought up to date.
    pub fn put(
        &mut self,
        key: &str,
        recommendation: &str,
        tracks: &[PoolTrack],
        fetched: i64,
    ) -> Result<()> {
        self.write(key, recommendation, tracks, fetched, Replace::Always)
    }

    /// Like `put`, but a list already stored for the key wins if it is as new or newer.
    pub fn import(
        &mut self,
        key: &str,
        recommendation: &str,
        tracks: &[PoolTrack],
        fetched: i64,
    ) -> Result<()> {
        self.write(key, recommendation, tracks, fetched, Replace::IfNewer)
    }

    fn write(
        &mut self,
        key: &str,
        recommendation: &str,
        tracks: &[PoolTrack],
        fetched: i64,
        replace: Replace,
    ) -> Result<()> {
        let path = self.db.path().to_path_buf();
        let err = |e: rusqlite::Error| super::DiaryError::from_sqlite(&path, &e);
        let tx = self.db.conn.transaction().map_err(err)?;
        let only_newer = match replace {
            Replace::Always => "",
            Replace::IfNewer => "WHERE excluded.fetched > lists.fetched",
        };
        tx.execute(
            &format!(
                "INSERT INTO lists (key, fetched, recommendation) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET fetched = excluded.fetched,
                    recommendation = excluded.recommendation {only_newer}"
            ),
            params![key, fetched, recommendation],
        )
        .map_err(err)?;
        add_to_pool(&tx, key, tracks, fetched).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The list stored for `key`, whatever its age (the caller judges freshness).
    pub fn get(&self, key: &str) -> Result<Option<StoredList>> {
        let list = self
            .db
            .conn
            .query_row(
                "SELECT recommendation, fetched FROM lists WHERE key = ?1",
                [key],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        let Some((recommendation, fetched)) = list else {
            return Ok(None);
        };
        let pool = self.pool(key).map_err(|e| self.db.err(e))?;
        Ok(Some(StoredList {
            recommendation,
            fetched,
            pool,
        }))
    }

    fn pool(&self, key: &str) -> rusqlite::Result<Vec<Pooled>> {
        let mut stmt = self.db.conn.prepare_cached(
            "SELECT uri, title, artists, duration_ms, url, album_art, first_seen,
                    EXISTS (SELECT 1 FROM plays WHERE plays.uri = pool.uri
                            AND plays.action IN ('open', 'play')) AS heard
             FROM pool WHERE key = ?1 ORDER BY heard, first_seen DESC, uri",
        )?;
        let rows = stmt.query_map([key], |r| {
            let artists: String = r.get(2)?;
            Ok(Pooled {
                track: PoolTrack {
                    uri: r.get(0)?,
                    title: r.get(1)?,
                    // Written by `put` as a JSON array; anything else is shown as it is.
                    artists: serde_json::from_str(&artists).unwrap_or_else(|_| vec![artists]),
                    duration_ms: r
                        .get::<_, Option<i64>>(3)?
                        .and_then(|d| u64::try_from(d).ok()),
                    url: r.get(4)?,
                    album_art: r.get(5)?,
                },
                first_seen: r.get(6)?,
                heard: r.get(7)?,
            })
        })?;
        rows.collect()
    }

    /// Which of `uris` were ever opened or played.
    pub(crate) fn heard<'a>(
        &self,
        uris: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashSet<String>> {
        let mut stmt = self
            .db
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM plays WHERE uri = ?1 AND action IN ('open', 'play'))",
            )
            .map_err(|e| self.db.err(e))?;
        let mut heard = HashSet::new();
        for uri in uris {
            let yes: bool = stmt
                .query_row([uri], |r| r.get(0))
                .map_err(|e| self.db.err(e))?;
            if yes {
                heard.insert(uri.to_string());
            }
        }
        Ok(heard)
    }
}

/// Adds `tracks` to the key's pool, then trims it to `MAX_POOL`, oldest first.
fn add_to_pool(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    tracks: &[PoolTrack],
    seen: i64,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO pool (key, uri, title, artists, duration_ms, url, album_art, first_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(key, uri) DO UPDATE SET title = excluded.title,
            artists = excluded.artists, duration_ms = excluded.duration_ms, url = excluded.url,
            album_art = coalesce(excluded.album_art, pool.album_art),
            first_seen = min(pool.first_seen, excluded.first_seen)",
    )?;
    for t in tracks {
        let artists = serde_json::to_string(&t.artists).unwrap_or_else(|_| "[]".into());
        let duration = t.duration_ms.and_then(|d| i64::try_from(d).ok());
        stmt.execute(params![
            key,
            t.uri,
            t.title,
            artists,
            duration,
            t.url,
            t.album_art,
            seen
        ])?;
    }
    tx.execute(
        "DELETE FROM pool WHERE key = ?1 AND uri NOT IN
            (SELECT uri FROM pool WHERE key = ?1 ORDER BY first_seen DESC, uri LIMIT ?2)",
        params![key, MAX_POOL],
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
