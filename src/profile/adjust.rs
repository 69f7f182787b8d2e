//! The adjustment a profile makes to one person's scores: their neutral calibration plus their
//! corrections, as one offset in log-probability space.
//!
//! Calibration: the person's relaxed face (the mean centred log-probabilities of a few frames,
//! `Reference`) is moved onto the model's typical neutral face (`NeutralAnchor`,
//! `training/neutral.py`). Every later face of theirs moves by the same offset. The net ends in a
//! linear layer, so this is the same as moving the person's embedding onto the typical neutral
//! embedding: a shift of the features before `fc` shifts the logits by `fc` of that shift.
//! Anchoring on a typical neutral face, not on "all classes equal", keeps a relaxed face reading
//! as neutral as other people's relaxed faces do, where plain subtraction leaves it a tie.
//!
//! Corrections ("that's not it: it's X") nudge X up and the emotion shown down by a bounded
//! step that halves every week, so one slip cannot pin a face on a mood.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::emotion::{Emotion, EmotionScores};

const N: usize = Emotion::COUNT;

/// Log-probabilities with their mean over the classes taken out: softmax only sees differences.
pub(crate) type LogProbs = [f32; N];

/// The most a calibration moves one class, in log-probability (a factor of ~400).
pub(crate) const MAX_SHIFT: f32 = 6.0;
/// One correction's push on the two emotions it names.
pub(crate) const CORRECTION_STEP: f32 = 0.6;
/// The most all corrections together move one class (a factor of ~4.5).
pub(crate) const MAX_CORRECTION: f32 = 1.5;
/// A correction's weight halves in this time.
pub(crate) const CORRECTION_HALF_LIFE_SECS: f64 = 7.0 * 86_400.0;

/// Probabilities below this are treated as this (a softmax in f32 can underflow to 0).
const FLOOR: f32 = 1e-7;

pub(crate) fn centred_log_probs(s: &EmotionScores) -> LogProbs {
    let mut l = [0.0; N];
    for (o, &p) in l.iter_mut().zip(&s.0) {
        *o = p.max(FLOOR).ln();
    }
    centre(&mut l);
    l
}

fn centre(l: &mut LogProbs) {
    let mean = l.iter().sum::<f32>() / N as f32;
    for v in l.iter_mut() {
        *v -= mean;
    }
}

/// The model's typical neutral face, what a calibrated relaxed face is moved onto.
#[derive(Debug, Clone, PartialEq)]
pub struct NeutralAnchor {
    pub log_probs: LogProbs,
    /// False: the model has no `<model>.neutral.json`, and a generic anchor is used.
    pub from_model: bool,
}

#[derive(Deserialize)]
struct AnchorFile {
    neutral_log_probs: Vec<f32>,
}

impl NeutralAnchor {
    /// A face 3 log-units more neutral than anything else: about 75 % neutral.
    pub(crate) fn generic() -> Self {
        let mut l = [0.0; N];
        l[Emotion::Neutral.index()] = 3.0;
        centre(&mut l);
        NeutralAnchor {
            log_probs: l,
            from_model: false,
        }
    }

    /// `<model>.neutral.json` beside the model (written by `python -m training.neutral`); the
    /// generic anchor and a warning naming the file when it is missing or unreadable.
    pub(crate) fn for_model(model: &Path) -> (Self, Option<String>) {
        let path = model.with_extension("neutral.json");
        let read = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<AnchorFile>(&t).map_err(|e| e.to_string()))
            .and_then(|f| {
                let v = f.neutral_log_probs;
                if v.len() == N && v.iter().all(|x| x.is_finite()) {
                    let mut l = [0.0; N];
                    l.copy_from_slice(&v);
                    centre(&mut l);
                    Ok(l)
                } else {
                    Err(format!("expected {N} finite numbers"))
                }
            });
        match read {
            Ok(l) => (
                NeutralAnchor {
                    log_probs: l,
                    from_model: true,
                },
                None,
            ),
            Err(e) => (
                Self::generic(),
                Some(format!(
                    "{}: {e}; calibration uses a generic neutral face (run `python -m \
                     training.neutral --model {}` to make one for this model)",
                    path.display(),
                    model.display()
                )),
            ),
        }
    }
}

