//! `emotune bench`: the real per-frame pipeline over frames held in memory (no disk or UI in
//! the loop), per stage timings, and — where a set carries `truth.json` — how many reported
//! faces hit no true face (false positives) and how many true faces were missed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use image::RgbImage;
use serde::Serialize;

use crate::capture::{files::list_images, load_rgb};
use crate::pipeline::{FrameResult, Pipeline, PipelineSettings};
use crate::vision::{BBox, EmotionClassifier, hit};

mod rate;
pub use rate::parse_duration;
pub(crate) use rate::{RateOptions, RateReport};

#[derive(Debug, Serialize, Clone, Copy)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p95: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct BenchReport {
    pub(crate) set: String,
    pub(crate) frames: usize,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) fps: f64,
    pub(crate) detect: Percentiles,
    pub(crate) classify: Percentiles,
    /// Classification time divided by the faces classified in the frame, over frames with one.
    pub(crate) classify_per_face: Percentiles,
    pub(crate) total: Percentiles,
    /// Faces the pipeline reported (boxes the UI draws), per frame.
    pub(crate) faces_per_frame: f64,
    pub(crate) full_scans: usize,
    pub(crate) inference_threads: usize,
    /// Only with truth.json: true faces per frame, reported faces that hit none of them, true
    /// faces no reported face hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) truth_faces_per_frame: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) false_positives: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) missed: Option<usize>,
}

fn percentiles(mut ms: Vec<f64>) -> Percentiles {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if ms.is_empty() {
            return 0.0;
        }
        ms[((ms.len() - 1) as f64 * q).round() as usize]
    };
    Percentiles {
        p50: at(0.5),
        p95: at(0.95),
    }
}

/// One set: its frames (file name, image) and, if it has one, its truth per file name.
pub(crate) struct BenchSet {
    pub(crate) name: String,
    pub(crate) frames: Vec<(String, Arc<RgbImage>)>,
    pub(crate) truth: Option<HashMap<String, Vec<BBox>>>,
}

