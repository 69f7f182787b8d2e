//! The command-line subcommands (everything except the desktop app).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::capture::load_rgb;
use crate::emotion::EmotionScores;
use crate::music::recommender::{Ask, Recommender};
use crate::pipeline::PipelineSettings;
use crate::vision::preprocess::{FaceCrop, face_input, luma, whole_image_input};
use crate::vision::{DetectorSettings, EmotionClassifier, FaceDetector, classifier};

pub(crate) fn load_classifier(
    model: Option<&Path>,
    threads: usize,
) -> anyhow::Result<EmotionClassifier> {
    classifier::configure_threads(threads);
    let path = classifier::resolve_model_path(model)?;
    Ok(EmotionClassifier::load(&path)?)
}

mod eval;
pub mod history;
pub mod people;
pub mod profile;
pub mod spotify;
#[cfg(feature = "measure")]
pub use eval::ThroughDetectorArgs;
pub use eval::{EvalOptions, NeuralOverrides, eval, parse_unit_interval};

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
    /// The model's own scores, where a profile or neutral reference adjusted `scores`.
    #[serde(skip_serializing_if = "Option::is_none")]
    unadjusted: Option<EmotionScores>,
}

#[derive(Serialize)]
struct ImageJson {
    image: String,
    faces: Vec<FaceJson>,
    error: Option<String>,
}

/// Settings for photos: faces can be anywhere from small to the whole frame.
pub(crate) fn photo_detector_settings() -> DetectorSettings {
    DetectorSettings {
        // A photo is scanned once: look for faces down to 1/12 of its height.
        min_face_height: 1.0 / 12.0,
        pyramid_factor: 0.8,
        ..DetectorSettings::default()
    }
}

