//! The desktop app (eframe/egui). The UI thread only draws and sends commands; the vision
//! worker does capture and inference and wakes the UI when a result arrives.

mod app;
mod autoquit;
pub mod command;
mod dialogs;
mod emotions;
pub(crate) mod files;
pub(crate) mod history;
pub mod music;
pub(crate) mod profile;
pub(crate) mod settings;
pub mod sources;
pub(crate) mod timeline;
mod video;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use egui::Color32;

pub(crate) use app::{EmotuneApp, Handles, Probe, Startup};
use autoquit::AutoQuit;

use crate::capture::SourceSpec;
use crate::config::Settings;
use crate::emotion::Emotion;
use crate::music::account::{AccountHandle, AccountJob};
use crate::music::service::{CredentialStatus, Music, MusicHandle};
use crate::pipeline::worker::{Worker, WorkerConfig, default_opener};

/// The window icon (assets/icon.png, drawn for emotune), decoded at start.
fn icon() -> egui::IconData {
    static PNG: &[u8] = include_bytes!("../../assets/icon.png");
    match image::load_from_memory(PNG) {
        Ok(img) => {
            let rgba = img.to_rgba8();
            egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            }
        }
        Err(_) => egui::IconData::default(),
    }
}

pub struct AppOptions {
    /// Spotify's part of the environment, read in `main`.
    pub spotify: crate::config::SpotifyEnv,
    /// Problems found before the window opened (a malformed `.env`), shown in it.
    pub warnings: Vec<String>,
    pub source: Option<SourceSpec>,
    pub model: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub quit_after: Option<f64>,
    /// `--resolution` / `--fps` for this run (not saved into the settings).
    pub resolution: Option<(u32, u32)>,
    /// Open the settings window at start.
    pub show_settings: bool,
    /// Open the History tab at start.
    pub show_history: bool,
    /// Start with the camera image hidden (`--hide-feed`).
    pub hide_feed: bool,
    pub fps: Option<f32>,
    /// Start a neutral calibration at once (`--calibrate`).
    pub calibrate: bool,
}

/// Whether a window can be opened; lives in `platform` so the layers below can ask it too.
pub(crate) use crate::platform::display_available;

pub fn run(opts: AppOptions) -> anyhow::Result<()> {
    if !display_available() {
        return Err(anyhow!(
            "no display: the emotune window needs a graphical session (neither DISPLAY nor \
             WAYLAND_DISPLAY is set). Start it from your desktop, or under a virtual display \
             with `xvfb-run -a emotune ...`. Without a window, `emotune classify`, `eval`, `bench` \
             and `devices` still work"
        ));
    }
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emotune")
            // WM_CLASS / Wayland app id: the .desktop entry's StartupWMClass matches it.
            .with_app_id("emotune")
            .with_inner_size([1100.0, 700.0])
            .with_min_inner_size([720.0, 480.0])
            .with_icon(icon()),
        ..Default::default()
    };
    eframe::run_native(
        "emotune",
        native,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let pace = app::FramePace::new(opts.hide_feed);
            let (frame_ctx, frame_pace) = (ctx.clone(), pace.clone());
            let on_frame: Arc<dyn Fn() + Send + Sync> =
                Arc::new(move || frame_ctx.request_repaint_after(frame_pace.delay()));
            let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            let (start, handles) = start(opts, &repaint, on_frame, pace);
            Ok(Box::new(EmotuneApp::new(start, handles)))
        }),
    )
    .map_err(|e| {
        anyhow!(
            "could not open the window: {e}. Check that the display is reachable and OpenGL works \
             (Debian: apt-get install libgl1-mesa-dri libegl1 libxkbcommon-x11-0)"
        )
    })
}

