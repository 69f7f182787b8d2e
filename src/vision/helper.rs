//! The detector's second thread: full-scan jobs (the coarse pyramid levels, rolled passes, a
//! whole background scan) and other work for the second core, run in the order sent.

use image::{GrayImage, RgbImage};
use std::sync::mpsc;

use super::frame::Detection;
use super::preprocess::BBox;
use super::resample::downscale_into;
use super::settings::DetectorSettings;

/// A second detector on its own thread. A full scan gives it the pyramid from the third level
/// down while this thread scans the first two (splitting after the first was better balanced
/// but lost the smallest faces), so a new scene costs less wall time on two cores; while faces
/// are tracked, the periodic full scan runs there entirely, in the background. rustface's
/// detector is not Send: the helper builds its own.
pub(crate) struct Helper {
    pub(crate) jobs: mpsc::Sender<Work>,
    pub(crate) results: mpsc::Receiver<Vec<Detection>>,
    /// A background scan was sent and its result not yet taken.
    pub(crate) pending: bool,
    /// Joined on drop: a thread still inside libtorch when the process exits crashes it.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Helper {
    /// Drops a background scan still running, waiting for the rest of it (it was started a few
    /// frames ago). Scanning the whole pyramid on this thread instead measured no better on
    /// the story set (114 against 115 FPS, within run-to-run noise).
    pub(crate) fn drain(&mut self) {
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
pub(crate) enum Work {
    /// Scans each job in turn and answers with all their faces at once; with `Some`, BlazeFace
    /// looks at the first job's image when rustface found no one.
    Scan(Vec<Job>, Option<NeuralAsk>),
    Run(Task),
}

/// BlazeFace's part of a background scan. It reads the first job's gray image, built there
/// anyway, so the per-frame thread prepares nothing for a look that is rarely needed (someone
/// is tracked whenever a background scan runs); only with color on does it send the frame's
/// color scaled to that image's size.
pub(crate) struct NeuralAsk {
    pub(crate) color: Option<RgbImage>,
}

/// `pixels` (`width`×`height`) are the frame scaled by `scale`, searched rotated by `roll`
/// degrees; results in frame pixels.
pub(crate) struct Job {
    pub(crate) pixels: Vec<u8>,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) scale: f32,
    pub(crate) roll: f32,
    pub(crate) settings: DetectorSettings,
}

impl Job {
    /// The same scaled frame, searched rotated by `roll`.
    pub(crate) fn rolled(&self, roll: f32) -> Job {
        Job {
            pixels: self.pixels.clone(),
            roll,
            ..*self
        }
    }
}

impl Helper {
    /// Starts the thread. It makes its own scanner with `build` (rustface's detector is not
    /// Send) and answers each scan with `scan`'s faces; None when it cannot start.
    pub(crate) fn spawn<S>(
        build: impl FnOnce() -> Option<S> + Send + 'static,
        mut scan: impl FnMut(&mut S, Vec<Job>, Option<NeuralAsk>) -> Vec<Detection> + Send + 'static,
    ) -> Option<Helper> {
        let (jobs, job_rx) = mpsc::channel::<Work>();
        let (result_tx, results) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("emotune-detect".into())
            .spawn(move || {
                let Some(mut det) = build() else {
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
                    if result_tx.send(scan(&mut det, jobs, neural)).is_err() {
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
pub(crate) fn job(gray: &GrayImage, scale: f32, settings: DetectorSettings) -> Job {
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
