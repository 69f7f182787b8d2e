//! Logging to stderr, filtered by `EMOTUNE_LOG` (default `warn`), and for the app started from a
//! launcher (no terminal to read stderr) also to `~/.local/state/emotune/emotune.log`, rotated
//! once it passes 1 MiB.
//!
//! rspotify logs request headers (the bearer token) at debug and whole requests at info, so its
//! events are capped at `warn` whatever the user asks for: secrets never reach a log.

use std::path::{Path, PathBuf};

use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

/// A log past this size is moved to `emotune.log.1` at the next start.
const ROTATE_AT: u64 = 1 << 20;

/// False for events that could carry Spotify credentials.
pub(crate) fn secret_safe(meta: &tracing::Metadata<'_>) -> bool {
    !(meta.target().starts_with("rspotify") && *meta.level() > tracing::Level::WARN)
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("EMOTUNE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"))
}

/// Where the app's log file goes: the XDG state dir (`~/.local/state/emotune`).
pub(crate) fn log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "emotune")?;
    dirs.state_dir()
        .map(Path::to_path_buf)
        .or_else(|| Some(dirs.data_local_dir().to_path_buf()))
}

/// Opens `dir/emotune.log` for appending, moving a log over `ROTATE_AT` to `emotune.log.1`.
pub(crate) fn open_log(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("emotune.log");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROTATE_AT) {
        std::fs::rename(&path, dir.join("emotune.log.1"))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `to_file`: also write the log into `log_dir()` (the app without a terminal). Returns a
/// warning when the file cannot be opened (the app then logs to stderr only).
pub fn init(to_file: bool) -> Option<String> {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter())
        .with_filter(filter_fn(secret_safe));
    let (file, warning) = match (to_file, log_dir()) {
        (false, _) => (None, None),
        (true, None) => (None, Some("no state folder for the log file".to_string())),
        (true, Some(dir)) => match open_log(&dir) {
            Ok(f) => (Some(f), None),
            Err(e) => (
                None,
                Some(format!("cannot open the log in {}: {e}", dir.display())),
            ),
        },
    };
    let file = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .with_filter(
                EnvFilter::try_from_env("EMOTUNE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
            )
            .with_filter(filter_fn(secret_safe))
    });
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_rotated_past_its_limit() {
        let dir = std::env::temp_dir().join(format!("emotune-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        drop(open_log(&dir).expect("open"));
        std::fs::write(dir.join("emotune.log"), vec![b'x'; ROTATE_AT as usize + 1]).expect("fill");
        drop(open_log(&dir).expect("reopen"));
        assert_eq!(
            std::fs::metadata(dir.join("emotune.log"))
                .expect("new")
                .len(),
            0
        );
        assert!(dir.join("emotune.log.1").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
