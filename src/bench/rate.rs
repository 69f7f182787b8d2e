//! `emotune bench --rate FPS`: the pipeline at a camera's pace rather than flat out. Frame i is
//! offered at t0 + i/rate; a frame whose successor is already due when the pipeline is free is
//! dropped, as a camera's latest-frame-wins queue drops it. Reported: the process's CPU time
//! over wall time (% of one core), per frame latency from the frame's arrival to its result,
//! frames processed and dropped, RSS, and when the stable mood changed.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{BenchSet, Percentiles, percentiles};
use crate::pipeline::{FrameResult, Pipeline};

#[derive(Debug, Clone, Copy)]
pub(crate) struct RateOptions {
    /// Frames per second offered.
    pub(crate) rate: f64,
    /// How long frames are offered.
    pub(crate) duration: Duration,
}

#[derive(Debug, Serialize)]
pub(crate) struct MoodChange {
    /// Camera time of the frame the new mood came with, from the start of the run.
    pub(crate) t_s: f64,
    /// The set's file the frame was.
    pub(crate) frame: String,
    pub(crate) mood: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct RateReport {
    pub(crate) set: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) rate: f64,
    pub(crate) duration_s: f64,
    pub(crate) frames_offered: u64,
    pub(crate) frames_processed: u64,
    pub(crate) frames_dropped: u64,
    /// The whole process's CPU time (all threads) over wall time, in % of one core; None where
    /// the OS does not say.
    pub(crate) cpu_pct: Option<f64>,
    /// Milliseconds from a frame's arrival to its result.
    pub(crate) latency: Percentiles,
    pub(crate) faces_per_frame: f64,
    pub(crate) full_scans: u64,
    /// Faces sent to the classifier, all frames together.
    pub(crate) faces_classified: u64,
    /// Frames the pipeline found unchanged and answered from the last one.
    pub(crate) frames_reused: u64,
    /// Linux only: the process's peak resident set (VmHWM, loading included) and the resident
    /// set at the end; `frames_kib` of it is the decoded set the bench holds in memory.
    pub(crate) rss_peak_kib: Option<u64>,
    pub(crate) rss_final_kib: Option<u64>,
    pub(crate) frames_kib: u64,
    pub(crate) mood_changes: Vec<MoodChange>,
}

/// Parses `90s`, `30m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. 90s, 30m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; use s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is out of range"))
}

