//! What the history view and `emotune history` ask: mood per day and per hour (from the
//! hourly totals), the sessions, a session's timeline, and what helped.

use rusqlite::params;
use serde::{Serialize, Serializer};

use super::{Diary, Result, local_day_before, local_midnight_ms};
use crate::emotion::Emotion;

/// Seconds per mood, in FER-2013 order; serialised as `{"angry": …, …}`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MoodSeconds(pub [u64; Emotion::COUNT]);

impl MoodSeconds {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The mood with the most seconds, if any.
    pub fn top(&self) -> Option<Emotion> {
        let (i, n) = self.0.iter().enumerate().max_by_key(|(_, n)| **n)?;
        (*n > 0).then(|| Emotion::ALL[i])
    }
}

impl Serialize for MoodSeconds {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(Emotion::COUNT))?;
        for (e, n) in Emotion::ALL.iter().zip(self.0) {
            m.serialize_entry(e.name(), &n)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DaySeconds {
    /// Local date, YYYY-MM-DD.
    pub day: String,
    pub seconds: MoodSeconds,
}

#[derive(Debug, Clone, Serialize)]
pub struct HourRow {
    /// Local hour of day, 0..23.
    pub hour: u32,
    pub seconds: MoodSeconds,
    /// Mean valence over those seconds; None without any.
    pub valence: Option<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub id: i64,
    /// Unix ms.
    pub started: i64,
    pub ended: i64,
    pub source: String,
    pub profile: Option<String>,
    /// Seconds with a face.
    pub samples: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackRose {
    pub title: String,
    pub artists: String,
    /// How often mood rose after it was opened or played.
    pub times: u32,
}

/// "What helped": for Uplift lists, the valence in the two minutes before a list was shown
/// against minutes 8 to 12 after it; and the tracks after which valence rose.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Helped {
    pub uplift_lists: usize,
    /// Lists with samples both before and after.
    pub measured: usize,
    pub valence_before: Option<f32>,
    pub valence_after: Option<f32>,
    pub tracks: Vec<TrackRose>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub days: u32,
    /// First local day counted.
    pub since: String,
    pub sessions: Vec<SessionRow>,
    /// Seconds with a face over the whole span, per mood.
    pub seconds: MoodSeconds,
    pub per_day: Vec<DaySeconds>,
    pub by_hour: Vec<HourRow>,
    pub helped: Helped,
}

/// One second of a session: probabilities and the stable mood.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub t: i64,
    pub probs: [f32; Emotion::COUNT],
    pub mood: Option<Emotion>,
}

/// In whole minutes from the minute a list was shown or a track opened (m0): before is
/// m0-2..=m0-1; after a list m0+8..=m0+11; after a track m0+1..=m0+4.
const BEFORE: (i64, i64) = (-2, -1);
const AFTER_LIST: (i64, i64) = (8, 11);
const AFTER_TRACK: (i64, i64) = (1, 4);
/// The rise in valence after a track that counts as "rose".
const ROSE_BY: f64 = 0.1;

fn mood_of(i: i64) -> Option<Emotion> {
    usize::try_from(i)
        .ok()
        .and_then(|i| Emotion::ALL.get(i).copied())
}

impl Diary {
    /// The last `days` days, today included.
    pub fn summary(&self, days: u32) -> Result<Summary> {
        let since = local_day_before(days.saturating_sub(1));
        let since_ms = local_midnight_ms(&since).unwrap_or(0);
        let e = |e| self.err(e);
        let mut per_day: Vec<DaySeconds> = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT day, mood, SUM(seconds) FROM hours WHERE day >= ?1
                 GROUP BY day, mood ORDER BY day",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([&since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(e)?;
        let mut seconds = MoodSeconds::default();
        for row in rows {
            let (day, mood, n) = row.map_err(e)?;
            let Some(m) = mood_of(mood) else { continue };
            if per_day.last().is_none_or(|d| d.day != day) {
                per_day.push(DaySeconds {
                    day,
                    seconds: MoodSeconds::default(),
                });
            }
            if let Some(d) = per_day.last_mut() {
                d.seconds.0[m.index()] += n.max(0) as u64;
            }
            seconds.0[m.index()] += n.max(0) as u64;
        }
        Ok(Summary {
            days,
            by_hour: self.by_hour(&since)?,
            sessions: self.sessions(since_ms)?,
            helped: self.helped(since_ms)?,
            since,
            seconds,
            per_day,
        })
    }

