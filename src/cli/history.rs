//! `emotune history`: the mood diary from the command line (summary, export, forget).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};

use crate::diary::{Diary, ExportFormat, Forget, Summary};
use crate::emotion::Emotion;

#[derive(Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    action: Option<HistoryCommand>,
    /// How many days back the summary goes, today included.
    #[arg(long, default_value_t = 30)]
    days: u32,
    #[arg(long)]
    json: bool,
    /// The diary file (default: diary.sqlite3 in the OS data dir, where the window records).
    #[arg(long, value_name = "FILE", global = true)]
    diary: Option<PathBuf>,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Write the whole history: --csv OUT (the mood samples) or --json OUT (everything).
    #[command(group(ArgGroup::new("format").required(true).args(["csv", "json"])))]
    Export {
        #[arg(long, value_name = "OUT")]
        csv: Option<PathBuf>,
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
    },
    /// Delete history for good (then compact the file): everything, before a day, or a session.
    #[command(group(ArgGroup::new("what").required(true).args(["all", "before", "session"])))]
    Forget {
        #[arg(long)]
        all: bool,
        /// Local date, YYYY-MM-DD: everything before it goes.
        #[arg(long, value_name = "YYYY-MM-DD")]
        before: Option<String>,
        /// A session's id (`emotune history` lists them).
        #[arg(long, value_name = "ID")]
        session: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

/// Runs `emotune history …`; returns the exit code.
pub fn run(args: HistoryArgs) -> anyhow::Result<i32> {
    let path = match args.diary {
        Some(p) => p,
        None => {
            Diary::default_path().context("no data directory on this system; pass --diary FILE")?
        }
    };
    match args.action {
        None => summary(&path, args.days, args.json),
        Some(HistoryCommand::Export { csv, json }) => {
            let (out, format) = match (csv, json) {
                (Some(p), _) => (p, ExportFormat::Csv),
                (None, Some(p)) => (p, ExportFormat::Json),
                (None, None) => anyhow::bail!("history export needs --csv OUT or --json OUT"),
            };
            let d = existing(&path)?;
            let n = d.export(&out, format)?;
            eprintln!("{n} mood samples written to {}", out.display());
            Ok(0)
        }
        Some(HistoryCommand::Forget {
            all,
            before,
            session,
            json,
        }) => {
            let what = match (all, before, session) {
                (true, _, _) => Forget::All,
                (_, Some(day), _) => Forget::Before(day),
                (_, _, Some(id)) => Forget::Session(id),
                _ => anyhow::bail!("history forget needs --all, --before DATE or --session ID"),
            };
            let mut d = existing(&path)?;
            let n = d.forget(&what)?;
            if json {
                println!("{}", serde_json::json!({ "samples_deleted": n }));
            } else {
                println!("{n} mood samples deleted from {}", path.display());
            }
            Ok(0)
        }
    }
}

/// The diary at `path`, which must exist (a command that only reads or deletes does not
/// create one).
fn existing(path: &Path) -> anyhow::Result<Diary> {
    if !path.exists() {
        anyhow::bail!(
            "no history at {}: nothing has been recorded there (the window records while it \
             runs; pass --diary FILE for another file)",
            path.display()
        );
    }
    Ok(Diary::open(path)?)
}

fn summary(path: &Path, days: u32, json: bool) -> anyhow::Result<i32> {
    let s = if path.exists() {
        Diary::open(path)?.summary(days.max(1))?
    } else {
        Diary::in_memory()?.summary(days.max(1))?
    };
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print!("{}", to_text(&s, path));
    }
    Ok(0)
}

fn clock(secs: u64) -> String {
    match (secs / 3600, secs / 60 % 60) {
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

/// The summary for people.
fn to_text(s: &Summary, path: &Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let total = s.seconds.total();
    let _ = writeln!(
        o,
        "Last {} days (since {}): {} sessions, {} with a face. Stored in {}",
        s.days,
        s.since,
        s.sessions.len(),
        clock(total),
        path.display()
    );
    if total == 0 {
        o.push_str("Nothing recorded in that time.\n");
        return o;
    }
    for (e, n) in Emotion::ALL.iter().zip(s.seconds.0) {
        let share = n as f64 / total as f64;
        let bar = "#".repeat((share * 40.0).round() as usize);
        let _ = writeln!(o, "  {:<9}{:>5.1} %  {bar}", e.name(), share * 100.0);
    }
    o.push_str("By hour (most seconds, mean valence):\n");
    for h in s.by_hour.iter().filter(|h| h.seconds.total() > 0) {
        let top = h.seconds.top().map_or("-", |e| e.name());
        let _ = writeln!(
            o,
            "  {:02}h  {top:<9}{:+.2}",
            h.hour,
            h.valence.unwrap_or(0.0)
        );
    }
    let h = &s.helped;
    match (h.valence_before, h.valence_after) {
        (Some(b), Some(a)) => {
            let _ = writeln!(
                o,
                "What helped: {} Uplift lists; valence {b:+.2} in the 2 min before, {a:+.2} \
                 8-12 min after ({} measured).",
                h.uplift_lists, h.measured
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "What helped: {} Uplift lists, none with a face both before and after.",
                h.uplift_lists
            );
        }
    }
    for t in &h.tracks {
        let _ = writeln!(
            o,
            "  mood rose after \"{}\" by {} ({}x)",
            t.title, t.artists, t.times
        );
    }
    o.push_str("Sessions (id, start, with a face, source):\n");
    for r in s.sessions.iter().take(10) {
        let who = r
            .profile
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  #{:<5} {}  {:>12}  {}{who}",
            r.id,
            crate::diary::local_time(r.started, "%Y-%m-%d %H:%M"),
            clock(r.samples.max(0) as u64),
            r.source
        );
    }
    if s.sessions.len() > 10 {
        let _ = writeln!(
            o,
            "  ... and {} more (--json lists all)",
            s.sessions.len() - 10
        );
    }
    o
}
