//! The vision worker thread: owns the capture, the detector and the classifier; takes commands
//! from the UI and sends back one `FrameResult` per processed frame. Never touched by the UI
//! thread except through channels. A panic inside it is caught, reported and the worker starts
//! again on the same source.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{FrameResult, MoodState, Pipeline, PipelineSettings, Timings};
use crate::Restart;
use crate::capture::{self, Capture, CaptureEvent, CaptureSettings, FrameSource, SourceSpec};
use crate::error::{Error, Result};
use crate::vision::EmotionClassifier;

pub(crate) enum Command {
    SetSource(SourceSpec),
    Pause(bool),
    Settings(PipelineSettings),
    /// The active profile's adjustment (None: show the model's own scores).
    Adjust(Option<crate::profile::Adjustment>),
    Shutdown,
}

/// What went wrong in the worker, typed so the UI decides how to show it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    /// The source could not be opened (the message names it and the fix).
    #[error("{0}")]
    Open(Error),
    /// A running source reported a problem (camera unplugged, unreadable frame...).
    #[error("{0}")]
    Capture(Error),
    /// A frame could not be analysed.
    #[error("{0}")]
    Frame(Error),
    #[error("the vision worker crashed ({0}); it restarted")]
    Panicked(String),
    #[error(
        "the vision worker crashed {0} times in a row and was stopped; restart emotune (and \
         report the message above)"
    )]
    GaveUp(usize),
}

#[derive(Debug)]
pub(crate) enum Event {
    Frame(Box<FrameResult>),
    SourceOpened(String),
    SourceEnded,
    /// The source delivers again after errors (a camera plugged back in).
    SourceRecovered,
    /// Something the user should read (camera lost, bad file, ...).
    Error(WorkerError),
    /// The classifier could not be loaded: frames are shown without emotions.
    ModelError(Error),
}

/// Opens a source by its spec; the default opens cameras and files, tests pass fakes.
pub(crate) type Opener = Arc<dyn Fn(&SourceSpec) -> Result<Box<dyn FrameSource>> + Send + Sync>;

/// The opener for real cameras, images and folders.
pub(crate) fn default_opener(settings: CaptureSettings) -> Opener {
    Arc::new(move |spec| capture::open(spec, &settings))
}

pub(crate) struct Worker {
    tx: Sender<Command>,
    rx: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

pub(crate) struct WorkerConfig {
    pub(crate) model: Option<PathBuf>,
    pub(crate) settings: PipelineSettings,
    pub(crate) inference_threads: usize,
    pub(crate) open: Opener,
}

impl Worker {
    /// `notify` is called after each event (the window wakes itself to paint the frame).
    /// A panic in the loop is reported (`WorkerError::Panicked`) and the loop starts again
    /// (`service::spawn`), the model reloaded and the source reopened.
    pub(crate) fn spawn(cfg: WorkerConfig, notify: Arc<dyn Fn() + Send + Sync>) -> Worker {
        let (tx, cmd_rx) = channel();
        let mut configured = false;
        let mut session = Session {
            spec: None,
            paused: false,
            settings: cfg.settings,
            adjustment: None,
        };
        let crashed = |r: Restart| {
            Event::Error(match r {
                Restart::Panicked(msg) => WorkerError::Panicked(msg),
                Restart::GaveUp(n) => WorkerError::GaveUp(n),
            })
        };
        let s = crate::service::spawn("vision", notify, crashed, move |events| {
            // Once, on this thread: libtorch's OpenMP thread count is per calling thread.
            if !configured {
                crate::vision::classifier::configure_threads(cfg.inference_threads);
                configured = true;
            }
            Loop::start(&cfg, events, &mut session).run(&cmd_rx);
        });
        Worker {
            tx,
            rx: s.events,
            thread: s.thread,
        }
    }

    /// A worker on channels the caller serves itself (tests drive the UI with a fake).
    #[cfg(test)]
    pub(crate) fn from_channels(tx: Sender<Command>, rx: Receiver<Event>) -> Worker {
        Worker {
            tx,
            rx,
            thread: None,
        }
    }

    pub(crate) fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }

