//! Everything the user can ask of the window, as one type: panels and key bindings emit
//! commands, and `EmotuneApp::handle` is the one place that carries them out.

use crate::capture::SourceSpec;
use crate::music::{Strategy, Track};

#[must_use = "a command does nothing until the app handles it"]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetSource(SourceSpec),
    TogglePause,
    ToggleChooser,
    ToggleSettings,
    CloseSettings,
    ToggleFeedOnly,
    /// Hide or show the camera image.
    ToggleFeed,
    /// A new list for the current mood (`refresh`: skip the cache).
    RequestMusic {
        refresh: bool,
    },
    SetStrategy(Strategy),
    ToggleStrategy,
    OpenTrack(Track),
    ExportTimeline,
    /// The detector, tracker or mood settings were edited (sent to the worker, then saved).
    PipelineEdited,
    /// Another saved setting was edited (takes effect at the next start).
    SettingsEdited,
    SignIn,
    SignOut,
    /// A system file dialog (or the built-in browser where there is none).
    OpenImageDialog,
    OpenFolderDialog,
    /// Save the current list as a private playlist in the signed-in account.
    SaveList,
    /// Play the current list on the signed-in account's active device.
    PlayList,
    /// Fetch the signed-in user's playlists for the settings' picker.
    LoadPlaylists,
    /// A picked own playlist for a mood changed (saved; the current list follows).
    OwnPlaylistsEdited,
    /// Calibration and corrections of the active profile.
    Profile(super::profile::ProfileCmd),
    /// The Live or the History tab.
    ShowHistory(bool),
    History(super::history::HistoryCmd),
}

/// Key bindings, ignored while a text field has the keyboard.
pub(crate) fn from_keys(ctx: &egui::Context) -> Vec<Command> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    let bindings = [
        (egui::Key::Space, Command::TogglePause),
        (egui::Key::R, Command::RequestMusic { refresh: true }),
        (egui::Key::M, Command::ToggleStrategy),
        (egui::Key::F, Command::ToggleFeedOnly),
        (egui::Key::V, Command::ToggleFeed),
    ];
    ctx.input(|i| {
        bindings
            .into_iter()
            .filter(|(k, _)| i.key_pressed(*k))
            .map(|(_, c)| c)
            .collect()
    })
}

/// A file or folder dropped on the window becomes the source.
pub(crate) fn from_drop(ctx: &egui::Context) -> Option<Command> {
    ctx.input(|i| {
        i.raw.dropped_files.iter().find_map(|f| {
            let p = f.path();
            (!p.as_os_str().is_empty()).then(|| Command::SetSource(SourceSpec::Path(p.into())))
        })
    })
}
