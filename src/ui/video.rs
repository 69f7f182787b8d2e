//! The live feed: the latest frame scaled to fit, a box, label and confidence per face.

use egui::{
    Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, TextureHandle, TextureOptions, Vec2,
};
use image::RgbImage;

use super::emotion_color;
use crate::pipeline::FrameResult;

#[derive(Default)]
pub(crate) struct Feed {
    texture: Option<TextureHandle>,
}

impl Feed {
    /// Uploads a frame; the texture is reused so a new frame costs one upload, no allocation
    /// on the GPU side.
    pub(crate) fn upload(&mut self, ctx: &egui::Context, frame: &RgbImage) {
        let img = egui::ColorImage::from_rgb(
            [frame.width() as usize, frame.height() as usize],
            frame.as_raw(),
        );
        match &mut self.texture {
            Some(t) => t.set(img, TextureOptions::LINEAR),
            None => self.texture = Some(ctx.load_texture("feed", img, TextureOptions::LINEAR)),
        }
    }

    /// Whether a frame has been uploaded (and is held on the GPU side).
    #[cfg(test)]
    pub(crate) fn has_image(&self) -> bool {
        self.texture.is_some()
    }

    pub(crate) fn show(&self, ui: &mut egui::Ui, last: Option<&FrameResult>) {
        let Some(tex) = &self.texture else {
            ui.centered_and_justified(|ui| ui.label("waiting for the first frame…"));
            return;
        };
        let avail = ui.available_size();
        let size = tex.size_vec2();
        let scale = (avail.x / size.x).min(avail.y / size.y).max(0.01);
        let shown = size * scale;
        let (rect, _) = ui.allocate_exact_size(avail, egui::Sense::hover());
        let img_rect = Rect::from_center_size(rect.center(), shown);
        let painter = ui.painter_at(rect);
        painter.image(
            tex.id(),
            img_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        let Some(r) = last else { return };
        for f in &r.faces {
            let (e, p) = f.emotion();
            let color = emotion_color(e);
            let min = img_rect.min + Vec2::new(f.bbox.x, f.bbox.y) * scale;
            let b = Rect::from_min_size(min, Vec2::new(f.bbox.w, f.bbox.h) * scale);
            if f.roll == 0.0 {
                painter.rect_stroke(b, 4.0, Stroke::new(3.0, color), StrokeKind::Outside);
            } else {
                // Found tilted: the box turns with the head (the crop the classifier saw).
                painter.add(egui::Shape::closed_line(
                    turned_corners(b, f.roll).to_vec(),
                    Stroke::new(3.0, color),
                ));
            }
            let label = format!("#{} {} {:.0}%", f.track_id, e, p * 100.0);
            let font = FontId::proportional(16.0);
            let galley = painter.layout_no_wrap(label, font, Color32::BLACK);
            let bg = Rect::from_min_size(
                b.left_top() - Vec2::new(0.0, galley.size().y + 6.0),
                galley.size() + Vec2::new(8.0, 4.0),
            );
            painter.rect_filled(bg, 3.0, color);
            painter.galley(bg.min + Vec2::new(4.0, 2.0), galley, Color32::BLACK);
        }
        if r.faces.is_empty() {
            painter.text(
                img_rect.center_bottom() - Vec2::new(0.0, 12.0),
                Align2::CENTER_BOTTOM,
                "no face found — face the camera, with light on your face",
                FontId::proportional(16.0),
                Color32::WHITE,
            );
        }
    }
}

/// In place of the feed when the camera image is hidden: the faces as text, no picture.
pub(crate) fn show_hidden(ui: &mut egui::Ui, last: Option<&FrameResult>) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() / 3.0);
        ui.label("The camera image is hidden (V shows it); faces are still read.");
        let Some(r) = last else { return };
        if r.faces.is_empty() {
            ui.label("no face found");
        }
        for f in &r.faces {
            let (e, p) = f.emotion();
            ui.colored_label(
                emotion_color(e),
                format!("#{} {} {:.0}%", f.track_id, e, p * 100.0),
            );
        }
    });
}

/// The corners of `b` turned by `roll` degrees about its centre, the way the classifier's crop
/// is turned (`preprocess::face_input`): its x axis runs along (cos, −sin) on screen.
fn turned_corners(b: Rect, roll: f32) -> [Pos2; 4] {
    let (s, c) = roll.to_radians().sin_cos();
    let (hx, hy) = (b.width() / 2.0, b.height() / 2.0);
    [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)]
        .map(|(x, y)| b.center() + Vec2::new(c * x + s * y, -s * x + c * y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turned_box_keeps_its_centre_and_size_and_turns_like_the_crop() {
        let b = Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(40.0, 40.0));
        let close = |a: Pos2, b: Pos2| (a - b).length() < 1e-3;
        let upright = turned_corners(b, 0.0);
        assert!(close(upright[0], b.left_top()) && close(upright[2], b.right_bottom()));
        let turned = turned_corners(b, 90.0);
        // The crop's x axis runs along (cos, −sin): at 90° its left-top corner is the box's
        // left-bottom one.
        assert!(close(turned[0], b.left_bottom()), "{turned:?}");
        let side = (turned[1] - turned[0]).length();
        assert!((side - 40.0).abs() < 1e-3);
    }
}
