//! Face detection with rustface (SeetaFace funnel cascade), made real-time by detecting on a
//! downscaled frame and, between full scans, only in a window around each tracked face.

use image::GrayImage;
use rustface::{Detector, ImageData};

use super::preprocess::BBox;
use crate::error::{Error, Result};

/// SeetaFace frontal model, embedded so the binary needs no data files (see assets/NOTICE.md).
static SEETA_MODEL: &[u8] = include_bytes!("../../assets/seeta_fd_frontal_v1.0.bin");

/// Detector settings; the defaults were chosen by the sweep described in the README.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectorSettings {
    /// Full scans run on the frame scaled down to this width (pixels).
    pub scan_width: u32,
    /// Smallest face searched for, in pixels of the *original* frame.
    pub min_face: u32,
    /// Cascade score threshold (rustface's default is 2.0).
    pub score_thresh: f64,
    /// Image pyramid factor in (0, 1): closer to 1 is slower and finds more sizes.
    pub pyramid_factor: f32,
    /// Sliding-window step in pixels of the scanned image.
    pub window_step: u32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            scan_width: 320,
            min_face: 60,
            score_thresh: 2.0,
            pyramid_factor: 0.7,
            window_step: 4,
        }
    }
}

/// One detected face in original-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f64,
}

pub struct FaceDetector {
    inner: Box<dyn Detector>,
    settings: DetectorSettings,
    scratch: Vec<u8>,
}

// rustface refuses windows and faces under 20 px (it panics); keep every request above that.
const MIN_WINDOW: u32 = 20;

impl FaceDetector {
    pub fn new(settings: DetectorSettings) -> Result<Self> {
        let model = rustface::read_model(SEETA_MODEL)
            .map_err(|e| Error::Invalid(format!("embedded face model is corrupt: {e}")))?;
        let mut d = FaceDetector {
            inner: rustface::create_detector_with_model(model),
            settings,
            scratch: Vec::new(),
        };
        d.apply(settings);
        Ok(d)
    }

    pub fn settings(&self) -> DetectorSettings {
        self.settings
    }

    pub fn set_settings(&mut self, s: DetectorSettings) {
        self.apply(s);
    }

    fn apply(&mut self, mut s: DetectorSettings) {
        s.pyramid_factor = s.pyramid_factor.clamp(0.3, 0.95);
        s.window_step = s.window_step.max(1);
        s.scan_width = s.scan_width.max(MIN_WINDOW * 2);
        self.inner.set_score_thresh(s.score_thresh);
        self.inner.set_pyramid_scale_factor(s.pyramid_factor);
        self.inner
            .set_slide_window_step(s.window_step, s.window_step);
        self.settings = s;
    }

    /// Scans the whole frame (downscaled to `scan_width`).
    pub fn detect(&mut self, gray: &GrayImage) -> Vec<Detection> {
        let (w, h) = gray.dimensions();
        let scale = (self.settings.scan_width as f32 / w as f32).min(1.0);
        let min_face = (self.settings.min_face as f32 * scale).round() as u32;
        self.detect_region(
            gray,
            BBox::new(0.0, 0.0, w as f32, h as f32),
            scale,
            min_face,
            0,
        )
    }

    /// Searches only `roi` (frame pixels) for a face of about `expected` side, scaling the
    /// region so that face is ~2× the detector's window: far fewer windows than a full scan.
    pub fn detect_near(&mut self, gray: &GrayImage, roi: BBox, expected: f32) -> Vec<Detection> {
        let (w, h) = gray.dimensions();
        let x0 = roi.x.max(0.0).floor();
        let y0 = roi.y.max(0.0).floor();
        let x1 = (roi.x + roi.w).min(w as f32).ceil();
        let y1 = (roi.y + roi.h).min(h as f32).ceil();
        if x1 - x0 < MIN_WINDOW as f32 || y1 - y0 < MIN_WINDOW as f32 {
            return Vec::new();
        }
        let scale = ((2.0 * MIN_WINDOW as f32) / expected).min(1.0);
        let min_face = (expected * 0.6 * scale).round() as u32;
        let max_face = (expected * 1.6 * scale).round() as u32;
        self.detect_region(
            gray,
            BBox::new(x0, y0, x1 - x0, y1 - y0),
            scale,
            min_face,
            max_face,
        )
    }

