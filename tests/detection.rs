//! Detection rate of the default detector settings on frontal portraits at webcam resolution.

mod common;

use emotune::vision::DetectorSettings;
use emotune::vision::preprocess::{BBox, luma};
use emotune::vision::testset::{ASTRONAUT_FACE, hit, portrait_variants};

#[test]
fn default_settings_find_at_least_98_percent_of_portrait_faces() {
    let portrait = image::open(common::astronaut()).expect("fixture").to_rgb8();
    let set = portrait_variants(&portrait, ASTRONAUT_FACE);
    assert_eq!(set.len(), 90);
    let mut det = emotune::pipeline::detector(DetectorSettings::default()).expect("detector");
    let mut missed = Vec::new();
    for s in &set {
        let found: Vec<BBox> = det
            .detect(&luma(&s.frame))
            .into_iter()
            .map(|d| d.bbox)
            .collect();
        if !hit(&found, &s.face) {
            missed.push(s.label.clone());
        }
    }
    let rate = 1.0 - missed.len() as f64 / set.len() as f64;
    eprintln!("portrait set: {:.1} % detected", rate * 100.0);
    assert!(
        rate >= 0.98,
        "detection rate {:.1} %; missed: {missed:#?}",
        rate * 100.0
    );
}

#[test]
fn no_faces_in_a_frame_without_one() {
    // The portrait's lower half (suit, helmet) has no face.
    let portrait = image::open(common::astronaut()).expect("fixture").to_rgb8();
    let lower = image::imageops::crop_imm(&portrait, 0, 300, 512, 212).to_image();
    let mut det = emotune::pipeline::detector(DetectorSettings::default()).expect("detector");
    assert!(det.detect(&luma(&lower)).is_empty());
}
