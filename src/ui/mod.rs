//! The desktop app (eframe/egui). The UI thread only draws and sends commands; the vision
//! worker does capture and inference and wakes the UI when a result arrives.

mod emotions;
pub mod music;
pub mod settings;
pub mod sources;
pub mod timeline;
mod video;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use egui::{Color32, RichText};

use crate::capture::{SourceSpec, list_cameras};
use crate::config::Settings;
use crate::emotion::Emotion;
use crate::music::service::{CredentialStatus, Music, MusicEvent, MusicHandle, MusicRequest};
use crate::music::{SourceKind, Strategy};
use crate::pipeline::FrameResult;
use crate::pipeline::worker::{Command, Event, Worker, WorkerConfig};
use music::{MusicAction, MusicPanel};
use sources::SourceChooser;
use timeline::Timeline;

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
    pub source: Option<SourceSpec>,
    pub model: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub quit_after: Option<f64>,
    /// `--resolution` / `--fps` for this run (not saved into the settings).
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<f32>,
}

/// True when a window can be opened at all (X11 or Wayland session present).
pub fn display_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

pub fn run(opts: AppOptions) -> anyhow::Result<()> {
    if !display_available() {
        return Err(anyhow!(
            "no display: the emotune window needs a graphical session (neither DISPLAY nor \
             WAYLAND_DISPLAY is set). Start it from your desktop, or under a virtual display \
             with `xvfb-run -a emotune ...`. Without a window, `emotune classify`, `eval`, `bench` \
             and `devices` still work"
        ));
    }
    let settings_path = Settings::default_path();
    let (settings, settings_error) = Settings::load_user();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emotune")
            .with_inner_size([1100.0, 700.0])
            .with_min_inner_size([720.0, 480.0])
            .with_icon(icon()),
        ..Default::default()
    };
    eframe::run_native(
        "emotune",
        native,
        Box::new(move |cc| {
            let mut app = EmotuneApp::new(cc, opts, settings, settings_path);
            app.last_error = settings_error;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        anyhow!(
            "could not open the window: {e}. Check that the display is reachable and OpenGL works \
             (Debian: apt-get install libgl1-mesa-dri libegl1 libxkbcommon-x11-0)"
        )
    })
}

static FACTS: &str = include_str!("../../assets/facts.toml");

/// A fun fact about `e`; `n` picks among them so it changes now and then. The table is parsed
/// once, not on every repaint.
pub fn fun_fact(e: Emotion, n: usize) -> Option<&'static str> {
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

pub struct EmotuneApp {
    worker: Worker,
    music: MusicHandle,
    panel: MusicPanel,
    feed: video::Feed,
    timeline: Timeline,
    chooser: SourceChooser,
    last: Option<FrameResult>,
    source_name: Option<String>,
    show_chooser: bool,
    cameras: Vec<String>,
    paused: bool,
    fullscreen_feed: bool,
    show_settings: bool,
    settings: Settings,
    settings_path: Option<PathBuf>,
    settings_dirty: bool,
    mapping_info: String,
    creds: CredentialStatus,
    spotify_app: bool,
    last_error: Option<String>,
    model_error: Option<String>,
    info: Option<String>,
    frame_times: std::collections::VecDeque<Instant>,
    timings: crate::pipeline::TimingWindow,
    started: Instant,
    screenshot: Option<PathBuf>,
    quit_after: Option<f64>,
    screenshot_sent: bool,
    screenshot_done: Arc<AtomicBool>,
}

