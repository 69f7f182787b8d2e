//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn astronaut() -> PathBuf {
    repo().join("tests/fixtures/astronaut.png")
}

pub fn model() -> PathBuf {
    repo().join("models/emotion_resnet18_cbam.pt")
}

pub fn emotune() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emotune"));
    c.env_remove("EMOTUNE_MODEL").env("EMOTUNE_LOG", "warn");
    c
}

pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("emotune runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "emotune panicked:\n{stderr}");
    (out, stdout, stderr)
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emotune-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// FER-2013 for tests: FER2013_DIR, else ../shared/datasets/fer2013.tar.gz unpacked into the
/// cache (once). None when neither exists; callers skip and say so.
pub fn fer2013() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FER2013_DIR") {
        return Some(PathBuf::from(d));
    }
    let cache = directories::BaseDirs::new()?
        .cache_dir()
        .join("emotune/datasets");
    let unpacked = cache.join("fer2013");
    if unpacked.join("test").is_dir() {
        return Some(unpacked);
    }
    let tarball = repo().join("../shared/datasets/fer2013.tar.gz");
    if !tarball.is_file() {
        return None;
    }
    std::fs::create_dir_all(&cache).ok()?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&cache)
        .status()
        .ok()?;
    (status.success() && unpacked.join("test").is_dir()).then_some(unpacked)
}

/// Runs `cmd` as a fresh user: its own home, config and cache under `home`, no Spotify
/// credentials from the environment, and `home` as the working directory (so no `.env`).
pub fn isolate<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    for v in [
        "RSPOTIFY_CLIENT_ID",
        "RSPOTIFY_CLIENT_SECRET",
        "SPOTIPY_CLIENT_ID",
        "SPOTIPY_CLIENT_SECRET",
    ] {
        cmd.env_remove(v);
    }
    cmd
}
