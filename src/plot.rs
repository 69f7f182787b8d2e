//! Static plots (plotters, bitmap backend): the confusion matrix of `emotune eval`.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::emotion::Emotion;
use crate::error::{Error, Result};

const FONT: &str = "sans-serif";

/// plotters' ab_glyph backend has no system fonts: register egui's bundled Ubuntu font once.
fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Row-normalised confusion matrix: each cell shows the share of the true class (and the count).
pub(crate) fn confusion_png(
    cm: &[[u64; Emotion::COUNT]; Emotion::COUNT],
    title: &str,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let (w, h) = (760u32, 700u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let draw_err = |e: String| Error::Invalid(format!("cannot draw confusion matrix: {e}"));
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
        let text = |size: f64| TextStyle::from((FONT, size).into_font()).color(&BLACK);
        let (x0, y0, cell) = (130i32, 90i32, 84i32);
        root.draw(&Text::new(title.to_string(), (20, 20), text(24.0)))
            .map_err(|e| draw_err(e.to_string()))?;
        root.draw(&Text::new(
            "predicted",
            (x0 + cell * 3, y0 - 40),
            text(16.0),
        ))
        .map_err(|e| draw_err(e.to_string()))?;
        root.draw(&Text::new("true", (20, y0 - 40), text(16.0)))
            .map_err(|e| draw_err(e.to_string()))?;
        for (r, row) in cm.iter().enumerate() {
            let total: u64 = row.iter().sum::<u64>().max(1);
            let ry = y0 + r as i32 * cell;
            root.draw(&Text::new(
                Emotion::ALL[r].name(),
                (20, ry + cell / 2 - 8),
                text(16.0),
            ))
            .map_err(|e| draw_err(e.to_string()))?;
            for (c, &count) in row.iter().enumerate() {
                let share = count as f64 / total as f64;
                let cx = x0 + c as i32 * cell;
                // White → deep blue with the share of the row.
                let shade = |full: u8| (255.0 - share * (255.0 - full as f64)) as u8;
                let fill = RGBColor(shade(20), shade(70), shade(160));
                root.draw(&Rectangle::new(
                    [(cx, ry), (cx + cell, ry + cell)],
                    fill.filled(),
                ))
                .map_err(|e| draw_err(e.to_string()))?;
                root.draw(&Rectangle::new(
                    [(cx, ry), (cx + cell, ry + cell)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(|e| draw_err(e.to_string()))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let label = TextStyle::from((FONT, 17.0).into_font()).color(&ink);
                let small = TextStyle::from((FONT, 13.0).into_font()).color(&ink);
                root.draw(&Text::new(
                    format!("{:.0}%", share * 100.0),
                    (cx + 22, ry + 24),
                    label,
                ))
                .map_err(|e| draw_err(e.to_string()))?;
                root.draw(&Text::new(format!("{count}"), (cx + 26, ry + 50), small))
                    .map_err(|e| draw_err(e.to_string()))?;
            }
        }
        for (c, e) in Emotion::ALL.iter().enumerate() {
            let cx = x0 + c as i32 * cell;
            root.draw(&Text::new(e.name(), (cx + 8, y0 - 20), text(15.0)))
                .map_err(|e| draw_err(e.to_string()))?;
        }
        root.present().map_err(|e| draw_err(e.to_string()))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| draw_err("buffer size mismatch".into()))?;
    img.save(path).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: format!("cannot write PNG: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_with_ink_in_the_cells() {
        let mut cm = [[0u64; 7]; 7];
        for (i, row) in cm.iter_mut().enumerate() {
            row[i] = 10;
            row[(i + 1) % 7] = 2;
        }
        let path = std::env::temp_dir().join(format!("emotune-cm-{}.png", std::process::id()));
        confusion_png(&cm, "test", &path).expect("png");
        let img = image::open(&path).expect("readable").to_rgb8();
        assert_eq!(img.dimensions(), (760, 700));
        // The diagonal cell (0, 0) is dark blue, an empty cell white-ish.
        let diag = img.get_pixel(130 + 5, 90 + 5);
        let empty = img.get_pixel(130 + 84 * 4 + 5, 90 + 5);
        assert!(diag[2] > diag[0] + 50, "{diag:?}");
        assert!(empty[0] > 240, "{empty:?}");
    }
}