impl EmotuneApp {
    fn new(
        cc: &eframe::CreationContext<'_>,
        opts: AppOptions,
        settings: Settings,
        settings_path: Option<PathBuf>,
    ) -> Self {
        let ctx = cc.egui_ctx.clone();
        let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let worker = Worker::spawn(
            WorkerConfig {
                model: opts.model,
                settings: settings.pipeline,
                inference_threads: settings.inference_threads,
                capture: settings.capture.with_overrides(opts.resolution, opts.fps),
            },
            repaint.clone(),
        );
        let (music, warnings) = Music::from_env(
            std::time::Duration::from_secs(5),
            Some(settings.music_cache_ttl()),
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
        let music = MusicHandle::spawn(music, repaint);
        let cameras: Vec<String> = list_cameras()
            .map(|c| {
                c.into_iter()
                    .map(|c| format!("{} ({})", c.name, c.index))
                    .collect()
            })
            .unwrap_or_default();
        let source = opts
            .source
            .or_else(|| (!cameras.is_empty()).then_some(SourceSpec::Camera(0)));
        if let Some(s) = &source {
            worker.send(Command::SetSource(s.clone()));
        }
        EmotuneApp {
            worker,
            music,
            panel: MusicPanel::default(),
            feed: video::Feed::default(),
            timeline: Timeline::default(),
            chooser: SourceChooser::default(),
            last: None,
            source_name: None,
            show_chooser: source.is_none(),
            cameras,
            paused: false,
            fullscreen_feed: false,
            show_settings: false,
            settings,
            settings_path,
            settings_dirty: false,
            mapping_info,
            creds,
            spotify_app: crate::music::spotify_app_registered(),
            last_error: warnings.into_iter().next(),
            model_error: None,
            info: None,
            frame_times: Default::default(),
            timings: Default::default(),
            started: Instant::now(),
            screenshot: opts.screenshot,
            quit_after: opts.quit_after,
            screenshot_sent: false,
            screenshot_done: Arc::new(AtomicBool::new(false)),
        }
    }

    fn request_music(&mut self, strategy: Strategy, refresh: bool) {
        let emotion = self
            .last
            .as_ref()
            .and_then(|r| r.mood.stable)
            .unwrap_or(Emotion::Neutral);
        self.panel.loading = true;
        self.music.request(MusicRequest {
            emotion,
            strategy,
            refresh,
        });
    }

    fn handle_events(&mut self, ctx: &egui::Context) {
        for ev in self.worker.poll() {
            match ev {
                Event::Frame(r) => {
                    self.feed.upload(ctx, &r.frame);
                    let now = Instant::now();
                    self.frame_times.push_back(now);
                    while self
                        .frame_times
                        .front()
                        .is_some_and(|t| now.duration_since(*t).as_secs_f32() > 2.0)
                    {
                        self.frame_times.pop_front();
                    }
                    if let Some(g) = r.group {
                        self.timeline.push(r.at.as_secs_f64(), g, r.mood.stable);
                    }
                    let settled = r.mood.changed && r.mood.stable.is_some();
                    self.timings.push(r.timings);
                    self.last = Some(*r);
                    // Debounce: new music only when the *stable* mood changes (and not pinned).
                    if settled && !self.panel.pinned {
                        self.request_music(self.panel.strategy, false);
                    }
                }
                Event::SourceOpened(name) => {
                    self.source_name = Some(name);
                    self.show_chooser = false;
                    self.last_error = None;
                }
                Event::SourceEnded => {}
                Event::Error(e) => self.last_error = Some(e),
                Event::ModelError(e) => self.model_error = Some(e),
            }
        }
        for ev in self.music.poll() {
            if let MusicEvent::Art { url, image } = &ev {
                self.panel.add_art(ctx, url.clone(), image);
                continue;
            }
            self.panel.loading = false;
            match ev {
                MusicEvent::Ready(o) => {
                    if o.notes.iter().any(|n| n.contains("rejected")) {
                        self.creds = CredentialStatus::Rejected;
                    } else if o.recommendation.source == SourceKind::Spotify {
                        self.creds = CredentialStatus::Present;
                    }
                    self.panel.error = None;
                    self.panel.current = Some(o);
                }
                MusicEvent::Failed(e) => self.panel.error = Some(e),
                MusicEvent::Art { .. } => {}
            }
        }
    }

    fn apply(&mut self, ctx: &egui::Context, actions: Vec<MusicAction>) {
        for a in actions {
            match a {
                MusicAction::Request { strategy, refresh } => self.request_music(strategy, refresh),
                MusicAction::Open(t) => open_track(ctx, &t, self.spotify_app),
            }
        }
    }

    fn fps(&self) -> f32 {
        match (self.frame_times.front(), self.frame_times.back()) {
            (Some(a), Some(b)) if self.frame_times.len() > 1 => {
                (self.frame_times.len() - 1) as f32 / b.duration_since(*a).as_secs_f32().max(1e-3)
            }
            _ => 0.0,
        }
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        if let Some(path) = dropped.iter().find_map(|f| {
            let p = f.path();
            (!p.as_os_str().is_empty()).then(|| p.to_path_buf())
        }) {
            self.worker.send(Command::SetSource(SourceSpec::Path(path)));
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (space, r, m, f) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::R),
                i.key_pressed(egui::Key::M),
                i.key_pressed(egui::Key::F),
            )
        });
        if space {
            self.paused = !self.paused;
            self.worker.send(Command::Pause(self.paused));
        }
        if r {
            self.request_music(self.panel.strategy, true);
        }
        if m {
            let a = self.panel.toggle_strategy();
            self.apply(ctx, vec![a]);
        }
        if f {
            self.fullscreen_feed = !self.fullscreen_feed;
        }
    }

    fn screenshot_and_quit(&mut self, ctx: &egui::Context) {
        let Some(secs) = self.quit_after else { return };
        ctx.request_repaint();
        if self.started.elapsed().as_secs_f64() < secs {
            return;
        }
        match (&self.screenshot, self.screenshot_sent) {
            (Some(path), false) => {
                let (path, done) = (path.clone(), self.screenshot_done.clone());
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                    egui::ScreenshotCallback::new(move |img| {
                        let [w, h] = img.size;
                        let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
                        match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
                            Some(buf) => match buf.save(&path) {
                                Ok(()) => eprintln!("screenshot written to {}", path.display()),
                                Err(e) => eprintln!("error: cannot write {}: {e}", path.display()),
                            },
                            None => eprintln!("error: screenshot had an unexpected size"),
                        }
                        done.store(true, Ordering::SeqCst);
                    }),
                ));
                self.screenshot_sent = true;
            }
            (Some(_), true) if !self.screenshot_done.load(Ordering::SeqCst) => {}
            _ => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    fn export_timeline(&mut self) {
        let dir = directories::UserDirs::new()
            .and_then(|u| {
                u.document_dir()
                    .map(|d| d.to_path_buf())
                    .or_else(|| Some(u.home_dir().to_path_buf()))
            })
            .unwrap_or_else(|| PathBuf::from("."));
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = dir.join(format!("emotune-mood-{stamp}.csv"));
        match self.timeline.export(&path) {
            Ok(()) => self.info = Some(format!("timeline saved to {}", path.display())),
            Err(e) => self.last_error = Some(format!("cannot write {}: {e}", path.display())),
        }
    }

    fn save_settings(&mut self) {
        if !self.settings_dirty {
            return;
        }
        if let Some(p) = &self.settings_path
            && let Err(e) = self.settings.save(p)
        {
            self.last_error = Some(e.to_string());
        }
        self.settings_dirty = false;
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(self.source_name.as_deref().unwrap_or("no source"));
            ui.separator();
            ui.label(format!("{:.1} FPS", self.fps()));
            if let Some(t) = self.timings.median() {
                ui.separator();
                ui.label(format!(
                    "detect {:.1} ms · inference {:.1} ms",
                    t.detect.as_secs_f64() * 1e3,
                    t.classify.as_secs_f64() * 1e3
                ))
                .on_hover_text(format!(
                    "median of the last {} frames; a full-frame face scan runs every {} frames",
                    crate::pipeline::TimingWindow::LEN,
                    self.settings.pipeline.rescan_every
                ));
            }
            ui.separator();
            ui.label(
                match self.panel.current.as_ref().map(|o| o.recommendation.source) {
                    Some(SourceKind::Spotify) => "music: Spotify",
                    Some(SourceKind::Cache) => "music: cache",
                    Some(SourceKind::Offline) => "music: offline catalog",
                    None => "music: –",
                },
            );
            if self.paused {
                ui.separator();
                ui.label(RichText::new("paused (Space)").strong());
            }
            if let Some(i) = &self.info {
                ui.separator();
                ui.label(i);
            }
            if let Some(e) = &self.last_error {
                ui.separator();
                ui.label(RichText::new(e).color(Color32::from_rgb(220, 80, 60)));
            }
        });
    }
}

