//! The mood diary through the real binary: durability under SIGKILL, faults of the data
//! folder (read-only, full), and `history forget --all` checked with the sqlite3 CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

/// An Xvfb display of our own, so the app itself (not a wrapper script) can be killed.
struct Display {
    child: Child,
    name: String,
}

impl Display {
    fn start() -> Option<Display> {
        let xvfb = which("Xvfb")?;
        for n in 0..20 {
            let num = 150 + (std::process::id() % 50) * 20 + n;
            if Path::new(&format!("/tmp/.X11-unix/X{num}")).exists() {
                continue;
            }
            let child = Command::new(&xvfb)
                .arg(format!(":{num}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let mut d = Display {
                child,
                name: format!(":{num}"),
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if Path::new(&format!("/tmp/.X11-unix/X{num}")).exists() {
                    return Some(d);
                }
                if d.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = d.child.kill();
        }
        None
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    emotune::clock::unix_now().as_millis() as i64
}

/// (samples, newest sample's time) in the diary, read while the app may be writing.
fn samples(db: &Path) -> (i64, Option<i64>) {
    let Ok(c) = rusqlite::Connection::open(db) else {
        return (0, None);
    };
    c.query_row("SELECT count(*), max(t) FROM samples", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap_or((0, None))
}

/// A folder of three frames with the astronaut's face.
fn frames(home: &Path) -> PathBuf {
    let dir = home.join("frames");
    std::fs::create_dir_all(&dir).expect("frames dir");
    for i in 0..3 {
        std::fs::copy(astronaut(), dir.join(format!("{i}.png"))).expect("frame");
    }
    dir
}

#[test]
fn a_session_killed_with_sigkill_loses_at_most_two_seconds_and_reopens_cleanly() {
    let Some(display) = Display::start() else {
        eprintln!("SKIPPED: Xvfb not installed (make test installs it)");
        return;
    };
    let home = temp_dir("diary-kill");
    let mut cmd = emotune();
    isolate(&mut cmd, &home)
        .env("DISPLAY", &display.name)
        .arg("--source")
        .arg(frames(&home))
        .args(["--fps", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = cmd.spawn().expect("the app starts");
    let db = home.join("data/emotune/diary.sqlite3");
    let start = Instant::now();
    while samples(&db).0 < 3 {
        if let Ok(Some(status)) = app.try_wait() {
            panic!("the app exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no samples recorded"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(3300));
    let killed = now_ms();
    app.kill().expect("SIGKILL");
    let _ = app.wait();
    let (n, last) = samples(&db);
    let last = last.expect("samples");
    // Samples are stamped with their wall-clock second; the newest one possible at the kill
    // is the second it happened in.
    let lost = killed.div_euclid(1000) * 1000 - last;
    assert!(lost <= 2000, "{lost} ms of samples lost ({n} kept)");
    let c = rusqlite::Connection::open(&db).expect("reopens");
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(ok, "ok");
    drop(c);
    let (out, stdout, stderr) = run(isolate(&mut emotune(), &home).args(["history", "--json"]));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["sessions"][0]["source"], "folder", "{v}");
    assert!(v["sessions"][0]["samples"].as_i64() >= Some(3), "{v}");
}

/// Mounts a tmpfs at `dir` (root only); false where this machine does not allow it.
fn mount_tmpfs(dir: &Path, options: &str) -> bool {
    std::fs::create_dir_all(dir).expect("mount point");
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

/// Runs the window for a few seconds on the astronaut; returns its stderr.
fn run_window(home: &Path) -> Option<String> {
    let xvfb = which("xvfb-run")?;
    let mut cmd = Command::new(xvfb);
    let shot = home.join("shot.png");
    let (out, _, stderr) = run(isolate(&mut cmd, home)
        .env("EMOTUNE_LOG", "warn")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_emotune"))
        .arg("--source")
        .arg(astronaut())
        .arg("--screenshot")
        .arg(&shot)
        .args(["--quit-after", "4"]));
    assert!(out.status.success(), "the app keeps running: {stderr}");
    assert!(shot.is_file(), "{stderr}");
    Some(stderr)
}

#[test]
fn a_read_only_or_full_data_folder_turns_history_off_and_keeps_the_file() {
    let home = temp_dir("diary-faults");
    let data = home.join("data");
    // Read-only: a tmpfs mounted read-only where the data folder is.
    if !mount_tmpfs(&data, "ro,size=1m") {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); see src/diary/tests.rs");
        return;
    }
    let stderr = run_window(&home);
    unmount(&data);
    let Some(stderr) = stderr else {
        eprintln!("SKIPPED: xvfb-run not installed (make test installs it)");
        return;
    };
    assert!(stderr.contains("cannot be written"), "{stderr}");
    assert!(stderr.contains("history is off"), "{stderr}");

    // Full: a 1 MB tmpfs holding an existing diary, the rest taken by another file.
    assert!(mount_tmpfs(&data, "size=1m"), "tmpfs");
    let db = data.join("emotune/diary.sqlite3");
    {
        let h = emotune::diary::DiaryHandle::spawn(db.clone(), 0, std::sync::Arc::new(|| {}));
        h.send(emotune::diary::Entry::Start {
            t: now_ms() - 10_000,
            source: "camera".into(),
            profile: None,
        });
        for s in 0..5 {
            h.send(emotune::diary::Entry::Sample {
                t: now_ms() - 10_000 + s * 1000,
                probs: [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1],
                mood: None,
            });
        }
    }
    let filler = data.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let block = vec![7u8; 4096];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    drop(f);
    let stderr = run_window(&home).unwrap_or_default();
    let _ = std::fs::remove_file(&filler);
    let (n, _) = samples(&db);
    unmount(&data);
    assert!(stderr.contains("is full"), "{stderr}");
    assert_eq!(n, 5, "the diary keeps what it had");
}

#[test]
fn forget_all_leaves_no_mood_rows_in_the_file() {
    let home = temp_dir("diary-forget");
    let db = home.join("diary.sqlite3");
    {
        let h = emotune::diary::DiaryHandle::spawn(db.clone(), 0, std::sync::Arc::new(|| {}));
        h.send(emotune::diary::Entry::Start {
            t: now_ms() - 60_000,
            source: "camera".into(),
            profile: Some("zebra-unique-name".into()),
        });
        for s in 0..30 {
            h.send(emotune::diary::Entry::Sample {
                t: now_ms() - 60_000 + s * 1000,
                probs: [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1],
                mood: Some(emotune::Emotion::Happy),
            });
        }
    }
    let (out, stdout, stderr) = run(emotune().args(["history", "--json", "--diary"]).arg(&db));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("zebra-unique-name"), "{stdout}");
    let (out, stdout, stderr) = run(emotune()
        .args(["history", "forget", "--all", "--json", "--diary"])
        .arg(&db));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\"samples_deleted\":30"), "{stdout}");
    let Some(sqlite3) = which("sqlite3") else {
        eprintln!("SKIPPED the sqlite3 check: sqlite3 not installed (make test installs it)");
        return;
    };
    let out = Command::new(sqlite3)
        .arg(&db)
        .arg("SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM moods) + (SELECT count(*) FROM hours) + (SELECT count(*) FROM minutes) + (SELECT count(*) FROM sessions);")
        .output()
        .expect("sqlite3 runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    // VACUUM rewrote the file: the deleted rows' text is gone from it and its journal.
    for f in [db.clone(), db.with_extension("sqlite3-wal")] {
        let bytes = std::fs::read(&f).unwrap_or_default();
        let needle = b"zebra-unique-name";
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} still holds deleted text",
            f.display()
        );
    }
}
