//! Frame → faces → emotions → tracks → mood, with per-stage timings. `Pipeline::process` is the
//! whole per-frame path; `submit`/`flush` run the same path pipelined (a frame's faces are
//! classified while the next frame is detected), as the worker does when frames queue up and
//! `emotune bench` always does.

mod cut;
mod economy;
use economy::Verdict;
mod inference;
pub(crate) mod mood;
mod second_core;
mod timings;
pub(crate) mod tracking;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{GrayImage, RgbImage};

use crate::emotion::{Emotion, EmotionScores};
use crate::error::Result;
use crate::profile::Adjustment;
use crate::vision::detector::suppress_overlaps;
use crate::vision::preprocess::{FaceCrop, FaceInput, face_input, luma};
use crate::vision::{BBox, Detection, DetectorSettings, EmotionClassifier, FaceDetector, Frame};
pub(crate) use economy::EconomySettings;
pub(crate) use mood::{MoodSettings, MoodStabilizer, MoodState};
pub use second_core::detector;
pub(crate) use timings::TimingWindow;
pub use timings::Timings;
pub(crate) use tracking::{Tracker, TrackerSettings};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PipelineSettings {
    pub(crate) detector: DetectorSettings,
    pub(crate) tracker: TrackerSettings,
    pub(crate) mood: MoodSettings,
    /// Full-frame scan every N frames even while all tracks are found in their windows.
    pub(crate) rescan_every: u32,
    /// How a detector box is cropped for the classifier.
    pub(crate) crop: FaceCrop,
    /// Work a steady scene skips.
    pub(crate) economy: EconomySettings,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            detector: DetectorSettings::default(),
            tracker: TrackerSettings::default(),
            mood: MoodSettings::default(),
            rescan_every: 10,
            crop: FaceCrop::default(),
            economy: EconomySettings::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaceResult {
    pub track_id: u64,
    pub(crate) bbox: BBox,
    /// Degrees the face is rolled by (`Detection::roll`); the feed draws its box turned.
    pub(crate) roll: f32,
    /// Smoothed over the track's history.
    pub scores: EmotionScores,
    /// This frame alone.
    pub(crate) raw: EmotionScores,
    /// The face's latest classification (this frame's, or the one a frame without one carries
    /// over, see `economy`), before the profile's adjustment; None before the first.
    pub(crate) unadjusted: Option<EmotionScores>,
    /// The profile's adjustment applies to this face (the largest one).
    pub(crate) personal: bool,
}

impl FaceResult {
    pub(crate) fn emotion(&self) -> (Emotion, f32) {
        self.scores.dominant()
    }
}

#[derive(Debug, Clone)]
pub struct FrameResult {
    pub(crate) frame: Arc<RgbImage>,
    /// Time since the pipeline started.
    pub(crate) at: Duration,
    pub faces: Vec<FaceResult>,
    /// Mean of the visible faces' smoothed scores.
    pub group: Option<EmotionScores>,
    pub mood: MoodState,
    pub timings: Timings,
}

impl FrameResult {
    /// The face the panels and the profile are about: the largest one.
    pub(crate) fn main_face(&self) -> Option<&FaceResult> {
        self.faces
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
    }
}

pub struct Pipeline {
    detector: FaceDetector,
    inference: inference::Inference,
    tracker: Tracker,
    mood: MoodStabilizer,
    settings: PipelineSettings,
    frames: u64,
    force_scan: bool,
    cut: cut::CutDetector,
    economy: economy::Economy,
    /// A frame submitted whose faces are still with the classifier.
    in_flight: Option<InFlight>,
    /// The active profile's adjustment, applied to the largest face.
    adjustment: Option<Adjustment>,
}

/// A frame detected and tracked, waiting for its faces' scores.
struct InFlight {
    frame: Arc<RgbImage>,
    at: Duration,
    /// The tracks whose faces were sent, in batch order.
    live: Vec<u64>,
    started: Instant,
    detect: Duration,
    full_scan: bool,
    /// Answered from the last analysed frame (nothing detected or classified).
    reused: bool,
    /// Reused, and it looked like that frame.
    unchanged: bool,
}

impl Pipeline {
    pub fn new(classifier: EmotionClassifier, settings: PipelineSettings) -> Result<Self> {
        Ok(Pipeline {
            detector: detector(settings.detector)?,
            inference: inference::Inference::new(classifier),
            tracker: Tracker::new(settings.tracker),
            mood: MoodStabilizer::new(settings.mood),
            settings,
            frames: 0,
            force_scan: true,
            cut: cut::CutDetector::default(),
            economy: economy::Economy::default(),
            in_flight: None,
            adjustment: None,
        })
    }

    /// The profile's adjustment for the largest face from the next frame on (None: off).
    pub(crate) fn set_adjustment(&mut self, a: Option<Adjustment>) {
        self.adjustment = a.filter(|a| !a.is_identity());
    }

    pub(crate) fn set_settings(&mut self, s: PipelineSettings) {
        self.detector.set_settings(s.detector);
        self.tracker.settings = s.tracker;
        self.mood.settings = s.mood;
        self.settings = s;
        self.force_scan = true;
        self.economy.clear();
    }

    /// Forget tracks and mood (a new source started); a frame still in flight is dropped.
    pub(crate) fn reset(&mut self) {
        self.in_flight = None;
        self.inference.discard();
        self.tracker.clear();
        self.mood = MoodStabilizer::new(self.settings.mood);
        self.force_scan = true;
        self.cut.clear();
        self.economy.clear();
    }

    /// One photo on its own: fresh tracks, every face shown at once, and the mood is the
    /// photo's dominant emotion at once.
    pub fn process_still(&mut self, frame: Arc<RgbImage>) -> Result<FrameResult> {
        self.reset();
        let (_, f) = self.start(frame, Duration::ZERO, true)?;
        let mut r = self.finish(f)?;
        if let Some(g) = &r.group {
            r.mood = self.mood.settle(g);
        }
        Ok(r)
    }

    /// One frame, start to finish: detection (full scan or windows around tracks), tracking,
    /// classification of the faces seen this frame in one batch, and the mood stabiliser. A
    /// frame still in flight from `submit` is finished first; its result is not returned.
    pub fn process(&mut self, frame: Arc<RgbImage>, at: Duration) -> Result<FrameResult> {
        let (_, f) = self.start(frame, at, false)?;
        self.finish(f)
    }

    /// Pipelined `process`, for when frames come faster than they are processed: detects and
    /// tracks `frame` while the previous frame's faces are classified on the other core, then
    /// returns the previous frame's result (none for the first). `flush` gives the last one.
    pub(crate) fn submit(
        &mut self,
        frame: Arc<RgbImage>,
        at: Duration,
    ) -> Result<Option<FrameResult>> {
        let (earlier, f) = self.start(frame, at, false)?;
        self.in_flight = Some(f);
        Ok(earlier)
    }

    /// The result of the frame in flight, if any.
    pub fn flush(&mut self) -> Result<Option<FrameResult>> {
        self.in_flight.take().map(|f| self.finish(f)).transpose()
    }

    /// A synchronous full scan when asked for or when no confirmed face is tracked (or one
    /// was just lost); else windows around the tracks, plus every `rescan_every` frames a full
    /// scan on the detector's second thread whose newcomers join when it finishes. Returns the
    /// observations and whether this thread ran a full scan.
    fn detect(&mut self, frame: Frame<'_>) -> (Vec<Detection>, bool) {
        let gray = frame.gray;
        let tracking = self.tracker.tracks().iter().any(|t| t.confirmed);
        let cut = self.cut.update(gray);
        if self.force_scan || cut || !tracking {
            self.force_scan = false;
            // After a cut the tracks' windows hold other things now: the scan alone.
            return (self.full_scan(frame, !cut), true);
        }
        let mut found = Vec::new();
        let mut lost = false;
        for t in self.tracker.tracks() {
            let near = self.detector.detect_around(frame, &t.bbox, t.roll);
            match near.into_iter().max_by(|a, b| a.score.total_cmp(&b.score)) {
                Some(d) => found.push(d),
                None => lost |= t.confirmed,
            }
        }
        if let Some(scanned) = self.detector.poll_background_scan() {
            // Scanned a few frames ago: only faces no track holds are news.
            let tracks = self.tracker.tracks();
            let news: Vec<_> = scanned
                .into_iter()
                .filter(|d| {
                    !tracks.iter().any(|t| t.bbox.same_face(&d.bbox, 0.3))
                        && !found.iter().any(|f| f.bbox.same_face(&d.bbox, 0.3))
                })
                .collect();
            found.extend(news);
        }
        let every = (self.economy).rescan_every(&self.settings.economy, self.settings.rescan_every);
        let periodic = self.frames.is_multiple_of(every.max(1) as u64);
        // A confirmed face left its window (a jump, a new scene): look everywhere now, not a
        // frame later. Without a second thread the periodic scan runs here too.
        let scan_here = lost || (periodic && !self.detector.has_helper());
        if periodic && !scan_here {
            self.detector.start_background_scan(frame);
        }
        if scan_here {
            found.extend(self.detector.detect(frame));
        }
        // Two tracks can re-find the same face, and a scan finds tracked ones again.
        (suppress_overlaps(found), scan_here)
    }

    /// The whole frame, plus the windows of confirmed tracks the coarse scan missed (the window
    /// search is finer); one box per face.
    fn full_scan(&mut self, frame: Frame<'_>, search_tracks: bool) -> Vec<Detection> {
        let mut found = self.detector.detect(frame);
        if !search_tracks {
            return found;
        }
        for t in self.tracker.tracks().iter().filter(|t| t.confirmed) {
            if found.iter().any(|d| d.bbox.same_face(&t.bbox, 0.3)) {
                continue;
            }
            let near = self.detector.detect_around(frame, &t.bbox, t.roll);
            found.extend(near.into_iter().max_by(|a, b| a.score.total_cmp(&b.score)));
        }
        suppress_overlaps(found)
    }

    /// Detects and tracks `frame` and sends its faces to the classifier. The frame in flight
    /// before it (classified meanwhile) is finished in between: after this frame's detection,
    /// which only needs the tracks' boxes, and before its tracking, which moves them.
    fn start(
        &mut self,
        frame: Arc<RgbImage>,
        at: Duration,
        still: bool,
    ) -> Result<(Option<FrameResult>, InFlight)> {
        let started = Instant::now();
        let tracks = !self.tracker.tracks().is_empty();
        let verdict = if still {
            Verdict::Analyse
        } else {
            (self.economy).verdict(&self.settings.economy, &frame, at, tracks)
        };
        if verdict != Verdict::Analyse {
            let earlier = self.flush()?;
            let unchanged = verdict == Verdict::Unchanged;
            return Ok((earlier, self.reuse(frame, at, started, unchanged)));
        }
        let gray = luma(&frame);
        let (observed, full_scan) = self.detect(Frame::with_color(&gray, &frame));
        let detect = started.elapsed();
        self.frames += 1;
        let earlier = self.flush()?;
        self.tracker.observe(&observed, still);
        let (live, inputs) = self.faces_to_classify(&gray, at);
        self.send(inputs);
        let f = InFlight {
            frame,
            at,
            live,
            started,
            detect,
            full_scan,
            reused: false,
            unchanged: false,
        };
        Ok((earlier, f))
    }

    /// A frame that did not change (or an empty room between searches): nothing is detected or
    /// classified; `finish` gives the tracks as they are, their scores held.
    fn reuse(
        &mut self,
        frame: Arc<RgbImage>,
        at: Duration,
        started: Instant,
        unchanged: bool,
    ) -> InFlight {
        self.send(Vec::new());
        InFlight {
            frame,
            at,
            live: Vec::new(),
            started,
            detect: Duration::ZERO,
            full_scan: false,
            reused: true,
            unchanged,
        }
    }

    /// The visible tracks to classify this frame and their inputs. Only faces seen this frame
    /// are classified; the others keep their last scores. A settled mood needs no face
    /// classified every frame (`Economy::classify`); one left out is classified next frame
    /// whether it changed or not.
    fn faces_to_classify(&mut self, gray: &GrayImage, at: Duration) -> (Vec<u64>, Vec<FaceInput>) {
        let (s, crop) = (&self.settings.economy, &self.settings.crop);
        let (mut live, mut inputs, mut pending) = (Vec::new(), Vec::new(), false);
        for t in self.tracker.visible() {
            if self.economy.classify(s, t, at) {
                live.push(t.id);
                inputs.push(face_input(gray, &t.bbox, t.roll, crop));
            } else {
                pending = true;
            }
        }
        self.economy.pending = pending;
        for id in &live {
            self.tracker.mark_classified(*id, at);
        }
        (live, inputs)
    }

    /// Sends `inputs` to the classifier; `finish` takes the scores.
    fn send(&mut self, inputs: Vec<FaceInput>) {
        // On the detector's second thread when it is free: the next frame's scan overlaps it.
        // An empty batch costs nothing here, not worth waking the helper for.
        let empty = inputs.is_empty();
        let job = self.inference.job(inputs);
        let refused = if empty {
            Err(job)
        } else {
            self.detector.run_on_helper(job)
        };
        if let Err(job) = refused {
            job();
        }
    }

    /// Takes `f`'s scores from the classifier and makes its result.
    fn finish(&mut self, f: InFlight) -> Result<FrameResult> {
        let scored = self.inference.recv();
        // No face recognition: the profile is the person in front, the largest face.
        let personal = self.adjustment.and_then(|_| {
            self.tracker
                .visible()
                .filter(|t| f.live.contains(&t.id))
                .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
                .map(|t| t.id)
        });
        for (id, s) in f.live.iter().zip(scored.scores?) {
            self.tracker.note_unadjusted(*id, s);
            let s = match (&self.adjustment, personal == Some(*id)) {
                (Some(a), true) => a.apply(&s),
                _ => s,
            };
            self.tracker.record(*id, s);
        }
        let held: Vec<u64> = (self.tracker.visible().map(|t| t.id))
            .filter(|id| !f.live.contains(id))
            .collect();
        for id in held {
            self.tracker.hold(id);
        }
        let faces: Vec<FaceResult> = self
            .tracker
            .visible()
            .filter_map(|t| {
                Some(FaceResult {
                    track_id: t.id,
                    bbox: t.bbox,
                    roll: t.roll,
                    scores: t.scores?,
                    raw: t.raw.or(t.scores)?,
                    unadjusted: t.unadjusted,
                    personal: personal == Some(t.id),
                })
            })
            .collect();
        let group = EmotionScores::mean(faces.iter().map(|f| &f.scores));
        let mood = self.mood.update(f.at, group.as_ref());
        // No challenger: the state reports the stable mood as its own candidate.
        self.economy.settled = mood.stable.is_some() && mood.candidate == mood.stable;
        Ok(FrameResult {
            frame: f.frame,
            at: f.at,
            faces,
            group,
            mood,
            timings: Timings {
                detect: f.detect,
                classify: scored.took,
                // From the start of this frame to its result: with `submit`, the next
                // frame's detection is in it.
                total: f.started.elapsed(),
                full_scan: f.full_scan,
                classified: f.live.len(),
                reused: f.reused,
                unchanged: f.unchanged,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::scene::{SetKind, Texture, set_frame, set_room};
    use crate::vision::testset::ASTRONAUT_FACE;

    fn pipeline() -> Pipeline {
        let path = crate::vision::resolve_model_path(None).expect("shipped model");
        let clf = EmotionClassifier::load(&path).expect("model loads");
        Pipeline::new(clf, PipelineSettings::default()).expect("pipeline")
    }

    /// New rooms (full scans on both threads) then a moving face (tracked windows, background
    /// rescans): both ways the pipeline runs.
    fn sequence() -> Vec<Arc<RgbImage>> {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let portrait = image::open(fixture).expect("fixture").to_rgb8();
        let mut seq = Vec::new();
        for (kind, frames) in [
            (SetKind::Cold, 0..5),
            (SetKind::Move(Texture::Clutter), 0..14),
        ] {
            let room = set_room(kind, 3);
            for i in frames {
                let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, i, 3);
                seq.push(Arc::new(f.frame));
            }
        }
        seq
    }

    fn at(i: usize) -> Duration {
        Duration::from_millis(33 * i as u64)
    }

    #[test]
    fn submitted_frames_come_back_a_frame_late_with_the_same_results() {
        let seq = sequence();
        let mut sync = pipeline();
        let want: Vec<FrameResult> = seq
            .iter()
            .enumerate()
            .map(|(i, f)| sync.process(f.clone(), at(i)).expect("process"))
            .collect();
        let mut piped = pipeline();
        let mut got = Vec::new();
        for (i, f) in seq.iter().enumerate() {
            let earlier = piped.submit(f.clone(), at(i)).expect("submit");
            assert_eq!(
                earlier.is_some(),
                i > 0,
                "frame {i}: the one before it comes back"
            );
            got.extend(earlier);
        }
        got.extend(piped.flush().expect("flush"));
        assert!(
            piped.flush().expect("flush").is_none(),
            "nothing left in flight"
        );
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                Arc::ptr_eq(&g.frame, &w.frame) && g.at == w.at,
                "frame {i} in order"
            );
            let faces = |r: &FrameResult| -> Vec<(u64, BBox, [f32; Emotion::COUNT])> {
                r.faces
                    .iter()
                    .map(|f| (f.track_id, f.bbox, f.scores.0))
                    .collect()
            };
            assert_eq!(
                faces(g),
                faces(w),
                "frame {i}: same tracks, boxes and scores"
            );
            assert_eq!(g.mood, w.mood, "frame {i}");
        }
        let shown = got.iter().filter(|r| r.faces.len() == 1).count();
        assert!(
            shown >= seq.len() - 5,
            "the face is shown: {shown} of {}",
            seq.len()
        );
    }

    /// A still face (only sensor noise changes): the same faces and the same mood at the same
    /// frame with the economy as without it, from far fewer classifications.
    #[test]
    fn the_economy_keeps_the_faces_and_the_moods_timing() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let portrait = image::open(fixture).expect("fixture").to_rgb8();
        let kind = SetKind::Move(Texture::Clutter);
        let room = set_room(kind, 3);
        let run = |economy: EconomySettings| {
            let clf =
                EmotionClassifier::load(&crate::vision::resolve_model_path(None).expect("model"));
            let settings = PipelineSettings {
                economy,
                ..Default::default()
            };
            let mut p = Pipeline::new(clf.expect("model loads"), settings).expect("pipeline");
            (0..120u64)
                .map(|i| {
                    let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, 10, i).frame;
                    let r = p.process(Arc::new(f), at(i as usize)).expect("process");
                    let face = r.faces.first().map(|f| (f.track_id, f.emotion().0));
                    (face, r.mood.stable, r.timings.classified)
                })
                .collect::<Vec<_>>()
        };
        let (off, on) = (run(EconomySettings::off()), run(EconomySettings::default()));
        for (i, (a, b)) in off.iter().zip(&on).enumerate() {
            assert_eq!((a.0, a.1), (b.0, b.1), "frame {i}");
        }
        assert!(on.last().is_some_and(|r| r.1.is_some()), "a mood settled");
        let count = |v: &[(_, _, usize)]| v.iter().map(|r| r.2).sum::<usize>();
        assert!(
            count(&on) * 2 < count(&off),
            "{} of {}",
            count(&on),
            count(&off)
        );
    }

    #[test]
    fn a_reset_drops_the_frame_in_flight() {
        let seq = sequence();
        let mut p = pipeline();
        assert!(p.submit(seq[5].clone(), at(5)).expect("submit").is_none());
        p.reset();
        assert!(p.submit(seq[6].clone(), at(6)).expect("submit").is_none());
        let first = p.submit(seq[7].clone(), at(7)).expect("submit");
        let first = first.expect("the first frame after the reset");
        assert!(Arc::ptr_eq(&first.frame, &seq[6]));
        let r = p.flush().expect("flush").expect("the second");
        assert!(Arc::ptr_eq(&r.frame, &seq[7]));
        assert_eq!(r.faces.len(), 1, "seen twice since the reset: shown");
    }
}