impl eframe::App for EmotuneApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.handle_events(&ctx);
        self.handle_keys(&ctx);
        self.screenshot_and_quit(&ctx);

        egui::Panel::top("toolbar").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("emotune").strong());
                if ui.button("Source…").clicked() {
                    self.show_chooser = !self.show_chooser;
                }
                if ui
                    .button(if self.paused { "Resume" } else { "Pause" })
                    .on_hover_text("Space")
                    .clicked()
                {
                    self.paused = !self.paused;
                    self.worker.send(Command::Pause(self.paused));
                }
                if ui
                    .toggle_value(&mut self.show_settings, "Settings")
                    .changed()
                    && !self.show_settings
                {
                    self.save_settings();
                }
                ui.toggle_value(&mut self.fullscreen_feed, "Feed only")
                    .on_hover_text("F");
            });
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if !self.fullscreen_feed {
            egui::Panel::bottom("timeline")
                .default_size(190.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new("Mood timeline").strong());
                        if ui
                            .add_enabled(!self.timeline.is_empty(), egui::Button::new("Export CSV"))
                            .clicked()
                        {
                            self.export_timeline();
                        }
                    });
                    self.timeline.show(ui);
                });
            egui::Panel::right("side")
                .default_size(340.0)
                .show(ui, |ui| {
                    if let Some(e) = &self.model_error {
                        ui.label(
                            RichText::new(format!("Emotion model unavailable: {e}"))
                                .color(Color32::from_rgb(220, 80, 60)),
                        );
                        ui.separator();
                    }
                    emotions::show(ui, self.last.as_ref());
                    let mood = self.last.as_ref().and_then(|r| r.mood.stable);
                    if let Some(fact) = mood
                        .and_then(|m| fun_fact(m, (self.started.elapsed().as_secs() / 60) as usize))
                    {
                        ui.label(RichText::new(fact).italics().small());
                    }
                    ui.separator();
                    let actions = self.panel.show(ui);
                    self.apply(&ctx, actions);
                });
        }
        if self.show_settings {
            let mut open = true;
            let mut change = settings::SettingsChange::default();
            egui::Window::new("Settings")
                .open(&mut open)
                .show(&ctx, |ui| {
                    change = settings::show(
                        ui,
                        &mut self.settings,
                        self.panel.strategy,
                        &self.mapping_info,
                        self.creds,
                    );
                });
            self.settings_dirty |= change.other;
            if change.pipeline {
                self.settings_dirty = true;
                self.worker.send(Command::Settings(self.settings.pipeline));
            }
            if let Some(s) = change.strategy {
                self.panel.strategy = s;
                self.request_music(s, false);
            }
            if !open {
                self.show_settings = false;
                self.save_settings();
            }
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.show_chooser || self.source_name.is_none() {
                if let Some(spec) = self.chooser.show(ui, &self.cameras) {
                    self.worker.send(Command::SetSource(spec));
                }
                if let Some(e) = &self.last_error {
                    ui.colored_label(Color32::from_rgb(220, 80, 60), e);
                }
            } else {
                self.feed.show(ui, self.last.as_ref());
            }
        });
    }
}

impl Drop for EmotuneApp {
    fn drop(&mut self) {
        self.save_settings();
    }
}

/// An emotion's display colour for egui.
pub fn emotion_color(e: Emotion) -> Color32 {
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
