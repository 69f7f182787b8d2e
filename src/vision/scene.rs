//! Procedural scenes that look like a room behind a webcam user: textured walls, shelves,
//! clutter and lighting gradients, generated from a seed (nothing to ship, nothing to download).
//! Used to measure detection and classification on what users will see rather than on an empty
//! background.

use image::{GrayImage, Rgb, RgbImage, imageops};

use super::preprocess::BBox;
use super::testset::{FRAME_H, FRAME_W, Sample};

/// SplitMix64: small, seedable and good enough for test scenes (no `rand` dependency).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub(crate) fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next_u64() % u64::from(hi - lo + 1)) as u32
    }

    /// Two colours at least 60 grey levels apart in every channel: never a flat wall.
    fn colour_pair(&mut self) -> ([f32; 3], [f32; 3]) {
        let a = self.colour();
        let b = a.map(|c| {
            let d = self.range(60.0, 120.0);
            if c > 127.0 { c - d } else { c + d }
        });
        (a, b)
    }

    fn colour(&mut self) -> [f32; 3] {
        [
            self.range(20.0, 235.0),
            self.range(20.0, 235.0),
            self.range(20.0, 235.0),
        ]
    }
}

/// The kinds of background, each a different challenge for a face cascade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Texture {
    /// Multi-octave value noise: plaster, carpet, foliage.
    Noise,
    /// Wood grain / curtains: oriented stripes with wobble.
    Stripes,
    /// Tiles, shelves, window frames: a grid of cells with edges.
    Tiles,
    /// A cluttered room: many overlapping rectangles and discs.
    Clutter,
}

impl Texture {
    pub const ALL: [Texture; 4] = [
        Texture::Noise,
        Texture::Stripes,
        Texture::Tiles,
        Texture::Clutter,
    ];
}

/// A `w`×`h` textured background; the same seed gives the same image.
pub(crate) fn background(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = Rng::new(seed);
    let kind = Texture::ALL[(rng.next_u64() % Texture::ALL.len() as u64) as usize];
    background_of(kind, w, h, &mut rng)
}

pub(crate) fn background_of(kind: Texture, w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let mut img = match kind {
        Texture::Noise => noise(w, h, rng),
        Texture::Stripes => stripes(w, h, rng),
        Texture::Tiles => tiles(w, h, rng),
        Texture::Clutter => clutter(w, h, rng),
    };
    lighting(&mut img, rng);
    img
}

fn noise(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let (a, b) = rng.colour_pair();
    // Lattices at 4 octaves, bilinearly interpolated and summed with halving weights.
    let octaves: Vec<(f32, Vec<f32>, usize)> = (0..4)
        .map(|o| {
            let cell = 64.0 / (1 << o) as f32;
            let gw = (w as f32 / cell) as usize + 2;
            let gh = (h as f32 / cell) as usize + 2;
            let grid = (0..gw * gh).map(|_| rng.unit()).collect();
            (cell, grid, gw)
        })
        .collect();
    RgbImage::from_fn(w, h, |x, y| {
        let mut v = 0.0;
        let mut weight = 0.5;
        for (cell, grid, gw) in &octaves {
            let (fx, fy) = (x as f32 / cell, y as f32 / cell);
            let (ix, iy) = (fx as usize, fy as usize);
            let (tx, ty) = (fx - ix as f32, fy - iy as f32);
            let g = |i: usize, j: usize| grid[j * gw + i];
            let top = g(ix, iy) * (1.0 - tx) + g(ix + 1, iy) * tx;
            let bot = g(ix, iy + 1) * (1.0 - tx) + g(ix + 1, iy + 1) * tx;
            v += weight * (top * (1.0 - ty) + bot * ty);
            weight *= 0.6;
        }
        // Weights 0.5, 0.3, 0.18, 0.108 sum to 1.088.
        let t = (v / 1.088).clamp(0.0, 1.0);
        mix(a, b, t)
    })
}

fn stripes(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let (a, b) = rng.colour_pair();
    let angle = rng.range(0.0, std::f32::consts::PI);
    let period = rng.range(6.0, 40.0);
    let wobble = rng.range(0.0, 12.0);
    let (s, c) = angle.sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let u = x * c + y * s;
        let v = -x * s + y * c;
        let phase = (u + wobble * (v / 37.0).sin()) / period * std::f32::consts::TAU;
        mix(a, b, 0.5 + 0.5 * phase.sin())
    })
}

