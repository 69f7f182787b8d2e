//! `make install` into a temporary HOME from a build whose libtorch cache is then deleted: the
//! installed binary loads its own copies of the libraries (rpath `$ORIGIN/../lib/emotune`) and
//! the installed model, the entry validates, its Exec line opens the window under Xvfb
//! (screenshot), and `make uninstall` leaves the HOME as it found it.

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

fn script(home: &Path, mode: &str, bin: &Path) -> std::process::Output {
    Command::new(repo().join("scripts/install.sh"))
        .arg(mode)
        .env("HOME", home)
        .env_remove("PREFIX")
        .env_remove("DESTDIR")
        .env("EMOTUNE_BIN", bin)
        .output()
        .expect("install.sh")
}

/// The libraries `bin` loads from outside the system's folders, as ldd resolves them.
fn private_libs(bin: &Path) -> Vec<PathBuf> {
    let o = Command::new("ldd").arg(bin).output().expect("ldd");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success() && !out.contains("not found"), "{out}");
    out.lines()
        .filter_map(|l| l.split_once(" => ")?.1.split(" (").next())
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| {
            p.is_absolute()
                && !["/lib", "/lib64", "/usr/lib", "/usr/lib64"]
                    .iter()
                    .any(|d| p.parent().is_some_and(|parent| parent.starts_with(d)))
        })
        .collect()
}

fn patchelf(args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new("patchelf")
        .args(args)
        .output()
        .expect("patchelf (apt install patchelf; scripts/bootstrap.sh does)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A build as `make run` leaves it on a fresh machine, but in `dir`: libtorch in a cache of its
/// own (the test binary's libraries, hard-linked or copied) and a copy of the binary whose rpath
/// points there, so that deleting `dir` deletes the only libtorch that copy was built against.
fn build_with_own_cache(dir: &Path) -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_emotune"));
    let cache = dir.join("cache/emotune/libtorch/lib");
    std::fs::create_dir_all(&cache).expect("cache dir");
    let libs = private_libs(exe);
    assert!(
        libs.iter().any(|l| l.ends_with("libtorch_cpu.so")),
        "{libs:?}"
    );
    for lib in libs {
        let to = cache.join(lib.file_name().expect("file name"));
        if std::fs::hard_link(&lib, &to).is_err() {
            std::fs::copy(&lib, &to).expect("copy library");
        }
    }
    let bin = dir.join("build/emotune");
    std::fs::create_dir_all(bin.parent().expect("parent")).expect("build dir");
    std::fs::copy(exe, &bin).expect("copy binary");
    patchelf(&["--set-rpath".as_ref(), cache.as_os_str(), bin.as_os_str()]);
    bin
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
    let build = temp_dir("install-build");
    let bin = build_with_own_cache(&build);
    let before = tree(&home);
    let out = script(&home, "install", &bin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `rm -rf ~/.cache/emotune`: the installed app must not need the build's libtorch.
    std::fs::remove_dir_all(&build).expect("rm build cache");
    let local = home.join(".local");
    for f in [
        "bin/emotune",
        "lib/emotune/libtorch_cpu.so",
        "lib/emotune/libc10.so",
        "share/emotune/models/emotion_resnet18_cbam.pt",
        "share/applications/emotune.desktop",
        "share/icons/hicolor/48x48/apps/emotune.png",
        "share/icons/hicolor/256x256/apps/emotune.png",
        "share/emotune/installed.txt",
    ] {
        assert!(local.join(f).is_file(), "{f} not installed");
    }
    // The model's companions (`<model>.neutral.json`) go with it.
    for e in std::fs::read_dir(repo().join("models"))
        .expect("models/")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("emotion_resnet18_cbam.") {
            let to = local.join("share/emotune/models").join(&name);
            assert!(to.is_file(), "{name} not installed");
        }
    }
    let exec = checked_entry(&local.join("share/applications/emotune.desktop"));
    assert_eq!(Path::new(&exec), local.join("bin/emotune"));
    let installed = local.join("bin/emotune");
    assert_eq!(
        patchelf(&["--print-rpath".as_ref(), installed.as_os_str()]),
        "$ORIGIN/../lib/emotune"
    );
    // ldd writes them as found, through bin/../lib/emotune.
    let own = local.join("lib/emotune").canonicalize().expect("lib dir");
    let libs = private_libs(&installed);
    assert!(
        !libs.is_empty()
            && libs
                .iter()
                .all(|l| l.canonicalize().is_ok_and(|l| l.starts_with(&own))),
        "{libs:?}"
    );

    // The copy outside the source tree finds its libtorch (rpath) and the installed model.
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

    let out = script(&home, "uninstall", &bin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What running the app wrote (config, cache, state, and its data: the mood diary) is the
    // user's; the rest must be gone.
    let left: BTreeSet<PathBuf> = tree(&home)
        .into_iter()
        .filter(|p| {
            !["config", "cache", "state", "data"]
                .iter()
                .any(|d| p.starts_with(d))
        })
        .collect();
    assert_eq!(left, before, "uninstall left files behind");
    let _ = std::fs::remove_dir_all(&home);
}
