//! User settings (TOML in the OS config dir) and the environment (.env via dotenvy).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::PipelineSettings;

/// Loads `.env` from the working directory (or a parent), if present. Values already in the
/// environment win, so a shell export overrides the file. A malformed file gives a warning that
/// names it and the position, never the line itself (it may hold the client secret).
pub fn load_dotenv() -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let path = cwd
        .ancestors()
        .map(|d| d.join(".env"))
        .find(|p| p.is_file())?;
    match dotenvy::from_path(&path) {
        Ok(()) => None,
        Err(dotenvy::Error::LineParse(_, at)) => Some(format!(
            "{}: cannot parse the line at character {at}; write one NAME=value per line \
             (see .env.example). The settings after it were not loaded",
            path.display()
        )),
        Err(e) => Some(format!("{}: {e}", path.display())),
    }
}

/// First non-empty value among `names`.
fn env_first(names: &[&str]) -> Option<String> {
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

/// Spotify's part of the environment (and `.env`), read once in `main` and handed down:
/// nothing under `music/` reads the environment itself. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Default)]
pub struct SpotifyEnv {
    /// `RSPOTIFY_CLIENT_ID` (or `SPOTIPY_CLIENT_ID`): search and sign-in.
    pub client_id: Option<String>,
    /// `RSPOTIFY_CLIENT_SECRET` (or `SPOTIPY_CLIENT_SECRET`): search only.
    pub client_secret: Option<String>,
    /// `RSPOTIFY_REDIRECT_URI` (or `SPOTIPY_REDIRECT_URI`): the sign-in's loopback.
    pub redirect_uri: Option<String>,
    /// `EMOTUNE_SPOTIFY_API_URL` / `EMOTUNE_SPOTIFY_AUTH_URL` replace Spotify's base URLs
    /// (tests, proxies).
    pub api_url: Option<String>,
    pub auth_url: Option<String>,
    /// The sign-in's token file: `spotify-token.json` in the config dir.
    pub token_path: Option<PathBuf>,
}

impl std::fmt::Debug for SpotifyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyEnv")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .field("token_path", &self.token_path)
            .finish()
    }
}

impl SpotifyEnv {
    /// From `RSPOTIFY_*`, falling back to the `SPOTIPY_*` names the Python seeds used.
    pub fn from_env() -> SpotifyEnv {
        SpotifyEnv {
            client_id: env_first(&["RSPOTIFY_CLIENT_ID", "SPOTIPY_CLIENT_ID"]),
            client_secret: env_first(&["RSPOTIFY_CLIENT_SECRET", "SPOTIPY_CLIENT_SECRET"]),
            redirect_uri: env_first(&["RSPOTIFY_REDIRECT_URI", "SPOTIPY_REDIRECT_URI"]),
            api_url: env_first(&["EMOTUNE_SPOTIFY_API_URL"]),
            auth_url: env_first(&["EMOTUNE_SPOTIFY_AUTH_URL"]),
            token_path: config_dir().map(|d| d.join("spotify-token.json")),
        }
    }

    /// The app's credentials for search, when both halves are set.
    pub fn credentials(&self) -> Option<SpotifyCredentials> {
        Some(SpotifyCredentials {
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            redirect_uri: self.redirect_uri.clone(),
        })
    }
}

/// Persisted between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    pub(crate) pipeline: PipelineSettings,
    pub(crate) capture: crate::capture::CaptureSettings,
    /// libtorch intra-op threads for the classifier.
    pub(crate) inference_threads: usize,
    /// When stored lists are renewed from Spotify: "daily" or "weekly:<day>" (local midnight).
    /// Replaces `music_cache_hours`, which is ignored if an older file still has it.
    pub(crate) music_refresh: Refresh,
    /// Own playlists per mood as older versions kept them here; the window moves them into the
    /// active profile (`Profile::own_playlists`) and the file is saved without them.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) own_playlists: std::collections::BTreeMap<String, OwnPlaylist>,
    pub(crate) diary: DiarySettings,
}

/// The mood diary (`crate::diary`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DiarySettings {
    /// Keep a history of sessions, moods and music on this computer.
    pub(crate) enabled: bool,
    /// Days of history kept, applied at start; 0 keeps everything.
    pub(crate) keep_days: u32,
}

impl Default for DiarySettings {
    fn default() -> Self {
        DiarySettings {
            enabled: true,
            keep_days: 0,
        }
    }
}

/// Defined with the profiles, which hold them per person.
pub use crate::profile::OwnPlaylist;

/// Defined with the store of lists, which judges their freshness by it.
pub use crate::diary::Refresh;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pipeline: PipelineSettings::default(),
            capture: crate::capture::CaptureSettings::default(),
            inference_threads: 1,
            music_refresh: Refresh::Daily,
            own_playlists: std::collections::BTreeMap::new(),
            diary: DiarySettings::default(),
        }
    }
}

