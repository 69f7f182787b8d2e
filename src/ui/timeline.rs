//! The session's mood timeline (egui_plot), exportable as CSV.

use std::io::Write;

use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::emotion_color;
use crate::emotion::{Emotion, EmotionScores};

/// Samples kept at most every `STEP` seconds: a long session stays light to draw.
const STEP: f64 = 0.25;

#[derive(Default)]
pub(crate) struct Timeline {
    samples: Vec<(f64, EmotionScores, Option<Emotion>)>,
}

impl Timeline {
    pub(crate) fn push(&mut self, t: f64, scores: EmotionScores, stable: Option<Emotion>) {
        if self
            .samples
            .last()
            .is_some_and(|(last, _, _)| t - last < STEP)
        {
            return;
        }
        self.samples.push((t, scores, stable));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub(crate) fn show(&self, ui: &mut egui::Ui) {
        Plot::new("timeline")
            .height(ui.available_height().clamp(80.0, 180.0))
            .include_y(0.0)
            .include_y(1.0)
            .allow_scroll(false)
            .legend(Legend::default())
            .x_axis_label("seconds")
            .show(ui, |p| {
                for e in Emotion::ALL {
                    let pts: Vec<[f64; 2]> = self
                        .samples
                        .iter()
                        .map(|(t, s, _)| [*t, s.get(e) as f64])
                        .collect();
                    p.line(Line::new(e.name(), PlotPoints::from(pts)).color(emotion_color(e)));
                }
            });
    }

    /// `seconds,angry,…,surprise,mood` — one row per sample.
    pub(crate) fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        write!(out, "seconds")?;
        for e in Emotion::ALL {
            write!(out, ",{e}")?;
        }
        writeln!(out, ",mood")?;
        for (t, s, m) in &self.samples {
            write!(out, "{t:.2}")?;
            for p in s.0 {
                write!(out, ",{p:.4}")?;
            }
            writeln!(out, ",{}", m.map(|m| m.name()).unwrap_or(""))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_thinned_and_exported() {
        let mut tl = Timeline::default();
        for i in 0..20 {
            tl.push(
                i as f64 * 0.1,
                EmotionScores::uniform(),
                Some(Emotion::Happy),
            );
        }
        assert_eq!(tl.len(), 7); // 0.0, 0.3, 0.6, ... (every ≥0.25 s)
        let mut buf = Vec::new();
        tl.write_csv(&mut buf).expect("csv");
        let text = String::from_utf8(buf).expect("utf8");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("seconds,angry,disgust,fear,happy,neutral,sad,surprise,mood")
        );
        assert!(lines.next().expect("row").ends_with(",happy"));
        assert_eq!(text.lines().count(), 8);
    }
}
