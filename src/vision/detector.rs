//! Face detection with rustface (SeetaFace funnel cascade), made real-time by detecting on a
//! downscaled frame and, between full scans, only in a window around each tracked face.

use image::{GrayImage, RgbImage};
use std::sync::mpsc;

use rustface::{Detector, ImageData};

use super::frame::{Detection, Frame};
use super::neural::{BOX_MAP, Letterbox, NeuralDetector, SATURATION};
use super::preprocess::BBox;
use super::resample::{downscale_into, pyramid_resize, rotate_gray, scaled_color, unrotate_point};
use crate::error::{Error, Result};

/// SeetaFace frontal model, embedded so the binary needs no data files (see assets/NOTICE.md).
static SEETA_MODEL: &[u8] = include_bytes!("../../assets/seeta_fd_frontal_v1.0.bin");

/// Detector settings; the defaults were chosen by the sweeps described in the README.
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
    /// fifth for 0.4 points of FER faces (93.0 %, README). Window searches keep `window_step`.
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
    fn scan_step(&self, roll: f32) -> u32 {
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
}

/// BlazeFace, loaded when the settings first ask for it; a load failure turns it off (logged).
enum Neural {
    Off,
    Ready(Box<NeuralDetector>),
    Failed,
}

pub struct FaceDetector {
    inner: Box<dyn Detector>,
    settings: DetectorSettings,
    scratch: Vec<u8>,
    helper: Option<Helper>,
    neural: Neural,
}

// rustface refuses windows and faces under 20 px (it panics); keep every request above that.
const MIN_WINDOW: u32 = 20;
/// rustface's sliding window (fixed by the SeetaFace model): the smallest face one pyramid
/// level finds is this many pixels of that level.
const WINDOW: f32 = 40.0;

/// A second detector on its own thread. A full scan gives it the pyramid from the third level
/// down while this thread scans the first two (splitting after the first was better balanced
/// but lost the smallest faces), so a new scene costs less wall time on two cores; while faces
/// are tracked, the periodic full scan runs there entirely, in the background. rustface's
/// detector is not Send: the helper builds its own.
struct Helper {
    jobs: mpsc::Sender<Work>,
    results: mpsc::Receiver<Vec<Detection>>,
    /// A background scan was sent and its result not yet taken.
    pending: bool,
    /// Joined on drop: a thread still inside libtorch when the process exits crashes it.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Helper {
    /// Drops a background scan still running, waiting for the rest of it (it was started a few
    /// frames ago). Scanning the whole pyramid on this thread instead measured no better on
    /// the story set (114 against 115 FPS, within run-to-run noise).
    fn drain(&mut self) {
        if self.pending {
            let _ = self.results.recv();
            self.pending = false;
        }
    }
}