    fn by_hour(&self, since: &str) -> Result<Vec<HourRow>> {
        let e = |e| self.err(e);
        let mut out: Vec<HourRow> = (0..24)
            .map(|hour| HourRow {
                hour,
                seconds: MoodSeconds::default(),
                valence: None,
            })
            .collect();
        let mut sums = [0.0f64; 24];
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT hour, mood, SUM(seconds), SUM(valence) FROM hours WHERE day >= ?1
                 GROUP BY hour, mood",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([since], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (hour, mood, n, v) = row.map_err(e)?;
            let (Some(m), Ok(h)) = (mood_of(mood), usize::try_from(hour)) else {
                continue;
            };
            if let Some(o) = out.get_mut(h) {
                o.seconds.0[m.index()] += n.max(0) as u64;
                sums[h] += v;
            }
        }
        for (o, s) in out.iter_mut().zip(sums) {
            let n = o.seconds.total();
            o.valence = (n > 0).then(|| (s / n as f64) as f32);
        }
        Ok(out)
    }

    /// Sessions started since `since_ms`, newest first.
    pub fn sessions(&self, since_ms: i64) -> Result<Vec<SessionRow>> {
        let e = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started, ended, source, profile, samples FROM sessions
                 WHERE started >= ?1 ORDER BY started DESC",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([since_ms], |r| {
                Ok(SessionRow {
                    id: r.get(0)?,
                    started: r.get(1)?,
                    ended: r.get(2)?,
                    source: r.get(3)?,
                    profile: r.get(4)?,
                    samples: r.get(5)?,
                })
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<_>>().map_err(e)
    }

    /// Mean valence of a session's seconds in the minutes `window` around Unix ms `t`, if it
    /// has any there.
    fn valence_near(&self, session: i64, t: i64, window: (i64, i64)) -> Result<Option<f64>> {
        let m0 = t.div_euclid(60_000);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT SUM(valence) / SUM(seconds) FROM minutes
                 WHERE session = ?1 AND minute BETWEEN ?2 AND ?3",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![session, m0 + window.0, m0 + window.1], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn helped(&self, since_ms: i64) -> Result<Helped> {
        let e = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT session, t FROM recommendations
                 WHERE strategy = 'uplift' AND t >= ?1 AND session IS NOT NULL",
            )
            .map_err(e)?;
        let lists: Vec<(i64, i64)> = stmt
            .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(e)?;
        let mut h = Helped {
            uplift_lists: lists.len(),
            ..Helped::default()
        };
        let (mut before, mut after) = (0.0, 0.0);
        for (s, t) in lists {
            let b = self.valence_near(s, t, BEFORE)?;
            let a = self.valence_near(s, t, AFTER_LIST)?;
            if let (Some(b), Some(a)) = (b, a) {
                h.measured += 1;
                before += b;
                after += a;
            }
        }
        if h.measured > 0 {
            h.valence_before = Some((before / h.measured as f64) as f32);
            h.valence_after = Some((after / h.measured as f64) as f32);
        }
        h.tracks = self.tracks_that_rose(since_ms)?;
        Ok(h)
    }

    fn tracks_that_rose(&self, since_ms: i64) -> Result<Vec<TrackRose>> {
        let e = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT session, t, title, artists FROM plays
                 WHERE action IN ('open', 'play') AND t >= ?1 AND session IS NOT NULL",
            )
            .map_err(e)?;
        let plays: Vec<(i64, i64, String, String)> = stmt
            .query_map([since_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(e)?;
        let mut rose: std::collections::BTreeMap<(String, String), u32> = Default::default();
        for (s, t, title, artists) in plays {
            let b = self.valence_near(s, t, BEFORE)?;
            let a = self.valence_near(s, t, AFTER_TRACK)?;
            if let (Some(b), Some(a)) = (b, a)
                && a - b >= ROSE_BY
            {
                *rose.entry((title, artists)).or_default() += 1;
            }
        }
        let mut v: Vec<TrackRose> = rose
            .into_iter()
            .map(|((title, artists), times)| TrackRose {
                title,
                artists,
                times,
            })
            .collect();
        v.sort_by(|a, b| b.times.cmp(&a.times).then_with(|| a.title.cmp(&b.title)));
        v.truncate(5);
        Ok(v)
    }

    /// A session's samples in time order.
    pub(crate) fn timeline(&self, session: i64) -> Result<Vec<TimelinePoint>> {
        let e = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t, angry, disgust, fear, happy, neutral, sad, surprise, mood
                 FROM samples WHERE session = ?1 ORDER BY t",
            )
            .map_err(e)?;
        let rows = stmt
            .query_map([session], |r| {
                let mut probs = [0.0f32; Emotion::COUNT];
                for (i, p) in probs.iter_mut().enumerate() {
                    *p = r.get::<_, i64>(i + 1)? as f32 / 1000.0;
                }
                Ok(TimelinePoint {
                    t: r.get(0)?,
                    probs,
                    mood: r.get::<_, Option<i64>>(8)?.and_then(mood_of),
                })
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<_>>().map_err(e)
    }
}
