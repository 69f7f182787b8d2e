//! rustface's cascade (SeetaFace funnel) over scaled, possibly rotated, gray images: the
//! upright and rolled passes of full scans and window searches, and the suppression that
//! keeps one box per face.

use image::GrayImage;
use rustface::{Detector, ImageData};

use super::frame::Detection;
use super::preprocess::BBox;
use super::resample::{downscale_into, rotate_gray, unrotate_point};
use crate::error::{Error, Result};

/// SeetaFace frontal model, embedded so the binary needs no data files (see assets/NOTICE.md).
static SEETA_MODEL: &[u8] = include_bytes!("../../assets/seeta_fd_frontal_v1.0.bin");

// rustface refuses windows and faces under 20 px (it panics); keep every request above that.
pub(crate) const MIN_WINDOW: u32 = 20;
/// rustface's sliding window (fixed by the SeetaFace model): the smallest face one pyramid
/// level finds is this many pixels of that level.
pub(crate) const WINDOW: f32 = 40.0;

/// rustface's detector with the scratch buffer its scaled images are made in.
pub(crate) struct Cascade {
    inner: Box<dyn Detector>,
    /// The scaled image of the last pass (reused, and lent to full scans).
    pub(crate) scratch: Vec<u8>,
    /// Cascade score a rolled pass's box needs (`DetectorSettings::roll_score_thresh`).
    roll_score_thresh: f64,
}

impl Cascade {
    /// The embedded SeetaFace model's cascade.
    pub(crate) fn new() -> Result<Self> {
        let model = rustface::read_model(SEETA_MODEL)
            .map_err(|e| Error::Invalid(format!("embedded face model is corrupt: {e}")))?;
        Ok(Cascade {
            inner: rustface::create_detector_with_model(model),
            scratch: Vec::new(),
            roll_score_thresh: f64::MIN,
        })
    }

    /// Sets rustface's score threshold, pyramid factor and window step, and the rolled passes'
    /// score threshold (from settings already clamped).
    pub(crate) fn configure(
        &mut self,
        score_thresh: f64,
        pyramid_factor: f32,
        window_step: u32,
        roll_score_thresh: f64,
    ) {
        self.inner.set_score_thresh(score_thresh);
        self.inner.set_pyramid_scale_factor(pyramid_factor);
        self.inner.set_slide_window_step(window_step, window_step);
        self.roll_score_thresh = roll_score_thresh;
    }

    /// `region` of `gray` scaled by `scale` and rotated by `roll` degrees, searched with a
    /// `step`-pixel sliding window for faces up to `max_face` pixels of the scaled image (0:
    /// any size). rustface's pyramid always starts at the image's own scale, so the smallest
    /// face found is its 40-pixel window: `scale` is what sets the minimum face.
    pub(crate) fn detect_region(
        &mut self,
        gray: &GrayImage,
        region: BBox,
        scale: f32,
        max_face: u32,
        roll: f32,
        step: u32,
    ) -> Vec<Detection> {
        let sw = (region.w * scale).round() as u32;
        let sh = (region.h * scale).round() as u32;
        if sw < MIN_WINDOW || sh < MIN_WINDOW {
            return Vec::new();
        }
        downscale_into(gray, region, sw, sh, &mut self.scratch);
        let pixels = std::mem::take(&mut self.scratch);
        let pass = Pass {
            region,
            scale,
            size: (sw, sh),
            roll,
            step,
        };
        let dets = self.scan_pass(&pixels, pass, max_face);
        self.scratch = pixels;
        suppress_overlaps(dets)
    }

    /// One pass of rustface over `pixels` (the scaled image of `pass`), rotated first when
    /// the pass is rolled; boxes in frame pixels.
    pub(crate) fn scan_pass(&mut self, pixels: &[u8], pass: Pass, max_face: u32) -> Vec<Detection> {
        let (w, h) = pass.size;
        self.inner.set_slide_window_step(pass.step, pass.step);
        let (faces, min) = if pass.roll == 0.0 {
            (self.scan(pixels, w, h, max_face), f64::MIN)
        } else {
            let rotated = rotate_gray(pixels, w, h, pass.roll);
            let faces = self.scan(&rotated, w, h, max_face);
            (faces, self.roll_score_thresh)
        };
        faces
            .iter()
            .filter(|f| f.score() >= min)
            .map(|f| pass.detection(f))
            .collect()
    }

