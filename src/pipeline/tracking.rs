//! Face tracks across frames: greedy IoU matching, per-track EMA of the emotion scores.

use std::time::Duration;

use crate::emotion::EmotionScores;
use crate::vision::{BBox, Detection};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct TrackerSettings {
    /// Minimum IoU for a detection to continue a track (or either centre inside the other box,
    /// see `BBox::same_face`).
    pub(crate) min_iou: f32,
    /// Frames a track survives without a detection (it is neither drawn nor classified then).
    pub(crate) max_misses: u32,
    /// EMA weight of each new classification (0 < alpha ≤ 1; 1 = no smoothing).
    pub(crate) alpha: f32,
    /// A new track is shown at once when its detection scores at least this; weaker ones wait
    /// for a second sighting (texture rarely fools the cascade twice in the same place). In
    /// the benchmark rooms true faces scored well above 4 and texture below 2 (docs/detection.md).
    pub(crate) confirm_score: f64,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            min_iou: 0.3,
            max_misses: 3,
            alpha: 0.25,
            confirm_score: 4.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Track {
    pub(crate) id: u64,
    pub(crate) bbox: BBox,
    /// Degrees the face was rolled by when last seen (`Detection::roll`).
    pub(crate) roll: f32,
    /// Smoothed probabilities (None until the track was first classified).
    pub(crate) scores: Option<EmotionScores>,
    /// This frame's raw probabilities (None when the face was not classified this frame).
    pub(crate) raw: Option<EmotionScores>,
    pub(crate) age: u32,
    pub(crate) misses: u32,
    /// Shown and classified only once confirmed (see `TrackerSettings::confirm_score`).
    pub(crate) confirmed: bool,
    /// When and in which box the face was last sent to the classifier.
    pub(crate) classified: Option<(Duration, BBox)>,
    /// Its last classification, which frames without one count again (`Tracker::hold`).
    pub(crate) held: Option<EmotionScores>,
    /// The same before the profile's adjustment.
    pub(crate) unadjusted: Option<EmotionScores>,
}

impl Track {
    /// Seen this frame and confirmed: drawn, and classified this frame.
    pub(crate) fn is_live(&self) -> bool {
        self.confirmed && self.misses == 0
    }
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub(crate) settings: TrackerSettings,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    pub(crate) fn new(settings: TrackerSettings) -> Self {
        Tracker {
            settings,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    pub(crate) fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Tracks seen in the current frame and confirmed: what the UI draws.
    pub(crate) fn visible(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(|t| t.is_live())
    }

    /// Feeds one frame's detections: continues tracks (greedy, best overlap first), ages the
    /// rest, drops those unseen for too long and starts tentative tracks for the unmatched.
    /// `confirm_all` shows new tracks at once (a still photo has no second frame).
    pub(crate) fn observe(&mut self, dets: &[Detection], confirm_all: bool) {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, d) in dets.iter().enumerate() {
                if t.bbox.same_face(&d.bbox, self.settings.min_iou) {
                    pairs.push((t.bbox.iou(&d.bbox), ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.tracks.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, ti, di) in pairs {
            if track_used[ti] || det_used[di] {
                continue;
            }
            track_used[ti] = true;
            det_used[di] = true;
            let t = &mut self.tracks[ti];
            t.bbox = dets[di].bbox;
            t.roll = dets[di].roll;
            t.age += 1;
            t.misses = 0;
            t.confirmed = true;
        }
        for (t, used) in self.tracks.iter_mut().zip(&track_used) {
            t.raw = None;
            if !used {
                t.misses += 1;
            }
        }
        let max_misses = self.settings.max_misses;
        // A tentative track that is not seen again was most likely texture.
        self.tracks
            .retain(|t| t.misses == 0 || (t.confirmed && t.misses <= max_misses));
        for (d, used) in dets.iter().zip(det_used) {
            if !used {
                self.tracks.push(Track {
                    id: self.next_id,
                    bbox: d.bbox,
                    roll: d.roll,
                    scores: None,
                    raw: None,
                    age: 1,
                    misses: 0,
                    confirmed: confirm_all || d.score >= self.settings.confirm_score,
                    classified: None,
                    held: None,
                    unadjusted: None,
                });
                self.next_id += 1;
            }
        }
    }

    /// Records this frame's classification of track `id` (smoothed into its history).
    pub(crate) fn record(&mut self, id: u64, s: EmotionScores) {
        let alpha = self.settings.alpha;
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.scores = Some(match t.scores {
                Some(old) => old.blend(&s, alpha),
                None => s,
            });
            t.raw = Some(s);
            t.held = Some(s);
        }
    }

    /// A frame in which track `id` was seen but not classified: its scores move toward its last
    /// classification as if this frame had given the same, so the smoothing keeps its pace in
    /// frames whichever frames are classified.
    pub(crate) fn hold(&mut self, id: u64) {
        let alpha = self.settings.alpha;
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id)
            && let (Some(old), Some(held)) = (t.scores, t.held)
        {
            t.scores = Some(old.blend(&held, alpha));
        }
    }

    /// Track `id`'s last classification before the profile's adjustment.
    pub(crate) fn note_unadjusted(&mut self, id: u64, s: EmotionScores) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.unadjusted = Some(s);
        }
    }

    /// Track `id` is sent to the classifier in the frame at `at`.
    pub(crate) fn mark_classified(&mut self, id: u64, at: Duration) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.classified = Some((at, t.bbox));
        }
    }

    pub(crate) fn clear(&mut self) {
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

    fn obs(x: f32, score: f64) -> Detection {
        Detection {
            bbox: BBox::new(x, 0.0, 100.0, 100.0),
            score,
            roll: 0.0,
            neural: false,
        }
    }

    #[test]
    fn ids_persist_across_small_moves_and_new_faces_get_new_ids() {
        let mut t = Tracker::new(TrackerSettings::default());
        t.observe(&[obs(0.0, 20.0)], false);
        let id = t.tracks()[0].id;
        t.observe(&[obs(5.0, 20.0), obs(300.0, 20.0)], false);
        assert_eq!(t.tracks().len(), 2);
        assert_eq!(t.tracks()[0].id, id);
        assert_eq!(t.tracks()[0].bbox.x, 5.0);
        assert_ne!(t.tracks()[1].id, id);
    }

    #[test]
    fn a_box_of_another_size_on_the_same_face_continues_the_track() {
        let mut t = Tracker::new(TrackerSettings::default());
        t.observe(&[obs(0.0, 20.0)], false);
        // IoU 0.16 (a tighter box from a different pyramid level), centre inside the track.
        let tight = Detection {
            bbox: BBox::new(30.0, 30.0, 40.0, 40.0),
            score: 20.0,
            roll: -25.0,
            neural: false,
        };
        t.observe(&[tight], false);
        assert_eq!(t.tracks().len(), 1);
        assert_eq!(
            t.tracks()[0].roll,
            -25.0,
            "the track takes the roll it was seen at"
        );
        assert_eq!(t.visible().count(), 1);
    }

    #[test]
    fn weak_new_detections_wait_for_a_second_sighting() {
        let mut t = Tracker::new(TrackerSettings::default());
        t.observe(&[obs(0.0, 3.0)], false);
        assert_eq!(t.visible().count(), 0, "one weak sighting is not shown");
        t.observe(&[obs(4.0, 3.0)], false);
        assert_eq!(t.visible().count(), 1, "seen twice: confirmed");
        // A weak one-off elsewhere is dropped as soon as it is not seen again.
        t.observe(&[obs(4.0, 3.0), obs(400.0, 3.0)], false);
        assert_eq!(t.tracks().len(), 2);
        t.observe(&[obs(4.0, 3.0)], false);
        assert_eq!(t.tracks().len(), 1);
        // A still photo shows everything at once.
        let mut s = Tracker::new(TrackerSettings::default());
        s.observe(&[obs(0.0, 3.0)], true);
        assert_eq!(s.visible().count(), 1);
    }

    #[test]
    fn scores_are_smoothed_and_tracks_expire() {
        let s = TrackerSettings {
            alpha: 0.5,
            max_misses: 1,
            ..Default::default()
        };
        let mut t = Tracker::new(s);
        t.observe(&[obs(0.0, 20.0)], false);
        let id = t.tracks()[0].id;
        t.record(id, one_hot(Emotion::Angry));
        t.observe(&[obs(0.0, 20.0)], false);
        t.record(id, one_hot(Emotion::Happy));
        let tr = &t.tracks()[0];
        let scores = tr.scores.expect("classified");
        assert!((scores.get(Emotion::Angry) - 0.5).abs() < 1e-6);
        assert!((scores.get(Emotion::Happy) - 0.5).abs() < 1e-6);
        t.observe(&[], false);
        assert_eq!(t.tracks().len(), 1);
        assert_eq!(t.visible().count(), 0);
        assert_eq!(t.tracks()[0].raw, None, "not seen: not classified");
        t.observe(&[], false);
        assert!(t.tracks().is_empty());
    }

    #[test]
    fn a_held_frame_counts_the_last_classification_again() {
        let s = TrackerSettings {
            alpha: 0.5,
            ..Default::default()
        };
        let (mut every, mut some) = (Tracker::new(s), Tracker::new(s));
        for t in [&mut every, &mut some] {
            t.observe(&[obs(0.0, 20.0)], false);
            t.record(t.tracks()[0].id, one_hot(Emotion::Angry));
        }
        // Classified happy every frame, or once and then held for two frames: the same scores.
        for i in 0..3 {
            every.observe(&[obs(0.0, 20.0)], false);
            every.record(every.tracks()[0].id, one_hot(Emotion::Happy));
            some.observe(&[obs(0.0, 20.0)], false);
            let id = some.tracks()[0].id;
            if i == 0 {
                some.record(id, one_hot(Emotion::Happy));
            } else {
                some.hold(id);
            }
        }
        let (a, b) = (every.tracks()[0].scores, some.tracks()[0].scores);
        assert_eq!(a, b);
        assert!((b.expect("scores").get(Emotion::Happy) - 0.875).abs() < 1e-6);
        // Never classified: nothing to hold.
        let mut fresh = Tracker::new(s);
        fresh.observe(&[obs(0.0, 20.0)], false);
        fresh.hold(fresh.tracks()[0].id);
        assert_eq!(fresh.tracks()[0].scores, None);
    }
}
