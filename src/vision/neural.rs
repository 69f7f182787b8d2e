//! BlazeFace, MediaPipe's short-range face detector, as a second opinion for rustface.
//!
//! rustface's SeetaFace cascade is frontal-only: heads turned away, hands on a face and strong
//! tilts escape it (models/MODEL_CARD.md, "What the detector misses"). BlazeFace is a small SSD
//! trained on selfie-camera faces of every pose (Bazarevsky et al. 2019; Apache-2.0, see
//! assets/NOTICE.md), converted to TorchScript by `training/blazeface.py`. It sees a
//! 128×128 letterboxed copy of the frame (or of a tracked face's window; gray by default, see
//! `SATURATION`), so its cost is fixed — about 2.5 ms on one core — and its boxes are mapped
//! onto rustface's geometry, so the crop tuned for rustface serves both.

use std::io::Cursor;

use tch::{CModule, Device, Kind, Tensor};

use super::frame::{Detection, Frame};
use super::preprocess::BBox;
use super::resample::{area_average, downscale_into};
use crate::error::{Error, Result};

/// The converted model (436 KiB), embedded like the SeetaFace cascade.
static MODEL: &[u8] = include_bytes!("../../assets/blazeface_short_range.pt");

/// Side of the model's square input.
const INPUT: usize = 128;
/// SSD anchors (16×16×2 + 8×8×6) and the values per anchor: score logit, box centre x, y,
/// width, height, then six key points (x, y), as fractions of the input.
const ANCHORS: usize = 896;
const COLS: usize = 17;
/// Boxes of one face overlap this much or more (MediaPipe's weighted suppression).
const MERGE_IOU: f32 = 0.3;

/// How a BlazeFace box maps onto the box rustface gives the same face: BlazeFace frames
/// brows to mouth, rustface forehead to chin. Median ratios over the PublicTest frames both
/// detectors found (`examples/neural_probe.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxMap {
    /// rustface side / BlazeFace width.
    pub scale: f32,
    /// Centre offsets, in BlazeFace widths (y: down), measured in the face's own upright frame.
    pub dx: f32,
    pub dy: f32,
}

pub const BOX_MAP: BoxMap = BoxMap {
    scale: 1.065,
    dx: 0.0,
    dy: -0.092,
};

/// One raw BlazeFace face in frame pixels, before mapping onto rustface's box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawFace {
    /// Probability in (0, 1).
    pub score: f32,
    /// Centre, width, height.
    pub cx: f32,
    pub cy: f32,
    pub w: f32,
    pub h: f32,
    /// The eye key points (the model's first two), in frame pixels.
    pub eyes: [(f32, f32); 2],
}

impl RawFace {
    /// Degrees the face is rolled by, in `Detection::roll`'s sense (the angle that makes it
    /// upright when the image is turned by it, see `rotate_gray`).
    pub fn roll(&self) -> f32 {
        let [(x0, y0), (x1, y1)] = self.eyes;
        // The model's first eye is the one on the image's left in an upright face.
        -(y1 - y0).atan2(x1 - x0).to_degrees()
    }

    /// The box rustface would give this face, and the roll it was found at.
    pub fn detection(&self, map: BoxMap) -> Detection {
        let roll = self.roll();
        let side = self.w * map.scale;
        // The offset is along the face's own axes: turned by its roll into the frame.
        let (s, c) = (-roll).to_radians().sin_cos();
        let (ox, oy) = (map.dx * self.w, map.dy * self.w);
        let cx = self.cx + c * ox - s * oy;
        let cy = self.cy + s * ox + c * oy;
        Detection {
            bbox: BBox::new(cx - side / 2.0, cy - side / 2.0, side, side),
            // The logit: the tracker shows a face at once from `confirm_score` (4.0: p ≥ 0.98).
            score: f64::from((self.score / (1.0 - self.score).max(1e-6)).ln()),
            roll,
            neural: true,
        }
    }
}

/// How much of the frame's color BlazeFace sees by default (`DetectorSettings::
/// neural_saturation`): 0 is the gray frame rustface reads, 1 full color. BlazeFace was trained
/// on color selfies and scores color faces higher (upright Biden: 0.89 against 0.44; turned by
/// 60–90° found only in color), but behind rustface that bought nothing: on color portraits in
/// textured rooms (`examples/color_probe.rs`, 900 faces tilted up to ±60°, 600 empty rooms)
/// half color at threshold 0.5 found the same 96.7 % of faces with the same 19 boxes in empty
/// rooms as gray at 0.4, and full color traded faces for boxes on texture at gray's rate.
/// So gray, the input the shipped threshold was chosen on.
pub(crate) const SATURATION: f32 = 0.0;

