//! Small parts of the window's state: the machine probe, the frame rate and the repaint pace.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How often the probe looks for cameras again: one plugged in later is noticed.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Facts about the machine that take a while to find (cameras, the Spotify app), found on a
/// thread of their own so the window opens at once; cameras are listed again every few
/// seconds and a change is sent on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    pub(crate) cameras: Vec<String>,
    pub(crate) spotify_app: bool,
}

impl Probe {
    pub(crate) fn spawn(notify: Arc<dyn Fn() + Send + Sync>) -> Receiver<Probe> {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("probe".into())
            .spawn(move || {
                let spotify_app = crate::music::spotify_app_registered();
                let mut last: Option<Vec<String>> = None;
                loop {
                    let cameras: Vec<String> = crate::capture::list_cameras()
                        .map(|c| {
                            c.into_iter()
                                .map(|c| format!("{} ({})", c.name, c.index))
                                .collect()
                        })
                        .unwrap_or_default();
                    if last.as_ref() != Some(&cameras) {
                        let probe = Probe {
                            cameras: cameras.clone(),
                            spotify_app,
                        };
                        // The window is gone: so is the probe.
                        if tx.send(probe).is_err() {
                            return;
                        }
                        notify();
                        last = Some(cameras);
                    }
                    std::thread::sleep(PROBE_EVERY);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot probe for cameras: {e}");
        }
        rx
    }
}

/// Frames per second over the last two seconds.
#[derive(Default)]
pub(super) struct FrameRate(std::collections::VecDeque<Instant>);

impl FrameRate {
    pub(super) fn tick(&mut self, now: Instant) {
        self.0.push_back(now);
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t).as_secs_f32() > 2.0)
        {
            self.0.pop_front();
        }
    }

    pub(super) fn fps(&self) -> f32 {
        match (self.0.front(), self.0.back()) {
            (Some(a), Some(b)) if self.0.len() > 1 => {
                (self.0.len() - 1) as f32 / b.duration_since(*a).as_secs_f32().max(1e-3)
            }
            _ => 0.0,
        }
    }
}

/// How soon the window repaints after a camera frame. egui's plain `request_repaint` runs two
/// passes (to let layouts settle); a frame asks for one pass, since the next frame follows in
/// tens of milliseconds anyway. With the camera image hidden only bars and text change, and
/// ten repaints a second show them.
#[derive(Clone, Default)]
pub(crate) struct FramePace {
    hidden: Arc<AtomicBool>,
}

impl FramePace {
    const SHOWN: Duration = Duration::from_millis(1);
    const HIDDEN: Duration = Duration::from_millis(100);

    pub(crate) fn new(feed_hidden: bool) -> FramePace {
        FramePace {
            hidden: Arc::new(AtomicBool::new(feed_hidden)),
        }
    }

    pub(crate) fn set_feed_hidden(&self, hidden: bool) {
        self.hidden.store(hidden, Ordering::Relaxed);
    }

    /// The wait before the repaint that shows a new frame.
    pub(crate) fn delay(&self) -> Duration {
        if self.hidden.load(Ordering::Relaxed) {
            FramePace::HIDDEN
        } else {
            FramePace::SHOWN
        }
    }
}
