//! The window's layout: toolbar, status bar, side and central panels, the settings window.
//! Each part draws from the app's state and returns the commands its widgets produced.

use egui::RichText;

use super::*;

impl EmotuneApp {
    pub(super) fn toolbar(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut cmds = Vec::new();
        egui::Panel::top("toolbar").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("emotune").strong());
                if ui.selectable_label(!self.view.history, "Live").clicked() {
                    cmds.push(Command::ShowHistory(false));
                }
                if ui
                    .selectable_label(self.view.history, "History")
                    .on_hover_text("your mood over days and weeks, kept on this computer")
                    .clicked()
                {
                    cmds.push(Command::ShowHistory(true));
                }
                ui.separator();
                if ui.button("Source…").clicked() {
                    cmds.push(Command::ToggleChooser);
                }
                let pause = if self.rt.paused { "Resume" } else { "Pause" };
                if ui.button(pause).on_hover_text("Space").clicked() {
                    cmds.push(Command::TogglePause);
                }
                if ui
                    .selectable_label(self.view.settings, "Settings")
                    .clicked()
                {
                    cmds.push(Command::ToggleSettings);
                }
                if ui
                    .selectable_label(self.view.feed_only, "Feed only")
                    .on_hover_text("F")
                    .clicked()
                {
                    cmds.push(Command::ToggleFeedOnly);
                }
                if ui
                    .selectable_label(!self.view.feed_hidden, "Camera image")
                    .on_hover_text("V: hide or show the picture; the faces are read either way")
                    .clicked()
                {
                    cmds.push(Command::ToggleFeed);
                }
            });
        });
        cmds
    }

    pub(super) fn status_bar(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(self.rt.source_name.as_deref().unwrap_or("no source"));
            ui.separator();
            ui.label(format!("{:.1} FPS", self.rt.rate.fps()));
            if let Some(t) = self.rt.timings.median() {
                ui.separator();
                ui.label(format!(
                    "detect {:.1} ms · inference {:.1} ms",
                    t.detect.as_secs_f64() * 1e3,
                    t.classify.as_secs_f64() * 1e3
                ))
                .on_hover_text(format!(
                    "median over the last {} frames, of those that ran the stage (a settled face is \
                     analysed every other frame and classified when it changes); a full-frame \
                     face scan runs every {} frames",
                    TimingWindow::LEN,
                    self.saved.settings.pipeline.rescan_every
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
            if self.rt.paused {
                ui.separator();
                ui.label(RichText::new("paused (Space)").strong());
            }
            if let Some(why) = self.handles.diary.off_reason() {
                ui.separator();
                ui.colored_label(ERROR_COLOR, "history off")
                    .on_hover_text(why.to_string());
            }
            if let Some(i) = &self.rt.info {
                ui.separator();
                ui.label(i);
            }
            if let Some(n) = &self.rt.notice {
                ui.separator();
                ui.colored_label(ERROR_COLOR, n.to_string());
            }
        });
    }

    pub(super) fn timeline_panel(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut cmds = Vec::new();
        egui::Panel::bottom("timeline")
            .default_size(190.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Mood timeline").strong());
                    let export = egui::Button::new("Export CSV…");
                    if ui.add_enabled(!self.timeline.is_empty(), export).clicked() {
                        cmds.push(Command::ExportTimeline);
                    }
                });
                self.timeline.show(ui);
            });
        cmds
    }

    pub(super) fn side_panel(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut cmds = Vec::new();
        egui::Panel::right("side")
            .default_size(340.0)
            .show(ui, |ui| {
                if let Some(e) = &self.rt.model_error {
                    ui.colored_label(ERROR_COLOR, format!("Emotion model unavailable: {e}"));
                    ui.separator();
                }
                emotions::show(ui, self.rt.last.as_ref());
                ui.separator();
                let profile_cmds = self.profile.show(ui, self.rt.last.as_ref());
                cmds.extend(profile_cmds);
                let minute = (self.rt.started.elapsed().as_secs() / 60) as usize;
                let mood = self.rt.last.as_ref().and_then(|r| r.mood.stable);
                if let Some(fact) = mood.and_then(|m| crate::ui::fun_fact(m, minute)) {
                    ui.label(RichText::new(fact).italics().small());
                }
                ui.separator();
                cmds.extend(self.panel.show(ui));
            });
        cmds
    }

    pub(super) fn settings_window(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let mut open = true;
        let mut cmds = Vec::new();
        egui::Window::new("Settings")
            .open(&mut open)
            .show(ctx, |ui| {
                let shown = settings::Shown {
                    strategy: self.panel.strategy,
                    mapping_info: &self.rt.mapping_info,
                    creds: self.rt.creds,
                    account: &self.rt.account,
                    playlists: self.rt.user_playlists.as_deref(),
                };
                cmds = settings::show(
                    ui,
                    &mut self.saved.settings,
                    &mut self.profile.profile.own_playlists,
                    &shown,
                );
            });
        if !open {
            cmds.push(Command::CloseSettings);
        }
        cmds
    }

    pub(super) fn central(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut cmds = Vec::new();
        egui::CentralPanel::default().show(ui, |ui| {
            if self.view.history {
                let status = self.diary_status();
                let asked = self.history.show(ui, &status);
                cmds.extend(asked.into_iter().map(Command::History));
            } else if self.view.chooser || self.rt.source_name.is_none() {
                cmds.extend(self.chooser.show(ui, self.rt.cameras.as_deref()));
                if let Some(n) = &self.rt.notice {
                    ui.colored_label(ERROR_COLOR, n.to_string());
                }
            } else if self.view.feed_hidden {
                video::show_hidden(ui, self.rt.last.as_ref());
            } else {
                self.feed.show(ui, self.rt.last.as_ref());
            }
        });
        cmds
    }
}