fn tiles(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let (tw, th) = (rng.int(16, 90), rng.int(16, 90));
    let edge = rng.colour();
    let cols = (w / tw + 2) as usize;
    let cells: Vec<[f32; 3]> = (0..cols * (h / th + 2) as usize)
        .map(|_| rng.colour())
        .collect();
    let line = rng.int(1, 4);
    RgbImage::from_fn(w, h, |x, y| {
        if x % tw < line || y % th < line {
            rgb(edge)
        } else {
            rgb(cells[(y / th) as usize * cols + (x / tw) as usize])
        }
    })
}

fn clutter(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let mut img = noise(w, h, rng);
    for _ in 0..rng.int(25, 70) {
        let c = rgb(rng.colour());
        let (cx, cy) = (rng.range(0.0, w as f32), rng.range(0.0, h as f32));
        let (rw, rh) = (rng.range(8.0, 120.0), rng.range(8.0, 120.0));
        let disc = rng.unit() < 0.35;
        let x0 = (cx - rw).max(0.0) as u32;
        let y0 = (cy - rh).max(0.0) as u32;
        let x1 = ((cx + rw) as u32).min(w);
        let y1 = ((cy + rh) as u32).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = ((x as f32 - cx) / rw, (y as f32 - cy) / rh);
                if !disc || dx * dx + dy * dy <= 1.0 {
                    img.put_pixel(x, y, c);
                }
            }
        }
    }
    img
}

