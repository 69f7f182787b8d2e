//! Face detection with rustface (SeetaFace funnel cascade), made real-time by detecting on a
//! downscaled frame and, between full scans, only in a window around each tracked face.

use image::{GrayImage, RgbImage};
use std::cell::RefCell;
use std::sync::mpsc;

use super::cascade::{Cascade, MIN_WINDOW, Pass, WINDOW};
use super::frame::{Detection, Frame};
use super::helper::{Helper, Job, NeuralAsk, job};
use super::neural::{BOX_MAP, Letterbox, NeuralDetector};
use super::preprocess::BBox;
use super::resample::{downscale_into, pyramid_resize, scaled_color};
use crate::error::Result;

pub(crate) use super::cascade::suppress_overlaps;
pub(crate) use super::helper::{Offload, Task};
pub use super::settings::DetectorSettings;

/// BlazeFace, loaded when the settings first ask for it; a load failure turns it off (logged).
enum Neural {
    Off,
    Ready(Box<NeuralDetector>),
    Failed,
}

pub struct FaceDetector {
    cascade: Cascade,
    settings: DetectorSettings,
    helper: Option<Helper>,
    neural: Neural,
}

thread_local! {
    /// The detector of a thread that runs scan tasks: rustface's is not Send, so that thread
    /// builds its own.
    static SCANNER: RefCell<Option<FaceDetector>> = const { RefCell::new(None) };
}

/// A detector for scan tasks. BlazeFace loads with the first job whose settings want it
/// (`apply`): a thread that never scans in the background never needs it.
fn scanner(settings: DetectorSettings) -> Option<FaceDetector> {
    let rustface_only = DetectorSettings {
        neural_score: 1.0,
        ..settings
    };
    FaceDetector::single(rustface_only).ok()
}

/// A task that scans `jobs` with its thread's detector and sends the faces to `tx` (nothing
/// when no detector can be built: the receiver sees the sender dropped).
fn scan_task(
    jobs: Vec<Job>,
    neural: Option<NeuralAsk>,
) -> impl FnOnce(mpsc::Sender<Vec<Detection>>) -> Task {
    move |tx| {
        Box::new(move || {
            // Taken out while it scans: a panic drops it, and the next scan builds a new one.
            let Some(mut det) = SCANNER.take().or_else(|| scanner(jobs.first()?.settings)) else {
                return;
            };
            let dets = det.helper_scan(jobs, neural);
            SCANNER.set(Some(det));
            let _ = tx.send(dets);
        })
    }
}

impl FaceDetector {
    /// A detector that keeps to the calling thread (for callers that parallelise themselves);
    /// `with_helper` gives it a second core.
    pub(crate) fn single(settings: DetectorSettings) -> Result<Self> {
        let mut d = FaceDetector {
            cascade: Cascade::new()?,
            settings,
            helper: None,
            neural: Neural::Off,
        };
        d.apply(settings);
        Ok(d)
    }

    /// This detector, its full scans shared with `core` (see `Helper`), which also runs work
    /// given to `run_on_helper`. The core's thread builds its own detector now, before the
    /// first frame.
    pub(crate) fn with_helper(mut self, core: Box<dyn Offload>) -> Self {
        let settings = self.settings;
        let helper = Helper::new(core);
        let warm = helper.send(Box::new(move || {
            if SCANNER.with_borrow(Option::is_none) {
                SCANNER.set(scanner(settings));
            }
        }));
        self.helper = warm.is_ok().then_some(helper);
        self
    }

    pub(crate) fn set_settings(&mut self, s: DetectorSettings) {
        self.apply(s);
    }

    fn apply(&mut self, s: DetectorSettings) {
        let s = s.clamped();
        self.cascade.configure(
            s.score_thresh,
            s.pyramid_factor,
            s.window_step,
            s.roll_score_thresh,
        );
        if s.neural_score < 1.0 && matches!(self.neural, Neural::Off) {
            self.neural = match NeuralDetector::embedded() {
                Ok(n) => Neural::Ready(Box::new(n)),
                Err(e) => {
                    tracing::warn!("BlazeFace is off, rustface alone finds faces: {e}");
                    Neural::Failed
                }
            };
        }
        self.settings = s;
    }

