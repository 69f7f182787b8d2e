//! BlazeFace against rustface on the frames `emotune eval --through-detector` builds: how often
//! each finds the face, how often either does, the boxes on texture, and how a BlazeFace box
//! maps onto the box rustface gives the same face (the medians `src/vision/neural.rs` uses).
//!
//!     cargo run --release --example neural_probe -- FER2013_DIR [PublicTest|PrivateTest] [N] [THRESHOLDS]
//!
//! Tune on PublicTest; PrivateTest is for the report.

use std::io::Write;
use std::path::PathBuf;

use emotune::eval::{Split, list_labelled};
use emotune::vision::DetectorSettings;
use emotune::vision::neural::{BOX_MAP, NeuralDetector, RawFace};
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::fer_scene;
use emotune::vision::testset::hit;

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
}

/// Counts over the frames.
#[derive(Default)]
struct Tally {
    frames: usize,
    rust_found: usize,
    /// Per threshold: found by BlazeFace, by either, boxes on texture.
    per: Vec<(usize, usize, usize)>,
    /// Faces both found upright: rustface side / BlazeFace width, centre offsets in widths,
    /// BlazeFace's roll.
    scale: Vec<f32>,
    dx: Vec<f32>,
    dy: Vec<f32>,
    roll: Vec<f32>,
}

fn args() -> (PathBuf, Split, usize, Vec<f32>) {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: neural_probe FER2013_DIR [PublicTest|PrivateTest] [N] [T1,T2,..]");
        std::process::exit(2);
    };
    let split = match args.next().as_deref() {
        Some("PrivateTest") => Split::PrivateTest,
        _ => Split::PublicTest,
    };
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let thresholds: Vec<f32> = args
        .next()
        .unwrap_or_else(|| "0.5,0.6,0.7".into())
        .split(',')
        .filter_map(|t| t.parse().ok())
        .collect();
    (PathBuf::from(dir), split, n, thresholds)
}

/// Every BlazeFace box of frame `i` as a CSV row: frame, score, hit, rustface agrees, eye
/// distance / width, height / width, roll.
fn dump_rows(out: &mut impl Write, i: usize, raw: &[RawFace], truth: &BBox, rs: &[BBox]) {
    for f in raw {
        let d = f.detection(BOX_MAP);
        let [(ex0, ey0), (ex1, ey1)] = f.eyes;
        let eye_dist = (ex1 - ex0).hypot(ey1 - ey0) / f.w;
        let _ = writeln!(
            out,
            "{i},{:.4},{},{},{:.3},{:.3},{:.1}",
            f.score,
            u8::from(hit(&[d.bbox], truth)),
            u8::from(rs.iter().any(|r| r.same_face(&d.bbox, 0.3))),
            eye_dist,
            f.h / f.w,
            d.roll
        );
    }
}

fn main() {
    let (dir, split, n, thresholds) = args();
    // EMOTUNE_PROBE_CSV=FILE: every BlazeFace box, to study what separates faces from texture.
    let mut dump =
        std::env::var_os("EMOTUNE_PROBE_CSV").map(|p| std::fs::File::create(p).expect("CSV file"));
    let lowest = thresholds.iter().copied().fold(1.0f32, f32::min);
    let items = list_labelled(&dir, split).expect("FER-2013 folder");
    let mut det = emotune::pipeline::detector(DetectorSettings {
        neural_score: 1.0,
        ..DetectorSettings::default()
    })
    .expect("detector");
    let neural = NeuralDetector::embedded().expect("BlazeFace");
    let mut t = Tally {
        per: vec![(0, 0, 0); thresholds.len()],
        ..Tally::default()
    };
    for (i, (path, _)) in items.iter().take(n).enumerate() {
        let face = image::open(path).expect("FER image").to_luma8();
        let scene = fer_scene(&face, i as u64);
        let gray = luma(&scene.frame);
        t.frames += 1;
        let rs: Vec<_> = det.detect(&gray);
        let rs_hit = rs.iter().find(|d| hit(&[d.bbox], &scene.face));
        t.rust_found += usize::from(rs_hit.is_some());
        let full = BBox::new(0.0, 0.0, gray.width() as f32, gray.height() as f32);
        let raw = neural.detect(&gray, full, lowest);
        if let Some(out) = dump.as_mut() {
            let boxes: Vec<BBox> = rs.iter().map(|r| r.bbox).collect();
            dump_rows(out, i, &raw, &scene.face, &boxes);
        }
        for (k, thr) in thresholds.iter().enumerate() {
            let dets: Vec<_> = raw
                .iter()
                .filter(|f| f.score >= *thr)
                .map(|f| f.detection(BOX_MAP))
                .collect();
            let found = dets.iter().any(|d| hit(&[d.bbox], &scene.face));
            t.per[k].0 += usize::from(found);
            t.per[k].1 += usize::from(found || rs_hit.is_some());
            t.per[k].2 += dets
                .iter()
                .filter(|d| !d.bbox.same_face(&scene.face, 0.3))
                .count();
        }
        // Geometry: faces both found upright (rustface's box has no roll then).
        if let Some(r) = rs_hit.filter(|r| r.roll == 0.0) {
            let (rcx, rcy) = r.bbox.center();
            let rw = r.bbox.to_array()[2] as f32;
            if let Some(f) = raw
                .iter()
                .filter(|f| f.score >= 0.5)
                .find(|f| r.bbox.contains((f.cx, f.cy)))
            {
                t.scale.push(rw / f.w);
                t.dx.push((rcx - f.cx) / f.w);
                t.dy.push((rcy - f.cy) / f.w);
                t.roll.push(f.roll());
            }
        }
    }
    report(&mut t, split, &thresholds);
}

fn report(t: &mut Tally, split: Split, thresholds: &[f32]) {
    let frames = t.frames;
    println!(
        "{frames} frames of {split:?}; rustface (full settings) found {}",
        t.rust_found
    );
    for (k, thr) in thresholds.iter().enumerate() {
        let (b, e, s) = t.per[k];
        println!(
            "BlazeFace ≥ {thr:.2}: found {:.2} %, either {:.2} %, boxes on texture {s}",
            100.0 * b as f64 / frames as f64,
            100.0 * e as f64 / frames as f64
        );
    }
    let pairs = t.scale.len();
    let mut abs_roll: Vec<f32> = t.roll.iter().map(|r| r.abs()).collect();
    println!(
        "box map over {pairs} faces both found upright: scale {:.3}, dx {:+.3}, dy {:+.3}; \
         BlazeFace roll median {:+.1}°, |roll| median {:.1}°",
        median(&mut t.scale),
        median(&mut t.dx),
        median(&mut t.dy),
        median(&mut t.roll),
        median(&mut abs_roll)
    );
}
