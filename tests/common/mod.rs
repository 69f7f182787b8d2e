//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// What identifies one copy of the tarball (training/data.py writes the same stamp).
fn tarball_stamp(tarball: &Path) -> Option<String> {
    let meta = std::fs::metadata(tarball).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!("size={} mtime_ns={mtime}\n", meta.len()))
}

/// FER-2013 for tests: FER2013_DIR, else ../shared/datasets/fer2013.tar.gz unpacked into the
/// cache, unpacked again whenever the tarball changes (the first shared copy had a blurred
/// train/ under the same file names). None when neither exists; callers skip and say so.
///
/// Tests in one binary run on parallel threads: the first caller unpacks and the others wait
/// for it, so no thread replaces the folder while another one reads it.
pub fn fer2013() -> Option<PathBuf> {
    static FER2013: OnceLock<Option<PathBuf>> = OnceLock::new();
    FER2013.get_or_init(locate_fer2013).clone()
}

fn locate_fer2013() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("FER2013_DIR") {
        return Some(PathBuf::from(d));
    }
    let cache = directories::BaseDirs::new()?
        .cache_dir()
        .join("emotune/datasets");
    let unpacked = cache.join("fer2013");
    let tarball = repo().join("../shared/datasets/fer2013.tar.gz");
    if !tarball.is_file() {
        return unpacked.join("test").is_dir().then_some(unpacked);
    }
    let want = tarball_stamp(&tarball)?;
    let stamp = unpacked.join(".source");
    if unpacked.join("test").is_dir() && std::fs::read_to_string(&stamp).ok() == Some(want.clone())
    {
        return Some(unpacked);
    }
    let tmp = cache.join(format!(".fer2013-rs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).ok()?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&tmp)
        .status()
        .ok()?;
    let fresh = tmp.join("fer2013");
    if !status.success() || !fresh.join("test").is_dir() {
        let _ = std::fs::remove_dir_all(&tmp);
        return None;
    }
    std::fs::write(fresh.join(".source"), &want).ok()?;
    // Another test binary or training/ may have unpacked the same tarball meanwhile: keep
    // theirs rather than delete a folder someone may be reading.
    if std::fs::read_to_string(&stamp).ok() != Some(want) {
        // Moved aside before it is deleted: a deletion cut short (a killed run) must not leave
        // a half-deleted folder where the next run looks.
        let _ = std::fs::rename(&unpacked, tmp.join("stale"));
        let _ = std::fs::rename(&fresh, &unpacked);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    unpacked.join("test").is_dir().then_some(unpacked)
}

/// Runs `cmd` as a fresh user: its own home, config and cache under `home`, no Spotify
/// credentials from the environment, and `home` as the working directory (so no `.env`).
pub fn isolate<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"));
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
