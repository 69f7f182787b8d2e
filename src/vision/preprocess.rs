//! Frame → classifier input, matching training exactly: square crop around the face (with a
//! margin), BT.601 luma (what PIL's `convert("L")` does), area resampling to 48×48, [0, 1].

use image::{GrayImage, RgbImage};

/// Side of the classifier's input (model contract).
pub(crate) const INPUT_SIZE: usize = 48;
pub(crate) const INPUT_LEN: usize = INPUT_SIZE * INPUT_SIZE;

/// One face ready for the classifier: 48×48 gray in [0, 1], row-major.
pub(crate) type FaceInput = Box<[f32; INPUT_LEN]>;

/// Axis-aligned box in pixel coordinates of the full frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) w: f32,
    pub(crate) h: f32,
}

impl BBox {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        BBox { x, y, w, h }
    }

    pub(crate) fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Intersection over union, 0 when disjoint.
    pub(crate) fn iou(&self, o: &BBox) -> f32 {
        let x0 = self.x.max(o.x);
        let y0 = self.y.max(o.y);
        let x1 = (self.x + self.w).min(o.x + o.w);
        let y1 = (self.y + self.h).min(o.y + o.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + o.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    pub fn contains(&self, (x, y): (f32, f32)) -> bool {
        x >= self.x && x <= self.x + self.w && y >= self.y && y <= self.y + self.h
    }

    /// The same face seen twice: IoU ≥ `min_iou`, or either centre inside the other box (a box
    /// from another pyramid level, or after a fast move, overlaps less than it looks).
    pub fn same_face(&self, o: &BBox, min_iou: f32) -> bool {
        self.iou(o) >= min_iou || self.contains(o.center()) || o.contains(self.center())
    }

    /// `[x, y, w, h]` rounded to whole pixels, the JSON shape of DESIGN.md.
    pub fn to_array(&self) -> [i64; 4] {
        [
            self.x.round() as i64,
            self.y.round() as i64,
            self.w.round() as i64,
            self.h.round() as i64,
        ]
    }
}

/// A true face counts as found when a found box overlaps it with IoU ≥ 0.3 (detector boxes are
/// tighter or looser than hand-placed ones; 0.3 still rules out a box on the wrong thing).
pub fn hit(found: &[BBox], truth: &BBox) -> bool {
    found.iter().any(|b| b.iou(truth) >= 0.3)
}

/// BT.601 luma with the same integer rounding as PIL (`L = (299R + 587G + 114B) / 1000`).
pub fn luma(frame: &RgbImage) -> GrayImage {
    let (w, h) = frame.dimensions();
    let mut out = vec![0u8; (w * h) as usize];
    // Fixed blocks of 16 pixels into a sized buffer, and the division as a multiply-shift
    // (exact for every sum up to 255 500, see the test), let the loop vectorise: 0.28 ms
    // instead of 0.56 at 640×480.
    let px = |p: &[u8]| {
        let sum = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]) + 500;
        div1000(sum) as u8
    };
    let raw = frame.as_raw();
    let mut outs = out.chunks_exact_mut(16);
    let mut ins = raw.chunks_exact(48);
    for (o, p) in (&mut outs).zip(&mut ins) {
        for (i, v) in o.iter_mut().enumerate() {
            *v = px(&p[3 * i..3 * i + 3]);
        }
    }
    for (o, p) in outs
        .into_remainder()
        .iter_mut()
        .zip(ins.remainder().chunks_exact(3))
    {
        *o = px(p);
    }
    GrayImage::from_raw(w, h, out).expect("buffer sized from the frame")
}

/// `x / 1000` for `x` ≤ 255 500 (a luma sum) without a division.
#[inline]
fn div1000(x: u32) -> u32 {
    ((u64::from(x) * 4_294_968) >> 32) as u32
}

