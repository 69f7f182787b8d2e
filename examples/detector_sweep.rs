//! Detection rate vs speed of rustface settings on webcam-sized frames (the README's table).
//!
//!     cargo run --release --example detector_sweep [-- FER2013_DIR [N]]
//!
//! Set A: the public-domain astronaut portrait, 90 variants (face 70–260 px, left/centre/right,
//! mirrored, exposure ×0.6/×1/×1.3) in 640×480 frames. Set B (when FER-2013 is given or found):
//! N PublicTest faces upscaled to 160–280 px in textured frames (as `eval --through-detector`).
//! Set C: 120 frames of the cold benchmark set (new textured room every frame).

use std::path::{Path, PathBuf};
use std::time::Instant;

use emotune::eval::{Split, list_labelled};
use emotune::vision::DetectorSettings;
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::{SetKind, fer_scene, set_frame, set_room};
use emotune::vision::testset::{ASTRONAUT_FACE, Sample, hit, portrait_variants};

fn fer_set(dir: &Path, n: usize) -> Vec<Sample> {
    let Ok(items) = list_labelled(dir, Split::PublicTest) else {
        return Vec::new();
    };
    let step = (items.len() / n.max(1)).max(1);
    items
        .iter()
        .step_by(step)
        .take(n)
        .enumerate()
        .filter_map(|(i, (p, _))| Some(fer_scene(&image::open(p).ok()?.to_luma8(), i as u64)))
        .collect()
}

/// Detection rate, false positives (boxes on no face) and full-scan p50 (ms, two threads).
fn measure(settings: DetectorSettings, set: &[Sample]) -> (f64, usize, f64) {
    let mut det = emotune::pipeline::detector(settings).expect("detector");
    let (mut hits, mut fp) = (0, 0);
    let mut ms = Vec::new();
    for s in set {
        let g = luma(&s.frame);
        let t = Instant::now();
        let found: Vec<BBox> = det.detect(&g).into_iter().map(|d| d.bbox).collect();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits += hit(&found, &s.face) as usize;
        fp += found.iter().filter(|b| !hit(&[s.face], b)).count();
    }
    ms.sort_by(f64::total_cmp);
    (
        hits as f64 / set.len().max(1) as f64,
        fp,
        ms.get(ms.len() / 2).copied().unwrap_or(0.0),
    )
}

/// Set C: the cold benchmark set (a new textured room and face position every frame).
fn cold_set(portrait: &image::RgbImage, n: u32) -> Vec<Sample> {
    let room = set_room(SetKind::Cold, 0);
    (0..n)
        .filter_map(|i| {
            let f = set_frame(SetKind::Cold, portrait, ASTRONAUT_FACE, &room, i, 7);
            Some(Sample {
                face: *f.faces.first()?,
                frame: f.frame,
                label: format!("cold {i}"),
            })
        })
        .collect()
}

/// The settings compared: face size × pyramid factor, and a coarser window step (upright
/// passes only), then the rolled passes' settings.
fn grid(default: DetectorSettings) -> Vec<DetectorSettings> {
    let base = DetectorSettings {
        roll_degrees: 0.0,
        ..default
    };
    let mut grid = Vec::new();
    for &px in &[40.0f32, 53.0, 80.0, 107.0] {
        for &pf in &[0.8f32, 0.7] {
            grid.push(DetectorSettings {
                min_face_height: px / 480.0,
                pyramid_factor: pf,
                window_step: 4,
                ..base
            });
        }
    }
    // rustface's own threshold, with the pyramid before and after the change to 0.8.
    for &pf in &[0.8f32, 0.7] {
        grid.push(DetectorSettings {
            pyramid_factor: pf,
            score_thresh: 2.0,
            ..base
        });
    }
    grid.push(DetectorSettings {
        window_step: 6,
        ..base
    });
    // Finer than the default, affordable since the vendored rustface halved a scan's cost.
    for (pf, step, score) in [
        (0.8f32, 2, 1.5),
        (0.85, 4, 1.5),
        (0.9, 4, 1.5),
        (0.8, 4, 1.0),
    ] {
        grid.push(DetectorSettings {
            pyramid_factor: pf,
            window_step: step,
            score_thresh: score,
            ..base
        });
    }
    // Rolled passes: angle, their score threshold and window step.
    for (deg, score, step) in [
        (25.0f32, 2.0, 6),
        (25.0, 1.5, 4),
        (25.0, 2.0, 4),
        (20.0, 2.0, 6),
    ] {
        grid.push(DetectorSettings {
            roll_degrees: deg,
            roll_score_thresh: score,
            roll_window_step: step,
            ..default
        });
    }
    grid
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let portrait = image::open(root.join("tests/fixtures/astronaut.png"))
        .expect("fixture")
        .to_rgb8();
    let set_a = portrait_variants(&portrait, ASTRONAUT_FACE);
    let mut args = std::env::args().skip(1);
    let fer_dir = args
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FER2013_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::BaseDirs::new().map(|b| b.cache_dir().join("emotune/datasets/fer2013"))
        });
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let set_b = fer_dir.map(|d| fer_set(&d, n)).unwrap_or_default();
    let set_c = cold_set(&portrait, 120);
    println!(
        "set A: {} portrait frames; set B: {} FER-2013 frames on texture; set C: {} cold frames (640x480)\n",
        set_a.len(),
        set_b.len(),
        set_c.len()
    );
    println!(
        "| min face (of 480 lines) | pyramid | step | score ≥ | rolled passes (score ≥, step) | A: detected | B: detected | C: detected | C: false pos. | C: full scan p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let base = DetectorSettings::default();
    let grid = grid(base);
    for s in grid {
        let (ra, _, _) = measure(s, &set_a);
        let (rb, _, _) = measure(s, &set_b);
        let (rc, fc, tc) = measure(s, &set_c);
        let default = if s == base { " (default)" } else { "" };
        let rolled = if s.roll_degrees == 0.0 {
            "none".to_string()
        } else {
            format!(
                "±{}° ({}, {})",
                s.roll_degrees, s.roll_score_thresh, s.roll_window_step
            )
        };
        let pct = |set: &[Sample], r: f64| {
            if set.is_empty() {
                "–".to_string()
            } else {
                format!("{:.1} %", r * 100.0)
            }
        };
        println!(
            "| {:.0} px{default} | {} | {} | {} | {} | {:.1} % | {} | {:.1} % | {fc} | {tc:.1} ms |",
            s.min_face_height * 480.0,
            s.pyramid_factor,
            s.window_step,
            s.score_thresh,
            rolled,
            ra * 100.0,
            pct(&set_b, rb),
            rc * 100.0,
        );
    }
    // Between full scans the pipeline searches a window twice the tracked face's size.
    let mut det = emotune::pipeline::detector(base).expect("detector");
    let (mut hits, mut ms) = (0usize, Vec::new());
    for s in &set_a {
        let g = luma(&s.frame);
        let t = Instant::now();
        let found: Vec<BBox> = det
            .detect_around(&g, &s.face, 0.0)
            .into_iter()
            .map(|d| d.bbox)
            .collect();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits += hit(&found, &s.face) as usize;
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "\ntracked window (2x face, default settings), set A: {:.1} % found, p50 {:.2} ms",
        hits as f64 * 100.0 / set_a.len() as f64,
        ms[ms.len() / 2]
    );
}
