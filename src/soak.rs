//! `emotune bench --source DIR --duration 30m`: the app's threads (worker, capture, music) run
//! on a replay source for a long time while RSS, threads and open file descriptors are sampled.
//! The source is reopened every minute and music asked for, so thread churn is part of it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::capture::{CaptureSettings, SourceSpec};
use crate::music::mapping::Mapping;
use crate::music::recommender::Ask;
use crate::music::service::{Music, MusicHandle, MusicRequest};
use crate::pipeline::PipelineSettings;
use crate::pipeline::worker::{Command, Event, Worker, WorkerConfig, default_opener};

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Sample {
    pub(crate) secs: f64,
    pub(crate) rss_kib: u64,
    pub(crate) threads: usize,
    pub(crate) fds: usize,
    pub(crate) frames: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct SoakReport {
    pub(crate) duration_s: f64,
    pub(crate) warmup_s: f64,
    pub(crate) frames: u64,
    pub(crate) errors: u64,
    /// RSS at the end against the first sample after warm-up, in percent.
    pub(crate) rss_growth_pct: f64,
    /// Largest minus smallest count after warm-up.
    pub(crate) thread_spread: usize,
    pub(crate) fd_spread: usize,
    pub(crate) samples: Vec<Sample>,
}

fn proc_count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn sample(start: Instant, frames: u64) -> Sample {
    Sample {
        secs: start.elapsed().as_secs_f64(),
        rss_kib: rss_kib(),
        threads: proc_count("/proc/self/task"),
        fds: proc_count("/proc/self/fd"),
        frames,
    }
}

pub struct SoakOptions<'a> {
    pub source: &'a Path,
    pub model: Option<&'a Path>,
    pub duration: Duration,
    pub every: Duration,
    pub fps: f32,
    pub threads: usize,
}

/// Runs the soak; `progress` sees each sample as it is taken.
pub(crate) fn soak(
    o: &SoakOptions<'_>,
    mut progress: impl FnMut(&Sample),
) -> anyhow::Result<SoakReport> {
    if !Path::new("/proc/self/status").exists() {
        bail!("the soak reads /proc (Linux only)");
    }
    let capture = CaptureSettings {
        replay_fps: o.fps,
        ..CaptureSettings::default()
    };
    let worker = Worker::spawn(
        WorkerConfig {
            model: o.model.map(Path::to_path_buf),
            settings: PipelineSettings::default(),
            inference_threads: o.threads,
            open: default_opener(capture),
        },
        Arc::new(|| {}),
    );
    let music = MusicHandle::spawn(
        Music::new(Mapping::builtin(), None, None).into(),
        Arc::new(|| {}),
    );
    let spec = SourceSpec::Path(o.source.to_path_buf());
    let start = Instant::now();
    let (mut frames, mut errors) = (0u64, 0u64);
    let mut samples = vec![sample(start, 0)];
    let mut reopened = start;
    worker.send(Command::SetSource(spec.clone()));
    while start.elapsed() < o.duration {
        std::thread::sleep(Duration::from_millis(50));
        for ev in worker.poll() {
            match ev {
                Event::Frame(_) => frames += 1,
                Event::Error(e) => {
                    errors += 1;
                    tracing::warn!("soak: {e}");
                }
                Event::ModelError(e) => return Err(e).context("the soak needs the emotion model"),
                _ => {}
            }
        }
        let _ = music.poll();
        if reopened.elapsed() >= Duration::from_secs(60) {
            reopened = Instant::now();
            worker.send(Command::SetSource(spec.clone()));
            music.request(MusicRequest {
                id: frames,
                ask: Ask::new(
                    crate::Emotion::ALL[(frames % 7) as usize],
                    crate::music::Strategy::Match,
                ),
            });
        }
        let due = samples.last().map_or(0.0, |s| s.secs) + o.every.as_secs_f64();
        if start.elapsed().as_secs_f64() >= due {
            samples.push(sample(start, frames));
            progress(samples.last().expect("just pushed"));
        }
    }
    Ok(report(samples, frames, errors, start.elapsed()))
}

/// Growth after warm-up: the first tenth of the run (at least one sample) is left out.
fn report(samples: Vec<Sample>, frames: u64, errors: u64, took: Duration) -> SoakReport {
    let warmup = (took.as_secs_f64() / 10.0).max(samples.get(1).map_or(0.0, |s| s.secs));
    let after: Vec<&Sample> = samples.iter().filter(|s| s.secs >= warmup).collect();
    let spread = |f: fn(&Sample) -> usize| {
        let v = after.iter().map(|s| f(s));
        v.clone().max().unwrap_or(0) - v.min().unwrap_or(0)
    };
    let rss_growth_pct = match (after.first(), after.last()) {
        (Some(a), Some(b)) if a.rss_kib > 0 => {
            (b.rss_kib as f64 - a.rss_kib as f64) / a.rss_kib as f64 * 100.0
        }
        _ => 0.0,
    };
    SoakReport {
        duration_s: took.as_secs_f64(),
        warmup_s: warmup,
        frames,
        errors,
        rss_growth_pct,
        thread_spread: spread(|s| s.threads),
        fd_spread: spread(|s| s.fds),
        samples,
    }
}

impl SoakReport {
    pub(crate) fn to_text(&self) -> String {
        format!(
            "soak {:.0} s ({} frames, {} errors): after {:.0} s warm-up RSS {:+.2} %, threads \
             spread {}, fds spread {}",
            self.duration_s,
            self.frames,
            self.errors,
            self.warmup_s,
            self.rss_growth_pct,
            self.thread_spread,
            self.fd_spread
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_measured_after_warm_up() {
        let s = |secs: f64, rss: u64, threads: usize| Sample {
            secs,
            rss_kib: rss,
            threads,
            fds: 10,
            frames: 0,
        };
        let samples = vec![
            s(0.0, 100, 3),
            s(10.0, 1000, 9),
            s(20.0, 1010, 9),
            s(100.0, 1020, 10),
        ];
        let r = report(samples, 5, 0, Duration::from_secs(100));
        assert_eq!(r.warmup_s, 10.0);
        assert!(
            (r.rss_growth_pct - 2.0).abs() < 1e-9,
            "{}",
            r.rss_growth_pct
        );
        assert_eq!((r.thread_spread, r.fd_spread), (1, 0));
    }
}
