//! Frame → faces → emotions → tracks → mood, with per-stage timings. `Pipeline::process` is the
//! whole per-frame path; the worker thread and `emotune bench` both call it.

pub mod mood;
pub mod tracking;
pub mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::emotion::{Emotion, EmotionScores};
use crate::error::Result;
use crate::vision::preprocess::{face_input, luma};
use crate::vision::{BBox, DetectorSettings, EmotionClassifier, FaceDetector};
pub use mood::{MoodSettings, MoodStabilizer, MoodState};
pub use tracking::{Tracker, TrackerSettings};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PipelineSettings {
    pub detector: DetectorSettings,
    pub tracker: TrackerSettings,
    pub mood: MoodSettings,
    /// Full-frame scan every N frames even while all tracks are found in their windows.
    pub rescan_every: u32,
    /// Margin added around the detector's box before cropping for the classifier.
    pub face_margin: f32,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            detector: DetectorSettings::default(),
            tracker: TrackerSettings::default(),
            mood: MoodSettings::default(),
            rescan_every: 10,
            face_margin: 0.15,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaceResult {
    pub track_id: u64,
    pub bbox: BBox,
    /// Smoothed over the track's history.
    pub scores: EmotionScores,
    /// This frame alone.
    pub raw: EmotionScores,
}

impl FaceResult {
    pub fn emotion(&self) -> (Emotion, f32) {
        self.scores.dominant()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub detect: Duration,
    pub classify: Duration,
    pub total: Duration,
    /// Whether this frame ran a full-frame scan (else only windows around tracks).
    pub full_scan: bool,
}

/// The last frames' timings, summarised by their median so a status line does not jump with
/// every periodic full scan. The median is worked out once per frame, not per repaint.
#[derive(Debug, Default)]
pub struct TimingWindow {
    recent: std::collections::VecDeque<Timings>,
    median: Option<Timings>,
}

impl TimingWindow {
    pub const LEN: usize = 30;

    pub fn push(&mut self, t: Timings) {
        if self.recent.len() == Self::LEN {
            self.recent.pop_front();
        }
        self.recent.push_back(t);
        let med = |f: fn(&Timings) -> Duration| {
            let mut v: Vec<Duration> = self.recent.iter().map(f).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        self.median = Some(Timings {
            detect: med(|t| t.detect),
            classify: med(|t| t.classify),
            total: med(|t| t.total),
            full_scan: false,
        });
    }

    /// Median detect, classify and total time (each on its own) over the window.
    pub fn median(&self) -> Option<Timings> {
        self.median
    }
}

#[derive(Debug, Clone)]
pub struct FrameResult {
    pub frame: Arc<RgbImage>,
    pub index: u64,
    /// Time since the pipeline started.
    pub at: Duration,
    pub faces: Vec<FaceResult>,
    /// Mean of the visible faces' smoothed scores.
    pub group: Option<EmotionScores>,
    pub mood: MoodState,
    pub timings: Timings,
}

pub struct Pipeline {
    detector: FaceDetector,
    classifier: EmotionClassifier,
    tracker: Tracker,
    mood: MoodStabilizer,
    settings: PipelineSettings,
    frames: u64,
    force_scan: bool,
}

impl Pipeline {
    pub fn new(classifier: EmotionClassifier, settings: PipelineSettings) -> Result<Self> {
        Ok(Pipeline {
            detector: FaceDetector::new(settings.detector)?,
            classifier,
            tracker: Tracker::new(settings.tracker),
            mood: MoodStabilizer::new(settings.mood),
            settings,
            frames: 0,
            force_scan: true,
        })
    }

    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    pub fn set_settings(&mut self, s: PipelineSettings) {
        self.detector.set_settings(s.detector);
        self.tracker.settings = s.tracker;
        self.mood.settings = s.mood;
        self.settings = s;
        self.force_scan = true;
    }

    /// Forget tracks and mood (a new source started).
    pub fn reset(&mut self) {
        self.tracker.clear();
        self.mood = MoodStabilizer::new(self.settings.mood);
        self.force_scan = true;
    }

    /// One photo on its own: fresh tracks, and the mood is the photo's dominant emotion at once.
    pub fn process_still(&mut self, frame: Arc<RgbImage>) -> Result<FrameResult> {
        self.reset();
        let mut r = self.process(frame, Duration::ZERO)?;
        if let Some(g) = &r.group {
            r.mood = self.mood.settle(g);
        }
        Ok(r)
    }

    /// Runs detection (full scan or windows around tracks), classification of all faces in one
    /// batch, tracking and the mood stabiliser on one frame.
    pub fn process(&mut self, frame: Arc<RgbImage>, at: Duration) -> Result<FrameResult> {
        let t0 = Instant::now();
        let gray = luma(&frame);
        let full_scan = self.force_scan
            || self.tracker.tracks().is_empty()
            || self
                .frames
                .is_multiple_of(self.settings.rescan_every.max(1) as u64);
        let mut boxes: Vec<BBox> = Vec::new();
        if full_scan {
            boxes.extend(self.detector.detect(&gray).into_iter().map(|d| d.bbox));
            self.force_scan = false;
        } else {
            for t in self.tracker.tracks() {
                let found = self.detector.detect_around(&gray, &t.bbox);
                match found.into_iter().max_by(|a, b| a.score.total_cmp(&b.score)) {
                    Some(d) => boxes.push(d.bbox),
                    // Lost it: scan the whole frame next time.
                    None => self.force_scan = true,
                }
            }
        }
        let t_detect = t0.elapsed();
        let inputs: Vec<_> = boxes
            .iter()
            .map(|b| face_input(&gray, b, self.settings.face_margin))
            .collect();
        let scores = self.classifier.classify(&inputs)?;
        let t_classify = t0.elapsed() - t_detect;
        let observed: Vec<(BBox, EmotionScores)> = boxes.into_iter().zip(scores).collect();
        self.tracker.update(&observed);
        let faces: Vec<FaceResult> = self
            .tracker
            .visible()
            .map(|t| FaceResult {
                track_id: t.id,
                bbox: t.bbox,
                scores: t.scores,
                raw: t.raw.unwrap_or(t.scores),
            })
            .collect();
        let group = EmotionScores::mean(faces.iter().map(|f| &f.scores));
        let mood = self.mood.update(at, group.as_ref());
        let index = self.frames;
        self.frames += 1;
        Ok(FrameResult {
            frame,
            index,
            at,
            faces,
            group,
            mood,
            timings: Timings {
                detect: t_detect,
                classify: t_classify,
                total: t0.elapsed(),
                full_scan,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(detect: u64, classify: u64) -> Timings {
        Timings {
            detect: Duration::from_millis(detect),
            classify: Duration::from_millis(classify),
            total: Duration::from_millis(detect + classify),
            full_scan: false,
        }
    }

    #[test]
    fn timing_window_reports_the_median_of_the_last_frames() {
        let mut w = TimingWindow::default();
        assert_eq!(w.median(), None);
        // Nine tracked frames and one full scan: the scan does not move the median.
        for i in 0..10 {
            w.push(if i == 9 { ms(30, 3) } else { ms(3, 2) });
        }
        let m = w.median().expect("frames");
        assert_eq!(
            (m.detect, m.classify),
            (Duration::from_millis(3), Duration::from_millis(2))
        );
        // Only the last LEN frames count: after LEN slow frames the median is slow.
        for _ in 0..TimingWindow::LEN {
            w.push(ms(20, 8));
        }
        let m = w.median().expect("frames");
        assert_eq!(
            (m.detect, m.total),
            (Duration::from_millis(20), Duration::from_millis(28))
        );
    }
}