    /// All events waiting now (non-blocking).
    pub(crate) fn poll(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Events = crate::service::Events<Event>;

/// A frame that looked like the last analysed one (nothing in view changed) wakes the window
/// at most this often; any other frame wakes it at once. A still scene then costs the window a
/// few repaints a second instead of the camera's rate.
const QUIET_WAKE: Duration = Duration::from_millis(200);

/// What survives a crash of the worker loop: the source to go back to and the user's choices.
struct Session {
    spec: Option<SourceSpec>,
    paused: bool,
    settings: PipelineSettings,
    adjustment: Option<crate::profile::Adjustment>,
}

/// One life of the worker loop.
struct Loop<'a> {
    cfg: &'a WorkerConfig,
    events: &'a Events,
    session: &'a mut Session,
    pipeline: Option<Pipeline>,
    capture: Option<Capture>,
    start: Instant,
    /// When a frame last woke the window.
    woke: std::cell::Cell<Option<Instant>>,
    /// A frame was sent without waking the window since.
    quiet: std::cell::Cell<bool>,
}

impl<'a> Loop<'a> {
    fn start(cfg: &'a WorkerConfig, events: &'a Events, session: &'a mut Session) -> Loop<'a> {
        let pipeline = match crate::vision::resolve_model_path(cfg.model.as_deref())
            .and_then(|p| EmotionClassifier::load(&p))
            .and_then(|c| Pipeline::new(c, session.settings))
        {
            Ok(mut p) => {
                p.set_adjustment(session.adjustment);
                Some(p)
            }
            Err(e) => {
                events.send(Event::ModelError(e));
                None
            }
        };
        let mut lp = Loop {
            cfg,
            events,
            session,
            pipeline,
            capture: None,
            start: Instant::now(),
            woke: std::cell::Cell::new(None),
            quiet: std::cell::Cell::new(false),
        };
        if let Some(spec) = lp.session.spec.take() {
            lp.open(spec);
        }
        lp
    }

    fn run(mut self, rx: &Receiver<Command>) {
        loop {
            let idle = self.capture.is_none() || self.session.paused;
            let cmd = if idle {
                rx.recv_timeout(Duration::from_millis(100))
                    .map_err(|e| match e {
                        RecvTimeoutError::Timeout => TryRecvError::Empty,
                        RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                    })
            } else {
                rx.try_recv()
            };
            match cmd {
                Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => return,
                Ok(c) => self.command(c),
                Err(TryRecvError::Empty) => {}
            }
            if !self.session.paused {
                self.step();
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Pause(p) => {
                self.session.paused = p;
                if p {
                    self.flush();
                    self.wake_for_quiet();
                }
            }
            Command::Settings(s) => {
                self.session.settings = s;
                if let Some(p) = self.pipeline.as_mut() {
                    p.set_settings(s);
                }
            }
            Command::Adjust(a) => {
                self.session.adjustment = a;
                if let Some(p) = self.pipeline.as_mut() {
                    p.set_adjustment(a);
                }
            }
            Command::SetSource(spec) => self.open(spec),
            Command::Shutdown => {}
        }
    }

    /// Opens `spec`; it is remembered for a restart only once it opened (a source that panics
    /// while opening is not reopened forever).
    fn open(&mut self, spec: SourceSpec) {
        self.capture = None;
        self.session.spec = None;
        if let Some(p) = self.pipeline.as_mut() {
            p.reset();
        }
        match (self.cfg.open)(&spec) {
            Ok(src) => {
                let c = Capture::spawn(src);
                self.events.send(Event::SourceOpened(c.name.clone()));
                self.capture = Some(c);
                self.session.spec = Some(spec);
            }
            Err(e) => self.events.send(Event::Error(WorkerError::Open(e))),
        }
    }

    /// Takes the newest frame (if any) through the pipeline, after the capture's news (so a
    /// "recovered" is reported before the frame that came with it).
    fn step(&mut self) {
        let Some(cap) = self.capture.as_ref() else {
            return;
        };
        let still = cap.still;
        let frame = cap.latest().wait(Duration::from_millis(50));
        let (mut crashed, mut ended) = (false, false);
        for ev in cap.latest().take_events() {
            match ev {
                CaptureEvent::Error(e) => self.events.send(Event::Error(WorkerError::Capture(e))),
                CaptureEvent::Recovered => self.events.send(Event::SourceRecovered),
                CaptureEvent::Ended => {
                    self.events.send(Event::SourceEnded);
                    ended = true;
                }
                CaptureEvent::Crashed => crashed = true,
            }
        }
        if crashed {
            // The capture thread is gone; open the same source again once.
            if let Some(spec) = self.session.spec.clone() {
                self.open(spec);
            }
            return;
        }
        let Some(frame) = frame else {
            // No frame came (a stall, a pause at the source, its end): show what waits.
            self.flush();
            self.wake_for_quiet();
            if ended {
                self.close_ended();
            }
            return;
        };
        let at = self.start.elapsed();
        let result = match self.pipeline.as_mut() {
            Some(p) if still => p.process_still(frame.image).map(Some),
            // Pipelined: while this frame is detected, the last one's faces are classified.
            Some(p) => p.submit(frame.image, at),
            None => Ok(Some(bare_result(frame.image, at))),
        };
        self.emit(result);
        // With no newer frame waiting there is nothing to overlap: finish this one now rather
        // than a frame later (a camera at 30 fps is always here; a fast replay never is).
        if !cap.latest().ready() {
            self.flush();
        }
        if ended {
            self.close_ended();
        }
    }

    /// The source sent its last frame (a photo, a folder played once): its results go out and
    /// the loop idles on commands instead of asking the closed source again and again.
    fn close_ended(&mut self) {
        self.flush();
        self.wake_for_quiet();
        self.capture = None;
    }

    /// Wakes the window for frames sent without waking it.
    fn wake_for_quiet(&self) {
        if self.quiet.replace(false) {
            self.woke.set(Some(Instant::now()));
            self.events.wake();
        }
    }

    /// The result of the frame still in flight, if any.
    fn flush(&mut self) {
        if let Some(p) = self.pipeline.as_mut() {
            let r = p.flush();
            self.emit(r);
        }
    }

    fn emit(&self, result: crate::error::Result<Option<FrameResult>>) {
        match result {
            Ok(Some(r)) => {
                let now = Instant::now();
                let recent = |t: Instant| now.duration_since(t) < QUIET_WAKE;
                // A mood that just changed goes out at once: the music follows it.
                if r.timings.unchanged && !r.mood.changed && self.woke.get().is_some_and(recent) {
                    self.events.send_quiet(Event::Frame(Box::new(r)));
                    self.quiet.set(true);
                } else {
                    self.woke.set(Some(now));
                    self.quiet.set(false);
                    self.events.send(Event::Frame(Box::new(r)));
                }
            }
            Ok(None) => {}
            Err(e) => self.events.send(Event::Error(WorkerError::Frame(e))),
        }
    }
}

/// A frame shown without analysis (no model loaded).
pub(crate) fn bare_result(frame: Arc<image::RgbImage>, at: Duration) -> FrameResult {
    FrameResult {
        frame,
        at,
        faces: Vec::new(),
        group: None,
        mood: MoodState {
            stable: None,
            candidate: None,
            settled: 0.0,
            changed: false,
        },
        timings: Timings::default(),
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
