//! The detector's settings (`DetectorSettings`): their defaults and the clamping that keeps
//! hand-edited values in range.

use super::cascade::WINDOW;
use super::neural::SATURATION;

/// Detector settings; the defaults were chosen by the sweeps described in docs/detection.md.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DetectorSettings {
    /// Smallest face a full scan looks for, as a fraction of the frame height. Full scans run
    /// on the frame scaled so that this size is rustface's 40-pixel window, so they cost the
    /// same at any camera resolution (1/6: 80 px of a 480-line frame, a 320×240 scan).
    pub min_face_height: f32,
    /// Cascade score threshold. rustface's default is 2.0; 1.5 finds 90 % of FER-2013's
    /// PublicTest faces in rooms instead of 87.5 % with no box on texture in the sweep, and
    /// the tracker still wants a second sighting for anything under its `confirm_score`.
    pub score_thresh: f64,
    /// Image pyramid factor in (0, 1): closer to 1 is slower and finds more sizes (0.8: every
    /// portrait of the detector test set, 1 ms more per full scan than 0.7).
    pub pyramid_factor: f32,
    /// Sliding-window step in pixels of the scanned image.
    pub window_step: u32,
    /// Full scans also search the scaled frame rotated by ± this many degrees, for heads tilted
    /// further than the upright cascade takes (a laugh, a head on a hand); 0 turns that off.
    /// On FER-2013 PrivateTest frames (`examples/roll_probe`, every box kept) ±25° lifted the
    /// faces found from 90.2 % to 94.4 % for two more passes (±20° and ±40°: 95.3 % for four).
    pub roll_degrees: f32,
    /// Cascade score a rolled pass's box needs. At the upright pass's 1.5 the cold benchmark
    /// set showed 3 boxes on texture in 240 frames; at 2.0 none (93.4 % of FER faces found).
    pub roll_score_thresh: f64,
    /// Sliding-window step of a full scan's rolled passes: 6 instead of 4 cut their cost by a
    /// fifth for 0.4 points of FER faces (93.0 %, docs/detection.md). Window searches keep `window_step`.
    pub roll_window_step: u32,
    /// BlazeFace (`neural.rs`) looks at a full scan's frame when rustface found no one there,
    /// and for a tracked face rustface loses in its window; its faces count from this
    /// probability. 1 or more: off.
    pub neural_score: f32,
    /// How much of the frame's color BlazeFace sees: 0 gray (as rustface), 1 full color. Color
    /// raised its scores on color faces but, at the same boxes on texture, found no more faces
    /// behind rustface than a lower threshold on gray (`neural::SATURATION`): 0.
    pub neural_saturation: f32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            min_face_height: 1.0 / 6.0,
            score_thresh: 1.5,
            pyramid_factor: 0.8,
            window_step: 4,
            roll_degrees: 25.0,
            roll_score_thresh: 2.0,
            roll_window_step: 6,
            neural_score: 0.4,
            neural_saturation: SATURATION,
        }
    }
}

impl DetectorSettings {
    /// A full scan's sliding-window step for its pass at `roll` degrees (window searches
    /// always use `window_step`: their face is near the window's smallest size).
    pub(crate) fn scan_step(&self, roll: f32) -> u32 {
        if roll == 0.0 {
            self.window_step
        } else {
            self.roll_window_step
        }
    }

    /// The scale of a full scan of a frame `height` pixels high (at most 1).
    pub(crate) fn scan_scale(&self, height: u32) -> f32 {
        (WINDOW / (self.min_face_height * height as f32)).min(1.0)
    }

    /// These settings made safe for rustface and BlazeFace (from a hand-edited settings file
    /// too): every value in its range, no NaN.
    pub(crate) fn clamped(self) -> Self {
        let mut s = self;
        s.pyramid_factor = s.pyramid_factor.clamp(0.3, 0.95);
        s.window_step = s.window_step.max(1);
        s.roll_window_step = s.roll_window_step.max(1);
        // From a hand-edited settings file: no NaN angle, and past 90° it is another face.
        s.roll_degrees = if s.roll_degrees.is_finite() {
            s.roll_degrees.clamp(-90.0, 90.0)
        } else {
            0.0
        };
        s.min_face_height = s.min_face_height.clamp(0.01, 0.9);
        // rustface panics on a threshold of 0 or less.
        s.score_thresh = s.score_thresh.max(0.01);
        if s.neural_score.is_nan() {
            s.neural_score = 1.0;
        }
        s.neural_saturation = if s.neural_saturation.is_finite() {
            s.neural_saturation.clamp(0.0, 1.0)
        } else {
            SATURATION
        };
        s
    }
}