/// A person's relaxed face: the mean of a few frames' centred log-probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub log_probs: LogProbs,
    pub frames: usize,
}

impl Reference {
    /// None without frames.
    pub(crate) fn from_scores<'a>(
        frames: impl IntoIterator<Item = &'a EmotionScores>,
    ) -> Option<Self> {
        let mut sum = [0.0; N];
        let mut n = 0;
        for s in frames {
            for (a, l) in sum.iter_mut().zip(centred_log_probs(s)) {
                *a += l;
            }
            n += 1;
        }
        if n == 0 {
            return None;
        }
        for a in &mut sum {
            *a /= n as f32;
        }
        Some(Reference {
            log_probs: sum,
            frames: n,
        })
    }

    /// Whether the stored numbers can be used (a hand-edited file may hold anything).
    pub(crate) fn is_valid(&self) -> bool {
        self.frames > 0 && self.log_probs.iter().all(|v| v.is_finite())
    }
}

/// "It was `to`, not `from`", said at `at` (Unix seconds) about a face that read `scores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub at: u64,
    pub from: Emotion,
    pub to: Emotion,
    /// The face's probabilities when corrected, before any adjustment (for study; no image).
    pub scores: [f32; N],
}

/// The weight of a correction `age_secs` old.
fn decay(age_secs: f64) -> f32 {
    0.5f64.powf(age_secs.max(0.0) / CORRECTION_HALF_LIFE_SECS) as f32
}

/// The corrections' summed push per class at `now`, each class held to ±`MAX_CORRECTION`.
pub(crate) fn correction_bias(corrections: &[Correction], now: u64) -> LogProbs {
    let mut b = [0.0; N];
    for c in corrections.iter().filter(|c| c.from != c.to) {
        let w = CORRECTION_STEP * decay(now.saturating_sub(c.at) as f64);
        b[c.to.index()] += w;
        b[c.from.index()] -= w;
    }
    for v in &mut b {
        *v = v.clamp(-MAX_CORRECTION, MAX_CORRECTION);
    }
    b
}

/// What is subtracted from a face's log-probabilities; zero changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Adjustment {
    offset: LogProbs,
}

impl Adjustment {
    pub fn new(
        reference: Option<&Reference>,
        anchor: &NeutralAnchor,
        corrections: &[Correction],
        now: u64,
    ) -> Self {
        let mut offset = [0.0; N];
        if let Some(r) = reference.filter(|r| r.is_valid()) {
            for ((o, r), a) in offset.iter_mut().zip(r.log_probs).zip(anchor.log_probs) {
                *o = (r - a).clamp(-MAX_SHIFT, MAX_SHIFT);
            }
        }
        for (o, b) in offset.iter_mut().zip(correction_bias(corrections, now)) {
            *o -= b;
        }
        Adjustment { offset }
    }

    /// What is subtracted from each class's log-probability.
    pub fn offset(&self) -> LogProbs {
        self.offset
    }

    pub(crate) fn is_identity(&self) -> bool {
        self.offset.iter().all(|&v| v == 0.0)
    }

