//! Writes the benchmark sets `emotune bench` is measured on (README, "Speed"): 640×480 JPEG
//! frames of the public-domain astronaut portrait in procedural textured rooms, with the true
//! face boxes in each set's `truth.json`.
//!
//!     cargo run --release --example benchsets -- OUT_DIR [FRAMES]
//!
//! Sets: `move-{noise,stripes,tiles,clutter}` (one face, always in view, moving, tilting and
//! turning a little, light dimming and coming back), `story` (a face enters, leaves, returns, a
//! second face joins), `cold` (a new room and face position every frame), `empty` (the
//! cluttered room with nobody in it, light drifting). Same output every run.

use std::path::{Path, PathBuf};

use emotune::vision::scene::{SetKind, Texture, set_frame, set_room};
use emotune::vision::testset::ASTRONAUT_FACE;

fn write_set(out: &Path, kind: SetKind, portrait: &image::RgbImage, frames: u32, seed: u64) {
    let dir = out.join(kind.name());
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let room = set_room(kind, seed);
    let mut truth = Vec::new();
    for i in 0..frames {
        let f = set_frame(kind, portrait, ASTRONAUT_FACE, &room, i, seed);
        let name = format!("{i:04}.jpg");
        let file = match std::fs::File::create(dir.join(&name)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", dir.join(&name).display());
                std::process::exit(1);
            }
        };
        // Webcams deliver (M)JPEG; quality 90 keeps the sets small without visible blocking.
        let mut enc =
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90);
        if let Err(e) = enc.encode_image(&f.frame) {
            eprintln!("error: cannot encode {name}: {e}");
            std::process::exit(1);
        }
        truth.push(serde_json::json!({
            "file": name,
            "faces": f.faces.iter().map(|b| b.to_array()).collect::<Vec<_>>(),
        }));
    }
    let doc = serde_json::json!({ "set": kind.name(), "frames": truth });
    if let Err(e) = std::fs::write(dir.join("truth.json"), doc.to_string()) {
        eprintln!("error: cannot write truth.json: {e}");
        std::process::exit(1);
    }
    eprintln!("{}: {frames} frames", dir.display());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: cargo run --release --example benchsets -- OUT_DIR [FRAMES]");
        std::process::exit(2);
    };
    let frames: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(240);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let portrait = match image::open(root.join("tests/fixtures/astronaut.png")) {
        Ok(p) => p.to_rgb8(),
        Err(e) => {
            eprintln!("error: tests/fixtures/astronaut.png: {e}");
            std::process::exit(1);
        }
    };
    let kinds = Texture::ALL.map(SetKind::Move).into_iter().chain([
        SetKind::Story,
        SetKind::Cold,
        SetKind::Empty,
    ]);
    for (k, kind) in kinds.enumerate() {
        write_set(&out, kind, &portrait, frames, 1000 + k as u64);
    }
}
