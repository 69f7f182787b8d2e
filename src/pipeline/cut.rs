//! Scene cuts by frame differencing: a camera switch, a new photo in a folder, someone
//! stepping right in front of the lens. After a cut the tracked faces' old windows are not
//! worth searching (each search costs as much as a fifth of a full scan): look everywhere.

use image::GrayImage;

/// Thumbnail cells across and down (4:3 frames give square cells).
const COLS: usize = 16;
const ROWS: usize = 12;

#[derive(Debug, Default)]
pub(crate) struct CutDetector {
    /// The last frame's thumbnail and size.
    last: Option<([f32; COLS * ROWS], (u32, u32))>,
}

impl CutDetector {
    /// What a cell's brightness may keep changing, on average, after the frame-wide change of
    /// light is taken out (see `change`), before the frame counts as a new scene. Measured
    /// between consecutive frames of the benchmark sets: at most 4.4 on the moving sets (a face
    /// crossing its cells while the light drops to 75 %) and 7.2 on the story set (someone
    /// walking in); the cold set's new rooms 27 at the median, 3 of 240 below 10. A missed cut
    /// costs a window search; a false one, a full scan.
    pub(crate) const THRESHOLD: f32 = 10.0;

    /// Whether `gray` is a new scene next to the last frame given (the first frame is).
    pub(crate) fn update(&mut self, gray: &GrayImage) -> bool {
        self.change(gray) > Self::THRESHOLD
    }

    /// The measure `update` compares: the mean absolute residual of this frame's cells fitted
    /// as gain × the last frame's + offset (infinite for the first frame or a change of size).
    fn change(&mut self, gray: &GrayImage) -> f32 {
        let thumb = thumbnail(gray);
        let Some((last, size)) = self.last.replace((thumb, gray.dimensions())) else {
            return f32::INFINITY;
        };
        if size != gray.dimensions() || gray.width() < COLS as u32 || gray.height() < ROWS as u32 {
            return f32::INFINITY;
        }
        // Light and exposure scale and shift every cell together: fit this frame's cells as
        // gain × last + offset (least squares, the gain kept to what exposure can do) and
        // measure what the fit leaves.
        let n = (COLS * ROWS) as f32;
        let (mt, ml) = (thumb.iter().sum::<f32>() / n, last.iter().sum::<f32>() / n);
        let (mut cov, mut var) = (0.0, 0.0);
        for (t, l) in thumb.iter().zip(&last) {
            cov += (t - mt) * (l - ml);
            var += (l - ml) * (l - ml);
        }
        let gain = if var > 0.0 {
            (cov / var).clamp(0.25, 4.0)
        } else {
            1.0
        };
        thumb
            .iter()
            .zip(&last)
            .map(|(t, l)| (t - mt - gain * (l - ml)).abs())
            .sum::<f32>()
            / n
    }

    /// Forget the last frame (a new source: its first frame is a cut).
    pub(crate) fn clear(&mut self) {
        self.last = None;
    }
}

/// Mean brightness of each of COLS×ROWS cells, from every fourth pixel of every fourth row
/// (enough to average out texture, ~20 k reads at 640×480).
fn thumbnail(gray: &GrayImage) -> [f32; COLS * ROWS] {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let mut sums = [0u32; COLS * ROWS];
    let mut counts = [0u32; COLS * ROWS];
    let raw = gray.as_raw();
    for y in (0..h).step_by(4) {
        let row = (y * ROWS / h) * COLS;
        for x in (0..w).step_by(4) {
            let cell = row + x * COLS / w;
            sums[cell] += u32::from(raw[y * w + x]);
            counts[cell] += 1;
        }
    }
    let mut out = [0.0; COLS * ROWS];
    for ((o, s), c) in out.iter_mut().zip(sums).zip(counts) {
        *o = if c == 0 { 0.0 } else { s as f32 / c as f32 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured room (fixed pattern `seed`) with a bright square at `x` and overall
    /// brightness `gain`.
    fn room(seed: u32, x: u32, gain: f32) -> GrayImage {
        GrayImage::from_fn(640, 480, |px, py| {
            let h = (px / 16 * 31 + py / 16 * 17 + seed * 97) % 251;
            let mut v = 40.0 + (h % 160) as f32;
            if (x..x + 120).contains(&px) && (150..300).contains(&py) {
                v = 230.0;
            }
            image::Luma([(v * gain).min(255.0) as u8])
        })
    }

    #[test]
    fn a_new_room_is_a_cut_and_motion_or_dimming_is_not() {
        let mut cut = CutDetector::default();
        assert!(cut.update(&room(1, 100, 1.0)), "the first frame is a cut");
        assert!(!cut.update(&room(1, 100, 1.0)), "the same frame");
        assert!(!cut.update(&room(1, 112, 1.0)), "the face moved a little");
        assert!(!cut.update(&room(1, 112, 0.9)), "the light dimmed");
        assert!(cut.update(&room(2, 400, 0.9)), "another room");
        cut.clear();
        assert!(
            cut.update(&room(2, 400, 0.9)),
            "a new source starts with a cut"
        );
    }

    #[test]
    fn the_benchmark_sets_cut_where_the_scene_changes_and_only_there() {
        use crate::vision::preprocess::luma;
        use crate::vision::scene::{SetKind, Texture, set_frame, set_room};
        use crate::vision::testset::ASTRONAUT_FACE;
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let portrait = image::open(fixture).expect("fixture").to_rgb8();
        let changes = |kind: SetKind, frames: std::ops::Range<u32>| {
            let room = set_room(kind, 7);
            let mut cut = CutDetector::default();
            let mut out: Vec<f32> = frames
                .map(|i| {
                    let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, i, 7);
                    cut.change(&luma(&f.frame))
                })
                .collect();
            out.remove(0); // the first frame has nothing to compare with
            out
        };
        // The light drops to 75 % at frame 96 while the face moves.
        for c in changes(SetKind::Move(Texture::Clutter), 90..100) {
            assert!(c < CutDetector::THRESHOLD * 0.8, "motion and dimming: {c}");
        }
        for c in changes(SetKind::Cold, 0..8) {
            assert!(c > CutDetector::THRESHOLD * 1.2, "a new room: {c}");
        }
    }

    #[test]
    fn tiny_or_resized_frames_do_not_panic_and_count_as_cuts() {
        let mut cut = CutDetector::default();
        assert!(cut.update(&GrayImage::new(3, 2)));
        assert!(cut.update(&GrayImage::new(3, 2)), "too small to compare");
        assert!(cut.update(&GrayImage::new(640, 480)), "a new size");
        assert!(!cut.update(&GrayImage::new(640, 480)));
    }
}
