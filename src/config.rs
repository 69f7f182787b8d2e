//! User settings (TOML in the OS config dir) and the environment (.env via dotenvy).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::PipelineSettings;

/// Loads `.env` from the working directory (or a parent), if present. Values already in the
/// environment win, so a shell export overrides the file.
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

/// First non-empty value among `names`.
pub fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// Spotify app credentials. `Debug` never shows the secret.
#[derive(Clone, PartialEq)]
pub struct SpotifyCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: Option<String>,
}

impl std::fmt::Debug for SpotifyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl SpotifyCredentials {
    /// From `RSPOTIFY_*`, falling back to the `SPOTIPY_*` names the Python seeds used.
    pub fn from_env() -> Option<Self> {
        Some(SpotifyCredentials {
            client_id: env_first(&["RSPOTIFY_CLIENT_ID", "SPOTIPY_CLIENT_ID"])?,
            client_secret: env_first(&["RSPOTIFY_CLIENT_SECRET", "SPOTIPY_CLIENT_SECRET"])?,
            redirect_uri: env_first(&["RSPOTIFY_REDIRECT_URI", "SPOTIPY_REDIRECT_URI"]),
        })
    }
}

/// Persisted between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub pipeline: PipelineSettings,
    pub capture: crate::capture::CaptureSettings,
    /// libtorch intra-op threads for the classifier.
    pub inference_threads: usize,
    /// How long fetched playlists are served from the cache before Spotify is asked again.
    pub music_cache_hours: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pipeline: PipelineSettings::default(),
            capture: crate::capture::CaptureSettings::default(),
            inference_threads: 1,
            music_cache_hours: 24.0,
        }
    }
}

pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "emotune").map(|d| d.config_dir().to_path_buf())
}

pub fn cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "emotune").map(|d| d.cache_dir().to_path_buf())
}

impl Settings {
    /// The music cache's time to live.
    pub fn music_cache_ttl(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.music_cache_hours * 3600.0)
            .unwrap_or(crate::music::cache::DEFAULT_TTL)
    }

    /// The user's settings, or the defaults (with the reason) when the file is broken.
    pub fn load_user() -> (Settings, Option<String>) {
        match Self::default_path().as_deref().map(Settings::load) {
            Some(Ok(s)) => (s, None),
            Some(Err(e)) => (Settings::default(), Some(format!("{e}; using defaults"))),
            None => (Settings::default(), None),
        }
    }

    pub fn default_path() -> Option<PathBuf> {
        config_dir().map(|d| d.join("settings.toml"))
    }

    /// Reads settings; a missing file gives the defaults, a broken one an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: invalid settings: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes atomically (temp file + rename) so a crash never leaves a half-written file.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot serialise settings: {e}")))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_missing_file_gives_defaults() {
        let dir = std::env::temp_dir().join(format!("emotune-cfg-{}", std::process::id()));
        let path = dir.join("settings.toml");
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            Settings::load(&path).expect("defaults"),
            Settings::default()
        );
        let mut s = Settings::default();
        s.capture.replay_fps = 4.0;
        s.pipeline.mood.hold = std::time::Duration::from_millis(1500);
        s.save(&path).expect("save");
        assert_eq!(Settings::load(&path).expect("load"), s);
        std::fs::write(&path, "inference_threads = \"fast\"").expect("write");
        let e = Settings::load(&path).expect_err("invalid").to_string();
        assert!(e.contains("settings.toml"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = SpotifyCredentials {
            client_id: "id123".into(),
            client_secret: "s3cr3t-value".into(),
            redirect_uri: None,
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("id123"));
        assert!(!shown.contains("s3cr3t-value"));
    }
}
