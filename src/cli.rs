//! The command-line subcommands (everything except the desktop app).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::capture::{files::list_images, load_rgb};
use crate::emotion::EmotionScores;
use crate::eval::{self, Split};
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::vision::preprocess::{face_input, luma, whole_image_input};
use crate::vision::{DetectorSettings, EmotionClassifier, FaceDetector, classifier};

pub fn load_classifier(model: Option<&Path>, threads: usize) -> anyhow::Result<EmotionClassifier> {
    classifier::configure_threads(threads);
    let path = classifier::resolve_model_path(model)?;
    Ok(EmotionClassifier::load(&path)?)
}

fn all_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// classify

#[derive(Serialize)]
struct FaceJson {
    #[serde(rename = "box")]
    bbox: [i64; 4],
    emotion: &'static str,
    confidence: f32,
    scores: EmotionScores,
}

#[derive(Serialize)]
struct ImageJson {
    image: String,
    faces: Vec<FaceJson>,
    error: Option<String>,
}

/// Settings for photos: faces can be anywhere from small to the whole frame.
pub fn photo_detector_settings() -> DetectorSettings {
    DetectorSettings {
        scan_width: 640,
        min_face: 24,
        pyramid_factor: 0.8,
        ..DetectorSettings::default()
    }
}

fn classify_one(
    path: &Path,
    clf: &EmotionClassifier,
    det: &mut FaceDetector,
    assume_face: bool,
    margin: f32,
) -> crate::Result<Vec<FaceJson>> {
    let rgb = load_rgb(path)?;
    let gray = luma(&rgb);
    let (boxes, inputs) = if assume_face {
        let b = crate::vision::BBox::new(0.0, 0.0, gray.width() as f32, gray.height() as f32);
        (vec![b], vec![whole_image_input(&gray)])
    } else {
        let boxes: Vec<_> = det.detect(&gray).into_iter().map(|d| d.bbox).collect();
        let inputs = boxes.iter().map(|b| face_input(&gray, b, margin)).collect();
        (boxes, inputs)
    };
    let scores = clf.classify(&inputs)?;
    Ok(boxes
        .iter()
        .zip(scores)
        .map(|(b, s)| {
            let (e, p) = s.dominant();
            FaceJson {
                bbox: b.to_array(),
                emotion: e.name(),
                confidence: p,
                scores: s,
            }
        })
        .collect())
}

