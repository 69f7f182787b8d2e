//! The recommendation panel: playlist and source, the track list (click opens it in Spotify),
//! refresh, Match / Uplift and pin.

use egui::{Color32, RichText};

use crate::music::service::Outcome;
use crate::music::{SourceKind, Strategy, Track};

/// What the panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum MusicAction {
    /// New music for the current mood with this strategy (`refresh`: skip the cache).
    Request {
        strategy: Strategy,
        refresh: bool,
    },
    Open(Track),
}

#[derive(Default)]
pub struct MusicPanel {
    /// Album art by URL, uploaded as it arrives.
    pub art: std::collections::HashMap<String, egui::TextureHandle>,
    pub strategy: Strategy,
    /// Keep the current list while the mood changes.
    pub pinned: bool,
    pub current: Option<Outcome>,
    pub loading: bool,
    pub error: Option<String>,
}

fn source_label(s: SourceKind) -> (&'static str, Color32) {
    match s {
        SourceKind::Spotify => ("Spotify", Color32::from_rgb(30, 215, 96)),
        SourceKind::Cache => ("cache", Color32::from_rgb(200, 170, 60)),
        SourceKind::Offline => ("offline", Color32::GRAY),
    }
}

fn duration(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{}:{:02}", ms / 60_000, ms / 1000 % 60))
        .unwrap_or_default()
}

impl MusicPanel {
    pub fn add_art(&mut self, ctx: &egui::Context, url: String, img: &image::RgbaImage) {
        let size = [img.width() as usize, img.height() as usize];
        let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
        let tex = ctx.load_texture(format!("art:{url}"), color, egui::TextureOptions::LINEAR);
        self.art.insert(url, tex);
    }

    pub fn toggle_strategy(&mut self) -> MusicAction {
        self.strategy = self.strategy.toggled();
        MusicAction::Request {
            strategy: self.strategy,
            refresh: false,
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui) -> Vec<MusicAction> {
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
                    self.strategy = s;
                    actions.push(MusicAction::Request {
                        strategy: s,
                        refresh: false,
                    });
                }
            }
            if ui
                .button("Refresh")
                .on_hover_text("R: a new list")
                .clicked()
            {
                actions.push(MusicAction::Request {
                    strategy: self.strategy,
                    refresh: true,
                });
            }
            ui.toggle_value(&mut self.pinned, "Pin")
                .on_hover_text("keep this list while the mood changes");
            if self.loading {
                ui.spinner();
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(Color32::from_rgb(220, 80, 60), e);
        }
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
            ui.label(RichText::new(n).small().color(Color32::GRAY));
        }
        egui::ScrollArea::vertical()
            .id_salt("tracks")
            .show(ui, |ui| {
                for t in &rec.tracks {
                    let text = format!(
                        "{} — {}  {}",
                        t.title,
                        t.artists.join(", "),
                        duration(t.duration_ms)
                    );
                    if ui.link(text).on_hover_text(&t.url).clicked() {
                        actions.push(MusicAction::Open(t.clone()));
                    }
                }
            });
        actions
    }
}
