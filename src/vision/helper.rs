//! What the detector hands its second core: full-scan jobs (the coarse pyramid levels, rolled
//! passes, a whole background scan) and other work (the pipeline's classification), as tasks
//! for a thread it does not own. The thread is the pipeline's (`pipeline::SecondCore`).

use image::{GrayImage, RgbImage};
use std::sync::mpsc;

use super::frame::Detection;
use super::preprocess::BBox;
use super::resample::downscale_into;
use super::settings::DetectorSettings;

/// Work for the second core.
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Runs tasks on another thread, in the order sent. Restarting or reporting a task that
/// panics is the provider's business; the detector only sees its answer never come.
pub(crate) trait Offload: Send {
    /// Queues `task` after those already sent; hands it back when nothing will run it.
    fn send(&self, task: Task) -> Result<(), Task>;
}

/// The second core as the detector uses it. A full scan gives it the pyramid from the third
/// level down while this thread scans the first two (splitting after the first was better
/// balanced but lost the smallest faces), so a new scene costs less wall time on two cores;
/// while faces are tracked, the periodic full scan runs there entirely, in the background.
pub(crate) struct Helper {
    core: Box<dyn Offload>,
    /// A background scan's faces, sent and not yet taken.
    pub(crate) background: Option<mpsc::Receiver<Vec<Detection>>>,
}

impl Helper {
    pub(crate) fn new(core: Box<dyn Offload>) -> Helper {
        Helper {
            core,
            background: None,
        }
    }

    /// Sends `task`; handed back when nothing will run it.
    pub(crate) fn send(&self, task: Task) -> Result<(), Task> {
        self.core.send(task)
    }

    /// Sends the scan `make` builds around the sender of its answer; its faces come on the
    /// receiver, an error there meaning the scan never ran or panicked. None: no thread.
    pub(crate) fn scan(
        &self,
        make: impl FnOnce(mpsc::Sender<Vec<Detection>>) -> Task,
    ) -> Option<mpsc::Receiver<Vec<Detection>>> {
        let (tx, rx) = mpsc::channel();
        self.core.send(make(tx)).ok().map(|()| rx)
    }

    /// Drops a background scan still running, waiting for the rest of it (it was started a few
    /// frames ago). Scanning the whole pyramid on this thread instead measured no better on
    /// the story set (114 against 115 FPS, within run-to-run noise).
    pub(crate) fn drain(&mut self) {
        if let Some(rx) = self.background.take() {
            let _ = rx.recv();
        }
    }
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