/// A frame (or a window of it) letterboxed into BlazeFace's input, and the way back to frame
/// pixels.
pub(crate) struct Letterbox {
    /// 3 × 128 × 128, planar, in [-1, 1]; black borders.
    input: Vec<f32>,
    x0: f32,
    y0: f32,
    scale: f32,
    px: f32,
    py: f32,
}

impl Letterbox {
    /// `region` of `frame` (clamped to it), its color kept at `saturation` (0: gray); none
    /// when less than 8 pixels remain.
    pub(crate) fn new(frame: Frame<'_>, region: BBox, saturation: f32) -> Option<Letterbox> {
        let gray = frame.gray;
        let (fw, fh) = (gray.width() as f32, gray.height() as f32);
        let x0 = region.x.clamp(0.0, fw).floor();
        let y0 = region.y.clamp(0.0, fh).floor();
        let x1 = (region.x + region.w).clamp(0.0, fw).ceil();
        let y1 = (region.y + region.h).clamp(0.0, fh).ceil();
        let (rw, rh) = (x1 - x0, y1 - y0);
        if rw < 8.0 || rh < 8.0 {
            return None;
        }
        let scale = INPUT as f32 / rw.max(rh);
        let sw = ((rw * scale).round() as usize).clamp(1, INPUT);
        let sh = ((rh * scale).round() as usize).clamp(1, INPUT);
        let (px, py) = ((INPUT - sw) / 2, (INPUT - sh) / 2);
        let area = BBox::new(x0, y0, rw, rh);
        let mut pixels = Vec::new();
        let mut input = vec![-1.0; 3 * INPUT * INPUT];
        let plane = INPUT * INPUT;
        let at = |x: usize, y: usize| (py + y) * INPUT + px + x;
        // Area averaging (nearest pixel where a small window is enlarged), then [-1, 1].
        match frame.color.filter(|_| saturation > 0.0) {
            Some(rgb) => {
                area_average::<3>(rgb.as_raw(), rgb.dimensions(), area, (sw, sh), &mut pixels);
                for (i, p) in pixels.chunks_exact(3).enumerate() {
                    let [r, g, b] = [p[0], p[1], p[2]].map(f32::from);
                    let y = 0.299 * r + 0.587 * g + 0.114 * b;
                    let a = at(i % sw, i / sw);
                    for (c, v) in [r, g, b].into_iter().enumerate() {
                        input[c * plane + a] = (y + saturation * (v - y)) / 127.5 - 1.0;
                    }
                }
            }
            None => {
                downscale_into(gray, area, sw as u32, sh as u32, &mut pixels);
                for (i, &p) in pixels.iter().enumerate() {
                    let a = at(i % sw, i / sw);
                    for c in 0..3 {
                        input[c * plane + a] = f32::from(p) / 127.5 - 1.0;
                    }
                }
            }
        }
        Some(Letterbox {
            input,
            x0,
            y0,
            scale,
            px: px as f32,
            py: py as f32,
        })
    }

    /// A point of the model's input (fractions of its side) in frame pixels.
    fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.x0 + (x * INPUT as f32 - self.px) / self.scale,
            self.y0 + (y * INPUT as f32 - self.py) / self.scale,
        )
    }
}

pub struct NeuralDetector {
    module: CModule,
}

impl NeuralDetector {
    /// Loads the embedded model and checks its contract with one blank frame.
    pub fn embedded() -> Result<Self> {
        let bad = |m: String| Error::Invalid(format!("embedded face model (BlazeFace): {m}"));
        let mut module = CModule::load_data_on_device(&mut Cursor::new(MODEL), Device::Cpu)
            .map_err(|e| bad(e.to_string()))?;
        module.f_set_eval().map_err(|e| bad(e.to_string()))?;
        let d = NeuralDetector { module };
        d.run(&vec![-1.0; 3 * INPUT * INPUT])
            .map_err(|e| bad(e.to_string()))?;
        Ok(d)
    }

