//! Native file dialogs (rfd: the XDG desktop portal, else zenity), each on a thread of its own
//! so the window keeps drawing. Where no dialog service can answer (no session bus and no
//! zenity: a bare X server, some containers) the window uses its built-in browser instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What a dialog is for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DialogKind {
    OpenImage,
    OpenFolder,
    /// Save the mood timeline; the name and folder suggested.
    ExportCsv(PathBuf),
}

pub(crate) struct Dialogs {
    available: bool,
    open: bool,
    tx: Sender<(DialogKind, Option<PathBuf>)>,
    rx: Receiver<(DialogKind, Option<PathBuf>)>,
    notify: Arc<dyn Fn() + Send + Sync>,
}

/// Whether a portal (through the session bus) or zenity could show a dialog.
pub(crate) fn service_available() -> bool {
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists());
    let zenity = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("zenity").is_file()));
    bus || zenity
}

const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "webp", "gif", "tif", "tiff", "pnm", "ppm", "pgm",
];

fn run(kind: &DialogKind) -> Option<PathBuf> {
    // Opening starts in Pictures (else home); saving starts where the suggestion is.
    let start = match kind {
        DialogKind::ExportCsv(suggested) => suggested.parent().map(Path::to_path_buf),
        DialogKind::OpenImage | DialogKind::OpenFolder => directories::UserDirs::new().map(|u| {
            u.picture_dir()
                .unwrap_or_else(|| u.home_dir())
                .to_path_buf()
        }),
    };
    let mut d = rfd::FileDialog::new();
    if let Some(dir) = start {
        d = d.set_directory(dir);
    }
    match kind {
        DialogKind::OpenImage => d
            .set_title("Open an image")
            .add_filter("Images", IMAGE_EXTENSIONS)
            .pick_file(),
        DialogKind::OpenFolder => d
            .set_title("Open a folder of images (replayed as video)")
            .pick_folder(),
        DialogKind::ExportCsv(suggested) => {
            let mut d = d
                .set_title("Export the mood timeline")
                .add_filter("CSV", &["csv"]);
            if let Some(name) = suggested.file_name() {
                d = d.set_file_name(name.to_string_lossy());
            }
            d.save_file()
        }
    }
}

impl Dialogs {
    pub fn new(available: bool, notify: Arc<dyn Fn() + Send + Sync>) -> Dialogs {
        let (tx, rx) = channel();
        Dialogs {
            available,
            open: false,
            tx,
            rx,
            notify,
        }
    }

    /// Shows the dialog; false when no dialog service can (the caller falls back). One at a
    /// time: asking while one is open does nothing.
    pub fn open(&mut self, kind: DialogKind) -> bool {
        if !self.available {
            return false;
        }
        if self.open {
            return true;
        }
        let (tx, notify) = (self.tx.clone(), self.notify.clone());
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let picked = run(&kind);
                let _ = tx.send((kind, picked));
                notify();
            });
        self.open = spawned.is_ok();
        self.open
    }

    /// The answer of the dialog, once it closed (None inside: cancelled).
    pub fn poll(&mut self) -> Option<(DialogKind, Option<PathBuf>)> {
        let answer = self.rx.try_recv().ok()?;
        self.open = false;
        Some(answer)
    }
}
