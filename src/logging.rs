//! Logging to stderr, filtered by `EMOTUNE_LOG` (default `warn`).
//!
//! rspotify logs request headers (the bearer token) at debug and whole requests at info, so its
//! events are capped at `warn` whatever the user asks for: secrets never reach a log.

use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

/// False for events that could carry Spotify credentials.
pub(crate) fn secret_safe(meta: &tracing::Metadata<'_>) -> bool {
    !(meta.target().starts_with("rspotify") && *meta.level() > tracing::Level::WARN)
}

pub fn init() {
    let env = EnvFilter::try_from_env("EMOTUNE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(env)
        .with_filter(filter_fn(secret_safe));
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
