//! Synthetic webcam frames for measuring the detector: real faces (a public-domain portrait,
//! FER-2013 crops) placed into 640×480 frames at different sizes, positions and exposures,
//! with the true face box known.

use image::{Rgb, RgbImage, imageops};

use super::preprocess::BBox;

pub(crate) const FRAME_W: u32 = 640;
pub(crate) const FRAME_H: u32 = 480;

/// One frame and where its face is.
pub struct Sample {
    pub frame: RgbImage,
    pub face: BBox,
    pub label: String,
}

fn scale_brightness(img: &mut RgbImage, gain: f32) {
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (*c as f32 * gain).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Variants of a portrait whose face box (in the portrait's pixels) is `face`: the portrait is
/// scaled so the face spans 70–260 px, placed left/centre/right (cropped by the frame where it
/// overflows), mirrored, and under-/over-exposed.
pub fn portrait_variants(portrait: &RgbImage, face: BBox) -> Vec<Sample> {
    let mut out = Vec::new();
    for &face_px in &[70.0f32, 100.0, 140.0, 190.0, 260.0] {
        let s = face_px / face.w;
        let (pw, ph) = (
            (portrait.width() as f32 * s) as u32,
            (portrait.height() as f32 * s) as u32,
        );
        let scaled = imageops::resize(
            portrait,
            pw.max(1),
            ph.max(1),
            imageops::FilterType::Triangle,
        );
        for mirror in [false, true] {
            let img = if mirror {
                imageops::flip_horizontal(&scaled)
            } else {
                scaled.clone()
            };
            let fx = if mirror {
                pw as f32 - (face.x + face.w) * s
            } else {
                face.x * s
            };
            let fy = face.y * s;
            for &(cx, tag) in &[(0.3f32, "left"), (0.5, "centre"), (0.7, "right")] {
                // Put the face centre at (cx·W, 0.45·H).
                let ox = (cx * FRAME_W as f32 - (fx + face_px / 2.0)).round() as i64;
                let oy = (0.45 * FRAME_H as f32 - (fy + face.h * s / 2.0)).round() as i64;
                for &gain in &[0.6f32, 1.0, 1.3] {
                    let mut frame = RgbImage::from_pixel(FRAME_W, FRAME_H, Rgb([90, 90, 90]));
                    imageops::overlay(&mut frame, &img, ox, oy);
                    scale_brightness(&mut frame, gain);
                    out.push(Sample {
                        frame,
                        face: BBox::new(ox as f32 + fx, oy as f32 + fy, face_px, face.h * s),
                        label: format!(
                            "portrait face={face_px}px mirror={mirror} {tag} gain={gain}"
                        ),
                    });
                }
            }
        }
    }
    out
}

/// The rule the test faces are scored by; it lives with `BBox`, as `bench` scores truth files
/// by it in every build.
pub use super::preprocess::hit;

/// The face box in `tests/fixtures/astronaut.png` (512×512), measured by eye: brow to chin.
pub const ASTRONAUT_FACE: BBox = BBox {
    x: 172.0,
    y: 62.0,
    w: 104.0,
    h: 110.0,
};
