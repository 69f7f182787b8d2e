//! Fills a diary with generated history and times what the history view and
//! `emotune history` ask of it; or, with `--live SECS`, measures the writer's CPU cost at a
//! camera's pace.
//!
//! ```text
//! cargo run --release --example diary_fill -- /tmp/diary.sqlite3 [--days 90] [--hours 8]
//! cargo run --release --example diary_fill -- /tmp/live.sqlite3 --live 60
//! ```
//!
//! The generated days: sessions from 9:00 for `--hours` hours, a sample a second whose mood
//! drifts through the day (brighter at weekends, a dip after lunch), a mood change now and then, an Uplift list every 30 minutes with
//! one track opened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emotune::Emotion;
use emotune::diary::{Diary, DiaryHandle, Entry, Play, Recorder, Shown};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The next ten minutes' mood: brighter at weekends, a dip after lunch.
fn pick(rng: &mut Rng, weekday: i64, hour: i64) -> Emotion {
    let happy = if weekday >= 5 { 0.45 } else { 0.2 };
    let low = if (13..16).contains(&hour) { 0.35 } else { 0.15 };
    let r = rng.next();
    if r < happy {
        Emotion::Happy
    } else if r < happy + low {
        if rng.next() < 0.6 {
            Emotion::Sad
        } else {
            Emotion::Angry
        }
    } else if r < happy + low + 0.05 {
        Emotion::Surprise
    } else {
        Emotion::Neutral
    }
}

/// Probabilities leaning on `e` by `p`, with some noise.
fn probs(e: Emotion, p: f32, rng: &mut Rng) -> [f32; 7] {
    let mut v = [0.0f32; 7];
    for x in &mut v {
        *x = rng.next() * 0.1;
    }
    v[e as usize] += p;
    let sum: f32 = v.iter().sum();
    v.map(|x| x / sum)
}

fn usage_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

/// An Uplift list shown at `t`, and its first track opened 5 s later.
fn uplift(handle: &DiaryHandle, t: i64, mood: Emotion) {
    handle.send(Entry::Shown {
        t,
        shown: Box::new(Shown {
            emotion: mood.to_string(),
            strategy: "uplift".into(),
            source: "offline".into(),
            playlist: "Generated lift".into(),
            url: "https://open.spotify.com/playlist/x".into(),
            tracks: vec![(
                "Sunrise".into(),
                "The Testers".into(),
                "spotify:track:1".into(),
            )],
        }),
    });
    handle.send(Entry::Play {
        t: t + 5_000,
        play: Play {
            action: "open".into(),
            title: "Sunrise".into(),
            artists: "The Testers".into(),
            uri: "spotify:track:1".into(),
        },
    });
}

/// Opens the diary and asks the history view's question, three times.
fn time_summary(path: &std::path::Path) -> anyhow::Result<()> {
    for _ in 0..3 {
        let t = Instant::now();
        let d = Diary::open(path)?;
        let s = d.summary(90)?;
        println!(
            "open + 90-day summary (what the history view asks): {:.0} ms ({} sessions, {} s with a face)",
            t.elapsed().as_secs_f64() * 1e3,
            s.sessions.len(),
            s.seconds.total()
        );
    }
    Ok(())
}

fn fill(path: PathBuf, days: i64, hours: i64) -> anyhow::Result<()> {
    let notify: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let handle = DiaryHandle::spawn(path.clone(), 0, notify);
    let now = emotune::clock::unix_now().as_millis() as i64;
    let day_ms = 86_400_000;
    let today = now - now.rem_euclid(day_ms);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let mut n = 0u64;
    for d in (0..days).rev() {
        let t0 = today - d * day_ms + 9 * 3_600_000;
        handle.send(Entry::Start {
            t: t0,
            source: "camera".into(),
            profile: Some("generated".into()),
        });
        let mut mood = Emotion::Neutral;
        for s in 0..hours * 3600 {
            let t = t0 + s * 1000;
            if s % 600 == 0 {
                let weekday = (t.div_euclid(day_ms) + 3).rem_euclid(7);
                let next = pick(&mut rng, weekday, 9 + s / 3600);
                if next != mood {
                    mood = next;
                    handle.send(Entry::Mood { t, mood });
                }
            }
            if s % 1800 == 900 {
                uplift(&handle, t, mood);
            }
            let p = probs(mood, 0.5 + rng.next() * 0.4, &mut rng);
            handle.send(Entry::Sample {
                t,
                probs: p,
                mood: Some(mood),
            });
            n += 1;
        }
        handle.send(Entry::End {
            t: t0 + hours * 3_600_000,
        });
    }
    drop(handle);
    println!(
        "wrote {n} samples over {days} days in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("file: {} ({:.1} MB)", path.display(), size as f64 / 1e6);
    time_summary(&path)
}

/// Feeds the recorder 30 frames a second for `secs` seconds, as the window does, and reports
/// the process's CPU time over the wall time.
fn live(path: PathBuf, secs: u64) -> anyhow::Result<()> {
    let notify: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let mut r = Recorder::spawn(path, 0, notify);
    r.start("camera", None);
    let mut rng = Rng(7);
    let (cpu0, wall0) = (usage_cpu(), Instant::now());
    let frame = Duration::from_secs_f64(1.0 / 30.0);
    let mut next = Instant::now();
    while wall0.elapsed() < Duration::from_secs(secs) {
        let t = emotune::clock::unix_now().as_millis() as i64;
        r.frame(
            t,
            Some(probs(Emotion::Happy, 0.6, &mut rng)),
            Some(Emotion::Happy),
        );
        next += frame;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    drop(r);
    let (cpu, wall) = (usage_cpu() - cpu0, wall0.elapsed());
    println!(
        "recorder + writer at 30 frames/s for {:.0} s: {:.3} % of one core ({:.1} ms CPU)",
        wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() * 1e3
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().map(PathBuf::from) else {
        anyhow::bail!("usage: diary_fill FILE [--days N] [--hours H] | FILE --live SECS");
    };
    let opt = |name: &str, default: i64| -> anyhow::Result<i64> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?
                .parse()?),
            None => Ok(default),
        }
    };
    if args.iter().any(|a| a == "--live") {
        return live(path, opt("--live", 60)?.max(1) as u64);
    }
    if path.exists() {
        anyhow::bail!("{} exists; give a new file", path.display());
    }
    fill(path, opt("--days", 90)?, opt("--hours", 8)?)
}
