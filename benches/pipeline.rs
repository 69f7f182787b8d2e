//! Criterion benches for the per-frame work: detection (full scan and tracked window),
//! classification of one face, and one whole frame through the pipeline.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use emotune::pipeline::{Pipeline, PipelineSettings};
use emotune::vision::preprocess::{FaceCrop, face_input, luma};
use emotune::vision::{DetectorSettings, EmotionClassifier, classifier};

fn frame() -> Arc<image::RgbImage> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let face = image::open(root.join("tests/fixtures/astronaut.png"))
        .expect("fixture")
        .to_rgb8();
    let small = image::imageops::resize(&face, 400, 400, image::imageops::FilterType::Triangle);
    let mut f = image::RgbImage::from_pixel(640, 480, image::Rgb([40, 40, 40]));
    image::imageops::overlay(&mut f, &small, 120, 40);
    Arc::new(f)
}

fn model() -> EmotionClassifier {
    classifier::configure_threads(1);
    let path = classifier::resolve_model_path(None).expect("model");
    EmotionClassifier::load(&path).expect("model loads")
}

fn benches(c: &mut Criterion) {
    let frame = frame();
    let gray = luma(&frame);
    let mut det = emotune::pipeline::detector(DetectorSettings::default()).expect("detector");
    let face = det.detect(&gray).into_iter().next().expect("a face").bbox;
    c.bench_function("luma_640x480", |b| b.iter(|| luma(black_box(&frame))));
    c.bench_function("detect_full_640x480", |b| {
        b.iter(|| det.detect(black_box(&gray)))
    });
    c.bench_function("detect_tracked_window", |b| {
        b.iter(|| det.detect_around(black_box(&gray), &face, 0.0))
    });
    let clf = model();
    let input = face_input(&gray, &face, 0.0, &FaceCrop::default());
    c.bench_function("classify_1_face", |b| {
        b.iter(|| clf.classify(black_box(std::slice::from_ref(&input))))
    });
    // A group in front of the camera: all faces go through the model as one batch.
    let group = vec![input.clone(); 4];
    c.bench_function("classify_4_faces", |b| {
        b.iter(|| clf.classify(black_box(&group)))
    });
    let mut p = Pipeline::new(model(), PipelineSettings::default()).expect("pipeline");
    let mut t = 0u64;
    c.bench_function("pipeline_frame_640x480", |b| {
        b.iter(|| {
            t += 33;
            p.process(frame.clone(), Duration::from_millis(t))
                .expect("frame")
        })
    });
}

criterion_group! {
    name = pipeline;
    config = Criterion::default().without_plots().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(pipeline);
