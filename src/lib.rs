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
pub mod ui;
pub mod vision;

pub use emotion::{Emotion, EmotionScores};
pub use error::{Error, Result};