/// A soft linear lighting gradient and sensor noise over the whole image.
fn lighting(img: &mut RgbImage, rng: &mut Rng) {
    let (w, h) = img.dimensions();
    let (g0, g1) = (rng.range(0.6, 1.2), rng.range(0.6, 1.2));
    let horizontal = rng.unit() < 0.5;
    let mut n = Rng::new(rng.next_u64());
    for (x, y, p) in img.enumerate_pixels_mut() {
        let t = if horizontal {
            x as f32 / w as f32
        } else {
            y as f32 / h as f32
        };
        let gain = g0 + (g1 - g0) * t;
        let jitter = (n.unit() - 0.5) * 10.0;
        for c in p.0.iter_mut() {
            *c = (*c as f32 * gain + jitter).round().clamp(0.0, 255.0) as u8;
        }
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> Rgb<u8> {
    rgb([
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ])
}

fn rgb(c: [f32; 3]) -> Rgb<u8> {
    Rgb(c.map(|v| v.round().clamp(0.0, 255.0) as u8))
}

/// A FER-2013 face (48×48 gray) upscaled to 160–280 px and placed at a random spot of a
/// 640×480 textured frame, all chosen from `seed`. FER's crops stop at the chin and hairline;
/// a real head carries on past them, so the crop's border is continued outward over a ring
/// `FER_CONTEXT` × the face size wide (edge pixels repeated, fading into the room), and the room
/// shows beyond. The true box is the pasted square: FER's own framing of the face.
pub fn fer_scene(face48: &GrayImage, seed: u64) -> Sample {
    let mut rng = Rng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let face_px = rng.int(160, 280);
    let pad = (FER_CONTEXT * face_px as f32) as i64;
    let x = rng.int(0, FRAME_W - face_px);
    let y = rng.int(0, FRAME_H - face_px);
    let mut frame = background(FRAME_W, FRAME_H, rng.next_u64());
    let up = imageops::resize(face48, face_px, face_px, imageops::FilterType::CatmullRom);
    let n = face_px as i64;
    for fy in -pad..n + pad {
        for fx in -pad..n + pad {
            let (px, py) = (x as i64 + fx, y as i64 + fy);
            if px < 0 || py < 0 || px >= FRAME_W as i64 || py >= FRAME_H as i64 {
                continue;
            }
            let v = up
                .get_pixel(fx.clamp(0, n - 1) as u32, fy.clamp(0, n - 1) as u32)
                .0[0] as f32;
            // Distance outside the face square, as a fraction of the ring: 0 inside.
            let out = (-fx).max(fx - (n - 1)).max(-fy).max(fy - (n - 1)).max(0) as f32;
            let alpha = if pad == 0 {
                1.0
            } else {
                1.0 - out / pad as f32
            };
            let dst = frame.get_pixel_mut(px as u32, py as u32);
            for c in dst.0.iter_mut() {
                *c = (v * alpha + *c as f32 * (1.0 - alpha)).round() as u8;
            }
        }
    }
    Sample {
        frame,
        face: BBox::new(x as f32, y as f32, face_px as f32, face_px as f32),
        label: format!("fer scene face={face_px}px"),
    }
}

/// 640×480 textured room with the person of `portrait` (face box `face`) pasted in, all chosen
/// from `seed`: a face 100–260 px wide, tilted by up to ±`max_roll` degrees, turned a little
/// (squeezed to 60–100 % of its width), mirrored half the time. For color faces what
/// `fer_scene` is for FER's gray ones (`examples/color_probe.rs`). The true box is the
/// portrait's face box carried into the frame (upright); the tilt comes with it.
pub fn portrait_scene(portrait: &RgbImage, face: BBox, seed: u64, max_roll: f32) -> (Sample, f32) {
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let face_px = rng.range(100.0, 260.0);
    let half = 0.6 * face_px;
    let p = Placement {
        cx: rng.range(half, FRAME_W as f32 - half),
        cy: rng.range(half, FRAME_H as f32 - half),
        face_px,
        angle_deg: rng.range(-max_roll, max_roll),
        squeeze: rng.range(0.6, 1.0),
        mirror: rng.unit() < 0.5,
    };
    let mut frame = background(FRAME_W, FRAME_H, rng.next_u64());
    let face = paste_person(&mut frame, portrait, face, &p);
    let sample = Sample {
        frame,
        face,
        label: format!("portrait scene face={face_px:.0}px roll={:.0}", p.angle_deg),
    };
    (sample, p.angle_deg)
}

/// A 640×480 textured room with nobody in it, chosen from `seed`.
pub fn empty_room(seed: u64) -> RgbImage {
    background(FRAME_W, FRAME_H, seed)
}

/// The context ring's width around FER faces in through-detector frames, as a fraction of the
/// face (on 300 PublicTest faces 0.15 found 85.7 % against 83.3 % without a ring; 0.25 and 0.35 no more).
pub(crate) const FER_CONTEXT: f32 = 0.15;

/// Where and how a person (a portrait cut out around the face) stands in a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placement {
    /// Face centre in frame pixels.
    pub(crate) cx: f32,
    pub(crate) cy: f32,
    /// Face width in frame pixels.
    pub(crate) face_px: f32,
    /// In-plane head tilt.
    pub(crate) angle_deg: f32,
    /// Horizontal squeeze in (0, 1]: a head turned a little to the side.
    pub(crate) squeeze: f32,
    pub(crate) mirror: bool,
}

/// Pastes the head and shoulders of `portrait` (whose face box is `face`) into `frame` with a
/// feathered elliptical cut-out, so the room's texture runs right up to the person. Returns the
/// face's box in the frame.
pub(crate) fn paste_person(
    frame: &mut RgbImage,
    portrait: &RgbImage,
    face: BBox,
    p: &Placement,
) -> BBox {
    let s = p.face_px / face.w;
    let sq = p.squeeze.clamp(0.3, 1.0);
    let (fcx, fcy) = face.center();
    let (sin, cos) = p.angle_deg.to_radians().sin_cos();
    // Head and shoulders: an ellipse below the face centre, in portrait pixels.
    let (ex, ey) = (fcx, fcy + 0.45 * face.h);
    let (rx, ry) = (1.05 * face.w, 1.45 * face.h);
    let reach = 2.2 * p.face_px;
    let (fw, fh) = frame.dimensions();
    let x0 = (p.cx - reach).max(0.0) as u32;
    let y0 = (p.cy - reach).max(0.0) as u32;
    let x1 = ((p.cx + reach).max(0.0) as u32).min(fw);
    let y1 = ((p.cy + reach).max(0.0) as u32).min(fh);
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = (x as f32 - p.cx, y as f32 - p.cy);
            let u = dx * cos + dy * sin;
            let v = -dx * sin + dy * cos;
            let mut su = u / (s * sq);
            if p.mirror {
                su = -su;
            }
            let (px, py) = (fcx + su, fcy + v / s);
            let e = (((px - ex) / rx).powi(2) + ((py - ey) / ry).powi(2)).sqrt();
            let alpha = ((1.0 - e) / 0.12).clamp(0.0, 1.0);
            if alpha <= 0.0 {
                continue;
            }
            let Some(c) = bilinear(portrait, px, py) else {
                continue;
            };
            let dst = frame.get_pixel_mut(x, y);
            for (d, v) in dst.0.iter_mut().zip(c) {
                *d = (v * alpha + *d as f32 * (1.0 - alpha)).round() as u8;
            }
        }
    }
    let (w, h) = (face.w * s * sq, face.h * s);
    BBox::new(p.cx - w / 2.0, p.cy - h / 2.0, w, h)
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Option<[f32; 3]> {
    let (w, h) = img.dimensions();
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return None;
    }
    let (ix, iy) = (x as u32, y as u32);
    let (tx, ty) = (x - ix as f32, y - iy as f32);
    let (jx, jy) = ((ix + 1).min(w - 1), (iy + 1).min(h - 1));
    let (a, b) = (img.get_pixel(ix, iy).0, img.get_pixel(jx, iy).0);
    let (c, d) = (img.get_pixel(ix, jy).0, img.get_pixel(jx, jy).0);
    Some(std::array::from_fn(|k| {
        let top = a[k] as f32 * (1.0 - tx) + b[k] as f32 * tx;
        let bot = c[k] as f32 * (1.0 - tx) + d[k] as f32 * tx;
        top * (1.0 - ty) + bot * ty
    }))
}