fn classify_one(
    path: &Path,
    clf: &EmotionClassifier,
    det: &mut FaceDetector,
    assume_face: bool,
    crop: &FaceCrop,
) -> crate::Result<Vec<FaceJson>> {
    let rgb = load_rgb(path)?;
    let gray = luma(&rgb);
    let (boxes, inputs) = if assume_face {
        let b = crate::vision::BBox::new(0.0, 0.0, gray.width() as f32, gray.height() as f32);
        (vec![b], vec![whole_image_input(&gray)])
    } else {
        let found = det.detect(crate::vision::Frame::with_color(&gray, &rgb));
        let inputs = found
            .iter()
            .map(|d| face_input(&gray, &d.bbox, d.roll, crop))
            .collect();
        (found.into_iter().map(|d| d.bbox).collect(), inputs)
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
                unadjusted: None,
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
    personal: profile::Personal<'_>,
) -> anyhow::Result<i32> {
    let model = classifier::resolve_model_path(model)?;
    let clf = load_classifier(Some(&model), all_cores())?;
    let mut det = crate::pipeline::detector(photo_detector_settings())?;
    let crop = PipelineSettings::default().crop;
    let adjustment = profile::adjustment(personal, &model, &clf, &mut det, assume_face)?;
    if let Some((_, what)) = &adjustment {
        eprintln!("note: scores {what}");
    }
    let mut failed = 0;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in images {
        let mut result = classify_one(path, &clf, &mut det, assume_face, &crop);
        if let (Ok(faces), Some((adj, _))) = (&mut result, &adjustment) {
            for f in faces {
                let s = adj.apply(&f.scores);
                let (e, p) = s.dominant();
                f.unadjusted = Some(std::mem::replace(&mut f.scores, s));
                f.emotion = e.name();
                f.confidence = p;
            }
        }
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
// bench

/// `frames`: per set; None = 300 for a single image, each set's own length for folders.
pub fn bench(
    source: &Path,
    frames: Option<usize>,
    model: Option<&Path>,
    threads: usize,
    json: bool,
    neural: NeuralOverrides,
) -> anyhow::Result<()> {
    let clf = load_classifier(model, threads)?;
    let frames = frames.unwrap_or(if source.is_file() { 300 } else { 0 });
    // Flat out, every frame costs all its stages: what is measured here. The work a steady
    // scene skips is measured at a camera's pace (`--rate`).
    let mut settings = PipelineSettings {
        economy: crate::pipeline::EconomySettings::off(),
        ..Default::default()
    };
    neural.apply(&mut settings.detector);
    let reports = crate::bench::bench(source, frames, clf, threads, settings)?;
    print_reports(&reports, json, |r| r.to_text())
}

/// `bench --rate`: each set paced like a camera for `duration`; per set one report.
pub fn bench_rate(
    source: &Path,
    model: Option<&Path>,
    threads: usize,
    rate: f32,
    duration: Duration,
    json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        duration >= Duration::from_millis(100),
        "--duration {duration:?} is too short to pace frames: give at least 0.1s (e.g. 20s)"
    );
    let clf = load_classifier(model, threads)?;
    let o = crate::bench::RateOptions {
        rate: f64::from(rate),
        duration,
    };
    let reports = crate::bench::bench_rate(source, clf, PipelineSettings::default(), o)?;
    print_reports(&reports, json, |r| r.to_text())
}

/// One report as JSON, several as `{"sets": [...]}`, or each as text.
fn print_reports<R: Serialize>(
    reports: &[R],
    json: bool,
    text: impl Fn(&R) -> String,
) -> anyhow::Result<()> {
    match (json, reports) {
        (true, [one]) => println!("{}", serde_json::to_string(one)?),
        (true, many) => println!("{}", serde_json::json!({ "sets": many })),
        (false, many) => {
            for r in many {
                println!("{}", text(r));
            }
        }
    }
    Ok(())
}

/// The soak: one progress line per sample on stderr, the report on stdout.
#[cfg(feature = "measure")]
pub fn soak(o: &crate::soak::SoakOptions<'_>, json: bool) -> anyhow::Result<()> {
    let report = crate::soak::soak(o, |s| {
        eprintln!(
            "{:>6.0} s  rss {:>7} KiB  threads {:>3}  fds {:>3}  frames {}",
            s.secs, s.rss_kib, s.threads, s.fds, s.frames
        );
    })?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.to_text());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// recommend

/// The music policy as the user set it up (settings, mapping, Spotify; warnings printed), and
/// the ask for a mood in the active profile's taste with the user's own playlist for it.
fn recommender_for(
    env: &crate::config::SpotifyEnv,
    emotion: crate::Emotion,
    strategy: crate::music::Strategy,
) -> (Recommender, Ask) {
    let (settings, warning) = crate::config::Settings::load_user();
    let (music, warnings) = crate::music::service::Music::from_user(
        env,
        Duration::from_secs(4),
        settings.music_refresh,
    );
    for w in warning.into_iter().chain(warnings) {
        eprintln!("warning: {w}");
    }
    let active = profile::active_profile();
    let ask = Ask {
        taste: active
            .as_ref()
            .map(|p| (&p.music).into())
            .unwrap_or_default(),
        // The active profile's pick; one an older version kept in settings.toml still counts.
        own: active
            .as_ref()
            .and_then(|p| p.own_playlist(emotion, strategy))
            .or_else(|| {
                settings
                    .own_playlists
                    .get(&crate::profile::own_key(emotion, strategy))
            })
            .cloned(),
        ..Ask::new(emotion, strategy)
    };
    (Recommender::new(music, env.clone()), ask)
}

/// Returns the exit code: 1 when the asked-for source could not serve.
pub fn recommend(
    env: &crate::config::SpotifyEnv,
    emotion: crate::Emotion,
    strategy: crate::music::Strategy,
    pref: crate::music::SourcePreference,
    refresh: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let (recommender, ask) = recommender_for(env, emotion, strategy);
    let ask = Ask {
        pref,
        refresh,
        ..ask
    };
    let rt = crate::service::runtime().map_err(anyhow::Error::msg)?;
    let outcome = match rt.block_on(recommender.recommend(&ask)) {
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
            let dur = t.length().map(|l| format!(" [{l}]")).unwrap_or_default();
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