/// Returns the process exit code: 1 if any image failed.
pub fn classify(
    images: &[PathBuf],
    model: Option<&Path>,
    json: bool,
    assume_face: bool,
) -> anyhow::Result<i32> {
    let clf = load_classifier(model, all_cores())?;
    let mut det = FaceDetector::new(photo_detector_settings())?;
    let margin = PipelineSettings::default().face_margin;
    let mut failed = 0;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in images {
        let result = classify_one(path, &clf, &mut det, assume_face, margin);
        let (faces, error) = match result {
            Ok(f) => (f, None),
            Err(e) => {
                failed += 1;
                (Vec::new(), Some(e.to_string()))
            }
        };
        if json {
            let doc = ImageJson {
                image: path.display().to_string(),
                faces,
                error,
            };
            writeln!(out, "{}", serde_json::to_string(&doc)?)?;
        } else if let Some(e) = error {
            eprintln!("error: {e}");
        } else if faces.is_empty() {
            writeln!(
                out,
                "{}: no face found (try --assume-face for pre-cropped faces)",
                path.display()
            )?;
        } else {
            for f in faces {
                let [x, y, w, h] = f.bbox;
                writeln!(
                    out,
                    "{}: {} {:.0}% at x={x} y={y} {w}x{h}",
                    path.display(),
                    f.emotion,
                    f.confidence * 100.0
                )?;
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

// ---------------------------------------------------------------------------------------------
// eval

pub fn eval(
    data: &Path,
    split: Split,
    model: Option<&Path>,
    json: bool,
    confusion: Option<&Path>,
) -> anyhow::Result<()> {
    let clf = load_classifier(model, all_cores())?;
    let items = eval::list_labelled(data, split)?;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(items.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = eval::evaluate(&clf, &items, 256, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    if let Some(png) = confusion {
        let title = format!(
            "FER-2013 {split:?}: accuracy {:.2} % (n = {})",
            report.accuracy * 100.0,
            report.n
        );
        report.save_confusion_png(png, &title)?;
        eprintln!("confusion matrix written to {}", png.display());
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// bench

#[derive(Serialize)]
struct Percentiles {
    p50: f64,
    p95: f64,
}

#[derive(Serialize)]
struct BenchReport {
    frames: usize,
    width: u32,
    height: u32,
    fps: f64,
    detect: Percentiles,
    classify: Percentiles,
    /// Classification time divided by the faces in the frame, over frames with a face.
    classify_per_face: Percentiles,
    total: Percentiles,
    faces_per_frame: f64,
    full_scans: usize,
    inference_threads: usize,
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

/// Runs the real per-frame pipeline over frames held in memory (no disk or UI in the loop).
pub fn bench(
    source: &Path,
    frames: usize,
    model: Option<&Path>,
    threads: usize,
    json: bool,
) -> anyhow::Result<()> {
    let paths = if source.is_dir() {
        list_images(source)?
    } else {
        vec![source.to_path_buf()]
    };
    let images: Vec<Arc<image::RgbImage>> = paths
        .iter()
        .map(|p| load_rgb(p).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let clf = load_classifier(model, threads)?;
    let mut pipeline = Pipeline::new(clf, PipelineSettings::default())?;
    let frames = frames.max(1);
    // Warm-up: first-call allocations in libtorch and the detector.
    for img in images.iter().cycle().take(5) {
        pipeline.process(img.clone(), Duration::ZERO)?;
    }
    pipeline.reset();
    let (mut det, mut cls, mut tot) = (Vec::new(), Vec::new(), Vec::new());
    let mut per_face = Vec::new();
    let (mut faces, mut full) = (0usize, 0usize);
    let start = Instant::now();
    for (i, img) in images.iter().cycle().take(frames).enumerate() {
        // Timestamps as if frames came at 30 fps, so the mood logic sees a realistic clock.
        let r = pipeline.process(img.clone(), Duration::from_millis(i as u64 * 33))?;
        det.push(r.timings.detect.as_secs_f64() * 1e3);
        cls.push(r.timings.classify.as_secs_f64() * 1e3);
        if !r.faces.is_empty() {
            per_face.push(r.timings.classify.as_secs_f64() * 1e3 / r.faces.len() as f64);
        }
        tot.push(r.timings.total.as_secs_f64() * 1e3);
        faces += r.faces.len();
        full += r.timings.full_scan as usize;
    }
    let wall = start.elapsed().as_secs_f64();
    let report = BenchReport {
        frames,
        width: images[0].width(),
        height: images[0].height(),
        fps: frames as f64 / wall,
        detect: percentiles(det),
        classify: percentiles(cls),
        classify_per_face: percentiles(per_face),
        total: percentiles(tot),
        faces_per_frame: faces as f64 / frames as f64,
        full_scans: full,
        inference_threads: threads,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} frames of {}x{}: {:.1} FPS\n  detect   p50 {:.2} ms  p95 {:.2} ms\n  classify p50 {:.2} ms  p95 {:.2} ms  (per face p50 {:.2} ms)\n  total    p50 {:.2} ms  p95 {:.2} ms\n  {:.2} faces/frame, {} full scans",
            report.frames,
            report.width,
            report.height,
            report.fps,
            report.detect.p50,
            report.detect.p95,
            report.classify.p50,
            report.classify.p95,
            report.classify_per_face.p50,
            report.total.p50,
            report.total.p95,
            report.faces_per_frame,
            report.full_scans
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// recommend

/// Returns the exit code: 1 when the asked-for source could not serve.
pub fn recommend(
    emotion: crate::Emotion,
    strategy: crate::music::Strategy,
    pref: crate::music::SourcePreference,
    refresh: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let (settings, warning) = crate::config::Settings::load_user();
    let (music, warnings) = crate::music::service::Music::from_env(
        Duration::from_secs(4),
        Some(settings.music_cache_ttl()),
    );
    for w in warning.into_iter().chain(warnings) {
        eprintln!("warning: {w}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = match rt.block_on(music.recommend(emotion, strategy, pref, refresh)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    for n in &outcome.notes {
        eprintln!("note: {n}");
    }
    let rec = &outcome.recommendation;
    if json {
        println!("{}", serde_json::to_string(rec)?);
    } else {
        println!(
            "{} ({:?}, {:?}): {}",
            rec.emotion, rec.strategy, rec.source, rec.playlist.name
        );
        for t in &rec.tracks {
            let dur = t
                .duration_ms
                .map(|ms| format!(" [{}:{:02}]", ms / 60000, ms / 1000 % 60))
                .unwrap_or_default();
            println!("  {} - {}{dur}  {}", t.title, t.artists.join(", "), t.url);
        }
    }
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// devices

pub fn devices(json: bool) -> anyhow::Result<()> {
    let cams = crate::capture::list_cameras().context("listing cameras")?;
    if json {
        println!("{}", serde_json::to_string(&cams)?);
    } else if cams.is_empty() {
        println!(
            "no cameras found (none connected, or no permission to open /dev/video*); use --source PATH for an image or a folder"
        );
    } else {
        for c in cams {
            println!("camera:{}  {}  ({})", c.index, c.name, c.description);
        }
    }
    Ok(())
}
