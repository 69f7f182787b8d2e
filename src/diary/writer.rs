//! The diary's writer thread: entries in, a commit at least once a second (so a killed process
//! loses at most the last one or two seconds), and the history's questions answered on the
//! same connection. When the diary cannot be used it says why once and stops; the app goes on
//! without history.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rusqlite::params;
use serde::Serialize;

use super::query::{Summary, TimelinePoint};
use super::{Diary, DiaryError, Result, local_day_hour, valence};
use crate::emotion::Emotion;

/// The longest an entry waits before it is committed.
const FLUSH: Duration = Duration::from_secs(1);
/// Entries kept while another program holds the lock; older samples go first past this.
const MAX_PENDING: usize = 3_600;
/// Consecutive locked commits (about a second each) before the diary gives up.
const MAX_BUSY: u32 = 10;

/// A recommendation as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    pub emotion: String,
    pub strategy: String,
    pub source: String,
    pub playlist: String,
    pub url: String,
    /// (title, artists, uri)
    pub tracks: Vec<(String, String, String)>,
}

/// A track opened or played, or a list saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Play {
    /// open, play or save
    pub action: String,
    pub title: String,
    pub artists: String,
    pub uri: String,
}

/// What the writer is told. Times are Unix milliseconds.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A new session (a source opened); ends the one before.
    Start {
        t: i64,
        source: String,
        profile: Option<String>,
    },
    /// The main face's smoothed probabilities and the stable mood.
    Sample {
        t: i64,
        probs: [f32; Emotion::COUNT],
        mood: Option<Emotion>,
    },
    /// The stable mood changed.
    Mood {
        t: i64,
        mood: Emotion,
    },
    Shown {
        t: i64,
        shown: Box<Shown>,
    },
    Play {
        t: i64,
        play: Play,
    },
    Correction {
        t: i64,
        said: Emotion,
        meant: Emotion,
    },
    End {
        t: i64,
    },
    /// The history view's questions.
    Summary {
        days: u32,
    },
    Timeline {
        session: i64,
    },
}

/// What the writer tells the window.
#[derive(Debug)]
pub enum DiaryEvent {
    /// History is off, and why.
    Off(DiaryError),
    Summary(Box<Result<Summary>>),
    Timeline(i64, Result<Vec<TimelinePoint>>),
}

