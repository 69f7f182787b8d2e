//! `emotune history export`: the whole diary as CSV (the mood samples) or JSON (everything),
//! streamed row by row so a long history never sits in memory.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::{Diary, DiaryError, Result, valence};
use crate::emotion::Emotion;

/// Which format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Local time of a Unix ms, ISO 8601 with the offset.
fn local_time(t: i64) -> String {
    super::local_time(t, "%Y-%m-%dT%H:%M:%S%:z")
}

impl Diary {
    /// Writes the export to `out` (through a temporary file, so a failure leaves no half
    /// file); returns the number of samples written.
    pub fn export(&self, out: &Path, format: ExportFormat) -> Result<u64> {
        let io = |e: std::io::Error| DiaryError::Other {
            path: out.to_path_buf(),
            message: e.to_string(),
        };
        let tmp = out.with_extension("part");
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let mut w = std::io::BufWriter::new(file);
        let n = match format {
            ExportFormat::Csv => self.write_csv(&mut w),
            ExportFormat::Json => self.write_json(&mut w),
        };
        let n = n.and_then(|n| {
            w.into_inner()
                .map_err(|e| io(e.into_error()))
                .and_then(|f| f.sync_all().map_err(io))
                .map(|()| n)
        });
        match n {
            Ok(n) => {
                std::fs::rename(&tmp, out).map_err(io)?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Each sample: its session, local time, the seven probabilities, the stable mood and
    /// the valence.
    fn each_sample(
        &self,
        mut f: impl FnMut(i64, i64, [f32; Emotion::COUNT], Option<Emotion>) -> Result<()>,
    ) -> Result<u64> {
        let e = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT session, t, angry, disgust, fear, happy, neutral, sad, surprise, mood
                 FROM samples ORDER BY session, t",
            )
            .map_err(e)?;
        let mut rows = stmt.query([]).map_err(e)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(e)? {
            let mut p = [0.0f32; Emotion::COUNT];
            for (i, v) in p.iter_mut().enumerate() {
                *v = r.get::<_, i64>(i + 2).map_err(e)? as f32 / 1000.0;
            }
            let mood = r
                .get::<_, Option<i64>>(9)
                .map_err(e)?
                .and_then(|m| usize::try_from(m).ok())
                .and_then(|m| Emotion::ALL.get(m).copied());
            f(r.get(0).map_err(e)?, r.get(1).map_err(e)?, p, mood)?;
            n += 1;
        }
        Ok(n)
    }

    fn write_csv(&self, w: &mut impl Write) -> Result<u64> {
        let io = |e: std::io::Error| DiaryError::Other {
            path: self.path().to_path_buf(),
            message: format!("export: {e}"),
        };
        let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.name()).collect();
        writeln!(w, "session,time,{},mood,valence", names.join(",")).map_err(io)?;
        self.each_sample(|s, t, p, mood| {
            let probs: Vec<String> = p.iter().map(|v| format!("{v:.3}")).collect();
            writeln!(
                w,
                "{s},{},{},{},{:.3}",
                local_time(t),
                probs.join(","),
                mood.map(|m| m.name()).unwrap_or(""),
                valence(&p)
            )
            .map_err(io)
        })
    }

    fn write_json(&self, w: &mut impl Write) -> Result<u64> {
        let io = |e: std::io::Error| DiaryError::Other {
            path: self.path().to_path_buf(),
            message: format!("export: {e}"),
        };
        let head = json!({
            "schema": super::schema::LATEST,
            "sessions": self.sessions(i64::MIN)?,
            "recommendations": self.rows_json(
                "SELECT session, t, emotion, strategy, source, playlist, url, tracks FROM recommendations ORDER BY t",
                &["session", "t", "emotion", "strategy", "source", "playlist", "url", "tracks"])?,
            "plays": self.rows_json(
                "SELECT session, t, action, title, artists, uri FROM plays ORDER BY t",
                &["session", "t", "action", "title", "artists", "uri"])?,
            "corrections": self.rows_json(
                "SELECT session, t, said, meant FROM corrections ORDER BY t",
                &["session", "t", "said", "meant"])?,
        });
        // The head's object without its closing brace, then the samples streamed after it.
        let head = head.to_string();
        let open = head.strip_suffix('}').unwrap_or(&head);
        write!(w, "{open},\"samples\":[").map_err(io)?;
        let mut first = true;
        let n = self.each_sample(|s, t, p, mood| {
            let scores: serde_json::Map<String, serde_json::Value> = Emotion::ALL
                .iter()
                .zip(p)
                .map(|(e, v)| (e.name().to_string(), json!((v * 1000.0).round() / 1000.0)))
                .collect();
            let row = json!({"session": s, "t": t, "time": local_time(t), "scores": scores,
                             "mood": mood.map(|m| m.name())});
            let sep = if first { "\n" } else { ",\n" };
            first = false;
            write!(w, "{sep}{row}").map_err(io)
        })?;
        writeln!(w, "\n]}}").map_err(io)?;
        Ok(n)
    }

    /// Small tables as JSON objects keyed by `names` (the `tracks` column is JSON itself).
    fn rows_json(&self, sql: &str, names: &[&str]) -> Result<Vec<serde_json::Value>> {
        let e = |e| self.err(e);
        let mut stmt = self.conn.prepare(sql).map_err(e)?;
        let rows = stmt
            .query_map([], |r| {
                let mut m = serde_json::Map::new();
                for (i, name) in names.iter().enumerate() {
                    let v: rusqlite::types::Value = r.get(i)?;
                    let v = match v {
                        rusqlite::types::Value::Null => serde_json::Value::Null,
                        rusqlite::types::Value::Integer(n) => json!(n),
                        rusqlite::types::Value::Real(x) => json!(x),
                        rusqlite::types::Value::Text(s) if *name == "tracks" => {
                            serde_json::from_str(&s).unwrap_or(json!(s))
                        }
                        rusqlite::types::Value::Text(s) => json!(s),
                        rusqlite::types::Value::Blob(_) => serde_json::Value::Null,
                    };
                    m.insert((*name).to_string(), v);
                }
                Ok(serde_json::Value::Object(m))
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<_>>().map_err(e)
    }
}
