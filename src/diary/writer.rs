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
    /// Unit tests only: the writer panics, to try the crash path.
    #[cfg(test)]
    Panic,
    /// Delete history (the window's Forget buttons); answered with `Forgotten`.
    Forget(super::Forget),
}

/// What the writer tells the window.
#[derive(Debug)]
pub enum DiaryEvent {
    /// History is off, and why.
    Off(DiaryError),
    Summary(Box<Result<Summary>>),
    Timeline(i64, Result<Vec<TimelinePoint>>),
    /// Samples deleted.
    Forgotten(Result<u64>),
}

/// The window's end of the writer thread. Dropping it commits what is pending and ends the
/// session.
pub struct DiaryHandle {
    pub(super) path: PathBuf,
    tx: Option<Sender<Entry>>,
    events: Receiver<DiaryEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiaryHandle {
    /// Opens the diary at `path` on a thread of its own (`service::spawn`); `keep_days` (0:
    /// forever) is applied first. `notify` wakes the window when an event is ready. A panic in
    /// the writer turns history off for this run, said in the window like any other reason;
    /// what was committed stays in the file.
    pub fn spawn(
        path: PathBuf,
        keep_days: u32,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> DiaryHandle {
        let (tx, rx) = std::sync::mpsc::channel();
        let (file, crash_path) = (path.clone(), path.clone());
        let mut ran = false;
        let spawned = crate::service::spawn(
            "diary",
            notify,
            move |r| {
                DiaryEvent::Off(DiaryError::Crashed {
                    path: crash_path.clone(),
                    message: match r {
                        crate::Restart::Panicked(m) => m,
                        crate::Restart::GaveUp(n) => format!("{n} panics"),
                    },
                })
            },
            move |out| {
                // Not restarted after a panic: its session and pending entries are gone.
                if std::mem::replace(&mut ran, true) {
                    return;
                }
                match Writer::open(&path, keep_days) {
                    Ok(mut writer) => writer.run(&rx, &|ev| out.send(ev)),
                    Err(e) => out.send(DiaryEvent::Off(e)),
                }
            },
        );
        DiaryHandle {
            path: file,
            tx: Some(tx),
            events: spawned.events,
            thread: spawned.thread,
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
                #[cfg(test)]
                Ok(Entry::Panic) => panic!("the writer was asked to panic"),
                Ok(Entry::Forget(what)) => {
                    let n = self.flush().and_then(|()| self.diary.forget(&what));
                    report(DiaryEvent::Forgotten(n));
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

/// What a batch adds up as it goes, written once at its end.
#[derive(Default)]
struct Totals {
    /// Per session: samples added and the latest time seen.
    sessions: HashMap<i64, (i64, i64)>,
    /// (local day, hour, mood) → (seconds, valence sum).
    hours: HashMap<(String, u32, usize), (i64, f64)>,
    /// (session, minute) → (seconds, valence sum).
    minutes: HashMap<(i64, i64), (i64, f64)>,
}

impl Totals {
    fn seen(&mut self, session: i64, t: i64, samples: i64) {
        let e = self.sessions.entry(session).or_insert((0, t));
        e.0 += samples;
        e.1 = e.1.max(t);
    }

    fn sample(
        &mut self,
        session: i64,
        t: i64,
        probs: &[f32; Emotion::COUNT],
        mood: Option<Emotion>,
    ) {
        let v = f64::from(valence(probs));
        let (day, hour) = local_day_hour(t);
        let h = self
            .hours
            .entry((day, hour, hour_mood(probs, mood)))
            .or_default();
        h.0 += 1;
        h.1 += v;
        let m = self
            .minutes
            .entry((session, t.div_euclid(60_000)))
            .or_default();
        m.0 += 1;
        m.1 += v;
    }

    fn write(self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        for (s, (added, last)) in self.sessions {
            tx.execute(
                "UPDATE sessions SET samples = samples + ?2, ended = max(ended, ?3) WHERE id = ?1",
                params![s, added, last],
            )?;
        }
        let mut hour = tx.prepare_cached(
            "INSERT INTO hours VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (day, hour, mood)
             DO UPDATE SET seconds = seconds + excluded.seconds, valence = valence + excluded.valence",
        )?;
        for ((day, h, mood), (seconds, val)) in self.hours {
            hour.execute(params![day, h, mood as i64, seconds, val])?;
        }
        let mut minute = tx.prepare_cached(
            "INSERT INTO minutes VALUES (?1, ?2, ?3, ?4) ON CONFLICT (session, minute)
             DO UPDATE SET seconds = seconds + excluded.seconds, valence = valence + excluded.valence",
        )?;
        for ((s, m), (seconds, val)) in self.minutes {
            minute.execute(params![s, m, seconds, val])?;
        }
        Ok(())
    }
}

/// Applies `entries` inside a transaction; returns the session open afterwards.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    mut session: Option<i64>,
    entries: &[Entry],
) -> rusqlite::Result<Option<i64>> {
    let mut totals = Totals::default();
    for e in entries {
        session = apply_one(tx, session, e, &mut totals)?;
    }
    totals.write(tx)?;
    Ok(session)
}

/// One entry; returns the session open after it.
fn apply_one(
    tx: &rusqlite::Transaction<'_>,
    session: Option<i64>,
    e: &Entry,
    totals: &mut Totals,
) -> rusqlite::Result<Option<i64>> {
    match e {
        Entry::Start { t, source, profile } => {
            if let Some(s) = session {
                totals.seen(s, *t, 0);
            }
            tx.execute(
                "INSERT INTO sessions (started, ended, source, profile) VALUES (?1, ?1, ?2, ?3)",
                params![t, source, profile],
            )?;
            return Ok(Some(tx.last_insert_rowid()));
        }
        Entry::Sample { t, probs, mood } => {
            let Some(s) = session else { return Ok(None) };
            let m = per_mille(probs);
            let n = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
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
            totals.seen(s, *t, n as i64);
            totals.sample(s, *t, probs, *mood);
        }
        Entry::Mood { t, mood } => {
            if let Some(s) = session {
                tx.execute(
                    "INSERT OR REPLACE INTO moods VALUES (?1, ?2, ?3)",
                    params![s, t, mood.index() as i64],
                )?;
            }
        }
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
        Entry::End { t } => {
            if let Some(s) = session {
                totals.seen(s, *t, 0);
            }
            return Ok(None);
        }
        Entry::Summary { .. } | Entry::Timeline { .. } | Entry::Forget(_) => {}
        #[cfg(test)]
        Entry::Panic => {}
    }
    Ok(session)
}
