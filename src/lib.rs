//! emotune: reads the emotion on your face through the webcam and plays matching music.
//!
//! The library holds everything the binary, the tests and the benches share: capture, vision
//! (rustface + tch), the per-frame pipeline, evaluation and the command-line plumbing.

pub mod bench;
pub mod capture;
pub mod cli;
pub mod config;
pub mod emotion;
pub mod error;
pub mod eval;
pub mod logging;
pub mod music;
pub mod pipeline;
pub mod plot;
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
}

/// The message of a caught panic (`panic!` with a string or a formatted message).
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
pub use error::{Error, Result};
