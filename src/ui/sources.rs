//! The source chooser: shown when there is no camera (or no source yet).

use std::path::{Path, PathBuf};

use super::command::Command;
use crate::capture::SourceSpec;
use crate::capture::files::{has_image_extension, image_count};

/// Entries shown per folder; a folder with more says how many were left out.
const MAX_ENTRIES: usize = 500;

#[derive(Default)]
pub struct SourceChooser {
    pub path: String,
    browser: Option<Browser>,
}

impl SourceChooser {
    /// `cameras`: names of the cameras found (None while still looking). Returns the source
    /// the user picked, or the dialog asked for, as commands.
    pub fn show(&mut self, ui: &mut egui::Ui, cameras: Option<&[String]>) -> Vec<Command> {
        let mut picked = None;
        let mut cmds = Vec::new();
        match cameras {
            None => {
                ui.heading("Looking for cameras…");
            }
            Some([]) => {
                ui.heading("No camera found");
                ui.label(
                    "Connect a webcam: it is noticed within a few seconds and opens by \
                     itself. Or analyse a photo or a folder of photos instead.",
                );
            }
            Some(_) => {
                ui.heading("Choose a source");
            }
        }
        let cameras = cameras.unwrap_or_default();
        ui.label("Open an image (analysed once) or a folder of images (replayed as video), or drop a photo on the window.");
        ui.horizontal(|ui| {
            if ui.button("Open image…").clicked() {
                cmds.push(Command::OpenImageDialog);
            }
            if ui.button("Open folder…").clicked() {
                cmds.push(Command::OpenFolderDialog);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Image or folder:");
            let edit = ui
                .text_edit_singleline(&mut self.path)
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Open").clicked() || enter) && !self.path.trim().is_empty() {
                picked = Some(SourceSpec::Path(PathBuf::from(self.path.trim())));
            }
            let browse = ui.selectable_label(self.browser.is_some(), "Browse…");
            // A second click closes the browser.
            if browse.clicked() && self.browser.take().is_none() {
                self.open_browser();
            }
        });
        if let Some(browser) = &mut self.browser
            && let Some(path) = browser.show(ui)
        {
            self.path = path.display().to_string();
            self.browser = None;
            picked = Some(SourceSpec::Path(path));
        }
        for (i, name) in cameras.iter().enumerate() {
            if ui.button(format!("Camera {i}: {name}")).clicked() {
                picked = Some(SourceSpec::Camera(i as u32));
            }
        }
        cmds.extend(picked.map(Command::SetSource));
        cmds
    }

    /// Opens the built-in browser (also the fallback when no system file dialog can answer).
    pub(crate) fn open_browser(&mut self) {
        self.browser = Some(Browser::open(start_dir(self.path.trim())));
    }

    /// A folder the browser wants listed; the window lists it off the UI thread
    /// (`read_listing`) and hands the answer to `listed`.
    pub fn take_request(&mut self) -> Option<PathBuf> {
        self.browser.as_mut().and_then(|b| b.request.take())
    }

    pub fn listed(&mut self, dir: &Path, listing: Result<Listing, String>) {
        if let Some(b) = self.browser.as_mut().filter(|b| b.dir == dir) {
            b.listing = Some(listing);
        }
    }
}

/// Where browsing starts: the typed folder (or the typed file's folder), else Pictures, else home.
fn start_dir(typed: &str) -> PathBuf {
    let typed = Path::new(typed);
    if !typed.as_os_str().is_empty() {
        if typed.is_dir() {
            return typed.to_path_buf();
        }
        if let Some(parent) = typed.parent().filter(|p| p.is_dir()) {
            return parent.to_path_buf();
        }
    }
    directories::UserDirs::new()
        .and_then(|u| {
            u.picture_dir()
                .filter(|p| p.is_dir())
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A small in-window file browser: folders to walk into, image files to pick, or the whole
/// folder to replay. Built in egui so it works on any desktop (and under Xvfb in tests).
struct Browser {
    dir: PathBuf,
    /// None while it is being read.
    listing: Option<Result<Listing, String>>,
    /// The folder to list, until the window takes the request.
    request: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct Listing {
    dirs: Vec<PathBuf>,
    images: Vec<PathBuf>,
    left_out: usize,
}

impl Browser {
    fn open(dir: PathBuf) -> Self {
        Browser {
            request: Some(dir.clone()),
            dir,
            listing: None,
        }
    }

    fn show(&mut self, ui: &mut egui::Ui) -> Option<PathBuf> {
        let mut picked = None;
        let mut go_to = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal(|ui| {
                if let Some(parent) = self.dir.parent()
                    && ui.button("Up").clicked()
                {
                    go_to = Some(parent.to_path_buf());
                }
                ui.monospace(self.dir.display().to_string());
            });
            match &self.listing {
                None => {
                    ui.spinner();
                }
                Some(Err(message)) => {
                    ui.colored_label(super::ERROR_COLOR, message);
                }
                Some(Ok(listing)) => {
                    if !listing.images.is_empty() {
                        let label =
                            format!("Replay this folder ({})", image_count(listing.images.len()));
                        if ui.button(label).clicked() {
                            picked = Some(self.dir.clone());
                        }
                    }
                    egui::ScrollArea::vertical()
                        .max_height(260.0)
                        .auto_shrink([false, true])
                        .show(ui, |ui| {
                            for d in &listing.dirs {
                                if ui.button(format!("{}/", file_name(d))).clicked() {
                                    go_to = Some(d.clone());
                                }
                            }
                            for f in &listing.images {
                                if ui.link(file_name(f)).clicked() {
                                    picked = Some(f.clone());
                                }
                            }
                            if listing.dirs.is_empty() && listing.images.is_empty() {
                                ui.weak("No folders or images here.");
                            }
                            if listing.left_out > 0 {
                                ui.weak(format!("… and {} more not shown", listing.left_out));
                            }
                        });
                }
            }
        });
        if let Some(dir) = go_to {
            *self = Browser::open(dir);
        }
        picked
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Sub-folders and image files of `dir`, hidden entries skipped, each sorted by name.
pub fn read_listing(dir: &Path) -> Result<Listing, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let mut listing = Listing::default();
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            listing.dirs.push(path);
        } else if has_image_extension(&path) {
            listing.images.push(path);
        }
    }
    listing.dirs.sort();
    listing.images.sort();
    let total = listing.dirs.len() + listing.images.len();
    if total > MAX_ENTRIES {
        listing.left_out = total - MAX_ENTRIES;
        listing
            .images
            .truncate(MAX_ENTRIES.saturating_sub(listing.dirs.len()));
        listing.dirs.truncate(MAX_ENTRIES);
    }
    Ok(listing)
}
