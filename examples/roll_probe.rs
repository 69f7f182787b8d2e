//! Would extra detector passes on the frame rotated by ±θ find the tilted faces the upright
//! pass misses? rustface's cascade is trained on upright faces; heads tilted while laughing or
//! lying down are a large share of its misses on FER-2013. Runs `emotune eval
//! --through-detector`'s PrivateTest frames (the same seeds) through the app's detector
//! upright and rotated by each angle, and counts the faces found by each pass and by any.
//!
//!     cargo run --release --example roll_probe -- FER2013_DIR [N] [ANGLES] [MISSES_JSON]
//!
//! ANGLES: degrees, comma-separated (default 25,-25). MISSES_JSON (optional output): the
//! indices of the frames no pass found, and of those only a rotated pass found.

use std::path::PathBuf;

use emotune::eval::{Split, list_labelled};
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::fer_scene;
use emotune::vision::testset::hit;
use emotune::vision::{DetectorSettings, rotate_gray, unrotate_point};
use image::GrayImage;

/// A box found in the frame rotated by `deg`, as an upright box of the same size around the
/// same face centre in the frame's coordinates.
fn unrotate(b: BBox, deg: f32, w: u32, h: u32) -> BBox {
    let [x, y, bw, bh] = b.to_array().map(|v| v as f32);
    let (cx, cy) = unrotate_point((x + bw / 2.0, y + bh / 2.0), (w, h), deg);
    BBox::new(cx - bw / 2.0, cy - bh / 2.0, bw, bh)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: roll_probe FER2013_DIR [N] [ANGLES] [MISSES_JSON]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3589);
    let angles: Vec<f32> = args
        .next()
        .unwrap_or_else(|| "25,-25".into())
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let misses_out = args.next().map(PathBuf::from);
    let items = list_labelled(&PathBuf::from(dir), Split::PrivateTest).expect("FER-2013 folder");
    // Upright passes only: the rotations are this probe's own.
    let upright = DetectorSettings {
        roll_degrees: 0.0,
        neural_score: 1.0,
        ..DetectorSettings::default()
    };
    let mut det = emotune::pipeline::detector(upright).expect("detector");
    let mut found_by = vec![0usize; angles.len()];
    let mut stray_by = vec![0usize; angles.len()];
    let (mut frames, mut upright, mut any, mut stray_upright) = (0, 0, 0, 0);
    let (mut missed, mut only_rotated) = (Vec::new(), Vec::new());
    for (i, (path, _)) in items.iter().take(n).enumerate() {
        let face = image::open(path).expect("FER image").to_luma8();
        let scene = fer_scene(&face, i as u64);
        let gray = luma(&scene.frame);
        let (w, h) = gray.dimensions();
        let found: Vec<BBox> = det.detect(&gray).into_iter().map(|d| d.bbox).collect();
        let a = hit(&found, &scene.face);
        stray_upright += found.len() - usize::from(a);
        let mut by_rotation = false;
        for (k, &deg) in angles.iter().enumerate() {
            let rotated = GrayImage::from_raw(w, h, rotate_gray(gray.as_raw(), w, h, deg))
                .expect("same size");
            let boxes: Vec<BBox> = det
                .detect(&rotated)
                .into_iter()
                .map(|d| unrotate(d.bbox, deg, w, h))
                .collect();
            let b = hit(&boxes, &scene.face);
            found_by[k] += usize::from(b);
            stray_by[k] += boxes.len() - usize::from(b);
            by_rotation |= b;
        }
        frames += 1;
        upright += usize::from(a);
        any += usize::from(a || by_rotation);
        if !a && !by_rotation {
            missed.push(i);
        } else if !a {
            only_rotated.push(i);
        }
    }
    let pct = |k: usize| 100.0 * k as f64 / frames.max(1) as f64;
    println!(
        "{frames} frames: upright {upright} ({:.1} %), stray boxes {stray_upright}",
        pct(upright)
    );
    for (k, deg) in angles.iter().enumerate() {
        println!(
            "  rotated {deg:+}°: {} ({:.1} %), stray boxes {}",
            found_by[k],
            pct(found_by[k]),
            stray_by[k]
        );
    }
    println!("by any pass: {any} ({:.1} %)", pct(any));
    if let Some(out) = misses_out {
        let json = serde_json::json!({ "missed": missed, "only_rotated": only_rotated });
        std::fs::write(&out, json.to_string()).expect("misses written");
    }
}