    /// rustface over a `w`×`h` gray buffer (already scaled).
    fn scan(&mut self, pixels: &[u8], w: u32, h: u32, max_face: u32) -> Vec<rustface::FaceInfo> {
        if w < MIN_WINDOW || h < MIN_WINDOW {
            return Vec::new();
        }
        self.inner.set_min_face_size(MIN_WINDOW);
        self.inner.set_max_face_size(if max_face == 0 {
            w.max(h)
        } else {
            max_face.max(MIN_WINDOW + 1)
        });
        self.inner.detect(&ImageData::new(pixels, w, h))
    }
}

/// What one rustface pass searched: `region` of the frame scaled by `scale` into a
/// `size` image, rotated by `roll` degrees about its centre, with a `step`-pixel window step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    pub(crate) region: BBox,
    pub(crate) scale: f32,
    pub(crate) size: (u32, u32),
    pub(crate) roll: f32,
    pub(crate) step: u32,
}

impl Pass {
    /// A rustface box of this pass in frame pixels: for a rolled pass, an upright box of the
    /// same size around the face's centre carried back into the unrotated image.
    fn detection(&self, f: &rustface::FaceInfo) -> Detection {
        let b = f.bbox();
        let (bw, bh) = (b.width() as f32, b.height() as f32);
        let (cx, cy) = (b.x() as f32 + bw / 2.0, b.y() as f32 + bh / 2.0);
        let (cx, cy) = unrotate_point((cx, cy), self.size, self.roll);
        Detection {
            bbox: BBox::new(
                self.region.x + (cx - bw / 2.0) / self.scale,
                self.region.y + (cy - bh / 2.0) / self.scale,
                bw / self.scale,
                bh / self.scale,
            ),
            score: f.score(),
            roll: self.roll,
            neural: false,
        }
    }
}

/// One box per face: detections overlapping a stronger one (IoU ≥ 0.3, or centre inside it)
/// are dropped. rustface suppresses within a pyramid level; boxes of one face found at two
/// levels, or by two tracks' windows, survive that. Upright boxes come first whatever their
/// score: a rolled pass is the fallback for faces the upright one misses (preferring the
/// higher score turned upright faces' crops by 25° and cost accuracy through the detector).
/// BlazeFace's boxes come last: the crop was tuned on rustface's.
pub(crate) fn suppress_overlaps(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| {
        (a.neural, a.roll != 0.0)
            .cmp(&(b.neural, b.roll != 0.0))
            .then(b.score.total_cmp(&a.score))
    });
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if !kept.iter().any(|k| k.bbox.same_face(&d.bbox, 0.3)) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_boxes_of_one_face_become_one() {
        let d = |x: f32, w: f32, score: f64| Detection {
            bbox: BBox::new(x, 0.0, w, w),
            score,
            roll: 0.0,
            neural: false,
        };
        // A big and a small box on one face (IoU 0.16, centre inside), and a separate face.
        let kept = suppress_overlaps(vec![
            d(0.0, 100.0, 5.0),
            d(30.0, 40.0, 9.0),
            d(300.0, 80.0, 4.0),
        ]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 9.0, "the stronger box wins");
        assert_eq!(kept[1].bbox.x, 300.0);
        // A rolled pass's box on a face the upright pass found loses, even when stronger.
        let rolled = Detection {
            roll: 25.0,
            ..d(30.0, 40.0, 12.0)
        };
        let kept = suppress_overlaps(vec![d(0.0, 100.0, 5.0), rolled]);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].score, kept[0].roll), (5.0, 0.0));
        // BlazeFace's box of a face rustface found loses too, rolled or not.
        let neural = Detection {
            neural: true,
            ..d(10.0, 90.0, 30.0)
        };
        let kept = suppress_overlaps(vec![neural, rolled]);
        assert_eq!(kept.len(), 1);
        assert!(!kept[0].neural && kept[0].roll == 25.0);
    }
}