/// The window's end of the writer thread. Dropping it commits what is pending and ends the
/// session.
pub struct DiaryHandle {
    tx: Option<Sender<Entry>>,
    events: Receiver<DiaryEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiaryHandle {
    /// Opens the diary at `path` on a thread of its own; `keep_days` (0: forever) is applied
    /// first. `notify` wakes the window when an event is ready.
    pub fn spawn(
        path: PathBuf,
        keep_days: u32,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> DiaryHandle {
        let (tx, rx) = std::sync::mpsc::channel();
        let (etx, events) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("diary".into())
            .spawn(move || {
                let report = |ev: DiaryEvent| {
                    let _ = etx.send(ev);
                    notify();
                };
                let mut writer = match Writer::open(&path, keep_days) {
                    Ok(w) => w,
                    Err(e) => return report(DiaryEvent::Off(e)),
                };
                crate::restart_on_panic(
                    || writer.run(&rx, &report),
                    |r| {
                        tracing::error!("diary writer: {r:?}");
                        false
                    },
                );
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("cannot start the diary thread: {e}");
                None
            }
        };
        DiaryHandle {
            tx: Some(tx),
            events,
            thread,
        }
    }

    /// Queues an entry; a diary that is off drops it.
    pub fn send(&self, e: Entry) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    pub fn poll(&self) -> Vec<DiaryEvent> {
        self.events.try_iter().collect()
    }
}

impl Drop for DiaryHandle {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer's state: the open diary, the session entries belong to, and what waits for
/// the next commit.
pub(crate) struct Writer {
    pub(super) diary: Diary,
    session: Option<i64>,
    pending: Vec<Entry>,
    busy: u32,
}

impl Writer {
    pub(crate) fn open(path: &std::path::Path, keep_days: u32) -> Result<Writer> {
        let mut diary = Diary::open(path)?;
        if keep_days > 0 {
            let before = super::local_day_before(keep_days);
            let gone = diary.forget_quietly(&super::Forget::Before(before))?;
            if gone > 0 {
                tracing::info!("diary: {gone} samples older than {keep_days} days deleted");
            }
        }
        Ok(Writer {
            diary,
            session: None,
            pending: Vec::new(),
            busy: 0,
        })
    }

    fn run(&mut self, rx: &Receiver<Entry>, report: &dyn Fn(DiaryEvent)) {
        let mut last = Instant::now();
        loop {
            let wait = FLUSH.saturating_sub(last.elapsed());
            let closed = match rx.recv_timeout(wait) {
                Ok(Entry::Summary { days }) => {
                    let s = self.flush().and_then(|()| self.diary.summary(days));
                    report(DiaryEvent::Summary(Box::new(s)));
                    false
                }
                Ok(Entry::Timeline { session }) => {
                    let t = self.flush().and_then(|()| self.diary.timeline(session));
                    report(DiaryEvent::Timeline(session, t));
                    false
                }
                Ok(e) => {
                    self.pending.push(e);
                    false
                }
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => true,
            };
            if closed || last.elapsed() >= FLUSH {
                last = Instant::now();
                if closed {
                    self.pending.push(Entry::End { t: super::now_ms() });
                }
                if let Err(e) = self.commit() {
                    return report(DiaryEvent::Off(e));
                }
            }
            if closed {
                return;
            }
        }
    }

    /// Commits what is pending. A lock held elsewhere keeps the entries for the next try,
    /// up to `MAX_BUSY` tries; any other failure is final.
    fn commit(&mut self) -> Result<()> {
        match self.flush() {
            Ok(()) => {
                self.busy = 0;
                Ok(())
            }
            Err(e) if e.is_busy() && self.busy < MAX_BUSY => {
                self.busy += 1;
                if self.pending.len() > MAX_PENDING {
                    let extra = self.pending.len() - MAX_PENDING;
                    self.pending.drain(..extra);
                }
                tracing::warn!("{e} (try {} of {MAX_BUSY})", self.busy);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the pending entries in one transaction; on failure they stay pending.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.diary.path().to_path_buf();
        let err = |e: rusqlite::Error| DiaryError::from_sqlite(&path, &e);
        let tx = self.diary.conn.transaction().map_err(err)?;
        let session = apply(&tx, self.session, &self.pending).map_err(err)?;
        tx.commit().map_err(err)?;
        self.session = session;
        self.pending.clear();
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn push(&mut self, e: Entry) {
        self.pending.push(e);
    }
}

/// Per-mille integers of the probabilities, as the samples table stores them.
fn per_mille(p: &[f32; Emotion::COUNT]) -> [i64; Emotion::COUNT] {
    p.map(|v| (v.clamp(0.0, 1.0) * 1000.0).round() as i64)
}

/// The mood an hour's total counts a sample under: the stable one, else the leading one.
pub(crate) fn hour_mood(p: &[f32; Emotion::COUNT], stable: Option<Emotion>) -> usize {
    stable.map(Emotion::index).unwrap_or_else(|| {
        (0..p.len())
            .max_by(|a, b| p[*a].total_cmp(&p[*b]))
            .unwrap_or(0)
    })
}

/// The hourly totals a batch adds: (day, hour, mood) → (seconds, valence sum).
type HourTotals = HashMap<(String, u32, usize), (i64, f64)>;

/// Applies `entries` inside a transaction; returns the session open afterwards.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    mut session: Option<i64>,
    entries: &[Entry],
) -> rusqlite::Result<Option<i64>> {
    let mut hours: HourTotals = HashMap::new();
    // Per session: samples added and the latest time seen.
    let mut touched: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut sample = tx.prepare_cached(
        "INSERT OR REPLACE INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for e in entries {
        match e {
            Entry::Start { t, source, profile } => {
                if let Some(s) = session {
                    touched.entry(s).or_insert((0, *t)).1 = *t;
                }
                tx.execute(
                    "INSERT INTO sessions (started, ended, source, profile) VALUES (?1, ?1, ?2, ?3)",
                    params![t, source, profile],
                )?;
                session = Some(tx.last_insert_rowid());
            }
            Entry::Sample { t, probs, mood } => {
                let Some(s) = session else { continue };
                let m = per_mille(probs);
                let n = sample.execute(params![
                    s,
                    t,
                    m[0],
                    m[1],
                    m[2],
                    m[3],
                    m[4],
                    m[5],
                    m[6],
                    mood.map(|m| m.index() as i64)
                ])?;
                let entry = touched.entry(s).or_insert((0, *t));
                entry.0 += n as i64;
                entry.1 = entry.1.max(*t);
                let (day, hour) = local_day_hour(*t);
                let h = hours
                    .entry((day, hour, hour_mood(probs, *mood)))
                    .or_insert((0, 0.0));
                h.0 += 1;
                h.1 += f64::from(valence(probs));
            }
            Entry::Mood { t, mood } => {
                let Some(s) = session else { continue };
                tx.execute(
                    "INSERT OR REPLACE INTO moods VALUES (?1, ?2, ?3)",
                    params![s, t, mood.index() as i64],
                )?;
            }
            Entry::Shown { .. } | Entry::Play { .. } | Entry::Correction { .. } => {
                note(tx, session, e)?;
            }
            Entry::End { t } => {
                if let Some(s) = session.take() {
                    touched.entry(s).or_insert((0, *t)).1 = *t;
                }
            }
            Entry::Summary { .. } | Entry::Timeline { .. } => {}
        }
    }
    drop(sample);
    add_totals(tx, touched, hours)?;
    Ok(session)
}

/// A list shown, a track played or a correction, in `session`.
fn note(tx: &rusqlite::Transaction<'_>, session: Option<i64>, e: &Entry) -> rusqlite::Result<()> {
    match e {
        Entry::Shown { t, shown } => {
            let tracks = serde_json::to_string(&shown.tracks).unwrap_or_default();
            tx.execute(
                "INSERT INTO recommendations (session, t, emotion, strategy, source, playlist, url, tracks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![session, t, shown.emotion, shown.strategy, shown.source, shown.playlist, shown.url, tracks],
            )?;
        }
        Entry::Play { t, play } => {
            tx.execute(
                "INSERT INTO plays (session, t, action, title, artists, uri) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![session, t, play.action, play.title, play.artists, play.uri],
            )?;
        }
        Entry::Correction { t, said, meant } => {
            tx.execute(
                "INSERT INTO corrections (session, t, said, meant) VALUES (?1, ?2, ?3, ?4)",
                params![session, t, said.name(), meant.name()],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// Adds a batch's samples to its sessions and its seconds to the hourly totals.
fn add_totals(
    tx: &rusqlite::Transaction<'_>,
    touched: HashMap<i64, (i64, i64)>,
    hours: HourTotals,
) -> rusqlite::Result<()> {
    for (s, (added, last)) in touched {
        tx.execute(
            "UPDATE sessions SET samples = samples + ?2, ended = max(ended, ?3) WHERE id = ?1",
            params![s, added, last],
        )?;
    }
    let mut hour = tx.prepare_cached(
        "INSERT INTO hours VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (day, hour, mood)
         DO UPDATE SET seconds = seconds + excluded.seconds, valence = valence + excluded.valence",
    )?;
    for ((day, h, mood), (seconds, val)) in hours {
        hour.execute(params![day, h, mood as i64, seconds, val])?;
    }
    Ok(())
}