impl Drop for Helper {
    /// Closes the job channel (the thread's loop ends after the work already sent) and waits.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Work other than scans for the second core (the pipeline's classification).
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// What the helper thread does, in the order sent.
enum Work {
    /// Scans each job in turn and answers with all their faces at once; with `Some`, BlazeFace
    /// looks at the first job's image when rustface found no one.
    Scan(Vec<Job>, Option<NeuralAsk>),
    Run(Task),
}

/// BlazeFace's part of a background scan. It reads the first job's gray image, built there
/// anyway, so the per-frame thread prepares nothing for a look that is rarely needed (someone
/// is tracked whenever a background scan runs); only with color on does it send the frame's
/// color scaled to that image's size.
struct NeuralAsk {
    color: Option<RgbImage>,
}

/// `pixels` (`width`×`height`) are the frame scaled by `scale`, searched rotated by `roll`
/// degrees; results in frame pixels.
struct Job {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    scale: f32,
    roll: f32,
    settings: DetectorSettings,
}

impl Job {
    /// The same scaled frame, searched rotated by `roll`.
    fn rolled(&self, roll: f32) -> Job {
        Job {
            pixels: self.pixels.clone(),
            roll,
            ..*self
        }
    }
}

impl Helper {
    fn spawn(settings: DetectorSettings) -> Option<Helper> {
        let (jobs, job_rx) = mpsc::channel::<Work>();
        let (result_tx, results) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("emotune-detect".into())
            .spawn(move || {
                // BlazeFace loads with the first background scan that wants it (`apply`), not
                // here: a helper that never scans in the background never needs it.
                let rustface_only = DetectorSettings {
                    neural_score: 1.0,
                    ..settings
                };
                let Ok(mut det) = FaceDetector::single(rustface_only) else {
                    return;
                };
                for work in job_rx {
                    let (jobs, neural) = match work {
                        Work::Scan(jobs, neural) => (jobs, neural),
                        Work::Run(f) => {
                            f();
                            continue;
                        }
                    };
                    let mut dets = Vec::new();
                    for job in &jobs {
                        det.apply(job.settings);
                        let pass = Pass {
                            region: BBox::new(0.0, 0.0, 0.0, 0.0),
                            scale: job.scale,
                            size: (job.width, job.height),
                            roll: job.roll,
                            step: job.settings.scan_step(job.roll),
                        };
                        dets.extend(det.scan_pass(&job.pixels, pass, 0));
                    }
                    // The same rule as `detect`: BlazeFace only where rustface saw no one.
                    if dets.is_empty()
                        && let (Some(ask), Some(first)) = (neural, jobs.into_iter().next())
                    {
                        det.apply(first.settings);
                        dets = det.neural_on_job(first, ask.color.as_ref());
                    }
                    if result_tx.send(suppress_overlaps(dets)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Helper {
            jobs,
            results,
            pending: false,
            thread: Some(thread),
        })
    }
}

/// `gray` scaled by `scale`, as a rustface job.
fn job(gray: &GrayImage, scale: f32, settings: DetectorSettings) -> Job {
    let (w, h) = gray.dimensions();
    let (sw, sh) = ((w as f32 * scale) as u32, (h as f32 * scale) as u32);
    let mut pixels = Vec::new();
    downscale_into(
        gray,
        BBox::new(0.0, 0.0, w as f32, h as f32),
        sw,
        sh,
        &mut pixels,
    );
    Job {
        pixels,
        width: sw,
        height: sh,
        scale: sw as f32 / w as f32,
        roll: 0.0,
        settings,
    }
}

impl FaceDetector {
    /// A detector whose full scans use a second thread (see `Helper`).
    pub fn new(settings: DetectorSettings) -> Result<Self> {
        let mut d = Self::single(settings)?;
        d.helper = Helper::spawn(settings);
        Ok(d)
    }

    /// A detector that keeps to the calling thread (for callers that parallelise themselves).
    pub(crate) fn single(settings: DetectorSettings) -> Result<Self> {
        let model = rustface::read_model(SEETA_MODEL)
            .map_err(|e| Error::Invalid(format!("embedded face model is corrupt: {e}")))?;
        let mut d = FaceDetector {
            inner: rustface::create_detector_with_model(model),
            settings,
            scratch: Vec::new(),
            helper: None,
            neural: Neural::Off,
        };
        d.apply(settings);
        Ok(d)
    }

    pub(crate) fn set_settings(&mut self, s: DetectorSettings) {
        self.apply(s);
    }

    fn apply(&mut self, mut s: DetectorSettings) {
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
        self.inner.set_score_thresh(s.score_thresh);
        self.inner.set_pyramid_scale_factor(s.pyramid_factor);
        self.inner
            .set_slide_window_step(s.window_step, s.window_step);
        if s.neural_score.is_nan() {
            s.neural_score = 1.0;
        }
        s.neural_saturation = if s.neural_saturation.is_finite() {
            s.neural_saturation.clamp(0.0, 1.0)
        } else {
            SATURATION
        };
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
    /// patterns that rustface rightly ignores (the README's "Turned and covered faces").
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
        downscale_into(gray, full, sw, sh, &mut self.scratch);
        // The helper's image is the pyramid's third level made as rustface makes its levels
        // from the first (bilinear).
        let (cw, ch) = (
            (sw as f32 * step * step) as u32,
            (sh as f32 * step * step) as u32,
        );
        let coarse = Job {
            pixels: pyramid_resize(&self.scratch, sw, sh, cw, ch),
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
        let (scratch, helper) = (&self.scratch, self.helper.as_mut());
        let sent = split
            && helper.is_some_and(|hp| {
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
                hp.jobs.send(Work::Scan(jobs, None)).is_ok()
            });
        if !sent {
            let mut dets = self.detect_region(gray, full, scale, 0, 0.0, settings.window_step);
            for roll in [left, right].into_iter().flatten() {
                let step = settings.scan_step(roll);
                dets.extend(self.detect_region(gray, full, scale, 0, roll, step));
            }
            return self.finish_scan(frame, dets);
        }
        // This thread: the first two pyramid levels (faces below two pyramid steps above the
        // window); the helper: every coarser level, from the frame scaled two steps further.
        let first_levels = (WINDOW / (step * step)).ceil() as u32 - 1;
        let pixels = std::mem::take(&mut self.scratch);
        let mut dets = self.scan_pass(&pixels, pass(0.0), first_levels);
        if let Some(roll) = right {
            dets.extend(self.scan_pass(&pixels, pass(roll), 0));
        }
        self.scratch = pixels;
        match self.helper.as_ref().map(|hp| hp.results.recv()) {
            Some(Ok(more)) => dets.extend(more),
            // The helper is gone (it cannot normally fail): scan its share here.
            _ => {
                self.helper = None;
                let coarse_scale = scale * step * step;
                let upright_step = settings.window_step;
                dets.extend(self.detect_region(gray, full, coarse_scale, 0, 0.0, upright_step));
                if let Some(roll) = left {
                    let rolled_step = settings.scan_step(roll);
                    dets.extend(self.detect_region(gray, full, scale, 0, roll, rolled_step));
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
        if hp.pending {
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
        hp.pending = hp.jobs.send(Work::Scan(jobs, neural)).is_ok();
        hp.pending
    }

    /// Runs `f` on the helper thread after the scans already sent there. Handed back when there
    /// is no helper, or when a background scan is running (`f` would wait behind all of it).
    pub(crate) fn run_on_helper(&mut self, f: Task) -> std::result::Result<(), Task> {
        let Some(hp) = self.helper.as_ref().filter(|hp| !hp.pending) else {
            return Err(f);
        };
        // The helper is gone: `f` comes back with the error.
        if let Err(mpsc::SendError(Work::Run(f))) = hp.jobs.send(Work::Run(f)) {
            return Err(f);
        }
        Ok(())
    }

    /// The background scan's faces once it has finished (of the frame it was started on).
    pub(crate) fn poll_background_scan(&mut self) -> Option<Vec<Detection>> {
        let hp = self.helper.as_mut().filter(|hp| hp.pending)?;
        match hp.results.try_recv() {
            Ok(dets) => {
                hp.pending = false;
                Some(dets)
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.helper = None;
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
        self.detect_region(gray, region, scale, max_face, roll, step)
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

    /// `region` of `gray` scaled by `scale` and rotated by `roll` degrees, searched with a
    /// `step`-pixel sliding window for faces up to `max_face` pixels of the scaled image (0:
    /// any size). rustface's pyramid always starts at the image's own scale, so the smallest
    /// face found is its 40-pixel window: `scale` is what sets the minimum face.
    fn detect_region(
        &mut self,
        gray: &GrayImage,
        region: BBox,
        scale: f32,
        max_face: u32,
        roll: f32,
        step: u32,
    ) -> Vec<Detection> {
        let sw = (region.w * scale).round() as u32;
        let sh = (region.h * scale).round() as u32;
        if sw < MIN_WINDOW || sh < MIN_WINDOW {
            return Vec::new();
        }
        downscale_into(gray, region, sw, sh, &mut self.scratch);
        let pixels = std::mem::take(&mut self.scratch);
        let pass = Pass {
            region,
            scale,
            size: (sw, sh),
            roll,
            step,
        };
        let dets = self.scan_pass(&pixels, pass, max_face);
        self.scratch = pixels;
        suppress_overlaps(dets)
    }

    /// One pass of rustface over `pixels` (the scaled image of `pass`), rotated first when
    /// the pass is rolled; boxes in frame pixels.
    fn scan_pass(&mut self, pixels: &[u8], pass: Pass, max_face: u32) -> Vec<Detection> {
        let (w, h) = pass.size;
        self.inner.set_slide_window_step(pass.step, pass.step);
        let (faces, min) = if pass.roll == 0.0 {
            (self.scan(pixels, w, h, max_face), f64::MIN)
        } else {
            let rotated = rotate_gray(pixels, w, h, pass.roll);
            let faces = self.scan(&rotated, w, h, max_face);
            (faces, self.settings.roll_score_thresh)
        };
        faces
            .iter()
            .filter(|f| f.score() >= min)
            .map(|f| pass.detection(f))
            .collect()
    }

    /// rustface over a `w`×`h` gray buffer (already scaled).
    fn scan(&mut self, pixels: &[u8], w: u32, h: u32, max_face: u32) -> Vec<rustface::FaceInfo> {
        if w < MIN_WINDOW || h < MIN_WINDOW {
            return Vec::new();
        }
        self.inner.set_min_face_size(MIN_WINDOW);
        self.inner.set_max_face_size(if max_face == 0 {
            w.max(h)
        } else {
            max_face.max(MIN_WINDOW + 1)
        });
        self.inner.detect(&ImageData::new(pixels, w, h))
    }
}

/// What one rustface pass searched: `region` of the frame scaled by `scale` into a
/// `size` image, rotated by `roll` degrees about its centre, with a `step`-pixel window step.
#[derive(Debug, Clone, Copy)]
struct Pass {
    region: BBox,
    scale: f32,
    size: (u32, u32),
    roll: f32,
    step: u32,
}

impl Pass {
    /// A rustface box of this pass in frame pixels: for a rolled pass, an upright box of the
    /// same size around the face's centre carried back into the unrotated image.
    fn detection(&self, f: &rustface::FaceInfo) -> Detection {
        let b = f.bbox();
        let (bw, bh) = (b.width() as f32, b.height() as f32);
        let (cx, cy) = (b.x() as f32 + bw / 2.0, b.y() as f32 + bh / 2.0);
        let (cx, cy) = unrotate_point((cx, cy), self.size, self.roll);
        Detection {
            bbox: BBox::new(
                self.region.x + (cx - bw / 2.0) / self.scale,
                self.region.y + (cy - bh / 2.0) / self.scale,
                bw / self.scale,
                bh / self.scale,
            ),
            score: f.score(),
            roll: self.roll,
            neural: false,
        }
    }
}

/// One box per face: detections overlapping a stronger one (IoU ≥ 0.3, or centre inside it)
/// are dropped. rustface suppresses within a pyramid level; boxes of one face found at two
/// levels, or by two tracks' windows, survive that. Upright boxes come first whatever their
/// score: a rolled pass is the fallback for faces the upright one misses (preferring the
/// higher score turned upright faces' crops by 25° and cost accuracy through the detector).
/// BlazeFace's boxes come last: the crop was tuned on rustface's.
pub(crate) fn suppress_overlaps(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| {
        (a.neural, a.roll != 0.0)
            .cmp(&(b.neural, b.roll != 0.0))
            .then(b.score.total_cmp(&a.score))
    });
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if !kept.iter().any(|k| k.bbox.same_face(&d.bbox, 0.3)) {
            kept.push(d);
        }
    }
    kept
}

/// The whole of `gray` as a region.
fn full_frame(gray: &GrayImage) -> BBox {
    BBox::new(0.0, 0.0, gray.width() as f32, gray.height() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The astronaut portrait (gray) and the same turned by `deg` with `rotate_gray`.
    fn tilted_portrait(deg: f32) -> (GrayImage, GrayImage) {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/astronaut.png");
        let portrait = image::open(fixture).expect("fixture").to_luma8();
        let (w, h) = portrait.dimensions();
        let tilted = GrayImage::from_raw(w, h, rotate_gray(portrait.as_raw(), w, h, deg));
        (portrait, tilted.expect("sized"))
    }

    #[test]
    fn blank_and_tiny_frames_give_no_faces_and_no_panic() {
        let mut d = FaceDetector::new(DetectorSettings::default()).expect("embedded model");
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
    fn overlapping_boxes_of_one_face_become_one() {
        let d = |x: f32, w: f32, score: f64| Detection {
            bbox: BBox::new(x, 0.0, w, w),
            score,
            roll: 0.0,
            neural: false,
        };
        // A big and a small box on one face (IoU 0.16, centre inside), and a separate face.
        let kept = suppress_overlaps(vec![
            d(0.0, 100.0, 5.0),
            d(30.0, 40.0, 9.0),
            d(300.0, 80.0, 4.0),
        ]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 9.0, "the stronger box wins");
        assert_eq!(kept[1].bbox.x, 300.0);
        // A rolled pass's box on a face the upright pass found loses, even when stronger.
        let rolled = Detection {
            roll: 25.0,
            ..d(30.0, 40.0, 12.0)
        };
        let kept = suppress_overlaps(vec![d(0.0, 100.0, 5.0), rolled]);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].score, kept[0].roll), (5.0, 0.0));
        // BlazeFace's box of a face rustface found loses too, rolled or not.
        let neural = Detection {
            neural: true,
            ..d(10.0, 90.0, 30.0)
        };
        let kept = suppress_overlaps(vec![neural, rolled]);
        assert_eq!(kept.len(), 1);
        assert!(!kept[0].neural && kept[0].roll == 25.0);
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
        let mut d = FaceDetector::new(rustface_only).expect("embedded model");
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
        let mut d = FaceDetector::new(upright_only).expect("embedded model");
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