    /// Faces in `region` of `frame` with probability ≥ `threshold`, merged per face; color
    /// (if the frame has it) at the default `SATURATION`.
    pub fn detect<'a>(
        &self,
        frame: impl Into<Frame<'a>>,
        region: BBox,
        threshold: f32,
    ) -> Vec<RawFace> {
        Letterbox::new(frame.into(), region, SATURATION)
            .map(|lb| self.detect_letterboxed(&lb, threshold))
            .unwrap_or_default()
    }

    /// Faces in a letterboxed frame with probability ≥ `threshold`, merged per face.
    pub(crate) fn detect_letterboxed(&self, lb: &Letterbox, threshold: f32) -> Vec<RawFace> {
        let Ok(out) = self.run(&lb.input) else {
            return Vec::new();
        };
        let logit = (threshold / (1.0 - threshold).max(1e-6)).ln();
        let mut found: Vec<RawFace> = out
            .chunks_exact(COLS)
            .filter(|r| r[0] >= logit && r[3] > 0.0 && r[4] > 0.0)
            .map(|r| {
                let (cx, cy) = lb.to_frame(r[1], r[2]);
                RawFace {
                    score: 1.0 / (1.0 + (-r[0].clamp(-80.0, 80.0)).exp()),
                    cx,
                    cy,
                    w: r[3] * INPUT as f32 / lb.scale,
                    h: r[4] * INPUT as f32 / lb.scale,
                    eyes: [lb.to_frame(r[5], r[6]), lb.to_frame(r[7], r[8])],
                }
            })
            .collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        weighted_merge(found)
    }

    /// The model on one letterboxed input: 896 × 17 values, row-major.
    fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let _guard = tch::no_grad_guard();
        let x = Tensor::f_from_slice(input)?.f_view([1, 3, INPUT as i64, INPUT as i64])?;
        let out = self.module.forward_ts(&[x])?;
        if out.size() != [ANCHORS as i64, COLS as i64] {
            return Err(Error::Inference(format!(
                "BlazeFace output has shape {:?}, expected [{ANCHORS}, {COLS}]",
                out.size()
            )));
        }
        Ok(Vec::<f32>::try_from(
            out.f_to_kind(Kind::Float)?.f_view([-1])?,
        )?)
    }
}

fn raw_box(f: &RawFace) -> BBox {
    BBox::new(f.cx - f.w / 2.0, f.cy - f.h / 2.0, f.w, f.h)
}

