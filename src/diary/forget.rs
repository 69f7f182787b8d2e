//! Deleting history for real: rows removed, the hourly totals rebuilt to match, then VACUUM and
//! a WAL checkpoint so the deleted pages are gone from the files too.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::params;

use super::writer::hour_mood;
use super::{Diary, DiaryError, Result, local_day_hour, local_midnight_ms, valence};
use crate::emotion::Emotion;

/// What to forget.
#[derive(Debug, Clone, PartialEq)]
pub enum Forget {
    All,
    /// Everything before this local day (YYYY-MM-DD).
    Before(String),
    Session(i64),
}

impl Diary {
    /// Deletes, then VACUUMs. Returns how many mood samples went.
    pub fn forget(&mut self, what: &Forget) -> Result<u64> {
        let n = self.forget_quietly(what)?;
        self.conn
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Deletes without compacting the file (the retention at start, which must be quick).
    pub(crate) fn forget_quietly(&mut self, what: &Forget) -> Result<u64> {
        let path = self.path().to_path_buf();
        let err = |e: rusqlite::Error| DiaryError::from_sqlite(&path, &e);
        let cutoff = match what {
            Forget::Before(day) => {
                Some(local_midnight_ms(day).ok_or_else(|| DiaryError::Other {
                    path: path.clone(),
                    message: format!("{day:?} is not a date; use YYYY-MM-DD"),
                })?)
            }
            _ => None,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let n = match (what, cutoff) {
            (Forget::All, _) => {
                let n: i64 = tx
                    .query_row("SELECT count(*) FROM samples", [], |r| r.get(0))
                    .map_err(err)?;
                tx.execute_batch(
                    "DELETE FROM samples; DELETE FROM moods; DELETE FROM hours; DELETE FROM minutes;
                     DELETE FROM recommendations; DELETE FROM plays; DELETE FROM corrections;
                     DELETE FROM sessions;",
                )
                .map_err(err)?;
                n as u64
            }
            (Forget::Before(day), Some(c)) => before(&tx, day, c).map_err(err)?,
            (Forget::Session(id), _) => session(&tx, *id).map_err(err)?,
            (Forget::Before(_), None) => 0,
        };
        tx.commit().map_err(err)?;
        Ok(n)
    }
}

fn before(tx: &rusqlite::Transaction<'_>, day: &str, cutoff: i64) -> rusqlite::Result<u64> {
    let n = tx.execute(
        "DELETE FROM samples WHERE session IN (SELECT id FROM sessions WHERE started < ?1)
         AND t < ?1",
        [cutoff],
    )?;
    for table in ["moods", "recommendations", "plays", "corrections"] {
        tx.execute(&format!("DELETE FROM {table} WHERE t < ?1"), [cutoff])?;
    }
    tx.execute(
        "DELETE FROM minutes WHERE minute < ?1",
        [cutoff.div_euclid(60_000)],
    )?;
    tx.execute("DELETE FROM sessions WHERE ended < ?1", [cutoff])?;
    // A session that ran across the cutoff keeps its later part.
    tx.execute(
        "UPDATE sessions SET started = ?1,
            samples = (SELECT count(*) FROM samples WHERE session = sessions.id)
         WHERE started < ?1",
        [cutoff],
    )?;
    tx.execute("DELETE FROM hours WHERE day < ?1", [day])?;
    Ok(n as u64)
}

fn session(tx: &rusqlite::Transaction<'_>, id: i64) -> rusqlite::Result<u64> {
    let span: Option<(i64, i64)> = tx
        .query_row(
            "SELECT started, ended FROM sessions WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some((started, ended)) = span else {
        return Ok(0);
    };
    let n = tx.execute("DELETE FROM samples WHERE session = ?1", [id])?;
    tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    let mut days = BTreeSet::new();
    let mut t = started;
    while t <= ended {
        days.insert(local_day_hour(t).0);
        t += 3_600_000;
    }
    days.insert(local_day_hour(ended).0);
    rebuild_hours(tx, &days)?;
    Ok(n as u64)
}

/// Recomputes the hourly totals of `days` from the samples that remain.
fn rebuild_hours(tx: &rusqlite::Transaction<'_>, days: &BTreeSet<String>) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(());
    };
    let from = local_midnight_ms(first).unwrap_or(i64::MIN);
    let to = local_midnight_ms(last).map_or(i64::MAX, |t| t + 26 * 3_600_000);
    for d in days {
        tx.execute("DELETE FROM hours WHERE day = ?1", [d])?;
    }
    let mut totals: BTreeMap<(String, u32, usize), (i64, f64)> = BTreeMap::new();
    let mut stmt = tx.prepare(
        "SELECT s.t, s.angry, s.disgust, s.fear, s.happy, s.neutral, s.sad, s.surprise, s.mood
         FROM sessions JOIN samples s ON s.session = sessions.id
         WHERE sessions.started <= ?2 AND sessions.ended >= ?1 AND s.t BETWEEN ?1 AND ?2",
    )?;
    let mut rows = stmt.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        let t: i64 = r.get(0)?;
        let (day, hour) = local_day_hour(t);
        if !days.contains(&day) {
            continue;
        }
        let mut p = [0.0f32; Emotion::COUNT];
        for (i, v) in p.iter_mut().enumerate() {
            *v = r.get::<_, i64>(i + 1)? as f32 / 1000.0;
        }
        let stable = r
            .get::<_, Option<i64>>(8)?
            .and_then(|m| usize::try_from(m).ok())
            .and_then(|m| Emotion::ALL.get(m).copied());
        let e = totals
            .entry((day, hour, hour_mood(&p, stable)))
            .or_default();
        e.0 += 1;
        e.1 += f64::from(valence(&p));
    }
    for ((day, hour, mood), (n, v)) in totals {
        tx.execute(
            "INSERT INTO hours VALUES (?1, ?2, ?3, ?4, ?5)",
            params![day, hour, mood as i64, n, v],
        )?;
    }
    Ok(())
}
