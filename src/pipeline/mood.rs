//! The stable mood: the smoothed dominant emotion counts only after holding for a while, and a
//! challenger must lead the current mood by a margin (hysteresis) so music does not flap.

use std::time::Duration;

use crate::emotion::{Emotion, EmotionScores};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MoodSettings {
    /// How long a new dominant emotion must hold before it becomes the mood.
    #[serde(with = "secs")]
    pub(crate) hold: Duration,
    /// How far (in probability) a challenger must lead the current mood.
    pub(crate) margin: f32,
}

impl Default for MoodSettings {
    fn default() -> Self {
        MoodSettings {
            hold: Duration::from_secs(3),
            margin: 0.05,
        }
    }
}

pub(super) mod secs {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        let v: f64 = serde::Deserialize::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// What the stabiliser reports after each update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoodState {
    /// The settled mood, once there is one.
    pub stable: Option<Emotion>,
    /// The emotion currently leading (may differ from `stable` while it proves itself).
    pub(crate) candidate: Option<Emotion>,
    /// 0..1: how far the candidate is through its hold time (1 when it is the stable mood).
    pub(crate) settled: f32,
    /// True on the update where `stable` changed.
    pub changed: bool,
}

#[derive(Debug, Default)]
pub(crate) struct MoodStabilizer {
    pub(crate) settings: MoodSettings,
    stable: Option<Emotion>,
    candidate: Option<(Emotion, Duration)>,
}

impl MoodStabilizer {
    pub(crate) fn new(settings: MoodSettings) -> Self {
        MoodStabilizer {
            settings,
            stable: None,
            candidate: None,
        }
    }

    /// `now` is time since the session started; `scores` the smoothed (group) probabilities,
    /// or None when no face is visible (the mood is kept, the candidate forgotten).
    pub(crate) fn update(&mut self, now: Duration, scores: Option<&EmotionScores>) -> MoodState {
        let Some(scores) = scores else {
            self.candidate = None;
            return self.state(now, false);
        };
        let (top, p) = scores.dominant();
        let leads = match self.stable {
            Some(s) if s == top => false,
            Some(s) => p >= scores.get(s) + self.settings.margin,
            None => true,
        };
        if !leads {
            self.candidate = None;
            return self.state(now, false);
        }
        let since = match self.candidate {
            Some((c, since)) if c == top => since,
            _ => {
                self.candidate = Some((top, now));
                now
            }
        };
        if now.saturating_sub(since) >= self.settings.hold {
            self.stable = Some(top);
            self.candidate = None;
            return self.state(now, true);
        }
        self.state(now, false)
    }

    /// Takes the dominant emotion of `scores` as the mood right away (a still photo).
    pub(crate) fn settle(&mut self, scores: &EmotionScores) -> MoodState {
        let top = scores.dominant().0;
        let changed = self.stable != Some(top);
        self.stable = Some(top);
        self.candidate = None;
        self.state(Duration::ZERO, changed)
    }

    fn state(&self, now: Duration, changed: bool) -> MoodState {
        match self.candidate {
            Some((c, since)) => MoodState {
                stable: self.stable,
                candidate: Some(c),
                settled: (now.saturating_sub(since).as_secs_f32()
                    / self.settings.hold.as_secs_f32().max(1e-3))
                .min(1.0),
                changed,
            },
            None => MoodState {
                stable: self.stable,
                candidate: self.stable,
                settled: if self.stable.is_some() { 1.0 } else { 0.0 },
                changed,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peaked(e: Emotion, p: f32) -> EmotionScores {
        let rest = (1.0 - p) / 6.0;
        let mut a = [rest; 7];
        a[e.index()] = p;
        EmotionScores(a)
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn mood_settles_only_after_hold_time() {
        let mut m = MoodStabilizer::new(MoodSettings::default());
        let happy = peaked(Emotion::Happy, 0.8);
        assert_eq!(m.update(at(0), Some(&happy)).stable, None);
        let mid = m.update(at(1500), Some(&happy));
        assert_eq!(mid.stable, None);
        assert!((mid.settled - 0.5).abs() < 0.01);
        let done = m.update(at(3000), Some(&happy));
        assert_eq!(done.stable, Some(Emotion::Happy));
        assert!(done.changed);
        assert!(!m.update(at(3100), Some(&happy)).changed);
    }

    #[test]
    fn flapping_does_not_change_the_mood() {
        let mut m = MoodStabilizer::new(MoodSettings::default());
        let happy = peaked(Emotion::Happy, 0.8);
        let sad = peaked(Emotion::Sad, 0.8);
        m.update(at(0), Some(&happy));
        m.update(at(3000), Some(&happy));
        // Sad for 2 s, interrupted by happy, then sad again for 2 s: never 3 s in a row.
        for t in (3100..5100).step_by(100) {
            m.update(at(t), Some(&sad));
        }
        m.update(at(5200), Some(&happy));
        for t in (5300..7300).step_by(100) {
            assert_eq!(m.update(at(t), Some(&sad)).stable, Some(Emotion::Happy));
        }
        assert_eq!(m.update(at(8400), Some(&sad)).stable, Some(Emotion::Sad));
    }

    #[test]
    fn a_challenger_within_the_margin_does_not_count() {
        let mut m = MoodStabilizer::new(MoodSettings::default());
        m.update(at(0), Some(&peaked(Emotion::Neutral, 0.9)));
        m.update(at(3000), Some(&peaked(Emotion::Neutral, 0.9)));
        let mut close = [0.0; 7];
        close[Emotion::Neutral.index()] = 0.48;
        close[Emotion::Sad.index()] = 0.52;
        let mut last = None;
        for t in (3000..10000).step_by(500) {
            last = m.update(at(t), Some(&EmotionScores(close))).stable;
        }
        assert_eq!(last, Some(Emotion::Neutral));
    }

    #[test]
    fn a_still_photo_settles_at_once() {
        let mut m = MoodStabilizer::new(MoodSettings::default());
        let st = m.settle(&peaked(Emotion::Surprise, 0.6));
        assert_eq!(st.stable, Some(Emotion::Surprise));
        assert!(st.changed && st.settled == 1.0);
        assert!(!m.settle(&peaked(Emotion::Surprise, 0.9)).changed);
    }

    #[test]
    fn no_face_keeps_the_mood() {
        let mut m = MoodStabilizer::new(MoodSettings::default());
        m.update(at(0), Some(&peaked(Emotion::Fear, 0.7)));
        m.update(at(3000), Some(&peaked(Emotion::Fear, 0.7)));
        assert_eq!(m.update(at(9000), None).stable, Some(Emotion::Fear));
    }
}
