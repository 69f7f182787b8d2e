//! Would a second detector pass on the mirrored frame find the faces the first misses? Runs
//! `emotune eval --through-detector`'s PrivateTest frames (the same seeds) through the app's
//! detector as they are and mirrored, and counts the faces found by each and by either.
//!
//!     cargo run --release --example mirror_probe -- FER2013_DIR [N]

use std::path::PathBuf;

use emotune::eval::{Split, list_labelled};
use emotune::vision::DetectorSettings;
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::fer_scene;
use emotune::vision::testset::hit;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: mirror_probe FER2013_DIR [N]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3589);
    let items = list_labelled(&PathBuf::from(dir), Split::PrivateTest).expect("FER-2013 folder");
    // Upright passes only: the mirrored pass is this probe's own.
    let upright = DetectorSettings {
        roll_degrees: 0.0,
        neural_score: 1.0,
        ..DetectorSettings::default()
    };
    let mut det = emotune::pipeline::detector(upright).expect("detector");
    let (mut frames, mut plain, mut mirrored, mut either) = (0, 0, 0, 0);
    let (mut stray_plain, mut stray_mirrored) = (0, 0);
    for (i, (path, _)) in items.iter().take(n).enumerate() {
        let face = image::open(path).expect("FER image").to_luma8();
        let scene = fer_scene(&face, i as u64);
        let gray = luma(&scene.frame);
        let found: Vec<BBox> = det.detect(&gray).into_iter().map(|d| d.bbox).collect();
        let width = gray.width() as f32;
        let found_mirrored: Vec<BBox> = det
            .detect(&image::imageops::flip_horizontal(&gray))
            .into_iter()
            .map(|d| {
                // Back into the frame's coordinates.
                let [x, y, w, h] = d.bbox.to_array().map(|v| v as f32);
                BBox::new(width - x - w, y, w, h)
            })
            .collect();
        let (a, b) = (hit(&found, &scene.face), hit(&found_mirrored, &scene.face));
        frames += 1;
        plain += usize::from(a);
        mirrored += usize::from(b);
        either += usize::from(a || b);
        stray_plain += found.len() - usize::from(a);
        stray_mirrored += found_mirrored.len() - usize::from(b);
    }
    let pct = |k: usize| 100.0 * k as f64 / frames.max(1) as f64;
    println!(
        "{frames} frames: found {plain} ({:.1} %) as they are, {mirrored} ({:.1} %) mirrored, \
         {either} ({:.1} %) by either; stray boxes {stray_plain} and {stray_mirrored}",
        pct(plain),
        pct(mirrored),
        pct(either)
    );
}
