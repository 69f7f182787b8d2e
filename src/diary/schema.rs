//! The diary's tables and their migrations, versioned with SQLite's `user_version`.

use super::{Diary, DiaryError, Result};

/// One script per version; `MIGRATIONS[i]` takes a diary from version i to i + 1.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, samples, mood changes, music and corrections, and the hourly totals the
    // history view reads (so a 90-day view never scans millions of samples).
    "CREATE TABLE sessions (
        id       INTEGER PRIMARY KEY,
        started  INTEGER NOT NULL,           -- Unix ms
        ended    INTEGER NOT NULL,           -- Unix ms of the last write
        source   TEXT NOT NULL,              -- camera, image or folder
        profile  TEXT,
        samples  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_started ON sessions(started);
    -- The main face once a second: smoothed probabilities in per mille, and the stable mood
    -- (emotion index; NULL while none has settled).
    CREATE TABLE samples (
        session  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        t        INTEGER NOT NULL,
        angry INTEGER NOT NULL, disgust INTEGER NOT NULL, fear INTEGER NOT NULL,
        happy INTEGER NOT NULL, neutral INTEGER NOT NULL, sad INTEGER NOT NULL,
        surprise INTEGER NOT NULL,
        mood     INTEGER,
        PRIMARY KEY (session, t)
    ) WITHOUT ROWID;
    CREATE TABLE moods (
        session  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        t        INTEGER NOT NULL,
        mood     INTEGER NOT NULL,
        PRIMARY KEY (session, t)
    ) WITHOUT ROWID;
    -- Seconds per local day, hour and mood (the stable mood, else the leading one), with the
    -- valence summed over them.
    CREATE TABLE hours (
        day      TEXT NOT NULL,
        hour     INTEGER NOT NULL,
        mood     INTEGER NOT NULL,
        seconds  INTEGER NOT NULL,
        valence  REAL NOT NULL,
        PRIMARY KEY (day, hour, mood)
    ) WITHOUT ROWID;
    -- Per session and minute (Unix ms / 60000): seconds with a face and their valence sum, so
    -- what helped compares minutes instead of scanning samples.
    CREATE TABLE minutes (
        session  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        minute   INTEGER NOT NULL,
        seconds  INTEGER NOT NULL,
        valence  REAL NOT NULL,
        PRIMARY KEY (session, minute)
    ) WITHOUT ROWID;
    CREATE TABLE recommendations (
        id       INTEGER PRIMARY KEY,
        session  INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
        t        INTEGER NOT NULL,
        emotion  TEXT NOT NULL,
        strategy TEXT NOT NULL,
        source   TEXT NOT NULL,
        playlist TEXT NOT NULL,
        url      TEXT NOT NULL,
        tracks   TEXT NOT NULL               -- JSON: [{title, artists, uri}]
    );
    CREATE INDEX recommendations_t ON recommendations(t);
    CREATE TABLE plays (
        id       INTEGER PRIMARY KEY,
        session  INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
        t        INTEGER NOT NULL,
        action   TEXT NOT NULL,              -- open, play or save
        title    TEXT NOT NULL,
        artists  TEXT NOT NULL,
        uri      TEXT NOT NULL
    );
    CREATE INDEX plays_t ON plays(t);
    CREATE TABLE corrections (
        id       INTEGER PRIMARY KEY,
        session  INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
        t        INTEGER NOT NULL,
        said     TEXT NOT NULL,
        meant    TEXT NOT NULL
    );",
    // 2: the music cache moves in. Per emotion, strategy and taste (`key`) the latest fetched
    // list, and the pool of every track fetched for it, so a refresh adds to what was there and
    // tracks never opened can be served first (looked up in `plays` by uri).
    "CREATE TABLE lists (
        key      TEXT PRIMARY KEY,           -- e.g. sad-uplift-hindi
        fetched  INTEGER NOT NULL,           -- Unix ms
        recommendation TEXT NOT NULL         -- JSON from the music side; its tracks are in pool
    );
    CREATE TABLE pool (
        key      TEXT NOT NULL,
        uri      TEXT NOT NULL,
        title    TEXT NOT NULL,
        artists  TEXT NOT NULL,              -- JSON: [name]
        duration_ms INTEGER,
        url      TEXT NOT NULL,
        album_art TEXT,
        first_seen INTEGER NOT NULL,         -- Unix ms
        PRIMARY KEY (key, uri)
    ) WITHOUT ROWID;
    CREATE INDEX plays_uri ON plays(uri);",
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Checks the file is a diary this build can use, then sets WAL and runs what migrations are
/// missing, each in its own transaction.
pub(super) fn prepare(d: &mut Diary) -> Result<()> {
    // A read first: a file that is not SQLite, or a newer diary, is refused untouched.
    let version: i64 = d
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| d.err(e))?;
    if version > LATEST {
        return Err(DiaryError::Newer {
            path: d.path().to_path_buf(),
            found: version,
            known: LATEST,
        });
    }
    let mode: String = d
        .conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| d.err(e))?;
    if !mode.eq_ignore_ascii_case("wal") && mode != "memory" {
        tracing::warn!("diary {}: journal mode {mode}, not WAL", d.path().display());
    }
    // Safe against a killed process in WAL mode; only a power cut can lose the last commits.
    d.conn
        .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(|e| d.err(e))?;
    for (i, script) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        migrate(&mut d.conn, i, script).map_err(|e| DiaryError::from_sqlite(&d.path, &e))?;
    }
    Ok(())
}

/// Runs migration `i` unless another connection did meanwhile: the diary writer and the music
/// store open the same file at start, so the version is read again under the write lock.
fn migrate(conn: &mut rusqlite::Connection, i: usize, script: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if now > i as i64 {
        return Ok(());
    }
    tx.execute_batch(script)?;
    tx.pragma_update(None, "user_version", i as i64 + 1)?;
    tx.commit()
}
