//! What the window tells the diary, decided on the UI thread without blocking it: a sample of
//! the main face once a wall-clock second, the stable mood's changes, sessions, music and
//! corrections. Everything goes to the writer thread through a channel.

use std::sync::Arc;

use super::writer::{DiaryEvent, DiaryHandle, Entry, Play, Shown};
use super::{DiaryError, now_ms};
use crate::emotion::Emotion;

/// The window's link to the diary; without one (history off) every call does nothing.
pub struct Recorder {
    handle: Option<DiaryHandle>,
    /// Why history is off, once the writer says so.
    off: Option<DiaryError>,
    /// The wall-clock second of the last sample.
    last_second: Option<i64>,
    mood: Option<Emotion>,
    in_session: bool,
}

impl Recorder {
    pub fn new(handle: Option<DiaryHandle>) -> Recorder {
        Recorder {
            handle,
            off: None,
            last_second: None,
            mood: None,
            in_session: false,
        }
    }

    /// Opens the diary at `path` on its writer thread.
    pub fn spawn(
        path: std::path::PathBuf,
        keep_days: u32,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> Recorder {
        Recorder::new(Some(DiaryHandle::spawn(path, keep_days, notify)))
    }

    /// History is on: a diary was opened and has not failed.
    pub fn on(&self) -> bool {
        self.handle.is_some() && self.off.is_none()
    }

    /// Why history is off, if it failed.
    pub(crate) fn off_reason(&self) -> Option<&DiaryError> {
        self.off.as_ref()
    }

    fn send(&self, e: Entry) {
        if let (Some(h), None) = (&self.handle, &self.off) {
            h.send(e);
        }
    }

    /// A source opened: a new session.
    pub fn start(&mut self, source: &str, profile: Option<String>) {
        self.send(Entry::Start {
            t: now_ms(),
            source: source.into(),
            profile,
        });
        self.in_session = true;
        self.mood = None;
        self.last_second = None;
    }

    /// A frame at Unix ms `t`: the main face's smoothed probabilities (None without a face)
    /// and the stable mood.
    pub fn frame(&mut self, t: i64, main: Option<[f32; Emotion::COUNT]>, stable: Option<Emotion>) {
        if !self.in_session {
            return;
        }
        if let Some(m) = stable
            && self.mood != Some(m)
        {
            self.send(Entry::Mood { t, mood: m });
        }
        self.mood = stable;
        let second = t.div_euclid(1000);
        if let Some(probs) = main
            && self.last_second.is_none_or(|s| second > s)
        {
            self.last_second = Some(second);
            self.send(Entry::Sample {
                t: second * 1000,
                probs,
                mood: stable,
            });
        }
    }

    pub fn shown(&self, shown: Shown) {
        self.send(Entry::Shown {
            t: now_ms(),
            shown: Box::new(shown),
        });
    }

    pub fn play(&self, play: Play) {
        self.send(Entry::Play { t: now_ms(), play });
    }

    pub(crate) fn correction(&self, said: Emotion, meant: Emotion) {
        self.send(Entry::Correction {
            t: now_ms(),
            said,
            meant,
        });
    }

    /// Asks for the history view's figures; the answer comes back through `poll`.
    pub(crate) fn ask_summary(&self, days: u32) {
        self.send(Entry::Summary { days });
    }

    pub(crate) fn ask_timeline(&self, session: i64) {
        self.send(Entry::Timeline { session });
    }

    /// Deletes history on the writer thread; the answer comes back through `poll`.
    pub fn forget(&self, what: super::Forget) {
        self.send(Entry::Forget(what));
    }

    /// The diary file, when history is on.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.handle.as_ref().map(|h| h.path.as_path())
    }

    /// The writer's answers; a failure turns history off and is kept for the window to show.
    pub fn poll(&mut self) -> Vec<DiaryEvent> {
        let Some(h) = &self.handle else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ev in h.poll() {
            match ev {
                DiaryEvent::Off(e) => {
                    tracing::warn!("{e}");
                    self.off = Some(e);
                }
                other => out.push(other),
            }
        }
        out
    }
}