/// Brightness gain plus fresh sensor noise (±`noise`/2 grey levels), as every webcam frame has.
pub(crate) fn expose(frame: &mut RgbImage, gain: f32, noise: f32, rng: &mut Rng) {
    for p in frame.pixels_mut() {
        let j = (rng.unit() - 0.5) * noise;
        for c in p.0.iter_mut() {
            *c = (*c as f32 * gain + j).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// One frame of a benchmark set and its true faces.
pub struct SceneFrame {
    pub frame: RgbImage,
    pub faces: Vec<BBox>,
}

/// The benchmark sets of `emotune bench` (see `examples/benchsets.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// One face in a textured room, always in view: it moves, comes closer, tilts and turns a
    /// little while the light changes.
    Move(Texture),
    /// A cluttered room: a face enters, leaves, comes back, and a second face joins.
    Story,
    /// A new scene every frame (someone walks in, a camera switch): nothing to track.
    Cold,
    /// The cluttered room with nobody in it, the light drifting as in `Move`: what the camera
    /// sees most of the day.
    Empty,
}

impl SetKind {
    pub fn name(&self) -> String {
        match self {
            SetKind::Move(t) => format!("move-{}", format!("{t:?}").to_lowercase()),
            SetKind::Story => "story".into(),
            SetKind::Cold => "cold".into(),
            SetKind::Empty => "empty".into(),
        }
    }
}

fn wave(t: f32, period: f32, phase: f32) -> f32 {
    (std::f32::consts::TAU * t / period + phase).sin()
}

/// Frame `i` of a set of `kind` (deterministic in `seed`). `room` is the set's background
/// (unused by `Cold`, which draws a new one per frame).
pub fn set_frame(
    kind: SetKind,
    portrait: &RgbImage,
    face: BBox,
    room: &RgbImage,
    i: u32,
    seed: u64,
) -> SceneFrame {
    let mut rng = Rng::new(seed ^ (u64::from(i) << 32));
    let t = i as f32;
    let mut faces = Vec::new();
    let (mut frame, gain) = match kind {
        SetKind::Empty => (room.clone(), 1.0 + 0.1 * wave(t, 240.0, 0.0)),
        SetKind::Move(_) => {
            let mut f = room.clone();
            let p = Placement {
                cx: 320.0 + 170.0 * wave(t, 160.0, 0.0),
                cy: 230.0 + 70.0 * wave(t, 110.0, 1.0),
                face_px: 140.0 + 30.0 * wave(t, 200.0, 0.5),
                angle_deg: 8.0 * wave(t, 90.0, 0.3),
                squeeze: 0.9 + 0.1 * wave(t, 70.0, 2.0),
                mirror: false,
            };
            faces.push(paste_person(&mut f, portrait, face, &p));
            // The light dims at 40 % of the set and comes back brighter (a lamp, a cloud).
            let gain = if (96..170).contains(&i) {
                0.75
            } else {
                1.0 + 0.1 * wave(t, 240.0, 0.0)
            };
            (f, gain)
        }
        SetKind::Story => {
            let mut f = room.clone();
            // Face A: in from the left (0-79), out to the right (80-109), gone, back (150-).
            let a = match i {
                0..80 => Some(-60.0 + 4.5 * t),
                80..110 => Some(300.0 + 14.0 * (t - 80.0)),
                150.. => Some(720.0 - 3.5 * (t - 150.0).min(80.0)),
                _ => None,
            };
            if let Some(cx) = a {
                let p = Placement {
                    cx,
                    cy: 220.0 + 15.0 * wave(t, 60.0, 0.0),
                    face_px: 150.0,
                    angle_deg: 5.0 * wave(t, 50.0, 0.0),
                    squeeze: 0.95,
                    mirror: false,
                };
                faces.push(paste_person(&mut f, portrait, face, &p));
            }
            // Face B joins from the left at frame 170.
            if i >= 170 {
                let p = Placement {
                    cx: -40.0 + 4.0 * (t - 170.0).min(50.0),
                    cy: 270.0,
                    face_px: 110.0,
                    angle_deg: -4.0,
                    squeeze: 0.92,
                    mirror: true,
                };
                faces.push(paste_person(&mut f, portrait, face, &p));
            }
            (f, 1.0)
        }
        SetKind::Cold => {
            let mut f = background(FRAME_W, FRAME_H, rng.next_u64());
            let face_px = rng.range(80.0, 240.0);
            let p = Placement {
                cx: rng.range(face_px * 0.6, FRAME_W as f32 - face_px * 0.6),
                cy: rng.range(face_px * 0.6, FRAME_H as f32 - face_px * 0.9),
                face_px,
                angle_deg: rng.range(-10.0, 10.0),
                squeeze: rng.range(0.85, 1.0),
                mirror: rng.unit() < 0.5,
            };
            faces.push(paste_person(&mut f, portrait, face, &p));
            let gain = rng.range(0.65, 1.25);
            (f, gain)
        }
    };
    expose(&mut frame, gain, 6.0, &mut rng);
    // Count a face only while at least half of it is in the frame.
    let full = BBox::new(0.0, 0.0, FRAME_W as f32, FRAME_H as f32);
    faces.retain(|b| {
        let inter = b.iou(&full) * (b.area() + full.area()) / (1.0 + b.iou(&full));
        inter >= 0.5 * b.area()
    });
    SceneFrame { frame, faces }
}

/// The room behind a set.
pub fn set_room(kind: SetKind, seed: u64) -> RgbImage {
    let mut rng = Rng::new(seed);
    match kind {
        SetKind::Move(t) => background_of(t, FRAME_W, FRAME_H, &mut rng),
        SetKind::Story | SetKind::Empty => {
            background_of(Texture::Clutter, FRAME_W, FRAME_H, &mut rng)
        }
        SetKind::Cold => RgbImage::new(1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(img: &RgbImage) -> f32 {
        let g: Vec<f32> = img.pixels().map(|p| p.0[1] as f32).collect();
        let mean = g.iter().sum::<f32>() / g.len() as f32;
        (g.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / g.len() as f32).sqrt()
    }

    #[test]
    fn backgrounds_are_deterministic_and_textured() {
        for seed in 0..8 {
            let a = background(160, 120, seed);
            assert_eq!(a, background(160, 120, seed), "seed {seed}");
            assert!(spread(&a) > 4.0, "seed {seed}: flat background");
        }
        assert_ne!(background(160, 120, 1), background(160, 120, 2));
    }

    #[test]
    fn fer_scene_places_the_face_inside_the_frame() {
        let face = GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 5 + y) as u8]));
        for seed in 0..20 {
            let s = fer_scene(&face, seed);
            assert_eq!(s.frame.dimensions(), (FRAME_W, FRAME_H));
            let b = s.face;
            assert!((160.0..=280.0).contains(&b.w) && b.w == b.h, "{b:?}");
            assert!(b.x >= 0.0 && b.y >= 0.0);
            assert!(b.x + b.w <= FRAME_W as f32 && b.y + b.h <= FRAME_H as f32);
            // The face's top-left pixel is the (upscaled) face's, grey.
            let p = s.frame.get_pixel(b.x as u32 + 1, b.y as u32 + 1).0;
            assert!(p[0] == p[1] && p[1] == p[2]);
        }
    }
}
