//! Detection rate vs speed of rustface settings on webcam-sized frames (the README's table).
//!
//!     cargo run --release --example detector_sweep [-- FER2013_DIR [N]]
//!
//! Set A: the public-domain astronaut portrait, 90 variants (face 70–260 px, left/centre/right,
//! mirrored, exposure ×0.6/×1/×1.3) in 640×480 frames. Set B (when FER-2013 is given or found):
//! N PublicTest crops upscaled to 90–180 px faces with replicated-border context on grey.

use std::path::{Path, PathBuf};
use std::time::Instant;

use emotune::eval::{Split, list_labelled};
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::testset::{ASTRONAUT_FACE, Sample, fer_frame, hit, portrait_variants};
use emotune::vision::{DetectorSettings, FaceDetector};

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
        .filter_map(|(i, (p, _))| {
            let g = image::open(p).ok()?.to_luma8();
            let px = [90u32, 130, 180][i % 3];
            let at = (
                60 + (i as u32 * 97) % (640 - px - 120),
                40 + (i as u32 * 53) % (480 - px - 80),
            );
            Some(fer_frame(&g, px, at))
        })
        .collect()
}

fn measure(settings: DetectorSettings, set: &[Sample]) -> (f64, f64) {
    let mut det = FaceDetector::new(settings).expect("detector");
    let mut hits = 0;
    let mut ms = Vec::new();
    for s in set {
        let g = luma(&s.frame);
        let t = Instant::now();
        let found: Vec<BBox> = det.detect(&g).into_iter().map(|d| d.bbox).collect();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits += hit(&found, &s.face) as usize;
    }
    ms.sort_by(f64::total_cmp);
    (
        hits as f64 / set.len().max(1) as f64,
        ms.get(ms.len() / 2).copied().unwrap_or(0.0),
    )
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
    println!(
        "set A: {} portrait frames; set B: {} FER-2013 frames (640x480)\n",
        set_a.len(),
        set_b.len()
    );
    println!(
        "| scan width | min face | pyramid | step | A: detected | B: detected | full scan p50 |"
    );
    println!("|---|---|---|---|---|---|---|");
    let base = DetectorSettings::default();
    let mut grid = vec![
        // rustface's own defaults on the full frame: the starting point.
        DetectorSettings {
            scan_width: 640,
            min_face: 20,
            pyramid_factor: 0.8,
            window_step: 4,
            ..base
        },
        DetectorSettings {
            scan_width: 640,
            min_face: 60,
            pyramid_factor: 0.8,
            window_step: 4,
            ..base
        },
    ];
    for &w in &[480u32, 320, 240] {
        for &pf in &[0.8f32, 0.7] {
            grid.push(DetectorSettings {
                scan_width: w,
                min_face: 60,
                pyramid_factor: pf,
                window_step: 4,
                ..base
            });
        }
    }
    grid.push(DetectorSettings {
        scan_width: 320,
        min_face: 60,
        pyramid_factor: 0.7,
        window_step: 6,
        ..base
    });
    for s in grid {
        let (ra, ta) = measure(s, &set_a);
        let (rb, _) = measure(s, &set_b);
        let default = if s == base { " (default)" } else { "" };
        println!(
            "| {}{default} | {} | {} | {} | {:.1} % | {} | {:.1} ms |",
            s.scan_width,
            s.min_face,
            s.pyramid_factor,
            s.window_step,
            ra * 100.0,
            if set_b.is_empty() {
                "–".to_string()
            } else {
                format!("{:.1} %", rb * 100.0)
            },
            ta
        );
    }
    // Between full scans the pipeline searches a window twice the tracked face's size.
    let mut det = FaceDetector::new(base).expect("detector");
    let (mut hits, mut ms) = (0usize, Vec::new());
    for s in &set_a {
        let g = luma(&s.frame);
        let t = Instant::now();
        let found: Vec<BBox> = det
            .detect_around(&g, &s.face)
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