    /// Re-finds a tracked face: searches a window twice its size around it (a face moves
    /// little between frames).
    pub fn detect_around(&mut self, gray: &GrayImage, face: &BBox) -> Vec<Detection> {
        let side = face.w.max(face.h);
        let roi = BBox::new(
            face.x - side / 2.0,
            face.y - side / 2.0,
            side * 2.0,
            side * 2.0,
        );
        self.detect_near(gray, roi, side)
    }

    fn detect_region(
        &mut self,
        gray: &GrayImage,
        region: BBox,
        scale: f32,
        min_face: u32,
        max_face: u32,
    ) -> Vec<Detection> {
        let sw = (region.w * scale).round() as u32;
        let sh = (region.h * scale).round() as u32;
        if sw < MIN_WINDOW || sh < MIN_WINDOW {
            return Vec::new();
        }
        downscale_into(gray, region, sw, sh, &mut self.scratch);
        self.inner.set_min_face_size(min_face.max(MIN_WINDOW));
        self.inner.set_max_face_size(if max_face == 0 {
            sw.max(sh)
        } else {
            max_face.max(MIN_WINDOW + 1)
        });
        let faces = self.inner.detect(&ImageData::new(&self.scratch, sw, sh));
        faces
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                Detection {
                    bbox: BBox::new(
                        region.x + b.x() as f32 / scale,
                        region.y + b.y() as f32 / scale,
                        b.width() as f32 / scale,
                        b.height() as f32 / scale,
                    ),
                    score: f.score(),
                }
            })
            .collect()
    }
}

/// Area-average downscale of `region` into `out` (`sw`×`sh`, row-major gray).
fn downscale_into(gray: &GrayImage, region: BBox, sw: u32, sh: u32, out: &mut Vec<u8>) {
    let (iw, ih) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    out.clear();
    out.reserve((sw * sh) as usize);
    let fx = region.w / sw as f32;
    let fy = region.h / sh as f32;
    let cols: Vec<(usize, usize)> = (0..sw)
        .map(|x| {
            let a = ((region.x + x as f32 * fx) as usize).min(iw - 1);
            let b = ((region.x + (x + 1) as f32 * fx) as usize).clamp(a + 1, iw);
            (a, b)
        })
        .collect();
    for y in 0..sh {
        let ya = ((region.y + y as f32 * fy) as usize).min(ih - 1);
        let yb = ((region.y + (y + 1) as f32 * fy) as usize).clamp(ya + 1, ih);
        for &(xa, xb) in &cols {
            let mut sum = 0u32;
            for row in ya..yb {
                let base = row * iw;
                for v in &raw[base + xa..base + xb] {
                    sum += *v as u32;
                }
            }
            out.push((sum / ((yb - ya) * (xb - xa)) as u32) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_tiny_frames_give_no_faces_and_no_panic() {
        let mut d = FaceDetector::new(DetectorSettings::default()).expect("embedded model");
        assert!(
            d.detect(&GrayImage::from_pixel(640, 480, image::Luma([128])))
                .is_empty()
        );
        assert!(
            d.detect(&GrayImage::from_pixel(8, 8, image::Luma([0])))
                .is_empty()
        );
        assert!(
            d.detect_near(
                &GrayImage::from_pixel(64, 64, image::Luma([0])),
                BBox::new(60.0, 60.0, 30.0, 30.0),
                30.0
            )
            .is_empty()
        );
    }

    #[test]
    fn downscale_halves_by_averaging() {
        let g = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 100 }]));
        let mut out = Vec::new();
        downscale_into(&g, BBox::new(0.0, 0.0, 4.0, 2.0), 2, 1, &mut out);
        assert_eq!(out, vec![50, 50]);
    }
}