    pub(crate) fn apply(&self, s: &EmotionScores) -> EmotionScores {
        if self.is_identity() {
            return *s;
        }
        let mut l = [0.0; N];
        for ((o, &p), off) in l.iter_mut().zip(&s.0).zip(self.offset) {
            *o = p.max(FLOOR).ln() - off;
        }
        EmotionScores::from_logits(&l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pairs: &[(Emotion, f32)]) -> EmotionScores {
        let rest = 1.0 - pairs.iter().map(|p| p.1).sum::<f32>();
        let others = N - pairs.len();
        let mut s = [rest / others as f32; N];
        for &(e, p) in pairs {
            s[e.index()] = p;
        }
        EmotionScores(s)
    }

    #[test]
    fn a_calibrated_face_whose_neutral_read_as_sad_reads_neutral() {
        // This person's relaxed face reads sad; a smile still reads happy afterwards.
        let rest = scores(&[(Emotion::Sad, 0.7), (Emotion::Neutral, 0.2)]);
        let smile = scores(&[(Emotion::Happy, 0.8), (Emotion::Sad, 0.1)]);
        assert_eq!(rest.dominant().0, Emotion::Sad);
        let r = Reference::from_scores([&rest, &rest]).expect("frames");
        let adj = Adjustment::new(Some(&r), &NeutralAnchor::generic(), &[], 0);
        let (e, p) = adj.apply(&rest).dominant();
        assert_eq!(e, Emotion::Neutral);
        assert!(p > 0.6, "reads as a typical neutral face: {p}");
        assert_eq!(adj.apply(&smile).dominant().0, Emotion::Happy);
    }

    #[test]
    fn the_anchor_is_reached_exactly_and_shifts_are_bounded() {
        let anchor = NeutralAnchor::generic();
        let rest = scores(&[(Emotion::Angry, 0.6), (Emotion::Neutral, 0.3)]);
        let r = Reference::from_scores([&rest]).expect("one frame");
        let out = Adjustment::new(Some(&r), &anchor, &[], 0).apply(&rest);
        let l = centred_log_probs(&out);
        for (a, b) in l.iter().zip(anchor.log_probs) {
            assert!((a - b).abs() < 1e-3, "{l:?} vs {:?}", anchor.log_probs);
        }
        // A reference of one-hot certainty cannot move a class by more than MAX_SHIFT.
        let extreme = Reference {
            log_probs: {
                let mut l = [-20.0; N];
                l[0] = 100.0;
                l
            },
            frames: 1,
        };
        let adj = Adjustment::new(Some(&extreme), &anchor, &[], 0);
        assert!(
            adj.offset
                .iter()
                .all(|v| v.abs() <= MAX_SHIFT + MAX_CORRECTION)
        );
    }

    #[test]
    fn a_correction_moves_the_next_prediction_decays_and_is_bounded() {
        let unsure = scores(&[(Emotion::Fear, 0.35), (Emotion::Surprise, 0.3)]);
        assert_eq!(unsure.dominant().0, Emotion::Fear);
        let c = Correction {
            at: 1_000_000,
            from: Emotion::Fear,
            to: Emotion::Surprise,
            scores: unsure.0,
        };
        let anchor = NeutralAnchor::generic();
        let now = Adjustment::new(None, &anchor, std::slice::from_ref(&c), c.at);
        assert_eq!(now.apply(&unsure).dominant().0, Emotion::Surprise);
        // Months later it has faded away.
        let later = Adjustment::new(None, &anchor, std::slice::from_ref(&c), c.at + 120 * 86_400);
        assert_eq!(later.apply(&unsure).dominant().0, Emotion::Fear);
        // A hundred slips push no more than MAX_CORRECTION: a clear fear face stays fear.
        let many = vec![c.clone(); 100];
        let b = correction_bias(&many, c.at);
        assert!((b[Emotion::Surprise.index()] - MAX_CORRECTION).abs() < 1e-6);
        let clear = scores(&[(Emotion::Fear, 0.9)]);
        let adj = Adjustment::new(None, &anchor, &many, c.at);
        assert_eq!(adj.apply(&clear).dominant().0, Emotion::Fear);
    }

    #[test]
    fn no_reference_and_no_corrections_change_nothing() {
        let s = scores(&[(Emotion::Happy, 0.5)]);
        let adj = Adjustment::new(None, &NeutralAnchor::generic(), &[], 0);
        assert!(adj.is_identity());
        assert_eq!(adj.apply(&s), s);
        let bad = Reference {
            log_probs: [f32::NAN; N],
            frames: 3,
        };
        assert!(Adjustment::new(Some(&bad), &NeutralAnchor::generic(), &[], 0).is_identity());
    }

    #[test]
    fn the_model_anchor_is_read_and_a_missing_one_is_named() {
        let dir = std::env::temp_dir().join(format!("emotune-anchor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let model = dir.join("m.pt");
        let (a, warn) = NeutralAnchor::for_model(&model);
        assert!(!a.from_model);
        assert!(warn.expect("warned").contains("m.neutral.json"));
        std::fs::write(
            dir.join("m.neutral.json"),
            r#"{"neutral_log_probs": [0, 0, 0, 0, 7, 0, 0]}"#,
        )
        .expect("write");
        let (a, warn) = NeutralAnchor::for_model(&model);
        assert!(a.from_model && warn.is_none());
        assert!((a.log_probs[Emotion::Neutral.index()] - 6.0).abs() < 1e-5);
        std::fs::remove_dir_all(&dir).ok();
    }
}