/// The process's user + system CPU time, all threads.
#[cfg(unix)]
fn cpu_time() -> Option<Duration> {
    // SAFETY: getrusage only writes the struct it is given; zeroed is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

#[cfg(not(unix))]
fn cpu_time() -> Option<Duration> {
    None
}

/// A `kB` line of /proc/self/status (Linux).
fn status_kib(key: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What the results of one run add up to.
#[derive(Default)]
struct Tally {
    latency_ms: Vec<f64>,
    faces: u64,
    full_scans: u64,
    classified: u64,
    reused: u64,
    moods: Vec<MoodChange>,
}

impl Tally {
    fn add(&mut self, r: Option<FrameResult>, t0: Instant, set: &BenchSet, rate: f64) {
        let Some(r) = r else { return };
        self.latency_ms
            .push((t0.elapsed().saturating_sub(r.at)).as_secs_f64() * 1e3);
        self.faces += r.faces.len() as u64;
        self.full_scans += u64::from(r.timings.full_scan);
        self.classified += r.timings.classified as u64;
        self.reused += u64::from(r.timings.reused);
        if let (true, Some(m)) = (r.mood.changed, r.mood.stable) {
            let i = (r.at.as_secs_f64() * rate).round() as usize;
            self.moods.push(MoodChange {
                t_s: r.at.as_secs_f64(),
                frame: set.frames[i % set.frames.len()].0.clone(),
                mood: m.to_string(),
            });
        }
    }
}

/// Offers `set`'s frames (looped) at `o.rate` for `o.duration` and runs them as the app's
/// worker does: submitted as they come, finished at once unless the next frame is already due
/// (then its detection overlaps this one's classification).
pub(crate) fn run_paced(
    pipeline: &mut Pipeline,
    set: &BenchSet,
    o: RateOptions,
) -> anyhow::Result<RateReport> {
    anyhow::ensure!(!set.frames.is_empty(), "{}: no frames", set.name);
    // Warm-up: first-call allocations in libtorch and the detector.
    for (_, img) in set.frames.iter().cycle().take(5) {
        pipeline.process(img.clone(), Duration::ZERO)?;
    }
    pipeline.reset();
    let due = |i: u64| Duration::from_secs_f64(i as f64 / o.rate);
    let mut tally = Tally::default();
    let (mut next, mut dropped) = (0u64, 0u64);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    loop {
        let now = t0.elapsed();
        if now >= o.duration {
            break;
        }
        // The newest frame the camera has delivered by now; older ones not taken are lost.
        let newest = (now.as_secs_f64() * o.rate).floor() as u64;
        if newest < next {
            std::thread::sleep(due(next).saturating_sub(now));
            continue;
        }
        dropped += newest - next;
        next = newest + 1;
        let img = set.frames[(newest % set.frames.len() as u64) as usize]
            .1
            .clone();
        let earlier = pipeline.submit(img, due(newest))?;
        tally.add(earlier, t0, set, o.rate);
        if t0.elapsed() < due(next) {
            tally.add(pipeline.flush()?, t0, set, o.rate);
        }
    }
    tally.add(pipeline.flush()?, t0, set, o.rate);
    let wall = t0.elapsed();
    let cpu_pct = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() / wall.as_secs_f64() * 1e2),
        _ => None,
    };
    let processed = tally.latency_ms.len() as u64;
    let (w, h) = set.frames[0].1.dimensions();
    let frames_kib = set
        .frames
        .iter()
        .map(|(_, f)| f.as_raw().len() as u64 / 1024)
        .sum();
    Ok(RateReport {
        set: set.name.clone(),
        width: w,
        height: h,
        rate: o.rate,
        duration_s: wall.as_secs_f64(),
        frames_offered: next,
        frames_processed: processed,
        frames_dropped: dropped,
        cpu_pct,
        latency: percentiles(tally.latency_ms),
        faces_per_frame: tally.faces as f64 / processed.max(1) as f64,
        full_scans: tally.full_scans,
        faces_classified: tally.classified,
        frames_reused: tally.reused,
        rss_peak_kib: status_kib("VmHWM:"),
        rss_final_kib: status_kib("VmRSS:"),
        frames_kib,
        mood_changes: tally.moods,
    })
}

impl RateReport {
    pub(crate) fn to_text(&self) -> String {
        let kib =
            |v: Option<u64>| v.map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0));
        let cpu = self
            .cpu_pct
            .map_or("? (not measured here)".into(), |c| format!("{c:.1} %"));
        let mut s = format!(
            "{}: {}x{} at {} fps for {:.1} s\n  CPU {cpu} of one core\n  latency p50 {:.1} ms  p95 {:.1} ms\n  {} frames offered, {} processed, {} dropped, {} reused unchanged\n  {:.2} faces/frame, {} full scans, {} faces classified\n  RSS peak {}, final {} ({:.0} MiB of it the decoded frames)",
            self.set,
            self.width,
            self.height,
            self.rate,
            self.duration_s,
            self.latency.p50,
            self.latency.p95,
            self.frames_offered,
            self.frames_processed,
            self.frames_dropped,
            self.frames_reused,
            self.faces_per_frame,
            self.full_scans,
            self.faces_classified,
            kib(self.rss_peak_kib),
            kib(self.rss_final_kib),
            self.frames_kib as f64 / 1024.0,
        );
        for m in &self.mood_changes {
            s += &format!("\n  mood {} at {:.2} s ({})", m.mood, m.t_s, m.frame);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("soon").is_err() && parse_duration("5d").is_err());
    }
}
