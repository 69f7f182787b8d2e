//! The window's file work, handed to the file thread (`ui::files`): settings and profile saves,
//! the timeline's CSV and the browser's folder listings; and what their answers change.

use super::*;
use crate::ui::files::Done;

impl EmotuneApp {
    /// Writes the timeline's CSV: the rows are made here (in memory, quick), the file there.
    pub(super) fn export_timeline(&mut self, path: PathBuf) {
        let mut bytes = Vec::new();
        if let Err(error) = self.timeline.write_csv(&mut bytes) {
            self.rt.notice = Some(Notice::Export { path, error });
            return;
        }
        self.handles.files.run(move || Done::Csv {
            result: std::fs::write(&path, bytes),
            path,
        });
    }

    /// Saves the settings if they changed; on the way out the file thread finishes the write
    /// before the window is gone.
    pub(super) fn save_settings(&mut self) {
        if !self.saved.dirty {
            return;
        }
        self.saved.dirty = false;
        let Some(path) = self.saved.path.clone() else {
            return;
        };
        let settings = self.saved.settings.clone();
        self.handles
            .files
            .run(move || Done::Settings(settings.save(&path)));
    }

    /// Requests gathered this frame: a profile to save, a folder to list.
    pub(super) fn file_requests(&mut self) {
        if let Some((store, profile, what)) = self.profile.take_save() {
            self.handles.files.run(move || Done::Profile {
                result: store.save(&profile).map(|_| ()),
                what,
            });
        }
        if let Some(dir) = self.chooser.take_request() {
            self.handles.files.run(move || Done::Listing {
                listing: crate::ui::sources::read_listing(&dir),
                dir,
            });
        }
    }

    pub(super) fn on_file_done(&mut self, done: Done) {
        match done {
            Done::Settings(Ok(())) => {}
            Done::Settings(Err(e)) => self.rt.notice = Some(Notice::Settings(e)),
            Done::Csv {
                path,
                result: Ok(()),
            } => self.rt.info = Some(format!("timeline saved to {}", path.display())),
            Done::Csv {
                path,
                result: Err(error),
            } => self.rt.notice = Some(Notice::Export { path, error }),
            Done::Profile { what, result } => {
                self.profile.saved(what, result);
                // The profile now holds the playlists settings.toml kept: the file drops them.
                if self.profile.take_moved() {
                    self.saved.settings.own_playlists.clear();
                    self.saved.dirty = true;
                }
            }
            Done::Listing { dir, listing } => self.chooser.listed(&dir, listing),
            Done::Crashed(msg) => self.rt.notice = Some(Notice::Files(msg)),
        }
    }
}
