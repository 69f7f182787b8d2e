//! The vision worker thread: owns the capture, the detector and the classifier; takes commands
//! from the UI and sends back one `FrameResult` per processed frame. Never touched by the UI
//! thread except through channels.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{FrameResult, MoodState, Pipeline, PipelineSettings, Timings};
use crate::capture::{self, Capture, CaptureEvent, SourceSpec};
use crate::vision::EmotionClassifier;

pub enum Command {
    SetSource(SourceSpec),
    Pause(bool),
    Settings(PipelineSettings),
    Shutdown,
}

#[derive(Debug)]
pub enum Event {
    Frame(Box<FrameResult>),
    SourceOpened(String),
    SourceEnded,
    /// Something the user should read (camera lost, bad file, ...).
    Error(String),
    /// The classifier could not be loaded: frames are shown without emotions.
    ModelError(String),
}

pub struct Worker {
    tx: Sender<Command>,
    rx: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

pub struct WorkerConfig {
    pub model: Option<PathBuf>,
    pub settings: PipelineSettings,
    pub inference_threads: usize,
    pub capture: crate::capture::CaptureSettings,
}

impl Worker {
    /// `notify` is called after each event (the UI passes `ctx.request_repaint`).
    pub fn spawn(cfg: WorkerConfig, notify: Arc<dyn Fn() + Send + Sync>) -> Worker {
        let (tx, cmd_rx) = channel();
        let (ev_tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("vision".into())
            .spawn(move || run(cfg, cmd_rx, ev_tx, notify))
            .ok();
        Worker { tx, rx, thread }
    }

    pub fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }

    /// All events waiting now (non-blocking).
    pub fn poll(&self) -> Vec<Event> {
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

fn run(
    cfg: WorkerConfig,
    rx: Receiver<Command>,
    tx: Sender<Event>,
    notify: Arc<dyn Fn() + Send + Sync>,
) {
    let send = |e: Event| {
        let _ = tx.send(e);
        notify();
    };
    crate::vision::classifier::configure_threads(cfg.inference_threads);
    let mut pipeline = match crate::vision::resolve_model_path(cfg.model.as_deref())
        .and_then(|p| EmotionClassifier::load(&p))
        .and_then(|c| Pipeline::new(c, cfg.settings))
    {
        Ok(p) => Some(p),
        Err(e) => {
            send(Event::ModelError(e.to_string()));
            None
        }
    };
    let mut capture: Option<Capture> = None;
    let mut paused = false;
    let start = Instant::now();
    let mut seq = 0u64;
    loop {
        let cmd = if capture.is_none() || paused {
            rx.recv_timeout(Duration::from_millis(100))
                .map_err(|e| match e {
                    std::sync::mpsc::RecvTimeoutError::Timeout => TryRecvError::Empty,
                    std::sync::mpsc::RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                })
        } else {
            rx.try_recv()
        };
        match cmd {
            Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => return,
            Ok(Command::Pause(p)) => paused = p,
            Ok(Command::Settings(s)) => {
                if let Some(p) = pipeline.as_mut() {
                    p.set_settings(s);
                }
            }
            Ok(Command::SetSource(spec)) => {
                capture = None;
                if let Some(p) = pipeline.as_mut() {
                    p.reset();
                }
                match capture::open(&spec, &cfg.capture) {
                    Ok(src) => {
                        let c = Capture::spawn(src);
                        send(Event::SourceOpened(c.name.clone()));
                        capture = Some(c);
                    }
                    Err(e) => send(Event::Error(e.to_string())),
                }
            }
            Err(TryRecvError::Empty) => {}
        }
        let Some(cap) = capture.as_ref() else {
            continue;
        };
        if paused {
            continue;
        }
        for ev in cap.latest().take_events() {
            match ev {
                CaptureEvent::Error(m) => send(Event::Error(m)),
                CaptureEvent::Ended => send(Event::SourceEnded),
            }
        }
        let Some(frame) = cap.latest().wait(Duration::from_millis(50)) else {
            continue;
        };
        let at = start.elapsed();
        let result = match pipeline.as_mut() {
            Some(p) if cap.still => p.process_still(frame.image),
            Some(p) => p.process(frame.image, at),
            None => Ok(FrameResult {
                frame: frame.image,
                index: seq,
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
            }),
        };
        seq += 1;
        match result {
            Ok(r) => send(Event::Frame(Box::new(r))),
            Err(e) => send(Event::Error(e.to_string())),
        }
    }
}