pub(crate) fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "emotune").map(|d| d.config_dir().to_path_buf())
}

pub(crate) fn cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "emotune").map(|d| d.cache_dir().to_path_buf())
}

impl Settings {
    /// The user's settings, or the defaults (with the reason) when the file is broken.
    pub(crate) fn load_user() -> (Settings, Option<String>) {
        match Self::default_path() {
            Some(p) => Settings::load_or_keep(&p),
            None => (Settings::default(), None),
        }
    }

    /// Like `load`, but a broken file is left as it is, copied to `<name>.bak`, and the defaults
    /// are used in memory; the warning says so (the file is only replaced if the user then
    /// changes a setting, and the copy stays).
    pub(crate) fn load_or_keep(path: &Path) -> (Settings, Option<String>) {
        let e = match Settings::load(path) {
            Ok(s) => return (s, None),
            Err(e) => e,
        };
        let mut bak = path.as_os_str().to_owned();
        bak.push(".bak");
        let bak = PathBuf::from(bak);
        let kept = match std::fs::copy(path, &bak) {
            Ok(_) => format!("your file is kept, with a copy in {}", bak.display()),
            Err(c) => format!("your file is kept (no copy: {c})"),
        };
        let msg = format!(
            "{e}; using the default settings for now ({kept}). Fix the file and restart, or \
             change a setting here to replace it"
        );
        (Settings::default(), Some(msg))
    }

    pub(crate) fn default_path() -> Option<PathBuf> {
        config_dir().map(|d| d.join("settings.toml"))
    }

    /// Settings from the text of a `settings.toml`; keys left out keep their defaults.
    pub(crate) fn parse(text: &str) -> std::result::Result<Settings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The text `save` writes (and `parse` reads back).
    pub(crate) fn to_text(&self) -> std::result::Result<String, String> {
        toml::to_string_pretty(self).map_err(|e| format!("cannot serialise settings: {e}"))
    }

    /// Reads settings; a missing file gives the defaults, a broken one an error naming it.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text)
                .map_err(|e| Error::Invalid(format!("{}: invalid settings: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes atomically (temp file + rename) so a crash never leaves a half-written file.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let text = self.to_text().map_err(Error::Invalid)?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        s.pipeline.mood.hold = Duration::from_millis(1500);
        s.save(&path).expect("save");
        assert_eq!(Settings::load(&path).expect("load"), s);
        std::fs::write(&path, "inference_threads = \"fast\"").expect("write");
        let e = Settings::load(&path).expect_err("invalid").to_string();
        assert!(e.contains("settings.toml"), "{e}");
    }

    #[test]
    fn own_playlists_of_an_older_file_are_read_and_not_written_once_moved() {
        let s = Settings::parse("[own_playlists.\"sad/uplift\"]\nid = \"p1\"\nname = \"Lift\"\n")
            .expect("an older file loads");
        assert_eq!(s.own_playlists["sad/uplift"].id, "p1");
        let mut moved = s.clone();
        moved.own_playlists.clear();
        let text = moved.to_text().expect("text");
        assert!(!text.contains("own_playlists"), "{text}");
    }

    #[test]
    fn the_music_refresh_schedule_is_read_leniently_and_an_old_cache_ttl_ignored() {
        let s = Settings::parse("music_cache_hours = 6.0\nmusic_refresh = \"Weekly: Sun\"\n")
            .expect("valid");
        assert_eq!(s.music_refresh, Refresh::Weekly(chrono::Weekday::Sun));
        let text = s.to_text().expect("text");
        assert!(text.contains("music_refresh = \"weekly:sunday\""), "{text}");
        assert!(!text.contains("music_cache_hours"), "{text}");
        let old = Settings::parse("music_cache_hours = 6.0\n").expect("an old file loads");
        assert_eq!(old.music_refresh, Refresh::Daily);
        let e = Settings::parse("music_refresh = \"fortnightly\"\n").expect_err("invalid");
        assert!(
            e.contains("music_refresh") && e.contains("fortnightly") && e.contains("weekly:"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_settings_file_is_kept_and_backed_up() {
        let dir = std::env::temp_dir().join(format!("emotune-cfg-bak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("settings.toml");
        let broken = "inference_threads = [oops";
        std::fs::write(&path, broken).expect("write");
        let (s, warning) = Settings::load_or_keep(&path);
        assert_eq!(s, Settings::default());
        let warning = warning.expect("a warning");
        assert!(warning.contains("settings.toml.bak"), "{warning}");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), broken);
        assert_eq!(
            std::fs::read_to_string(dir.join("settings.toml.bak")).expect("copy"),
            broken
        );
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
