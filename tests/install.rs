//! `make install` into a temporary HOME: the entry validates, its Exec line opens the window
//! under Xvfb (screenshot), the installed binary finds libtorch and the installed model, and
//! `make uninstall` leaves the HOME as it found it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out
}

fn script(home: &Path, mode: &str) -> std::process::Output {
    Command::new(repo().join("scripts/install.sh"))
        .arg(mode)
        .env("HOME", home)
        .env_remove("PREFIX")
        .env("EMOTUNE_BIN", env!("CARGO_BIN_EXE_emotune"))
        .output()
        .expect("install.sh")
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the entry's Exec line under Xvfb with `extra` arguments, as a launcher would (no
/// terminal: the log goes to the state dir).
fn launch(home: &Path, exec: &str, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new("xvfb-run");
    c.args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(exec)
        .args(extra);
    isolate(&mut c, home)
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .expect("xvfb-run")
}

/// Validates the installed entry (when desktop-file-validate exists); returns its Exec line.
fn checked_entry(entry_path: &Path) -> String {
    let entry = std::fs::read_to_string(entry_path).expect("entry");
    if which("desktop-file-validate") {
        let v = Command::new("desktop-file-validate")
            .arg(entry_path)
            .output()
            .expect("validate");
        let said =
            String::from_utf8_lossy(&v.stdout).into_owned() + &String::from_utf8_lossy(&v.stderr);
        assert!(v.status.success() && said.trim().is_empty(), "{said}");
    } else {
        eprintln!(
            "desktop-file-validate missing: entry not validated (apt install desktop-file-utils)"
        );
    }
    assert!(entry.contains("StartupWMClass=emotune") && entry.contains("Icon=emotune"));
    entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("Exec line")
        .to_string()
}

/// Runs the Exec line under Xvfb on `photo`: the window shows it, the log lands in the state dir.
fn launched(home: &Path, exec: &str, photo: &Path) {
    if which("xvfb-run") {
        let shot = home.join("shot.png");
        let shot_arg = shot.to_string_lossy().into_owned();
        let photo_arg = photo.to_string_lossy().into_owned();
        let o = launch(
            home,
            exec,
            &[
                "--source",
                &photo_arg,
                "--screenshot",
                &shot_arg,
                "--quit-after",
                "4",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let img = image::open(&shot).expect("a screenshot").to_rgb8();
        let distinct: BTreeSet<[u8; 3]> = img.pixels().step_by(97).map(|p| p.0).collect();
        assert!(distinct.len() > 20, "the window looks empty");
        if let Ok(dir) = std::env::var("EMOTUNE_INSTALL_SHOT") {
            let _ = std::fs::copy(&shot, dir);
        }
        let log = home.join("state/emotune/emotune.log");
        assert!(
            log.is_file(),
            "launched without a terminal, the app logs to {}",
            log.display()
        );
        std::fs::remove_file(&shot).expect("rm shot");
    } else {
        eprintln!("xvfb-run missing: the Exec line was not launched");
    }
}

#[test]
fn install_launch_and_uninstall_leave_nothing_behind() {
    let home = temp_dir("install");
    let before = tree(&home);
    let out = script(&home, "install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = home.join(".local");
    for f in [
        "bin/emotune",
        "share/emotune/models/emotion_resnet18_cbam.pt",
        "share/applications/emotune.desktop",
        "share/icons/hicolor/48x48/apps/emotune.png",
        "share/icons/hicolor/256x256/apps/emotune.png",
        "share/emotune/installed.txt",
    ] {
        assert!(local.join(f).is_file(), "{f} not installed");
    }
    let exec = checked_entry(&local.join("share/applications/emotune.desktop"));
    assert_eq!(Path::new(&exec), local.join("bin/emotune"));

    // The copy outside the source tree still finds libtorch (rpath) and the installed model.
    let photo = home.join("me.png");
    std::fs::copy(astronaut(), &photo).expect("copy");
    let (o, stdout, stderr) = run(isolate(
        Command::new(&exec).arg("classify").arg(&photo),
        &home,
    ));
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("happy"), "{stdout}");

    launched(&home, &exec, &photo);
    std::fs::remove_file(&photo).expect("rm photo");

    let out = script(&home, "uninstall");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What running the app wrote (config, cache, state) is the user's; the rest must be gone.
    let left: BTreeSet<PathBuf> = tree(&home)
        .into_iter()
        .filter(|p| {
            !["config", "cache", "state"]
                .iter()
                .any(|d| p.starts_with(d))
        })
        .collect();
    assert_eq!(left, before, "uninstall left files behind");
    let _ = std::fs::remove_dir_all(&home);
}