/// Area-average resample of `region` (clamped to the image; pixels outside repeat the edge)
/// into a 48×48 [0, 1] input. For a 48×48 image and its full box this is the identity.
pub(crate) fn crop_resize(gray: &GrayImage, region: BBox) -> FaceInput {
    let mut out: FaceInput = Box::new([0.0; INPUT_LEN]);
    area_resample(gray, region, INPUT_SIZE, &mut out[..]);
    for v in out.iter_mut() {
        *v /= 255.0;
    }
    out
}

/// Area-average resample of `region` into `out` (`ow` wide, row-major) as grey levels
/// (0–255); pixels outside the image repeat the edge.
fn area_resample(gray: &GrayImage, region: BBox, ow: usize, out: &mut [f32]) {
    let (iw, ih) = (gray.width() as i64, gray.height() as i64);
    let raw = gray.as_raw();
    let oh = out.len() / ow.max(1);
    if iw == 0 || ih == 0 {
        out.fill(0.0);
        return;
    }
    let sx = region.w / ow as f32;
    let sy = region.h / oh as f32;
    for oy in 0..oh {
        let y0 = region.y + oy as f32 * sy;
        let (ya, yb) = span(y0, y0 + sy);
        for ox in 0..ow {
            let x0 = region.x + ox as f32 * sx;
            let (xa, xb) = span(x0, x0 + sx);
            let mut sum = 0u32;
            for y in ya..yb {
                let row = (y.clamp(0, ih - 1) * iw) as usize;
                for x in xa..xb {
                    sum += raw[row + x.clamp(0, iw - 1) as usize] as u32;
                }
            }
            let n = ((yb - ya) * (xb - xa)) as f32;
            out[oy * ow + ox] = sum as f32 / n;
        }
    }
}

/// Integer pixel range covered by [a, b), at least one pixel wide.
fn span(a: f32, b: f32) -> (i64, i64) {
    let lo = a.round() as i64;
    let hi = (b.round() as i64).max(lo + 1);
    (lo, hi)
}

/// How a detector box becomes the classifier's crop: widened, shifted and stretched, because
/// FER-2013's faces were framed by another detector. The default was tuned through the
/// detector on PublicTest frames (`emotune eval --through-detector --tune-crop`, docs/detection.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FaceCrop {
    /// The crop's width is the box's larger side times `1 + margin`.
    pub(crate) margin: f32,
    /// Centre moved down by this fraction of the box height (negative: up).
    pub(crate) shift_y: f32,
    /// Crop height / width; 1 is square. The crop is resampled to 48×48 either way.
    pub(crate) aspect: f32,
}

impl Default for FaceCrop {
    fn default() -> Self {
        // Tuned through the detector on all 3,589 PublicTest frames (docs/detection.md): rustface's own
        // square box, no margin, was best (63.65 % against 63.0 at +10 %, 62.5 at +20 %,
        // 62.1 when 15 % taller); the previous default added 15 %.
        FaceCrop {
            margin: 0.0,
            shift_y: 0.0,
            aspect: 1.0,
        }
    }
}

impl FaceCrop {
    /// The region of the frame to classify for the detector box `face`.
    pub(crate) fn region(&self, face: &BBox) -> BBox {
        let w = face.w.max(face.h) * (1.0 + self.margin);
        let h = w * self.aspect.clamp(0.5, 2.0);
        let (cx, cy) = face.center();
        let cy = cy + self.shift_y * face.h;
        BBox::new(cx - w / 2.0, cy - h / 2.0, w, h)
    }
}

/// The classifier's input for a detected face, rolled by `roll` degrees (`Detection::roll`):
/// the crop is cut turned by the same angle, so the classifier sees the face upright.
pub fn face_input(gray: &GrayImage, face: &BBox, roll: f32, crop: &FaceCrop) -> FaceInput {
    let region = crop.region(face);
    if roll == 0.0 {
        return crop_resize(gray, region);
    }
    rolled_crop(gray, region, roll)
}