/// Loads the settings and the music setup, and starts the worker, music and probe threads.
/// Nothing here waits on a device or another program. The worker wakes the window with
/// `on_frame` (paced by `pace`), the other threads with `repaint`.
fn start(
    opts: AppOptions,
    repaint: &Arc<dyn Fn() + Send + Sync>,
    on_frame: Arc<dyn Fn() + Send + Sync>,
    pace: app::FramePace,
) -> (Startup, Handles) {
    let settings_path = Settings::default_path();
    let (settings, settings_warning) = Settings::load_user();
    let settings_diary = settings.diary;
    let (profile, profile_warnings) = profile::ProfilePanel::load(
        crate::profile::Store::default_dir().map(crate::profile::Store::new),
        opts.model.as_deref(),
    );
    let worker = Worker::spawn(
        WorkerConfig {
            model: opts.model,
            settings: settings.pipeline,
            inference_threads: settings.inference_threads,
            open: default_opener(settings.capture.with_overrides(opts.resolution, opts.fps)),
        },
        on_frame,
    );
    let (music, music_warnings) = Music::from_user(
        &opts.spotify,
        std::time::Duration::from_secs(5),
        settings.music_refresh,
    );
    let creds = if music.has_spotify() {
        CredentialStatus::Present
    } else {
        CredentialStatus::Missing
    };
    let mapping_info = match &music.mapping().origin {
        Some(p) => p.display().to_string(),
        None => match crate::music::mapping::Mapping::user_path() {
            Some(p) => format!("built-in (copy to {} to edit)", p.display()),
            None => "built-in".to_string(),
        },
    };
    let mut warnings = opts.warnings;
    warnings.extend(settings_warning);
    warnings.extend(music_warnings);
    warnings.extend(profile_warnings);
    let start = Startup {
        settings,
        settings_path,
        source: opts.source,
        warnings,
        creds,
        mapping_info,
        autoquit: AutoQuit::new(opts.quit_after, opts.screenshot),
        show_settings: opts.show_settings,
        show_history: opts.show_history,
        hide_feed: opts.hide_feed,
        profile,
        calibrate: opts.calibrate,
    };
    let account = AccountHandle::spawn(opts.spotify.clone(), repaint.clone());
    // A stored sign-in: ask who it is, off the UI thread.
    if opts
        .spotify
        .token_path
        .as_ref()
        .is_some_and(|p| p.is_file())
    {
        account.send(AccountJob::Status);
    }
    let diary = match (settings_diary.enabled, crate::diary::Diary::default_path()) {
        (true, Some(path)) => {
            crate::diary::Recorder::spawn(path, settings_diary.keep_days, repaint.clone())
        }
        _ => crate::diary::Recorder::new(None),
    };
    let handles = Handles {
        files: files::FileWorker::spawn(repaint.clone()),
        diary,
        worker,
        account,
        dialogs: dialogs::Dialogs::new(dialogs::service_available(), repaint.clone()),
        music: MusicHandle::spawn(
            crate::music::recommender::Recommender::new(music, opts.spotify.clone()),
            repaint.clone(),
        ),
        probe: Probe::spawn(repaint.clone()),
        pace,
    };
    (start, handles)
}

static FACTS: &str = include_str!("../../assets/facts.toml");

/// A fun fact about `e`; `n` picks among them so it changes now and then. The table is parsed
/// once, not on every repaint.
pub(crate) fn fun_fact(e: Emotion, n: usize) -> Option<&'static str> {
    static TABLE: std::sync::OnceLock<std::collections::BTreeMap<String, Vec<String>>> =
        std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| toml::from_str(FACTS).unwrap_or_default());
    let list = table.get(e.name())?;
    (!list.is_empty()).then(|| list[n % list.len()].as_str())
}

/// Opens a track: the Spotify app when one is registered for `spotify:` links, else the web
/// player through egui's open-URL command (so the UI thread never blocks on a browser).
pub fn open_track(ctx: &egui::Context, t: &crate::music::Track, spotify_app: bool) {
    if !(spotify_app && open::that_detached(&t.uri).is_ok()) {
        ctx.open_url(egui::OpenUrl::new_tab(&t.url));
    }
}

/// The colour of error messages everywhere in the window.
pub(crate) const ERROR_COLOR: Color32 = Color32::from_rgb(220, 80, 60);

/// An emotion's display colour for egui.
pub(crate) fn emotion_color(e: Emotion) -> Color32 {
    let [r, g, b] = e.color();
    Color32::from_rgb(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emotion_has_fun_facts_that_rotate() {
        for e in Emotion::ALL {
            let a = fun_fact(e, 0).expect("a fact");
            assert!(!a.is_empty());
            assert_ne!(Some(a), fun_fact(e, 1), "{e}: one fact only");
        }
    }
}