/// The sets under `source`: an image, a folder of frames, or a folder of such folders.
pub(crate) fn load_sets(source: &Path) -> anyhow::Result<Vec<BenchSet>> {
    if source.is_file() {
        let img = Arc::new(load_rgb(source)?);
        return Ok(vec![BenchSet {
            name: file_name(source),
            frames: vec![(file_name(source), img)],
            truth: None,
        }]);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(source)
        .with_context(|| format!("{}: cannot read this folder", source.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    let has_frames = list_images(source).is_ok();
    if has_frames || subdirs.is_empty() {
        return Ok(vec![load_set(source)?]);
    }
    subdirs.iter().map(|d| load_set(d)).collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn load_set(dir: &Path) -> anyhow::Result<BenchSet> {
    let frames = list_images(dir)?
        .into_iter()
        .map(|p| Ok((file_name(&p), Arc::new(load_rgb(&p)?))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let truth_path = dir.join("truth.json");
    let truth = if truth_path.is_file() {
        Some(read_truth(&truth_path)?)
    } else {
        None
    };
    Ok(BenchSet {
        name: file_name(dir),
        frames,
        truth,
    })
}

#[derive(serde::Deserialize)]
struct TruthDoc {
    frames: Vec<TruthFrame>,
}

#[derive(serde::Deserialize)]
struct TruthFrame {
    file: String,
    faces: Vec<[f32; 4]>,
}

fn read_truth(path: &Path) -> anyhow::Result<HashMap<String, Vec<BBox>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let doc: TruthDoc = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a truth file ({{\"frames\": [{{\"file\", \"faces\": [[x,y,w,h]]}}]}}); \
             regenerate the sets with `cargo run --release --example benchsets`",
            path.display()
        )
    })?;
    Ok(doc
        .frames
        .into_iter()
        .map(|f| {
            let boxes = f.faces.iter().map(|b| BBox::new(b[0], b[1], b[2], b[3]));
            (f.file, boxes.collect())
        })
        .collect())
}

/// Runs `frames` frames of `set` (cycled) through a fresh pipeline.
pub(crate) fn run_set(
    pipeline: &mut Pipeline,
    set: &BenchSet,
    frames: usize,
    threads: usize,
) -> anyhow::Result<BenchReport> {
    let frames = frames.max(1);
    // Warm-up: first-call allocations in libtorch and the detector.
    for (_, img) in set.frames.iter().cycle().take(5) {
        pipeline.process(img.clone(), Duration::ZERO)?;
    }
    pipeline.reset();
    let (mut det, mut cls, mut tot, mut per_face) = (vec![], vec![], vec![], vec![]);
    let (mut faces, mut full, mut truth_faces, mut fp, mut missed) = (0, 0, 0, 0, 0);
    let mut tally = |r: FrameResult, name: &str| {
        det.push(r.timings.detect.as_secs_f64() * 1e3);
        cls.push(r.timings.classify.as_secs_f64() * 1e3);
        if r.timings.classified > 0 {
            let ms = r.timings.classify.as_secs_f64() * 1e3;
            per_face.push(ms / r.timings.classified as f64);
        }
        tot.push(r.timings.total.as_secs_f64() * 1e3);
        faces += r.faces.len();
        full += r.timings.full_scan as usize;
        if let Some(truth) = set.truth.as_ref().and_then(|t| t.get(name)) {
            let found: Vec<BBox> = r.faces.iter().map(|f| f.bbox).collect();
            truth_faces += truth.len();
            fp += found.iter().filter(|b| !hit(truth, b)).count();
            missed += truth.iter().filter(|t| !hit(&found, t)).count();
        }
    };
    // Frames as fast as they can go, as the worker runs them when the next frame is always
    // waiting: each frame's faces are classified while the next one is detected.
    let start = Instant::now();
    let mut previous: Option<&str> = None;
    for (i, (name, img)) in set.frames.iter().cycle().take(frames).enumerate() {
        // Timestamps as if frames came at 30 fps, so the mood logic sees a realistic clock.
        let earlier = pipeline.submit(img.clone(), Duration::from_millis(i as u64 * 33))?;
        if let (Some(r), Some(n)) = (earlier, previous) {
            tally(r, n);
        }
        previous = Some(name);
    }
    if let (Some(r), Some(n)) = (pipeline.flush()?, previous) {
        tally(r, n);
    }
    let wall = start.elapsed().as_secs_f64();
    let with_truth = set.truth.is_some();
    let (w, h) = set.frames.first().map_or((0, 0), |(_, f)| f.dimensions());
    Ok(BenchReport {
        set: set.name.clone(),
        frames,
        width: w,
        height: h,
        fps: frames as f64 / wall,
        detect: percentiles(det),
        classify: percentiles(cls),
        classify_per_face: percentiles(per_face),
        total: percentiles(tot),
        faces_per_frame: faces as f64 / frames as f64,
        full_scans: full,
        inference_threads: threads,
        truth_faces_per_frame: with_truth.then_some(truth_faces as f64 / frames as f64),
        false_positives: with_truth.then_some(fp),
        missed: with_truth.then_some(missed),
    })
}

/// `frames`: per set; 0 = each set's own length (once through).
pub(crate) fn bench(
    source: &Path,
    frames: usize,
    clf: EmotionClassifier,
    threads: usize,
    settings: PipelineSettings,
) -> anyhow::Result<Vec<BenchReport>> {
    let sets = load_sets(source)?;
    let mut pipeline = Pipeline::new(clf, settings)?;
    sets.iter()
        .map(|s| {
            let n = if frames == 0 { s.frames.len() } else { frames };
            run_set(&mut pipeline, s, n, threads)
        })
        .collect()
}

/// `--rate`: each set paced like a camera (see `rate`), one after the other.
pub(crate) fn bench_rate(
    source: &Path,
    clf: EmotionClassifier,
    settings: PipelineSettings,
    o: RateOptions,
) -> anyhow::Result<Vec<RateReport>> {
    let sets = load_sets(source)?;
    let mut pipeline = Pipeline::new(clf, settings)?;
    sets.iter()
        .map(|s| rate::run_paced(&mut pipeline, s, o))
        .collect()
}

impl BenchReport {
    pub(crate) fn to_text(&self) -> String {
        let mut s = format!(
            "{}: {} frames of {}x{}: {:.1} FPS\n  detect   p50 {:.2} ms  p95 {:.2} ms\n  classify p50 {:.2} ms  p95 {:.2} ms  (per face p50 {:.2} ms)\n  total    p50 {:.2} ms  p95 {:.2} ms\n  {:.2} faces/frame, {} full scans",
            self.set,
            self.frames,
            self.width,
            self.height,
            self.fps,
            self.detect.p50,
            self.detect.p95,
            self.classify.p50,
            self.classify.p95,
            self.classify_per_face.p50,
            self.total.p50,
            self.total.p95,
            self.faces_per_frame,
            self.full_scans
        );
        if let (Some(t), Some(fp), Some(m)) = (
            self.truth_faces_per_frame,
            self.false_positives,
            self.missed,
        ) {
            s += &format!(" (truth {t:.2}/frame), {fp} false positives, {m} missed");
        }
        s
    }
}
