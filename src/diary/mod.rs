//! The mood diary: an embedded SQLite database (rusqlite, bundled) in the OS data dir.
//!
//! It holds numbers only: sessions, the main face's smoothed probabilities once a second, mood
//! changes, the music shown and played, and corrections. Never frames or face images. Writes
//! come from one writer thread (`writer`); the history's questions are answered by `query`.
//! The music thread keeps its fetched lists here too (`store`, on its own connection).

mod export;
mod forget;
mod query;
mod recorder;
mod schedule;
mod schema;
mod store;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use crate::emotion::Emotion;

pub use export::ExportFormat;
pub use forget::Forget;
pub use query::{
    DaySeconds, Helped, HourRow, MoodSeconds, SessionRow, Summary, TimelinePoint, TrackRose,
};
pub use recorder::Recorder;
pub use schedule::Refresh;
pub(crate) use store::{PoolTrack, TrackStore};
#[cfg(test)]
pub(crate) use writer::Writer;
pub use writer::{DiaryEvent, DiaryHandle, Entry, Play, Shown};

/// How long a write waits for another connection's lock before it counts as locked.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Why the diary is off. Each names the file and what to do; the app keeps running without
/// history, and the file is never overwritten.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiaryError {
    #[error(
        "the diary {} cannot be written ({message}); history is off. Make its folder \
         writable, or turn history off in the settings", path.display()
    )]
    ReadOnly { path: PathBuf, message: String },
    #[error(
        "{} is not an emotune diary (not an SQLite database); history is off and the file is \
         left as it is. Move it away to start a new diary", path.display()
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "the diary {} comes from a newer emotune (schema {found}, this one knows up to \
         {known}); history is off and the file is left as it is. Update emotune", path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the diary {} is locked by another program (a second emotune?); history is off here. \
         Close the other one and start again", path.display()
    )]
    Locked { path: PathBuf },
    #[error(
        "the disk holding the diary {} is full; history is off. Free some space and start \
         again", path.display()
    )]
    Full { path: PathBuf },
    #[error("diary {}: {message}", path.display())]
    Other { path: PathBuf, message: String },
    #[error(
        "the history writer stopped on an internal error ({message}); history is off until \
         emotune starts again, and what was saved stays in {}", path.display()
    )]
    Crashed { path: PathBuf, message: String },
}

impl DiaryError {
    /// Sorts an SQLite error on `path` into the cases a user can act on.
    pub(crate) fn from_sqlite(path: &Path, e: &rusqlite::Error) -> DiaryError {
        let path = path.to_path_buf();
        let message = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => DiaryError::NotADatabase { path },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                DiaryError::Locked { path }
            }
            Some(ErrorCode::DiskFull) => DiaryError::Full { path },
            // A write that failed for want of space can surface as a plain I/O error (the
            // shared-memory or WAL file); the folder's free space tells which.
            Some(ErrorCode::SystemIoFailure) if nearly_full(&path) => DiaryError::Full { path },
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                DiaryError::ReadOnly { path, message }
            }
            _ => DiaryError::Other { path, message },
        }
    }

    fn from_io(path: &Path, e: &std::io::Error) -> DiaryError {
        let path = path.to_path_buf();
        let message = e.to_string();
        match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                DiaryError::ReadOnly { path, message }
            }
            std::io::ErrorKind::StorageFull => DiaryError::Full { path },
            _ => DiaryError::Other { path, message },
        }
    }

    /// A lock held by someone else: worth trying again later rather than giving up.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, DiaryError::Locked { .. })
    }
}

pub type Result<T> = std::result::Result<T, DiaryError>;

/// Less than 256 KiB free where the diary lives.
fn nearly_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs writes only into the struct it is given; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    (st.f_bavail as u64).saturating_mul(st.f_frsize as u64) < 256 * 1024
}

/// Valence of a face, as the history uses it: happy and surprise count positive; angry,
/// disgust, fear and sad negative; neutral zero. In [-1, 1].
pub(crate) fn valence(p: &[f32; Emotion::COUNT]) -> f32 {
    use Emotion::*;
    let i = |e: Emotion| p[e.index()];
    i(Happy) + i(Surprise) - i(Angry) - i(Disgust) - i(Fear) - i(Sad)
}

/// An open diary. One per thread: the writer owns one, the command line another.
pub struct Diary {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Diary {
    /// `diary.sqlite3` in the OS data dir (`~/.local/share/emotune/` on Linux).
    pub(crate) fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "emotune")
            .map(|d| d.data_dir().join("diary.sqlite3"))
    }

    /// Opens the diary at `path`, creating it (and its folder) if needed, and brings its schema
    /// up to date. A file that is not SQLite, or is from a newer version, is refused before
    /// anything is written to it.
    pub fn open(path: &Path) -> Result<Diary> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DiaryError::from_io(dir, &e))?;
        }
        // The writer and the music thread open the file together at start. SQLite answers
        // "busy" at once, without waiting, where waiting could deadlock (e.g. two connections
        // switching a new file to WAL); such a quick "busy" is tried again. One that comes
        // after the whole busy timeout is a lock really held elsewhere.
        let mut tries = 0;
        loop {
            let started = std::time::Instant::now();
            match Self::open_once(path) {
                Err(e) if e.is_busy() && started.elapsed() < BUSY_TIMEOUT / 2 && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                r => return r,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Diary> {
        let sql = |e: rusqlite::Error| DiaryError::from_sqlite(path, &e);
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let mut diary = Diary {
            conn,
            path: path.to_path_buf(),
        };
        schema::prepare(&mut diary)?;
        Ok(diary)
    }

    /// An empty diary in memory: what a summary says before anything was recorded.
    pub(crate) fn in_memory() -> Result<Diary> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| DiaryError::from_sqlite(&path, &e))?;
        let mut diary = Diary { conn, path };
        schema::prepare(&mut diary)?;
        Ok(diary)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> DiaryError {
        DiaryError::from_sqlite(&self.path, &e)
    }
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    crate::clock::unix_now().as_millis() as i64
}

/// The local calendar day (YYYY-MM-DD) and hour of a Unix time in milliseconds.
pub(crate) fn local_day_hour(t_ms: i64) -> (String, u32) {
    use chrono::{Local, TimeZone, Timelike};
    match Local.timestamp_millis_opt(t_ms).earliest() {
        Some(t) => (t.format("%Y-%m-%d").to_string(), t.hour()),
        None => ("1970-01-01".into(), 0),
    }
}

/// A Unix time in milliseconds as local time, formatted with chrono's `format` (e.g.
/// `"%Y-%m-%d %H:%M"`); empty if the time cannot be shown.
pub(crate) fn local_time(t_ms: i64, format: &str) -> String {
    use chrono::{Local, TimeZone};
    Local
        .timestamp_millis_opt(t_ms)
        .earliest()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// Unix milliseconds of local midnight starting `day` (YYYY-MM-DD).
pub(crate) fn local_midnight_ms(day: &str) -> Option<i64> {
    use chrono::{Local, NaiveDate, TimeZone};
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let midnight = date.and_hms_opt(0, 0, 0)?;
    Local
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The local date `days` days before today.
pub(crate) fn local_day_before(days: u32) -> String {
    let then = chrono::Local::now() - chrono::Duration::days(i64::from(days));
    then.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests;
