//! Writes a folder where one face changes expression at a known frame, to time how long the
//! stable mood takes to follow (`emotune bench --rate 30` reports when it changed):
//!
//!     cargo run --release --example mood_switch -- FACE_A FACE_B OUT_DIR [FRAMES_EACH]
//!
//! FACE_A and FACE_B are face crops (FER-2013 style, e.g. a happy and an angry face of
//! ../shared/datasets); each is placed the same way in the same textured room (`fer_scene`),
//! A for FRAMES_EACH frames (default 150: 5 s at 30 fps), then B as many. The person holds
//! still; only fresh sensor noise changes between frames, as with a webcam. Looped by the bench,
//! the expression changes at every multiple of FRAMES_EACH. FER images: keep OUT_DIR out of
//! the repository.

use std::path::PathBuf;

use emotune::vision::scene::fer_scene;

/// Both faces' placement and room.
const SEED: u64 = 11;

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

/// ±`amp`/2 grey levels of noise on every pixel (xorshift, deterministic in `seed`).
fn noisy(img: &image::RgbImage, seed: u64, amp: f32) -> image::RgbImage {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = img.clone();
    for p in out.pixels_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let j = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * amp;
        for c in p.0.iter_mut() {
            *c = (f32::from(*c) + j).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, out, rest @ ..] = args.as_slice() else {
        eprintln!("usage: mood_switch FACE_A FACE_B OUT_DIR [FRAMES_EACH]");
        std::process::exit(2);
    };
    let each: u32 = match rest.first() {
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| fail(format!("`{n}` is not a frame count"))),
        None => 150,
    };
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        fail(format!("cannot create {}: {e}", out.display()));
    }
    let scenes = [a, b].map(|p| match image::open(p) {
        Ok(img) => fer_scene(&img.to_luma8(), SEED).frame,
        Err(e) => fail(format!("{p}: {e}")),
    });
    for i in 0..2 * each {
        let frame = noisy(&scenes[(i / each) as usize], u64::from(i), 6.0);
        let name = out.join(format!("{i:04}.png"));
        if let Err(e) = frame.save(&name) {
            fail(format!("cannot write {}: {e}", name.display()));
        }
    }
    eprintln!(
        "{}: {} frames, the expression changes at frame {each}",
        out.display(),
        2 * each
    );
}
