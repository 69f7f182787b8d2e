//! The seven FER-2013 emotions, per-emotion scores, and the music's strategy towards a mood.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// FER-2013 classes, in the dataset's (and the model's output) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Angry,
    Disgust,
    Fear,
    Happy,
    Neutral,
    Sad,
    Surprise,
}

impl Emotion {
    pub(crate) const COUNT: usize = 7;
    pub const ALL: [Emotion; Self::COUNT] = [
        Emotion::Angry,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Happy,
        Emotion::Neutral,
        Emotion::Sad,
        Emotion::Surprise,
    ];

    /// Lower-case name as used in FER-2013 folders, the model metadata and JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Happy => "happy",
            Emotion::Neutral => "neutral",
            Emotion::Sad => "sad",
            Emotion::Surprise => "surprise",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    #[cfg(test)]
    pub(crate) fn from_index(i: usize) -> Option<Emotion> {
        Self::ALL.get(i).copied()
    }

    /// A display colour (sRGB) per emotion, shared by the UI and the plots.
    pub(crate) fn color(self) -> [u8; 3] {
        match self {
            Emotion::Angry => [220, 60, 50],
            Emotion::Disgust => [120, 160, 40],
            Emotion::Fear => [140, 90, 190],
            Emotion::Happy => [250, 190, 30],
            Emotion::Neutral => [150, 150, 150],
            Emotion::Sad => [60, 120, 210],
            Emotion::Surprise => [240, 120, 200],
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a string that names no emotion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown emotion {0:?}: expected one of angry, disgust, fear, happy, neutral, sad, surprise"
)]
pub struct ParseEmotionError(pub String);

impl FromStr for Emotion {
    type Err = ParseEmotionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        // Accept the adjective forms users type as well as the dataset's names.
        let canonical = match lower.as_str() {
            "anger" => "angry",
            "disgusted" => "disgust",
            "fearful" | "scared" => "fear",
            "happiness" => "happy",
            "sadness" => "sad",
            "surprised" => "surprise",
            other => other,
        };
        Emotion::ALL
            .into_iter()
            .find(|e| e.name() == canonical)
            .ok_or_else(|| ParseEmotionError(s.to_string()))
    }
}

/// What the music does about the mood: match it, or lift it. Here, beside `Emotion`, because
/// the settings (`config`) key the user's own playlists by mood and strategy; `music`
/// re-exports it as `music::Strategy`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Match,
    Uplift,
}

impl Strategy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Strategy::Match => "match",
            Strategy::Uplift => "uplift",
        }
    }

    pub(crate) fn toggled(self) -> Strategy {
        match self {
            Strategy::Match => Strategy::Uplift,
            Strategy::Uplift => Strategy::Match,
        }
    }
}

/// Probabilities for the seven emotions (sum 1), in FER-2013 order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EmotionScores(pub [f32; Emotion::COUNT]);

impl EmotionScores {
    /// Numerically stable softmax of raw logits.
    pub(crate) fn from_logits(logits: &[f32; Emotion::COUNT]) -> Self {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut p = [0.0; Emotion::COUNT];
        let mut sum = 0.0;
        for (o, &l) in p.iter_mut().zip(logits) {
            *o = (l - max).exp();
            sum += *o;
        }
        for o in &mut p {
            *o /= sum;
        }
        EmotionScores(p)
    }

    /// Uniform distribution: the neutral starting point for smoothing.
    #[cfg(test)]
    pub(crate) fn uniform() -> Self {
        EmotionScores([1.0 / Emotion::COUNT as f32; Emotion::COUNT])
    }

    pub(crate) fn get(&self, e: Emotion) -> f32 {
        self.0[e.index()]
    }

    /// The most probable emotion and its probability.
    pub fn dominant(&self) -> (Emotion, f32) {
        let (i, p) =
            self.0
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, p)| {
                    if p > best.1 { (i, p) } else { best }
                });
        (Emotion::ALL[i], p)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Emotion, f32)> + '_ {
        Emotion::ALL.into_iter().zip(self.0.iter().copied())
    }

    /// Exponential moving average towards `next`; `alpha` is the weight of the new sample.
    pub(crate) fn blend(&self, next: &EmotionScores, alpha: f32) -> EmotionScores {
        let mut out = [0.0; Emotion::COUNT];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (1.0 - alpha) * self.0[i] + alpha * next.0[i];
        }
        EmotionScores(out)
    }

    /// Mean of several score vectors (the group mood); `None` when empty.
    pub(crate) fn mean<'a>(
        all: impl IntoIterator<Item = &'a EmotionScores>,
    ) -> Option<EmotionScores> {
        let mut acc = [0.0; Emotion::COUNT];
        let mut n = 0usize;
        for s in all {
            for (a, v) in acc.iter_mut().zip(s.0) {
                *a += v;
            }
            n += 1;
        }
        (n > 0).then(|| EmotionScores(acc.map(|a| a / n as f32)))
    }
}

/// Serialised as `{"angry": 0.1, ...}` in FER order, the shape `classify --json` promises.
impl Serialize for EmotionScores {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(Emotion::COUNT))?;
        for (e, p) in self.iter() {
            m.serialize_entry(e.name(), &p)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matches_fer2013() {
        let names: Vec<_> = Emotion::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"
            ]
        );
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(*e));
        }
        assert_eq!(Emotion::from_index(7), None);
    }

    #[test]
    fn parses_names_and_synonyms() {
        assert_eq!("Happy".parse::<Emotion>(), Ok(Emotion::Happy));
        assert_eq!(" surprised ".parse::<Emotion>(), Ok(Emotion::Surprise));
        assert_eq!("sadness".parse::<Emotion>(), Ok(Emotion::Sad));
        let err = "bored".parse::<Emotion>().unwrap_err();
        assert!(err.to_string().contains("bored"));
        assert!(err.to_string().contains("neutral"));
        for e in Emotion::ALL {
            assert_eq!(e.to_string().parse::<Emotion>(), Ok(e));
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let s = EmotionScores::from_logits(&[1.0, -2.0, 0.5, 4.0, 0.0, 1000.0, -1000.0]);
        let sum: f32 = s.0.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
        assert_eq!(s.dominant().0, Emotion::Sad);
        assert!(s.0.iter().all(|p| p.is_finite()));
    }

    #[test]
    fn blend_and_mean() {
        let a = EmotionScores([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let b = EmotionScores([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        let m = a.blend(&b, 0.25);
        assert!((m.get(Emotion::Angry) - 0.75).abs() < 1e-6);
        assert!((m.get(Emotion::Happy) - 0.25).abs() < 1e-6);
        let mean = EmotionScores::mean([&a, &b]).expect("two inputs");
        assert!((mean.get(Emotion::Happy) - 0.5).abs() < 1e-6);
        assert!(EmotionScores::mean(std::iter::empty()).is_none());
    }

    #[test]
    fn scores_serialise_as_named_map() {
        let json = serde_json::to_string(&EmotionScores::uniform()).expect("serialise");
        assert!(json.starts_with("{\"angry\":"));
        assert!(json.contains("\"surprise\":"));
    }
}