    /// The helper thread's answer to a scan: each job's rustface boxes, and where it found no
    /// one, BlazeFace's on the first job's image when asked (the same rule as `detect`).
    fn helper_scan(&mut self, jobs: Vec<Job>, neural: Option<NeuralAsk>) -> Vec<Detection> {
        let mut dets = Vec::new();
        for job in &jobs {
            self.apply(job.settings);
            let pass = Pass {
                region: BBox::new(0.0, 0.0, 0.0, 0.0),
                scale: job.scale,
                size: (job.width, job.height),
                roll: job.roll,
                step: job.settings.scan_step(job.roll),
            };
            dets.extend(self.cascade.scan_pass(&job.pixels, pass, 0));
        }
        if dets.is_empty()
            && let (Some(ask), Some(first)) = (neural, jobs.into_iter().next())
        {
            self.apply(first.settings);
            dets = self.neural_on_job(first, ask.color.as_ref());
        }
        suppress_overlaps(dets)
    }

    /// Whether BlazeFace is loaded and asked for.
    fn neural_on(&self) -> bool {
        matches!(self.neural, Neural::Ready(_)) && self.settings.neural_score < 1.0
    }

    /// BlazeFace's faces in `region` of `frame`, as rustface-shaped detections (none when off).
    fn neural_faces(&self, frame: Frame<'_>, region: BBox) -> Vec<Detection> {
        if !self.neural_on() {
            return Vec::new();
        }
        let (Neural::Ready(n), Some(lb)) = (
            &self.neural,
            Letterbox::new(frame, region, self.settings.neural_saturation),
        ) else {
            return Vec::new();
        };
        n.detect_letterboxed(&lb, self.settings.neural_score.max(0.01))
            .iter()
            .map(|f| f.detection(BOX_MAP))
            .collect()
    }

    /// BlazeFace on a helper job's scaled frame (and its color, scaled alike); boxes in frame
    /// pixels.
    fn neural_on_job(&self, job: Job, color: Option<&RgbImage>) -> Vec<Detection> {
        let Some(img) = GrayImage::from_raw(job.width, job.height, job.pixels) else {
            return Vec::new();
        };
        let frame = match color {
            Some(c) => Frame::with_color(&img, c),
            None => Frame::from(&img),
        };
        let s = job.scale;
        self.neural_faces(frame, full_frame(&img))
            .into_iter()
            .map(|d| Detection {
                bbox: BBox::new(d.bbox.x / s, d.bbox.y / s, d.bbox.w / s, d.bbox.h / s),
                ..d
            })
            .collect()
    }

