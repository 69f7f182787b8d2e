//! How much of the frame's color BlazeFace should see (`DetectorSettings::neural_saturation`),
//! measured on color faces: each portrait given is pasted into textured rooms (tilted up to
//! ±MAX_ROLL°, turned a little, mirrored; `scene::portrait_scene`) and the full detector —
//! rustface, then BlazeFace where rustface finds no one — runs with each setting. Empty rooms
//! count the boxes on texture, where BlazeFace runs on every scan.
//!
//!     cargo run --release --example color_probe -- PORTRAITS_DIR [N] [MAX_ROLL] [EMPTY] [SAT@SCORE,...]
//!
//! e.g. `0@0.4,0.5@0.5,1@0.6`: saturation 0 (gray) with BlazeFace's threshold 0.4, and so on.
//! PORTRAITS_DIR holds color photos of one person each (.jpg/.png); each portrait's face box is
//! rustface's on the upright photo. Nothing is written.

use std::path::{Path, PathBuf};

use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::{empty_room, portrait_scene};
use emotune::vision::testset::hit;
use emotune::vision::{DetectorSettings, FaceDetector, Frame};

/// Tilt buckets reported: |roll| below 20°, 20–40°, 40° and more.
const BUCKETS: [&str; 3] = ["<20°", "20–40°", "≥40°"];

fn bucket(roll: f32) -> usize {
    match roll.abs() {
        r if r < 20.0 => 0,
        r if r < 40.0 => 1,
        _ => 2,
    }
}

#[derive(Default)]
struct Tally {
    faces: [usize; 3],
    found: [usize; 3],
    by_blazeface: usize,
    strays: usize,
    empty_strays: usize,
}

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn detector(settings: DetectorSettings) -> FaceDetector {
    emotune::pipeline::detector(settings).unwrap_or_else(|e| fail(e.to_string()))
}

/// Every photo in `dir` with rustface's largest upright face in it.
fn portraits(dir: &Path) -> Vec<(image::RgbImage, BBox)> {
    let rd = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", dir.display())));
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            matches!(ext.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
        })
        .collect();
    files.sort();
    let mut finder = detector(DetectorSettings {
        neural_score: 1.0,
        ..DetectorSettings::default()
    });
    let mut out = Vec::new();
    for f in &files {
        let rgb = match image::open(f) {
            Ok(i) => i.to_rgb8(),
            Err(e) => {
                eprintln!("skipped {}: {e}", f.display());
                continue;
            }
        };
        let faces = finder.detect(&luma(&rgb));
        match faces.iter().max_by_key(|d| d.bbox.to_array()[2]) {
            Some(face) => out.push((rgb, face.bbox)),
            None => eprintln!("skipped {}: rustface finds no upright face", f.display()),
        }
    }
    out
}

fn measure(
    people: &[(image::RgbImage, BBox)],
    settings: DetectorSettings,
    (n, max_roll, empty): (u64, f32, u64),
) -> Tally {
    let mut det = detector(settings);
    let mut t = Tally::default();
    for (i, (rgb, face)) in people.iter().enumerate() {
        for k in 0..n {
            let (s, roll) = portrait_scene(rgb, *face, (i as u64) << 32 | k, max_roll);
            let found = det.detect(Frame::with_color(&luma(&s.frame), &s.frame));
            let b = bucket(roll);
            t.faces[b] += 1;
            if let Some(d) = found.iter().find(|d| hit(&[d.bbox], &s.face)) {
                t.found[b] += 1;
                t.by_blazeface += usize::from(d.is_neural());
            }
            t.strays += found.iter().filter(|d| !hit(&[d.bbox], &s.face)).count();
        }
    }
    for k in 0..empty {
        let room = empty_room(0xE0E0 + k);
        t.empty_strays += det.detect(Frame::with_color(&luma(&room), &room)).len();
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: color_probe PORTRAITS_DIR [N] [MAX_ROLL] [EMPTY] [SAT@SCORE,...]");
        std::process::exit(2);
    };
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let max_roll: f32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let empty: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(500);
    let default = DetectorSettings::default();
    let configs: Vec<(f32, f32)> = match args.get(4) {
        Some(list) => list
            .split(',')
            .filter_map(|c| {
                let (sat, score) = c.split_once('@').unwrap_or((c, ""));
                Some((
                    sat.parse().ok()?,
                    score.parse().unwrap_or(default.neural_score),
                ))
            })
            .collect(),
        None => vec![(0.0, 0.4), (0.5, 0.4), (1.0, 0.4)],
    };
    let people = portraits(&dir);
    if people.is_empty() {
        fail(format!("no portrait with a face in {}", dir.display()));
    }
    println!(
        "{} portraits × {n} frames (tilt up to ±{max_roll}°), {empty} empty rooms\n\
         saturation@score | found {} | all | by BlazeFace | strays: with a face | in empty rooms",
        people.len(),
        BUCKETS.join(" | ")
    );
    for (sat, score) in configs {
        let settings = DetectorSettings {
            neural_saturation: sat,
            neural_score: score,
            ..default
        };
        let t = measure(&people, settings, (n, max_roll, empty));
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        let cells: Vec<String> = (0..3)
            .map(|b| format!("{:.1} % of {}", pct(t.found[b], t.faces[b]), t.faces[b]))
            .collect();
        let (all, total) = (t.found.iter().sum(), t.faces.iter().sum());
        println!(
            "{sat}@{score} | {} | {:.1} % | {} | {} | {}",
            cells.join(" | "),
            pct(all, total),
            t.by_blazeface,
            t.strays,
            t.empty_strays
        );
    }
}
