//! The desktop app (eframe/egui). The UI thread only draws and sends commands; the vision
//! worker does capture and inference and wakes the UI when a result arrives.

mod emotions;
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
use crate::pipeline::FrameResult;
use crate::pipeline::worker::{Command, Event, Worker, WorkerConfig};

pub struct AppOptions {
    pub source: Option<SourceSpec>,
    pub model: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub quit_after: Option<f64>,
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
    let settings = match settings_path.as_deref().map(Settings::load) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::warn!("{e}; using defaults");
            Settings::default()
        }
        None => Settings::default(),
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emotune")
            .with_inner_size([1100.0, 700.0])
            .with_min_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        "emotune",
        native,
        Box::new(move |cc| Ok(Box::new(EmotuneApp::new(cc, opts, settings)))),
    )
    .map_err(|e| {
        anyhow!(
            "could not open the window: {e}. Check that the display is reachable and OpenGL works \
             (Debian: apt-get install libgl1-mesa-dri libegl1 libxkbcommon-x11-0)"
        )
    })
}

pub struct EmotuneApp {
    worker: Worker,
    feed: video::Feed,
    last: Option<FrameResult>,
    source_name: Option<String>,
    source_input: String,
    cameras: Vec<String>,
    paused: bool,
    last_error: Option<String>,
    model_error: Option<String>,
    frame_times: std::collections::VecDeque<Instant>,
    started: Instant,
    screenshot: Option<PathBuf>,
    quit_after: Option<f64>,
    screenshot_sent: bool,
    screenshot_done: Arc<AtomicBool>,
}

impl EmotuneApp {
    fn new(cc: &eframe::CreationContext<'_>, opts: AppOptions, settings: Settings) -> Self {
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::spawn(
            WorkerConfig {
                model: opts.model,
                settings: settings.pipeline,
                inference_threads: settings.inference_threads,
                replay_fps: settings.replay_fps,
            },
            Arc::new(move || ctx.request_repaint()),
        );
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
            feed: video::Feed::default(),
            last: None,
            source_name: None,
            source_input: String::new(),
            cameras,
            paused: false,
            last_error: None,
            model_error: None,
            frame_times: Default::default(),
            started: Instant::now(),
            screenshot: opts.screenshot,
            quit_after: opts.quit_after,
            screenshot_sent: false,
            screenshot_done: Arc::new(AtomicBool::new(false)),
        }
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
                    self.last = Some(*r);
                }
                Event::SourceOpened(name) => {
                    self.source_name = Some(name);
                    self.last_error = None;
                }
                Event::SourceEnded => {}
                Event::Error(e) => self.last_error = Some(e),
                Event::ModelError(e) => self.model_error = Some(e),
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
        let (space, dropped) =
            ctx.input(|i| (i.key_pressed(egui::Key::Space), i.raw.dropped_files.clone()));
        if space {
            self.paused = !self.paused;
            self.worker.send(Command::Pause(self.paused));
        }
        if let Some(path) = dropped.iter().find_map(|f| {
            let p = f.path();
            (!p.as_os_str().is_empty()).then(|| p.to_path_buf())
        }) {
            self.worker.send(Command::SetSource(SourceSpec::Path(path)));
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

    fn source_chooser(&mut self, ui: &mut egui::Ui) {
        ui.heading(if self.cameras.is_empty() {
            "No camera found"
        } else {
            "Choose a source"
        });
        ui.label("Open an image (analysed once) or a folder of images (replayed as video), or drop a photo on the window.");
        ui.horizontal(|ui| {
            ui.label("Path:");
            let edit = ui.text_edit_singleline(&mut self.source_input);
            let go = ui.button("Open").clicked()
                || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
            if go && !self.source_input.trim().is_empty() {
                let path = PathBuf::from(self.source_input.trim());
                self.worker.send(Command::SetSource(SourceSpec::Path(path)));
            }
        });
        for (i, name) in self.cameras.clone().iter().enumerate() {
            if ui.button(format!("Camera {i}: {name}")).clicked() {
                self.worker
                    .send(Command::SetSource(SourceSpec::Camera(i as u32)));
            }
        }
    }
}

impl eframe::App for EmotuneApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.handle_events(&ctx);
        self.handle_keys(&ctx);
        self.screenshot_and_quit(&ctx);

        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(self.source_name.as_deref().unwrap_or("no source"));
                ui.separator();
                ui.label(format!("{:.1} FPS", self.fps()));
                if let Some(r) = &self.last {
                    ui.separator();
                    ui.label(format!(
                        "detect {:.1} ms · classify {:.1} ms",
                        r.timings.detect.as_secs_f64() * 1e3,
                        r.timings.classify.as_secs_f64() * 1e3
                    ));
                }
                if self.paused {
                    ui.separator();
                    ui.label(RichText::new("paused (Space)").strong());
                }
                if let Some(e) = &self.last_error {
                    ui.separator();
                    ui.label(RichText::new(e).color(Color32::from_rgb(220, 80, 60)));
                }
            });
        });
        egui::Panel::right("emotions")
            .default_size(300.0)
            .show(ui, |ui| {
                if let Some(e) = &self.model_error {
                    ui.label(
                        RichText::new(format!("Emotion model unavailable: {e}"))
                            .color(Color32::from_rgb(220, 80, 60)),
                    );
                    ui.separator();
                }
                emotions::show(ui, self.last.as_ref());
            });
        egui::CentralPanel::default().show(ui, |ui| {
            if self.source_name.is_none() {
                self.source_chooser(ui);
                if let Some(e) = &self.last_error {
                    ui.colored_label(Color32::from_rgb(220, 80, 60), e);
                }
            } else {
                self.feed.show(ui, self.last.as_ref());
            }
        });
    }
}

/// An emotion's display colour for egui.
pub fn emotion_color(e: Emotion) -> Color32 {
    let [r, g, b] = e.color();
    Color32::from_rgb(r, g, b)
}
