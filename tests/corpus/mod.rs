//! The bad-input corpus, written by code into a temporary folder (nothing big is committed):
//! broken files, unusual formats and extreme sizes. Used by tests/bad_inputs.rs (command line)
//! and by the window tests (drag and drop).

#![allow(dead_code)] // each user takes the part it needs

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage};

/// What should become of a case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// Refused with a message naming the file.
    Refused,
    /// Decoded and analysed (whatever faces it has).
    Read,
    /// Only testable as a non-root user (root reads unreadable files).
    RefusedUnlessRoot,
}

pub struct Case {
    pub name: &'static str,
    pub what: &'static str,
    pub path: PathBuf,
    pub expect: Expect,
}

fn photo() -> RgbImage {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/astronaut.png");
    match image::open(&p) {
        Ok(i) => i.to_rgb8(),
        Err(e) => panic!("fixture {}: {e}", p.display()),
    }
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    if let Err(e) = img.write_to(&mut buf, format) {
        panic!("encoding {format:?}: {e}");
    }
    buf.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A valid PNG signature and IHDR claiming 100 000 × 100 000 RGB pixels (30 GB decoded), then
/// a tiny IDAT: a decompression bomb's header.
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

fn animated_gif(img: &RgbImage) -> Vec<u8> {
    use image::codecs::gif::GifEncoder;
    let small = image::imageops::thumbnail(img, 128, 128);
    let mut buf = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut buf);
        for shift in [0u8, 40, 80] {
            let mut f = DynamicImage::ImageRgb8(small.clone()).to_rgba8();
            f.pixels_mut()
                .for_each(|p| p.0[0] = p.0[0].wrapping_add(shift));
            if let Err(e) = enc.encode_frame(image::Frame::new(f)) {
                panic!("gif: {e}");
            }
        }
    }
    buf
}

/// A CMYK JPEG (what print workflows export), written by jpeg-encoder.
fn cmyk_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut cmyk = Vec::with_capacity((img.width() * img.height() * 4) as usize);
    for p in img.pixels() {
        let [r, g, b] = p.0.map(|v| v as f32 / 255.0);
        let k = 1.0 - r.max(g).max(b);
        let d = (1.0 - k).max(1e-6);
        for v in [(1.0 - r - k) / d, (1.0 - g - k) / d, (1.0 - b - k) / d, k] {
            cmyk.push((v * 255.0).round() as u8);
        }
    }
    let mut out = Vec::new();
    let enc = jpeg_encoder::Encoder::new(&mut out, 90);
    let (w, h) = (img.width() as u16, img.height() as u16);
    if let Err(e) = enc.encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk) {
        panic!("cmyk jpeg: {e}");
    }
    out
}

type FileCase = (&'static str, &'static str, Vec<u8>, Expect);

const fn case(name: &'static str, what: &'static str, bytes: Vec<u8>, e: Expect) -> FileCase {
    (name, what, bytes, e)
}

/// Files that must be refused.
fn broken_files(jpeg: &[u8], png: &[u8]) -> Vec<FileCase> {
    let cut = |b: &[u8]| b[..b.len() * 2 / 5].to_vec();
    vec![
        case("empty.jpg", "0-byte file", Vec::new(), Expect::Refused),
        case(
            "truncated.jpg",
            "JPEG cut at 40 %",
            cut(jpeg),
            Expect::Refused,
        ),
        case(
            "truncated.png",
            "PNG cut at 40 %",
            cut(png),
            Expect::Refused,
        ),
        case(
            "text.jpg",
            "text file named .jpg",
            b"hello\n".to_vec(),
            Expect::Refused,
        ),
        case(
            "bomb.png",
            "PNG header claiming 100000x100000",
            png_bomb(),
            Expect::Refused,
        ),
        case(
            "locked.png",
            "unreadable file (mode 000)",
            png.to_vec(),
            Expect::RefusedUnlessRoot,
        ),
    ]
}

/// Unusual but valid images, and extreme sizes: all must be read.
fn odd_images(img: &RgbImage) -> Vec<FileCase> {
    let rgb = DynamicImage::ImageRgb8(img.clone());
    let (w, h) = img.dimensions();
    let rgb16 = DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb(img.get_pixel(x, y).0.map(|v| v as u16 * 257))
    }));
    let gray_alpha = DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        LumaA([((r as u32 + g as u32 + b as u32) / 3) as u8, 200])
    }));
    let tiny = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(1, 1, Luma([128])));
    let wide = DynamicImage::ImageRgb8(ImageBuffer::from_fn(10_000, 20, |x, _| {
        Rgb([(x % 256) as u8, 90, 160])
    }));
    let png = |i: &DynamicImage| encode(i, ImageFormat::Png);
    vec![
        case("cmyk.jpg", "CMYK JPEG", cmyk_jpeg(img), Expect::Read),
        case("rgb16.png", "16-bit RGB PNG", png(&rgb16), Expect::Read),
        case(
            "gray-alpha.png",
            "grey + alpha PNG",
            png(&gray_alpha),
            Expect::Read,
        ),
        case(
            "animated.gif",
            "animated GIF (3 frames)",
            animated_gif(img),
            Expect::Read,
        ),
        case(
            "photo.tiff",
            "TIFF",
            encode(&rgb, ImageFormat::Tiff),
            Expect::Read,
        ),
        case(
            "photo.webp",
            "WebP (lossless)",
            encode(&rgb, ImageFormat::WebP),
            Expect::Read,
        ),
        case("one-pixel.png", "1x1 image", png(&tiny), Expect::Read),
        case("wide.png", "10000x20 image", png(&wide), Expect::Read),
    ]
}

/// The file cases: name, what it is, its bytes, what should become of it.
fn file_cases() -> Vec<FileCase> {
    let img = photo();
    let rgb = DynamicImage::ImageRgb8(img.clone());
    let mut cases = broken_files(
        &encode(&rgb, ImageFormat::Jpeg),
        &encode(&rgb, ImageFormat::Png),
    );
    cases.extend(odd_images(&img));
    cases
}

/// Writes the image cases into `dir` (created) and returns them.
pub fn images(dir: &Path) -> Vec<Case> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        panic!("{}: {e}", dir.display());
    }
    let files = file_cases();
    let mut cases = Vec::new();
    for (name, what, bytes, expect) in files {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            panic!("{}: {e}", path.display());
        }
        cases.push(Case {
            name,
            what,
            path,
            expect,
        });
    }
    set_mode(&dir.join("locked.png"), 0o000);
    let folder = dir.join("folder.jpg");
    let _ = std::fs::create_dir_all(&folder);
    cases.push(Case {
        name: "folder.jpg",
        what: "a directory named .jpg (empty)",
        path: folder,
        expect: Expect::Refused,
    });
    let (a, b) = (dir.join("loop-a.jpg"), dir.join("loop-b.jpg"));
    symlink(&b, &a);
    symlink(&a, &b);
    cases.push(Case {
        name: "loop-a.jpg",
        what: "symlink loop",
        path: a,
        expect: Expect::Refused,
    });
    cases
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    let _ = std::fs::remove_file(link);
    if let Err(e) = std::os::unix::fs::symlink(target, link) {
        panic!("{}: {e}", link.display());
    }
}

/// Whether this process can read a mode-000 file (root can).
pub fn reads_locked_files(dir: &Path) -> bool {
    std::fs::read(dir.join("locked.png")).is_ok()
}
