//! Probability bars for the main face, and the stable mood with how settled it is.

use egui::{Color32, RichText};

use super::emotion_color;
use crate::emotion::Emotion;
use crate::pipeline::FrameResult;

/// What a bar means (the model is trained on ten people's votes per face, temperature-scaled).
pub(crate) const BARS_MEAN: &str = "About how many people in ten would name this emotion on \
this face: the model learned from ten people's votes per face, so 60 % means roughly six in ten. \
Smoothed over the last moments.";

pub(crate) fn show(ui: &mut egui::Ui, last: Option<&FrameResult>) {
    ui.heading("Mood");
    let mood = last.map(|r| r.mood);
    match mood.and_then(|m| m.stable) {
        Some(e) => ui.label(
            RichText::new(e.to_string())
                .size(28.0)
                .color(emotion_color(e))
                .strong(),
        ),
        None => ui.label(RichText::new("settling…").size(20.0).color(Color32::GRAY)),
    };
    if let Some(m) = mood {
        let text = match (m.candidate, m.stable) {
            (Some(c), s) if Some(c) != s => {
                format!("{c} is taking over: {:.0}%", m.settled * 100.0)
            }
            (Some(_), _) => "steady".to_string(),
            (None, _) => "no face".to_string(),
        };
        ui.add(
            egui::ProgressBar::new(m.settled)
                .text(text)
                .desired_height(12.0),
        );
    }
    ui.separator();
    // The main face is the largest one in view.
    let main = last.and_then(FrameResult::main_face);
    ui.horizontal(|ui| {
        ui.heading(match (main, last.map(|r| r.faces.len()).unwrap_or(0)) {
            (Some(f), n) if n > 1 => format!("Face #{} (of {n})", f.track_id),
            (Some(f), _) => format!("Face #{}", f.track_id),
            (None, _) => "No face".to_string(),
        });
        if main.is_some_and(|f| f.personal) {
            ui.label(RichText::new("calibrated").color(Color32::from_rgb(90, 170, 90)))
                .on_hover_text("Scores adjusted to the active profile (the largest face)");
        }
    });
    for e in Emotion::ALL {
        let p = main.map(|f| f.scores.get(e)).unwrap_or(0.0);
        ui.horizontal(|ui| {
            ui.add_sized([70.0, 18.0], egui::Label::new(e.name()));
            // The number sits right of the bar: inside, it collides with a short fill. The bar
            // leaves exactly room for it, or the auto-sized side panel would widen every frame.
            let number_width = 40.0;
            let bar_width =
                (ui.available_width() - number_width - ui.spacing().item_spacing.x).max(40.0);
            ui.add(
                egui::ProgressBar::new(p)
                    .fill(emotion_color(e))
                    .desired_width(bar_width)
                    .desired_height(14.0),
            )
            .on_hover_text(BARS_MEAN);
            ui.add_sized(
                [number_width, 18.0],
                egui::Label::new(RichText::new(format!("{:.0}%", p * 100.0)).monospace()),
            );
        });
    }
}
