//! Face tracks across frames: greedy IoU matching, per-track EMA of the emotion scores.

use crate::emotion::EmotionScores;
use crate::vision::BBox;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackerSettings {
    /// Minimum IoU for a detection to continue a track.
    pub min_iou: f32,
    /// Frames a track survives without a detection.
    pub max_misses: u32,
    /// EMA weight of each new classification (0 < alpha ≤ 1; 1 = no smoothing).
    pub alpha: f32,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            min_iou: 0.3,
            max_misses: 8,
            alpha: 0.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: u64,
    pub bbox: BBox,
    /// Smoothed probabilities.
    pub scores: EmotionScores,
    /// This frame's raw probabilities (None when the face was not seen this frame).
    pub raw: Option<EmotionScores>,
    pub age: u32,
    pub misses: u32,
}

#[derive(Debug, Default)]
pub struct Tracker {
    pub settings: TrackerSettings,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    pub fn new(settings: TrackerSettings) -> Self {
        Tracker {
            settings,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Tracks seen in the current frame.
    pub fn visible(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(|t| t.misses == 0)
    }

    /// Feeds one frame's faces (box + probabilities). Returns nothing; read `tracks()`.
    pub fn update(&mut self, faces: &[(BBox, EmotionScores)]) {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (fi, (b, _)) in faces.iter().enumerate() {
                let iou = t.bbox.iou(b);
                if iou >= self.settings.min_iou {
                    pairs.push((iou, ti, fi));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.tracks.len()];
        let mut face_used = vec![false; faces.len()];
        for (_, ti, fi) in pairs {
            if track_used[ti] || face_used[fi] {
                continue;
            }
            track_used[ti] = true;
            face_used[fi] = true;
            let (b, s) = faces[fi];
            let t = &mut self.tracks[ti];
            t.bbox = b;
            t.scores = t.scores.blend(&s, self.settings.alpha);
            t.raw = Some(s);
            t.age += 1;
            t.misses = 0;
        }
        for (ti, used) in track_used.iter().enumerate() {
            if !used {
                let t = &mut self.tracks[ti];
                t.misses += 1;
                t.raw = None;
            }
        }
        let max_misses = self.settings.max_misses;
        self.tracks.retain(|t| t.misses <= max_misses);
        for (fi, (b, s)) in faces.iter().enumerate() {
            if !face_used[fi] {
                self.tracks.push(Track {
                    id: self.next_id,
                    bbox: *b,
                    scores: *s,
                    raw: Some(*s),
                    age: 1,
                    misses: 0,
                });
                self.next_id += 1;
            }
        }
    }

    pub fn clear(&mut self) {
        self.tracks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion;

    fn one_hot(e: Emotion) -> EmotionScores {
        let mut a = [0.0; 7];
        a[e.index()] = 1.0;
        EmotionScores(a)
    }

    #[test]
    fn ids_persist_across_small_moves_and_new_faces_get_new_ids() {
        let mut t = Tracker::new(TrackerSettings::default());
        t.update(&[(BBox::new(0.0, 0.0, 100.0, 100.0), one_hot(Emotion::Happy))]);
        let id = t.tracks()[0].id;
        t.update(&[
            (BBox::new(5.0, 5.0, 100.0, 100.0), one_hot(Emotion::Happy)),
            (BBox::new(300.0, 0.0, 100.0, 100.0), one_hot(Emotion::Sad)),
        ]);
        assert_eq!(t.tracks().len(), 2);
        assert_eq!(t.tracks()[0].id, id);
        assert_eq!(t.tracks()[0].bbox.x, 5.0);
        assert_ne!(t.tracks()[1].id, id);
    }

    #[test]
    fn scores_are_smoothed_and_tracks_expire() {
        let s = TrackerSettings {
            alpha: 0.5,
            max_misses: 1,
            ..Default::default()
        };
        let mut t = Tracker::new(s);
        let b = BBox::new(0.0, 0.0, 50.0, 50.0);
        t.update(&[(b, one_hot(Emotion::Angry))]);
        t.update(&[(b, one_hot(Emotion::Happy))]);
        let tr = &t.tracks()[0];
        assert!((tr.scores.get(Emotion::Angry) - 0.5).abs() < 1e-6);
        assert!((tr.scores.get(Emotion::Happy) - 0.5).abs() < 1e-6);
        t.update(&[]);
        assert_eq!(t.tracks().len(), 1);
        assert_eq!(t.visible().count(), 0);
        t.update(&[]);
        assert!(t.tracks().is_empty());
    }
}
