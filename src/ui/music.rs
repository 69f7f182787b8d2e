//! The recommendation panel: playlist and source, the track list (click opens it in Spotify),
//! refresh, Match / Uplift and pin.

use egui::{Color32, RichText};

use super::ERROR_COLOR;
use super::command::Command;
use crate::music::service::{MusicError, Outcome};
use crate::music::{SourceKind, Strategy};

#[derive(Default)]
pub struct MusicPanel {
    /// Album art by URL, uploaded as it arrives.
    pub art: std::collections::HashMap<String, egui::TextureHandle>,
    pub strategy: Strategy,
    /// Keep the current list while the mood changes.
    pub pinned: bool,
    pub current: Option<Outcome>,
    pub loading: bool,
    pub error: Option<MusicError>,
    /// Signed in to Spotify: the list can be saved and played in the account.
    pub signed_in: bool,
    /// The last account action's result (text, is it an error).
    pub account_note: Option<(String, bool)>,
    /// The id of the last list asked for: an answer to an earlier request that arrives after
    /// it (a slow own playlist, say) is dropped.
    pub asked: u64,
}

fn source_label(s: SourceKind) -> (&'static str, Color32) {
    match s {
        SourceKind::Spotify => ("Spotify", Color32::from_rgb(30, 215, 96)),
        SourceKind::Cache => ("cache", Color32::from_rgb(200, 170, 60)),
        SourceKind::Offline => ("offline", Color32::GRAY),
    }
}

impl MusicPanel {
    /// Whether an answer to request `id` is still the one waited for.
    pub(crate) fn is_current(&self, id: u64) -> bool {
        id == self.asked
    }

    /// The list asked for last arrived (`is_current`): it replaces the current one and clears
    /// the loading state and any error.
    pub(crate) fn show_list(&mut self, o: Outcome) {
        self.loading = false;
        self.error = None;
        self.current = Some(o);
    }

    pub(crate) fn add_art(&mut self, ctx: &egui::Context, url: String, img: &image::RgbaImage) {
        let size = [img.width() as usize, img.height() as usize];
        let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
        let tex = ctx.load_texture(format!("art:{url}"), color, egui::TextureOptions::LINEAR);
        self.art.insert(url, tex);
    }

    /// Save / Play in the signed-in account, for lists of Spotify tracks.
    fn account_row(&self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut cmds = Vec::new();
        let has_tracks = self.current.as_ref().is_some_and(|o| {
            o.recommendation
                .tracks
                .iter()
                .any(|t| t.uri.starts_with("spotify:track:"))
        });
        if self.signed_in && has_tracks {
            ui.horizontal(|ui| {
                if ui
                    .button("Save as playlist")
                    .on_hover_text("a private playlist in your account")
                    .clicked()
                {
                    cmds.push(Command::SaveList);
                }
                if ui
                    .button("Play on Spotify")
                    .on_hover_text("on your active device (Premium)")
                    .clicked()
                {
                    cmds.push(Command::PlayList);
                }
            });
        }
        if let Some((text, error)) = &self.account_note {
            let color = if *error { ERROR_COLOR } else { Color32::GRAY };
            ui.colored_label(color, text);
        }
        cmds
    }

    /// The panel; what the user asks for comes back as commands (the strategy changes when the
    /// app handles `SetStrategy`).
    pub fn show(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            ui.heading("Music");
            for s in [Strategy::Match, Strategy::Uplift] {
                let label = if s == Strategy::Match {
                    "Match"
                } else {
                    "Uplift"
                };
                if ui
                    .selectable_label(self.strategy == s, label)
                    .on_hover_text("M toggles")
                    .clicked()
                    && self.strategy != s
                {
                    actions.push(Command::SetStrategy(s));
                }
            }
            if ui
                .button("Refresh")
                .on_hover_text("R: a new list")
                .clicked()
            {
                actions.push(Command::RequestMusic { refresh: true });
            }
            ui.toggle_value(&mut self.pinned, "Pin")
                .on_hover_text("keep this list while the mood changes");
            if self.loading {
                ui.spinner();
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ERROR_COLOR, e.to_string());
        }
        actions.extend(self.account_row(ui));
        let Some(o) = &self.current else {
            ui.label(if self.loading {
                "finding music…"
            } else {
                "music follows once a mood settles"
            });
            return actions;
        };
        let rec = &o.recommendation;
        ui.horizontal(|ui| {
            let (name, color) = source_label(rec.source);
            ui.label(RichText::new(&rec.playlist.name).strong());
            ui.label(RichText::new(format!("via {name}")).color(color));
        });
        for n in &o.notes {
            ui.label(RichText::new(n.to_string()).small().color(Color32::GRAY));
        }
        egui::ScrollArea::vertical()
            .id_salt("tracks")
            .show(ui, |ui| {
                for t in &rec.tracks {
                    let text = format!(
                        "{} — {}  {}",
                        t.title,
                        t.artists.join(", "),
                        t.length().unwrap_or_default()
                    );
                    if ui.link(text).on_hover_text(&t.url).clicked() {
                        actions.push(Command::OpenTrack(t.clone()));
                    }
                }
            });
        actions
    }
}
