//! emotune: reads the emotion on your face through the webcam and plays matching music.
//!
//! The library holds everything the binary, the tests and the benches share: capture, vision
//! (rustface + tch), the per-frame pipeline, evaluation and the command-line plumbing.

pub mod bench;
pub mod capture;
pub mod cli;
pub mod config;
pub mod diary;
pub(crate) mod emotion;
pub(crate) mod error;
pub mod eval;
#[cfg(test)]
mod fuzz;
pub mod logging;
pub mod music;
pub mod pipeline;
pub(crate) mod platform;
pub(crate) mod plot;
pub(crate) mod profile;
pub(crate) mod service;
#[cfg(feature = "measure")]
pub mod soak;
pub mod ui;
pub mod vision;

pub use emotion::{Emotion, EmotionScores};

/// Wall-clock time helpers shared by the cache, the music shuffle and file names.
pub mod clock {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// Time since the Unix epoch (zero if the clock is set before it).
    pub fn unix_now() -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }

    /// Today's date as YYYY-MM-DD (UTC), without a date library.
    pub fn today() -> String {
        let days = (unix_now().as_secs() / 86_400) as i64;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// What `restart_on_panic` reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Restart {
    /// `body` panicked with this message and is run again.
    Panicked(String),
    /// It panicked this many times within `CRASH_WINDOW`; no more restarts.
    GaveUp(usize),
}

/// Panics within this window count as "in a row".
const CRASH_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);
const MAX_CRASHES: usize = 5;

/// Runs `body` until it returns normally. A panic is caught, handed to `report` and `body` runs
/// again, unless `report` returns false or the panics come too fast (a crash loop).
pub(crate) fn restart_on_panic(mut body: impl FnMut(), mut report: impl FnMut(Restart) -> bool) {
    let mut crashes: Vec<std::time::Instant> = Vec::new();
    loop {
        let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut body)) else {
            return;
        };
        crashes.retain(|t| t.elapsed() < CRASH_WINDOW);
        crashes.push(std::time::Instant::now());
        if crashes.len() >= MAX_CRASHES {
            report(Restart::GaveUp(crashes.len()));
            return;
        }
        if !report(Restart::Panicked(panic_message(p.as_ref()))) {
            return;
        }
    }
}

/// The message of a caught panic (`panic!` with a string or a formatted message).
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
pub use error::{Error, Result};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_reported_and_the_body_restarts_until_a_crash_loop() {
        let mut runs = 0;
        let mut reports = Vec::new();
        restart_on_panic(
            || {
                runs += 1;
                if runs <= 2 {
                    panic!("boom {runs}");
                }
            },
            |r| {
                reports.push(r);
                true
            },
        );
        assert_eq!(runs, 3);
        assert_eq!(
            reports,
            [
                Restart::Panicked("boom 1".into()),
                Restart::Panicked("boom 2".into())
            ]
        );
        let mut reports = Vec::new();
        restart_on_panic(
            || panic!("always"),
            |r| {
                reports.push(r);
                true
            },
        );
        assert_eq!(reports.len(), MAX_CRASHES);
        assert_eq!(reports.last(), Some(&Restart::GaveUp(MAX_CRASHES)));
    }
}