    /// Scans the whole frame (scaled by `DetectorSettings::scan_scale`), on two threads when
    /// it can. Where rustface finds no one, BlazeFace looks: a second opinion for the heads a
    /// frontal cascade misses, asked only then because it also sees faces in helmets and
    /// patterns that rustface rightly ignores (docs/detection.md).
    pub fn detect<'a>(&mut self, frame: impl Into<Frame<'a>>) -> Vec<Detection> {
        let frame = frame.into();
        let gray = frame.gray;
        let (w, h) = gray.dimensions();
        let full = BBox::new(0.0, 0.0, w as f32, h as f32);
        let scale = self.settings.scan_scale(h);
        let step = self.settings.pyramid_factor;
        let (sw, sh) = (
            (w as f32 * scale).round() as u32,
            (h as f32 * scale).round() as u32,
        );
        downscale_into(gray, full, sw, sh, &mut self.cascade.scratch);
        // The helper's image is the pyramid's third level made as rustface makes its levels
        // from the first (bilinear).
        let (cw, ch) = (
            (sw as f32 * step * step) as u32,
            (sh as f32 * step * step) as u32,
        );
        let coarse = Job {
            pixels: pyramid_resize(&self.cascade.scratch, sw, sh, cw, ch),
            width: cw,
            height: ch,
            scale: cw as f32 / w as f32,
            roll: 0.0,
            settings: self.settings,
        };
        let [left, right] = self.rolls();
        let settings = self.settings;
        let pass = |roll| Pass {
            region: full,
            scale: sw as f32 / w as f32,
            size: (sw, sh),
            roll,
            step: settings.scan_step(roll),
        };
        let split = cw.min(ch) as f32 >= WINDOW;
        let (scratch, helper) = (&self.cascade.scratch, self.helper.as_mut());
        let sent = helper.filter(|_| split).and_then(|hp| {
            hp.drain();
            // Rolled passes, whole pyramid each: one for the helper, one here (the
            // upright scan is split as below), so both cores get about the same share.
            let rolled = left.map(|roll| Job {
                pixels: scratch.clone(),
                width: sw,
                height: sh,
                scale: sw as f32 / w as f32,
                roll,
                settings,
            });
            let jobs = std::iter::once(coarse).chain(rolled).collect();
            hp.scan(scan_task(jobs, None))
        });
        let Some(coarse_faces) = sent else {
            if split {
                // The helper's thread is gone (it cannot normally fail): one thread from now.
                self.helper = None;
            }
            let c = &mut self.cascade;
            let mut dets = c.detect_region(gray, full, scale, 0, 0.0, settings.window_step);
            for roll in [left, right].into_iter().flatten() {
                let step = settings.scan_step(roll);
                dets.extend(c.detect_region(gray, full, scale, 0, roll, step));
            }
            return self.finish_scan(frame, dets);
        };
        // This thread: the first two pyramid levels (faces below two pyramid steps above the
        // window); the helper: every coarser level, from the frame scaled two steps further.
        let first_levels = (WINDOW / (step * step)).ceil() as u32 - 1;
        let pixels = std::mem::take(&mut self.cascade.scratch);
        let mut dets = self.cascade.scan_pass(&pixels, pass(0.0), first_levels);
        if let Some(roll) = right {
            dets.extend(self.cascade.scan_pass(&pixels, pass(roll), 0));
        }
        self.cascade.scratch = pixels;
        match coarse_faces.recv() {
            Ok(more) => dets.extend(more),
            // The scan panicked there (reported by the core, which runs on): its share here.
            Err(_) => {
                let coarse_scale = scale * step * step;
                let upright_step = settings.window_step;
                let c = &mut self.cascade;
                dets.extend(c.detect_region(gray, full, coarse_scale, 0, 0.0, upright_step));
                if let Some(roll) = left {
                    let rolled_step = settings.scan_step(roll);
                    dets.extend(c.detect_region(gray, full, scale, 0, roll, rolled_step));
                }
            }
        }
        self.finish_scan(frame, dets)
    }

    /// A full scan's rustface boxes, one per face; BlazeFace's where rustface found none.
    fn finish_scan(&mut self, frame: Frame<'_>, dets: Vec<Detection>) -> Vec<Detection> {
        if !dets.is_empty() {
            return suppress_overlaps(dets);
        }
        suppress_overlaps(self.neural_faces(frame, full_frame(frame.gray)))
    }

    /// The rolled passes of a full scan: `[+roll, -roll]`, none when turned off.
    fn rolls(&self) -> [Option<f32>; 2] {
        let r = self.settings.roll_degrees;
        if r.abs() < 1.0 {
            [None, None]
        } else {
            [Some(r), Some(-r)]
        }
    }

    /// Whether full scans can use a second thread.
    pub(crate) fn has_helper(&self) -> bool {
        self.helper.is_some()
    }

    /// Starts a full scan of `gray` on the helper thread and returns at once; false when there
    /// is no helper or it is still busy with the last one (then nothing is started).
    pub(crate) fn start_background_scan<'a>(&mut self, frame: impl Into<Frame<'a>>) -> bool {
        let frame = frame.into();
        let gray = frame.gray;
        let scale = self.settings.scan_scale(gray.height());
        let settings = self.settings;
        let rolls = self.rolls();
        let neural_on = self.neural_on();
        let Some(hp) = self.helper.as_mut() else {
            return false;
        };
        if hp.background.is_some() {
            return false;
        }
        let upright = job(gray, scale, settings);
        let neural = neural_on.then(|| NeuralAsk {
            color: frame
                .color
                .filter(|_| settings.neural_saturation > 0.0)
                .and_then(|c| scaled_color(c, upright.width, upright.height)),
        });
        let mut jobs: Vec<Job> = rolls.iter().flatten().map(|&r| upright.rolled(r)).collect();
        jobs.insert(0, upright);
        hp.background = hp.scan(scan_task(jobs, neural));
        if hp.background.is_none() {
            // Its thread is gone: full scans run here from now (`has_helper`).
            self.helper = None;
        }
        self.helper.is_some()
    }

    /// Runs `f` on the helper thread after the scans already sent there. Handed back when there
    /// is no helper, or when a background scan is running (`f` would wait behind all of it).
    pub(crate) fn run_on_helper(&mut self, f: Task) -> std::result::Result<(), Task> {
        let Some(hp) = self.helper.as_ref().filter(|hp| hp.background.is_none()) else {
            return Err(f);
        };
        hp.send(f).inspect_err(|_| {
            // Its thread is gone: `f` comes back, and the scans run here from now.
            self.helper = None;
        })
    }

    /// The background scan's faces once it has finished (of the frame it was started on).
    pub(crate) fn poll_background_scan(&mut self) -> Option<Vec<Detection>> {
        let hp = self.helper.as_mut()?;
        match hp.background.as_ref()?.try_recv() {
            Ok(dets) => {
                hp.background = None;
                Some(dets)
            }
            Err(mpsc::TryRecvError::Empty) => None,
            // It panicked there (reported by the core, which runs on).
            Err(mpsc::TryRecvError::Disconnected) => {
                hp.background = None;
                None
            }
        }
    }

    /// Searches only `roi` (frame pixels) for a face of about `expected` side rolled by `roll`
    /// degrees, scaling the region so that face is ~2× the detector's window: far fewer
    /// windows than a full scan.
    pub(crate) fn detect_near(
        &mut self,
        gray: &GrayImage,
        roi: BBox,
        expected: f32,
        roll: f32,
    ) -> Vec<Detection> {
        let (w, h) = gray.dimensions();
        let x0 = roi.x.max(0.0).floor();
        let y0 = roi.y.max(0.0).floor();
        let x1 = (roi.x + roi.w).min(w as f32).ceil();
        let y1 = (roi.y + roi.h).min(h as f32).ceil();
        if x1 - x0 < MIN_WINDOW as f32 || y1 - y0 < MIN_WINDOW as f32 {
            return Vec::new();
        }
        let scale = ((2.0 * MIN_WINDOW as f32) / expected).min(1.0);
        let max_face = (expected * 1.6 * scale).round() as u32;
        let region = BBox::new(x0, y0, x1 - x0, y1 - y0);
        let step = self.settings.window_step;
        self.cascade
            .detect_region(gray, region, scale, max_face, roll, step)
    }

    /// Re-finds a tracked face: searches a window twice its size around it (a face moves
    /// little between frames), rotated by the roll it was last seen at. Where rustface finds
    /// nothing there (a head turned away, a hand over the mouth), BlazeFace looks at the window.
    pub fn detect_around<'a>(
        &mut self,
        frame: impl Into<Frame<'a>>,
        face: &BBox,
        roll: f32,
    ) -> Vec<Detection> {
        let frame = frame.into();
        let side = face.w.max(face.h);
        let roi = BBox::new(
            face.x - side / 2.0,
            face.y - side / 2.0,
            side * 2.0,
            side * 2.0,
        );
        let found = self.detect_near(frame.gray, roi, side, roll);
        if !found.is_empty() {
            return found;
        }
        self.neural_faces(frame, roi)
            .into_iter()
            .filter(|d| d.bbox.same_face(face, 0.3))
            .collect()
    }
}

