//! The library's per-frame pipeline on a real photo, and the model loader's contract checks.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use emotune::pipeline::{Pipeline, PipelineSettings};
use emotune::vision::EmotionClassifier;
use emotune::{Emotion, Error};

/// The astronaut portrait centred in a 640×480 webcam-sized frame.
fn webcam_frame() -> Arc<image::RgbImage> {
    let face = image::open(astronaut()).expect("fixture").to_rgb8();
    let small = image::imageops::resize(&face, 400, 400, image::imageops::FilterType::Triangle);
    let mut frame = image::RgbImage::from_pixel(640, 480, image::Rgb([40, 40, 40]));
    image::imageops::overlay(&mut frame, &small, 120, 40);
    Arc::new(frame)
}

#[test]
fn one_face_keeps_its_track_and_the_mood_settles_after_the_hold_time() {
    let clf = EmotionClassifier::load(&model()).expect("shipped model loads");
    let mut p = Pipeline::new(clf, PipelineSettings::default()).expect("pipeline");
    let frame = webcam_frame();
    let mut ids = Vec::new();
    let mut first_stable = None;
    let mut full_scans = 0;
    for i in 0..60u64 {
        let at = Duration::from_millis(i * 100);
        let r = p.process(frame.clone(), at).expect("frame");
        assert_eq!(r.faces.len(), 1, "frame {i}: one face expected");
        ids.push(r.faces[0].track_id);
        full_scans += r.timings.full_scan as usize;
        if first_stable.is_none() && r.mood.stable.is_some() {
            first_stable = Some(at);
        }
        let sum: f32 = r.faces[0].scores.0.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }
    assert!(
        ids.iter().all(|&id| id == ids[0]),
        "track id changed: {ids:?}"
    );
    // The same frame over and over: the mood settles exactly once the hold time has passed.
    assert_eq!(first_stable, Some(Duration::from_secs(3)));
    // Most frames search only around the tracked face.
    assert!(full_scans <= 60 / 10 + 1, "{full_scans} full scans");
}

#[test]
fn blank_frames_give_no_faces_and_no_mood() {
    let clf = EmotionClassifier::load(&model()).expect("model");
    let mut p = Pipeline::new(clf, PipelineSettings::default()).expect("pipeline");
    let blank = Arc::new(image::RgbImage::from_pixel(
        640,
        480,
        image::Rgb([128, 128, 128]),
    ));
    for i in 0..5 {
        let r = p
            .process(blank.clone(), Duration::from_secs(i))
            .expect("frame");
        assert!(r.faces.is_empty());
        assert!(r.group.is_none());
        assert_eq!(r.mood.stable, None);
    }
}

#[test]
fn batched_classification_equals_one_by_one() {
    let clf = EmotionClassifier::load(&model()).expect("model");
    let gray = emotune::vision::preprocess::luma(&webcam_frame());
    let a = emotune::vision::preprocess::face_input(
        &gray,
        &emotune::vision::BBox::new(200.0, 80.0, 200.0, 200.0),
        0.0,
        &emotune::vision::preprocess::FaceCrop::default(),
    );
    let b = emotune::vision::preprocess::whole_image_input(&gray);
    let both = clf.logits(&[a.clone(), b.clone()]).expect("batch");
    let one = clf.logits(&[a]).expect("single");
    let two = clf.logits(&[b]).expect("single");
    for (x, y) in both[0].iter().zip(one[0]).chain(both[1].iter().zip(two[0])) {
        assert!((x - y).abs() < 1e-3, "{x} vs {y}");
    }
    assert_eq!(Emotion::ALL.len(), both[0].len());
}

#[test]
fn a_torchscript_model_without_the_metadata_is_refused() {
    // A traced module has forward() but none of the contract's metadata methods.
    let path = temp_dir("contract").join("traced.pt");
    let mut closure = |inputs: &[tch::Tensor]| vec![inputs[0].flatten(1, -1).narrow(1, 0, 7)];
    let input = tch::Tensor::zeros([1, 1, 48, 48], (tch::Kind::Float, tch::Device::Cpu));
    let module =
        tch::CModule::create_by_tracing("Tiny", "forward", &[input], &mut closure).expect("trace");
    module.save(&path).expect("save");
    match EmotionClassifier::load(&path) {
        Err(Error::ModelContract { reason, .. }) => {
            assert!(reason.contains("class_names"), "{reason}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a model without metadata was accepted"),
    }
}

#[test]
fn a_still_photo_gets_its_mood_at_once() {
    let clf = EmotionClassifier::load(&model()).expect("model");
    let mut p = Pipeline::new(clf, PipelineSettings::default()).expect("pipeline");
    let r = p.process_still(webcam_frame()).expect("photo");
    assert_eq!(r.faces.len(), 1);
    let group = r.group.expect("a face, so a group mood");
    assert_eq!(r.mood.stable, Some(group.dominant().0));
    assert!(r.mood.changed);
}

/// `frame` turned by `deg` degrees about its centre (bilinear; outside is the frame's grey).
fn turned(frame: &image::RgbImage, deg: f32) -> image::RgbImage {
    let (w, h) = frame.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = deg.to_radians().sin_cos();
    image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (sx, sy) = (c * dx - s * dy + cx - 0.5, s * dx + c * dy + cy - 0.5);
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return image::Rgb([40, 40, 40]);
        }
        let (x0, y0) = (sx as u32, sy as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let mut out = [0u8; 3];
        for (k, o) in out.iter_mut().enumerate() {
            let p = |xx, yy| f32::from(frame.get_pixel(xx, yy)[k]);
            let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
            let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
            *o = (top * (1.0 - fy) + bottom * fy).round() as u8;
        }
        image::Rgb(out)
    })
}

#[test]
fn a_tilted_head_is_found_tracked_at_its_angle_and_read_upright() {
    // The portrait tilted by 40° either way: past what the upright cascade finds.
    for deg in [40.0f32, -40.0] {
        let frame = Arc::new(turned(&webcam_frame(), deg));
        let upright_only: PipelineSettings =
            toml::from_str("[detector]\nroll_degrees = 0.0\n").expect("settings");
        let clf = EmotionClassifier::load(&model()).expect("model");
        let mut p = Pipeline::new(clf, upright_only).expect("pipeline");
        let r = p.process(frame.clone(), Duration::ZERO).expect("frame");
        assert!(
            r.faces.is_empty(),
            "{deg}°: found upright: {:?}",
            r.faces.len()
        );

        let clf = EmotionClassifier::load(&model()).expect("model");
        let mut p = Pipeline::new(clf, PipelineSettings::default()).expect("pipeline");
        let (mut ids, mut full_scans) = (Vec::new(), 0);
        for i in 0..20u64 {
            let r = p
                .process(frame.clone(), Duration::from_millis(i * 100))
                .expect("frame");
            assert_eq!(r.faces.len(), 1, "{deg}°, frame {i}: one face expected");
            ids.push(r.faces[0].track_id);
            full_scans += r.timings.full_scan as usize;
            // The crop is turned with the face: the smile reads as it does upright.
            assert_eq!(r.faces[0].scores.dominant().0, Emotion::Happy, "{deg}°");
        }
        assert!(ids.iter().all(|&id| id == ids[0]), "{deg}°: {ids:?}");
        // Between scans the window search looks at the track's angle and finds it there.
        assert!(full_scans <= 20 / 10 + 1, "{deg}°: {full_scans} full scans");
    }
}
