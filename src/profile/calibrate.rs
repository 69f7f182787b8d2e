//! Taking a neutral reference from the live feed: about three seconds of the tracked face,
//! refused when there was no face, when it moved, or when its expression changed.

use std::time::Duration;

use crate::emotion::EmotionScores;

use super::Reference;

/// How long the person holds a relaxed face.
pub(crate) const HOLD: Duration = Duration::from_secs(3);
/// Fewer classified frames than this over `HOLD` is "no face" (a camera gives ~90).
const MIN_FRAMES: usize = 8;
/// The face's centre may wander this share of its width, and no more.
const MAX_MOVE: f32 = 0.35;
/// Mean total-variation distance of the frames' scores from their mean: above it, the
/// expression changed while calibrating.
const MAX_CHANGE: f32 = 0.3;

/// One frame's main face, before any adjustment.
#[derive(Debug, Clone, Copy)]
pub struct FaceSample {
    pub track: u64,
    pub center: (f32, f32),
    pub width: f32,
    pub scores: EmotionScores,
}

/// Why a calibration was refused, in words for the window.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("no face was seen: sit in front of the camera, in good light, and try again")]
    NoFace,
    #[error("the face moved: keep your head still for three seconds and try again")]
    Moved,
    #[error(
        "the expression changed: keep a relaxed face, as when reading, for three seconds and \
         try again"
    )]
    Changed,
}

#[derive(Debug, Clone)]
pub struct Calibration {
    started: Option<Duration>,
    samples: Vec<FaceSample>,
    frames: usize,
}

impl Default for Calibration {
    fn default() -> Self {
        Self::new()
    }
}

impl Calibration {
    pub fn new() -> Self {
        Calibration {
            started: None,
            samples: Vec::new(),
            frames: 0,
        }
    }

    /// Share of `HOLD` done, 0 to 1.
    pub(crate) fn progress(&self, now: Duration) -> f32 {
        match self.started {
            Some(s) => (now.saturating_sub(s).as_secs_f32() / HOLD.as_secs_f32()).min(1.0),
            None => 0.0,
        }
    }

    /// Feeds one frame (its time since the feed started, and its main face if one was
    /// classified); Some once `HOLD` has passed: the reference, or why it was refused.
    pub fn feed(
        &mut self,
        at: Duration,
        face: Option<FaceSample>,
    ) -> Option<Result<Reference, Refused>> {
        let start = *self.started.get_or_insert(at);
        self.frames += 1;
        self.samples.extend(face);
        (at.saturating_sub(start) >= HOLD).then(|| self.finish())
    }

    fn finish(&self) -> Result<Reference, Refused> {
        let s = &self.samples;
        if s.len() < MIN_FRAMES || s.len() * 2 < self.frames {
            return Err(Refused::NoFace);
        }
        if s.iter().any(|f| f.track != s[0].track) {
            return Err(Refused::Moved);
        }
        let n = s.len() as f32;
        let cx = s.iter().map(|f| f.center.0).sum::<f32>() / n;
        let cy = s.iter().map(|f| f.center.1).sum::<f32>() / n;
        let w = s.iter().map(|f| f.width).sum::<f32>() / n;
        let moved = s
            .iter()
            .any(|f| ((f.center.0 - cx).hypot(f.center.1 - cy)) > MAX_MOVE * w.max(1.0));
        if moved {
            return Err(Refused::Moved);
        }
        let mean = EmotionScores::mean(s.iter().map(|f| &f.scores)).unwrap_or_default();
        let change = s
            .iter()
            .map(|f| {
                0.5 * f
                    .scores
                    .0
                    .iter()
                    .zip(mean.0)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f32>()
            })
            .sum::<f32>()
            / n;
        if change > MAX_CHANGE {
            return Err(Refused::Changed);
        }
        Reference::from_scores(s.iter().map(|f| &f.scores)).ok_or(Refused::NoFace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn face(track: u64, x: f32, scores: [f32; 7]) -> Option<FaceSample> {
        Some(FaceSample {
            track,
            center: (x, 100.0),
            width: 80.0,
            scores: EmotionScores(scores),
        })
    }

    const SADDISH: [f32; 7] = [0.05, 0.02, 0.03, 0.05, 0.25, 0.55, 0.05];
    const HAPPY: [f32; 7] = [0.01, 0.01, 0.01, 0.9, 0.05, 0.01, 0.01];

    fn run(mut f: impl FnMut(u64) -> Option<FaceSample>) -> Result<Reference, Refused> {
        let mut c = Calibration::new();
        for i in 0..200 {
            let t = i * 33;
            if let Some(done) = c.feed(at(t), f(i)) {
                return done;
            }
        }
        panic!("never finished")
    }

    #[test]
    fn a_still_relaxed_face_gives_a_reference() {
        let r = run(|i| face(1, 300.0 + (i % 3) as f32, SADDISH)).expect("calibrated");
        assert!(r.frames >= 90, "{}", r.frames);
    }

    #[test]
    fn no_face_a_moving_face_and_a_changing_face_are_refused() {
        assert_eq!(run(|_| None), Err(Refused::NoFace));
        assert_eq!(
            run(|i| (i % 3 == 0).then_some(()).and(face(1, 300.0, SADDISH))),
            Err(Refused::NoFace)
        );
        assert_eq!(
            run(|i| face(1, 300.0 + 4.0 * i as f32, SADDISH)),
            Err(Refused::Moved)
        );
        assert_eq!(
            run(|i| face(if i < 40 { 1 } else { 2 }, 300.0, SADDISH)),
            Err(Refused::Moved)
        );
        assert_eq!(
            run(|i| face(1, 300.0, if i % 2 == 0 { SADDISH } else { HAPPY })),
            Err(Refused::Changed)
        );
    }
}
