//! emotune runs a vendored rustface (vendor/rustface) with faster inner loops. It must find
//! exactly what upstream rustface 0.1.7 finds: the same boxes and the same scores, to the bit,
//! on textured rooms, portraits, noise and odd image sizes, at several settings.

mod common;

use image::GrayImage;

use emotune::vision::preprocess::luma;
use emotune::vision::scene::{SetKind, Texture, set_frame, set_room};
use emotune::vision::testset::{ASTRONAUT_FACE, portrait_variants};

static MODEL: &[u8] = include_bytes!("../assets/seeta_fd_frontal_v1.0.bin");

/// (pyramid factor, score threshold, window step, max face size; 0: none)
type Settings = (f32, f64, u32, u32);

const SETTINGS: [Settings; 3] = [
    // The app's defaults.
    (0.8, 1.5, 4, 0),
    // rustface's own defaults with a finer step and a size cap (the app's first-levels scan).
    (0.8, 2.0, 2, 64),
    // Coarse pyramid, low threshold: many proposals reach the later stages.
    (0.7, 0.5, 4, 0),
];

/// Boxes and score bits, in the order returned.
type Found = Vec<(i32, i32, u32, u32, u64)>;

/// The two crates have the same API but distinct types: one body, instantiated for each.
macro_rules! detect_with {
    ($krate:ident, $img:expr, $s:expr) => {{
        let (img, s): (&GrayImage, Settings) = ($img, $s);
        let model = $krate::read_model(MODEL).expect("model");
        let mut d = $krate::create_detector_with_model(model);
        d.set_pyramid_scale_factor(s.0);
        d.set_score_thresh(s.1);
        d.set_slide_window_step(s.2, s.2);
        if s.3 > 0 {
            d.set_max_face_size(s.3);
        }
        let data = $krate::ImageData::new(img.as_raw(), img.width(), img.height());
        d.detect(&data)
            .iter()
            .map(|f| {
                let b = f.bbox();
                (b.x(), b.y(), b.width(), b.height(), f.score().to_bits())
            })
            .collect::<Found>()
    }};
}

fn half(img: &GrayImage) -> GrayImage {
    image::imageops::resize(
        img,
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    )
}

fn noise(w: u32, h: u32, seed: u32) -> GrayImage {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    GrayImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Luma([(x >> 24) as u8])
    })
}

/// Textured rooms (cold and moving frames, at the app's half-resolution scan and a few at full
/// size), portraits at several sizes, noise, and sizes that are not multiples of anything.
fn images() -> Vec<(String, GrayImage)> {
    let portrait = image::open(common::astronaut()).expect("fixture").to_rgb8();
    let mut out = Vec::new();
    for (kind, frames, seed) in [
        (SetKind::Cold, 0..24, 1005),
        (SetKind::Move(Texture::Clutter), 0..200, 1003),
        (SetKind::Story, 40..140, 1004),
    ] {
        let room = set_room(kind, seed);
        for i in frames.step_by(8) {
            let f = set_frame(kind, &portrait, ASTRONAUT_FACE, &room, i, seed);
            let gray = luma(&f.frame);
            if i % 48 == 0 {
                out.push((format!("{} {i} full", kind.name()), gray.clone()));
            }
            out.push((format!("{} {i}", kind.name()), half(&gray)));
        }
    }
    for (k, s) in portrait_variants(&portrait, ASTRONAUT_FACE)
        .iter()
        .enumerate()
        .step_by(9)
    {
        out.push((s.label.clone(), half(&luma(&s.frame))));
        if k == 0 {
            out.push((format!("{} full", s.label), luma(&s.frame)));
        }
    }
    let face = image::imageops::crop_imm(&luma(&portrait), 150, 40, 151, 149).to_image();
    out.push(("face crop 151x149".into(), face));
    out.push(("noise 333x211".into(), noise(333, 211, 7)));
    out.push(("noise 41x40".into(), noise(41, 40, 8)));
    out.push((
        "flat 64x64".into(),
        GrayImage::from_pixel(64, 64, image::Luma([128])),
    ));
    out
}

#[test]
fn the_vendored_detector_finds_exactly_what_upstream_finds() {
    let mut faces = 0;
    for (name, img) in images() {
        for s in SETTINGS {
            let mine = detect_with!(rustface, &img, s);
            let theirs = detect_with!(rustface_upstream, &img, s);
            assert_eq!(
                mine,
                theirs,
                "{name} ({}x{}), settings {s:?}",
                img.width(),
                img.height()
            );
            faces += mine.len();
        }
    }
    // Not a vacuous comparison: the set has faces at every setting.
    assert!(faces > 100, "only {faces} detections compared");
}