/// MediaPipe's weighted non-maximum suppression: the boxes overlapping the strongest left
/// (IoU ≥ 0.3) are averaged into it, weighted by score; `sorted` is strongest first.
fn weighted_merge(mut sorted: Vec<RawFace>) -> Vec<RawFace> {
    let mut out = Vec::new();
    while let Some(top) = sorted.first().copied() {
        let tb = raw_box(&top);
        let (group, rest): (Vec<RawFace>, Vec<RawFace>) = sorted
            .into_iter()
            .partition(|f| raw_box(f).iou(&tb) >= MERGE_IOU);
        sorted = rest;
        let total: f32 = group.iter().map(|f| f.score).sum();
        let avg =
            |g: &dyn Fn(&RawFace) -> f32| group.iter().map(|f| g(f) * f.score).sum::<f32>() / total;
        out.push(RawFace {
            score: top.score,
            cx: avg(&|f| f.cx),
            cy: avg(&|f| f.cy),
            w: avg(&|f| f.w),
            h: avg(&|f| f.h),
            eyes: [
                (avg(&|f| f.eyes[0].0), avg(&|f| f.eyes[0].1)),
                (avg(&|f| f.eyes[1].0), avg(&|f| f.eyes[1].1)),
            ],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::load_rgb;
    use crate::vision::preprocess::luma;
    use crate::vision::testset::{ASTRONAUT_FACE, hit};
    use crate::vision::{rotate_gray, unrotate_point};
    use image::GrayImage;
    use std::path::Path;

    fn astronaut_rgb() -> image::RgbImage {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/astronaut.png");
        load_rgb(&p).expect("fixture")
    }

    fn astronaut() -> GrayImage {
        luma(&astronaut_rgb())
    }

    #[test]
    fn color_reaches_the_model_in_rgb_order_and_saturation_0_is_the_gray_frame() {
        let d = NeuralDetector::embedded().expect("embedded model");
        let rgb = astronaut_rgb();
        let g = luma(&rgb);
        let full = BBox::new(0.0, 0.0, g.width() as f32, g.height() as f32);
        let gray_lb = Letterbox::new((&g).into(), full, 1.0).expect("letterbox");
        let frame = Frame::with_color(&g, &rgb);
        let none_lb = Letterbox::new(frame, full, 0.0).expect("letterbox");
        assert_eq!(
            gray_lb.input, none_lb.input,
            "saturation 0 must read the gray frame"
        );
        let color_lb = Letterbox::new(frame, full, 1.0).expect("letterbox");
        // Somewhere in the photo red and blue differ; half saturation halves that difference.
        let plane = INPUT * INPUT;
        let spread = |lb: &Letterbox, at: usize| lb.input[at] - lb.input[2 * plane + at];
        let at = (0..plane)
            .max_by(|&a, &b| {
                spread(&color_lb, a)
                    .abs()
                    .total_cmp(&spread(&color_lb, b).abs())
            })
            .expect("pixels");
        assert!(spread(&color_lb, at).abs() > 0.2);
        let half = Letterbox::new(frame, full, 0.5).expect("letterbox");
        assert!((spread(&half, at) - 0.5 * spread(&color_lb, at)).abs() < 1e-4);
        // BlazeFace was trained on color selfies: in RGB order it is surer of the astronaut
        // than in gray (0.92 against 0.85 measured); swapped channels would not be.
        let score = |lb: &Letterbox| {
            let faces = d.detect_letterboxed(lb, 0.5);
            assert_eq!(faces.len(), 1, "{faces:?}");
            assert!(hit(&[faces[0].detection(BOX_MAP).bbox], &ASTRONAUT_FACE));
            faces[0].score
        };
        assert!(score(&color_lb) > score(&gray_lb) + 0.03);
        // A color image of another size than the gray one is left out.
        let small = image::RgbImage::new(10, 10);
        assert!(Frame::with_color(&g, &small).color.is_none());
    }

    #[test]
    fn finds_the_astronaut_upright_and_nothing_on_a_blank_frame() {
        let d = NeuralDetector::embedded().expect("embedded model");
        let g = astronaut();
        let full = BBox::new(0.0, 0.0, g.width() as f32, g.height() as f32);
        let faces = d.detect(&g, full, 0.5);
        assert_eq!(faces.len(), 1, "{faces:?}");
        let det = faces[0].detection(BOX_MAP);
        assert!(hit(&[det.bbox], &ASTRONAUT_FACE), "{det:?}");
        assert!(det.roll.abs() < 10.0, "upright face, roll {}", det.roll);
        let blank = GrayImage::from_pixel(640, 480, image::Luma([128]));
        let none = d.detect(&blank, BBox::new(0.0, 0.0, 640.0, 480.0), 0.5);
        assert!(none.is_empty(), "{none:?}");
        // A region outside the frame or too small is no face and no panic.
        assert!(
            d.detect(&g, BBox::new(900.0, 900.0, 50.0, 50.0), 0.5)
                .is_empty()
        );
        assert!(
            d.detect(&g, BBox::new(10.0, 10.0, 3.0, 3.0), 0.5)
                .is_empty()
        );
    }

    #[test]
    fn a_tilted_face_gets_its_roll_from_the_eyes_in_the_rolled_passes_sense() {
        let d = NeuralDetector::embedded().expect("embedded model");
        let g = astronaut();
        let (w, h) = g.dimensions();
        let full = BBox::new(0.0, 0.0, w as f32, h as f32);
        let roll_at = |d: &NeuralDetector, deg: f32| {
            let tilted =
                GrayImage::from_raw(w, h, rotate_gray(g.as_raw(), w, h, deg)).expect("sized");
            let faces = d.detect(&tilted, full, 0.5);
            assert_eq!(faces.len(), 1, "tilted {deg}°: {faces:?}");
            faces[0].detection(BOX_MAP)
        };
        // The astronaut's own head is tilted a little (eyes ~8° off level).
        let own = roll_at(&d, 0.0).roll;
        // rotate_gray(.., 35°) needs the −35° turn to be upright again (detector.rs's test).
        // BlazeFace's eyes lag strong tilts a little, hence the 12° tolerance.
        for deg in [35.0f32, -30.0] {
            let det = roll_at(&d, deg);
            assert!(
                (det.roll - own + deg).abs() < 12.0,
                "tilted {deg}°: roll {} (upright {own})",
                det.roll
            );
            // The box follows the face to where the rotation put it.
            let (cx, cy) = unrotate_point(ASTRONAUT_FACE.center(), (w, h), -deg);
            let (fx, fy) = det.bbox.center();
            assert!((fx - cx).hypot(fy - cy) < 25.0, "{det:?} vs ({cx}, {cy})");
        }
    }

    #[test]
    fn merging_keeps_one_box_per_face_weighted_by_score() {
        let f = |score, cx| RawFace {
            score,
            cx,
            cy: 50.0,
            w: 20.0,
            h: 20.0,
            eyes: [(cx + 5.0, 45.0), (cx - 5.0, 45.0)],
        };
        let merged = weighted_merge(vec![f(0.9, 50.0), f(0.3, 54.0), f(0.8, 150.0)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        assert!((merged[0].cx - 51.0).abs() < 1e-4, "{}", merged[0].cx);
        assert_eq!(merged[1].cx, 150.0);
    }
}