/// `region` turned by `roll` degrees about its centre, resampled to 48×48: the axis-aligned
/// box around the turned region is area-averaged to twice the output's resolution (so the
/// sampling below does not alias), then sampled bilinearly at 2×2 points per output pixel.
fn rolled_crop(gray: &GrayImage, region: BBox, roll: f32) -> FaceInput {
    const FINE: f32 = 2.0 * INPUT_SIZE as f32;
    let (s, c) = roll.to_radians().sin_cos();
    let (cx, cy) = region.center();
    // Half extents of the turned region's bounding box, and the fine grid's pixel size.
    let ex = (c.abs() * region.w + s.abs() * region.h) / 2.0;
    let ey = (s.abs() * region.w + c.abs() * region.h) / 2.0;
    let px = (region.w.max(region.h) / FINE).max(f32::EPSILON);
    let (fw, fh) = (
        ((2.0 * ex / px).ceil() as usize).max(2),
        ((2.0 * ey / px).ceil() as usize).max(2),
    );
    let bounds = BBox::new(
        cx - fw as f32 * px / 2.0,
        cy - fh as f32 * px / 2.0,
        fw as f32 * px,
        fh as f32 * px,
    );
    let mut fine = vec![0.0; fw * fh];
    area_resample(gray, bounds, fw, &mut fine);
    let at = |x: f32, y: f32| {
        // Fine-grid pixel centres sit at +0.5.
        let x = (x - 0.5).clamp(0.0, fw as f32 - 1.001);
        let y = (y - 0.5).clamp(0.0, fh as f32 - 1.001);
        let (x0, y0) = (x as usize, y as usize);
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let row = |yy: usize| fine[yy * fw + x0] * (1.0 - tx) + fine[yy * fw + x0 + 1] * tx;
        row(y0) * (1.0 - ty) + row(y0 + 1) * ty
    };
    let mut out: FaceInput = Box::new([0.0; INPUT_LEN]);
    let (sx, sy) = (region.w / FINE, region.h / FINE);
    for oy in 0..INPUT_SIZE {
        for ox in 0..INPUT_SIZE {
            let mut sum = 0.0;
            for j in 0..2 {
                for i in 0..2 {
                    // Offset from the crop's centre in frame pixels, turned by `roll` (as
                    // `rotate_gray` turns the image the face was found in).
                    let dx = ((2 * ox + i) as f32 + 0.5 - FINE / 2.0) * sx;
                    let dy = ((2 * oy + j) as f32 + 0.5 - FINE / 2.0) * sy;
                    let (fx, fy) = (c * dx + s * dy, -s * dx + c * dy);
                    sum += at(fx / px + fw as f32 / 2.0, fy / px + fh as f32 / 2.0);
                }
            }
            out[oy * INPUT_SIZE + ox] = sum / 4.0 / 255.0;
        }
    }
    out
}