/// The whole of `gray` as a region.
fn full_frame(gray: &GrayImage) -> BBox {
    BBox::new(0.0, 0.0, gray.width() as f32, gray.height() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::resample::{rotate_gray, unrotate_point};

    /// The astronaut portrait (gray) and the same turned by `deg` with `rotate_gray`.
    fn tilted_portrait(deg: f32) -> (GrayImage, GrayImage) {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let portrait = image::open(fixture).expect("fixture").to_luma8();
        let (w, h) = portrait.dimensions();
        let tilted = GrayImage::from_raw(w, h, rotate_gray(portrait.as_raw(), w, h, deg));
        (portrait, tilted.expect("sized"))
    }

    /// Runs each task at once on the sending thread: enough for a helper here (the pipeline's
    /// second core is tested in pipeline/).
    struct Inline;

    impl Offload for Inline {
        fn send(&self, task: Task) -> std::result::Result<(), Task> {
            task();
            Ok(())
        }
    }

    fn with_helper(settings: DetectorSettings) -> FaceDetector {
        let d = FaceDetector::single(settings).expect("embedded model");
        d.with_helper(Box::new(Inline))
    }

    #[test]
    fn blank_and_tiny_frames_give_no_faces_and_no_panic() {
        let mut d = with_helper(DetectorSettings::default());
        assert!(
            d.detect(&GrayImage::from_pixel(640, 480, image::Luma([128])))
                .is_empty()
        );
        assert!(
            d.detect(&GrayImage::from_pixel(8, 8, image::Luma([0])))
                .is_empty()
        );
        assert!(
            d.detect_near(
                &GrayImage::from_pixel(64, 64, image::Luma([0])),
                BBox::new(60.0, 60.0, 30.0, 30.0),
                30.0,
                25.0
            )
            .is_empty()
        );
    }

    #[test]
    fn blazeface_finds_a_face_too_tilted_for_rustface_in_full_scans_and_windows() {
        // Tilted by 60°: past the ±25° rolled passes too.
        let (portrait, tilted) = tilted_portrait(60.0);
        let (w, h) = portrait.dimensions();
        let rustface_only = DetectorSettings {
            neural_score: 1.0,
            ..DetectorSettings::default()
        };
        let mut d = with_helper(rustface_only);
        assert!(d.detect(&tilted).is_empty(), "rustface should miss it");
        d.set_settings(DetectorSettings::default());
        let found = d.detect(&tilted);
        assert_eq!(found.len(), 1, "{found:?}");
        let face = found[0];
        assert!(face.is_neural());
        assert!((face.roll + 60.0).abs() < 15.0, "roll {}", face.roll);
        let (cx, cy) = unrotate_point((224.0, 117.0), (w, h), -60.0);
        let (fx, fy) = face.bbox.center();
        assert!((fx - cx).hypot(fy - cy) < 30.0, "{face:?} vs ({cx}, {cy})");
        // Tracked there, it is re-found in its window: by rustface searching it turned by the
        // face's roll, or (searched upright, which rustface cannot) by BlazeFace.
        let by_roll = d.detect_around(&tilted, &face.bbox, face.roll);
        assert!(by_roll.iter().any(|a| a.bbox.same_face(&face.bbox, 0.3)));
        let upright_window = d.detect_around(&tilted, &face.bbox, 0.0);
        assert!(
            upright_window
                .iter()
                .any(|a| a.is_neural() && a.bbox.same_face(&face.bbox, 0.3)),
            "{upright_window:?}"
        );
        // Upright, rustface's box is the one kept (the crop was tuned on its boxes).
        let upright = d.detect(&portrait);
        assert_eq!(upright.len(), 1, "{upright:?}");
        assert!(!upright[0].is_neural());
        // A background scan on the helper thread asks BlazeFace too, on its scaled image: gray,
        // and with color on, the color frame scaled alike (here a gray frame in three channels).
        let color = image::DynamicImage::ImageLuma8(tilted.clone()).to_rgb8();
        for saturation in [0.0, 1.0] {
            d.set_settings(DetectorSettings {
                neural_saturation: saturation,
                ..DetectorSettings::default()
            });
            assert!(d.start_background_scan(Frame::with_color(&tilted, &color)));
            let scanned = loop {
                if let Some(r) = d.poll_background_scan() {
                    break r;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            assert!(
                scanned
                    .iter()
                    .any(|a| a.is_neural() && a.bbox.same_face(&face.bbox, 0.3)),
                "saturation {saturation}: {scanned:?}"
            );
        }
    }

    #[test]
    fn a_tilted_portrait_is_found_by_a_rolled_pass_with_its_roll() {
        // The portrait tilted by 35°: past what the upright cascade takes.
        let (portrait, tilted) = tilted_portrait(35.0);
        let (w, h) = portrait.dimensions();
        let upright_only = DetectorSettings {
            roll_degrees: 0.0,
            neural_score: 1.0,
            ..DetectorSettings::default()
        };
        let mut d = with_helper(upright_only);
        assert!(d.detect(&portrait).iter().any(|f| f.roll == 0.0));
        let missed = d.detect(&tilted);
        d.set_settings(DetectorSettings {
            roll_degrees: 30.0,
            ..upright_only
        });
        let found = d.detect(&tilted);
        assert!(missed.is_empty(), "upright found {missed:?}");
        let face = found
            .iter()
            .find(|f| f.roll != 0.0)
            .expect("a rolled pass finds it");
        // rotate_gray(.., 35°) turned it the other way: the −30° pass is the closer one.
        assert_eq!(face.roll, -30.0, "{found:?}");
        // Where the astronaut's face went (its centre, rotated about the image centre).
        let (cx, cy) = unrotate_point((224.0, 117.0), (w, h), -35.0);
        let (fx, fy) = face.bbox.center();
        assert!(
            (fx - cx).hypot(fy - cy) < 25.0,
            "{:?} vs ({cx}, {cy})",
            face.bbox
        );
    }
}
