//! Writes the frames `emotune eval --through-detector` builds for the first N PrivateTest faces
//! (the same seeds), with their true boxes and whether emotune's detector found each, so other
//! detectors can be tried on exactly the same frames (`benches/haar_fer_frames.py`), other
//! stacks scored on them (`benches/reference_fer.py`: the `fer` package), and
//! `emotune bench --source OUT_DIR` can time the app on real faces.
//!
//!     cargo run --release --example fer_frames -- FER2013_DIR OUT_DIR [N]
//!
//! The frames are made from FER-2013 images: keep OUT_DIR out of the repository.

use std::path::PathBuf;

use emotune::eval::{Split, list_labelled};
use emotune::vision::DetectorSettings;
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::scene::fer_scene;
use emotune::vision::testset::hit;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: fer_frames FER2013_DIR OUT_DIR [N]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(800);
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("output folder");
    let items = list_labelled(&PathBuf::from(dir), Split::PrivateTest).expect("FER-2013 folder");
    // Upright passes only: the README's comparison with Haar and the miss audit are of the upright cascade.
    let upright = DetectorSettings {
        roll_degrees: 0.0,
        neural_score: 1.0,
        ..DetectorSettings::default()
    };
    let mut det = emotune::pipeline::detector(upright).expect("detector");
    let mut rows = Vec::new();
    for (i, (path, label)) in items.iter().take(n).enumerate() {
        // The eval's seed for a face is its index in the split.
        let face = image::open(path).expect("FER image").to_luma8();
        let scene = fer_scene(&face, i as u64);
        let name = format!("{i:05}.png");
        scene.frame.save(out.join(&name)).expect("frame written");
        let found: Vec<BBox> = det
            .detect(&luma(&scene.frame))
            .into_iter()
            .map(|d| d.bbox)
            .collect();
        rows.push(serde_json::json!({
            "file": name,
            "faces": [scene.face.to_array()],
            "label": label.to_string(),
            "emotune_found": hit(&found, &scene.face),
        }));
    }
    // The bench's truth format (plus each face's label and whether the upright detector found
    // it), so that `emotune bench --source OUT_DIR` runs on real faces and counts what it misses.
    let doc = serde_json::json!({ "set": "fer-privatetest", "frames": rows });
    let truth = serde_json::to_string(&doc).expect("json");
    std::fs::write(out.join("truth.json"), truth).expect("truth.json written");
    println!("{} frames in {}", rows.len(), out.display());
}