/// The whole image as one face (pre-cropped datasets such as FER-2013).
pub fn whole_image_input(gray: &GrayImage) -> FaceInput {
    let (w, h) = (gray.width() as f32, gray.height() as f32);
    crop_resize(gray, BBox::new(0.0, 0.0, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multiply_shift_divides_every_luma_sum_exactly() {
        for x in 0..=255_500 {
            assert_eq!(div1000(x), x / 1000, "{x}");
        }
    }

    #[test]
    fn luma_matches_pil_formula() {
        let img = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 20, 30]).expect("3x1");
        let g = luma(&img);
        assert_eq!(g.as_raw(), &vec![76, 150, 18]);
        // Blocks of 16 and the tail: every pixel of a 37×3 image.
        let img = RgbImage::from_fn(37, 3, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 90) as u8, (x * y * 13) as u8])
        });
        for (p, g) in img.pixels().zip(luma(&img).as_raw()) {
            let want = (299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32 + 500) / 1000;
            assert_eq!(u32::from(*g), want, "{p:?}");
        }
        // Gray stays gray exactly (299 + 587 + 114 = 1000).
        let gray = RgbImage::from_raw(1, 1, vec![77, 77, 77]).expect("1x1");
        assert_eq!(luma(&gray).as_raw(), &vec![77]);
    }

    #[test]
    fn whole_48_image_is_identity() {
        let g = GrayImage::from_fn(48, 48, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]));
        let t = whole_image_input(&g);
        for y in 0..48u32 {
            for x in 0..48u32 {
                let want = g.get_pixel(x, y)[0] as f32 / 255.0;
                assert!((t[(y * 48 + x) as usize] - want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn downscale_averages_blocks() {
        // 96×96 with 2×2 blocks of constant value → each output pixel is that value.
        let g = GrayImage::from_fn(96, 96, |x, y| image::Luma([((x / 2 + y / 2) % 200) as u8]));
        let t = whole_image_input(&g);
        assert!((t[0] - 0.0).abs() < 1e-6);
        assert!((t[1] - 1.0 / 255.0).abs() < 1e-6);
        assert!((t[48] - 1.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn a_rolled_crop_of_a_turned_image_is_the_upright_crop() {
        // A face-like pattern (not symmetric under turns), turned by 30° about the region's
        // centre: the crop cut turned by the same roll gets the pattern back upright.
        let pattern = |x: f32, y: f32| {
            let (dx, dy) = (x - 160.0, y - 120.0);
            let band = ((dx / 9.0).sin() * 60.0 + (dy / 17.0).cos() * 50.0 + dy * 0.4) + 128.0;
            band.clamp(0.0, 255.0)
        };
        let upright = GrayImage::from_fn(320, 240, |x, y| {
            image::Luma([pattern(x as f32 + 0.5, y as f32 + 0.5).round() as u8])
        });
        let roll = 30.0f32;
        let (s, c) = roll.to_radians().sin_cos();
        // Pixel d (from the centre) of the turned image shows R(−roll)·d of the upright one,
        // so the crop turned by `roll` (it reads R(roll)·d) sees the upright pattern.
        let turned = GrayImage::from_fn(320, 240, |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - 160.0, y as f32 + 0.5 - 120.0);
            let (ux, uy) = (c * dx - s * dy, s * dx + c * dy);
            image::Luma([pattern(ux + 160.0, uy + 120.0).round() as u8])
        });
        let face = BBox::new(100.0, 60.0, 120.0, 120.0);
        let crop = FaceCrop::default();
        let want = face_input(&upright, &face, 0.0, &crop);
        let mean_diff = |other: &FaceInput| {
            let total: f32 = want
                .iter()
                .zip(other.iter())
                .map(|(a, b)| (a - b).abs())
                .sum();
            total / INPUT_LEN as f32
        };
        let mean_err = mean_diff(&face_input(&turned, &face, roll, &crop));
        assert!(mean_err < 0.02, "turned back: mean error {mean_err}");
        let mean_off = mean_diff(&face_input(&turned, &face, 0.0, &crop));
        assert!(
            mean_off > 4.0 * mean_err,
            "without the roll: {mean_off} vs {mean_err}"
        );
    }

    #[test]
    fn crop_outside_the_frame_repeats_the_edge() {
        let g = GrayImage::from_pixel(10, 10, image::Luma([200]));
        let t = crop_resize(&g, BBox::new(-20.0, -20.0, 60.0, 60.0));
        assert!(t.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-6));
    }

    #[test]
    fn iou_and_crop_regions() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 5.0, 5.0)), 0.0);
        let half = BBox::new(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&half) - 50.0 / 150.0).abs() < 1e-6);
        let b = BBox::new(10.0, 10.0, 20.0, 10.0);
        let square = FaceCrop {
            margin: 0.5,
            shift_y: 0.0,
            aspect: 1.0,
        };
        let s = square.region(&b);
        assert_eq!((s.w, s.h), (30.0, 30.0));
        assert_eq!(s.center(), (20.0, 15.0));
        // Taller and moved down by a fifth of the box height.
        let t = FaceCrop {
            aspect: 1.2,
            shift_y: 0.2,
            ..square
        }
        .region(&b);
        assert_eq!((t.w, t.h), (30.0, 36.0));
        assert_eq!(t.center(), (20.0, 17.0));
    }
}
