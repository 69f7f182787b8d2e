//! Image bytes: what `classify`, `--source` and a dropped file decode (`capture::decode_image`)
//! and the album art the music thread fetches (`service::decode_art`).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use proptest::prelude::*;

use super::mutate::{mutated, raw};
use super::{Input, accepted, check, fuzz};

/// What a decode may allocate here: the app allows 1 GiB, but headers claiming that much would
/// spend the time box on zeroing memory; the limit is checked the same way at any size.
const FUZZ_MAX_ALLOC: u64 = 64 << 20;

const MAGIC: &[&[u8]] = &[
    b"\x89PNG\r\n\x1a\n",
    b"IHDR",
    b"IDAT",
    b"IEND",
    b"PLTE",
    b"tRNS",
    b"acTL",
    b"fcTL",
    b"\xff\xd8",
    b"\xff\xd9",
    b"\xff\xda",
    b"\xff\xc0",
    b"\xff\xc2",
    b"\xff\xc4",
    b"\xff\xdb",
    b"\xff\xdd",
    b"\xff\xe1\x00\x10Exif\x00\x00",
    b"GIF89a",
    b"\x21\xf9\x04",
    b"BM",
    b"RIFF",
    b"WEBPVP8L",
    b"VP8X",
    b"II*\x00",
    b"MM\x00*",
    b"P6\n",
    b"P5\n",
    b"255\n",
    b"65535\n",
];

/// A small picture with some structure (gradients, a bright square), in every format.
fn seeds() -> Vec<Vec<u8>> {
    let rgb = RgbImage::from_fn(9, 7, |x, y| {
        let lit = (3..6).contains(&x) && (2..5).contains(&y);
        image::Rgb([(x * 28) as u8, (y * 36) as u8, if lit { 255 } else { 40 }])
    });
    let img = DynamicImage::ImageRgb8(rgb);
    let variants = [
        (img.clone(), ImageFormat::Png),
        (DynamicImage::ImageLuma8(img.to_luma8()), ImageFormat::Png),
        (DynamicImage::ImageRgba8(img.to_rgba8()), ImageFormat::Png),
        (DynamicImage::ImageLuma16(img.to_luma16()), ImageFormat::Png),
        (img.clone(), ImageFormat::Jpeg),
        (DynamicImage::ImageLuma8(img.to_luma8()), ImageFormat::Jpeg),
        (img.clone(), ImageFormat::Bmp),
        (DynamicImage::ImageRgba8(img.to_rgba8()), ImageFormat::Gif),
        (img.clone(), ImageFormat::Tiff),
        (DynamicImage::ImageRgba8(img.to_rgba8()), ImageFormat::WebP),
        (img, ImageFormat::Pnm),
    ];
    variants
        .into_iter()
        .map(|(img, format)| {
            let mut out = Cursor::new(Vec::new());
            img.write_to(&mut out, format)
                .unwrap_or_else(|e| panic!("{format:?} seed: {e}"));
            out.into_inner()
        })
        .collect()
}

/// CRC-32 (ISO 3309, as PNG uses it).
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (0..8).fold(crc ^ u32::from(b), |c, _| {
            if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            }
        })
    })
}

/// Rewrites the checksums of a PNG's chunks, so that edits inside them reach the decoder
/// instead of stopping at the first CRC check.
fn fix_png_crcs(b: &mut [u8]) {
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return;
    }
    let mut pos = 8;
    while pos + 8 <= b.len() {
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        let end = pos + 8 + len;
        if end + 4 > b.len() {
            return;
        }
        let crc = crc32(&b[pos + 4..end]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end + 4;
    }
}

/// Image bytes decode into a picture with pixels, or into an error; never a panic.
#[test]
fn image_decode() {
    let edited = (mutated(seeds(), MAGIC), any::<bool>()).prop_map(|(mut input, fix)| {
        if fix {
            fix_png_crcs(&mut input.0);
        }
        input
    });
    let inputs = prop_oneof![6 => edited, 1 => raw()];
    fuzz("image_decode", inputs, |input: Input| {
        let Ok(img) = crate::capture::decode_image(&input.0, FUZZ_MAX_ALLOC) else {
            return Ok(());
        };
        accepted();
        let rgb = img.to_rgb8();
        check(rgb.width() > 0 && rgb.height() > 0, || {
            format!("decoded {}x{}", rgb.width(), rgb.height())
        })?;
        check(rgb.dimensions() == (img.width(), img.height()), || {
            format!(
                "{:?} from {}x{}",
                rgb.dimensions(),
                img.width(),
                img.height()
            )
        })?;
        // The album art goes through the same decoder, with the same limit.
        let art = crate::music::service::decode_art(&input.0).map(|a| a.dimensions());
        check(art == Some(rgb.dimensions()), || {
            format!("album art {art:?}, image {:?}", rgb.dimensions())
        })
    });
}

#[test]
fn png_checksums_are_those_of_the_encoder() {
    let png = seeds().remove(0);
    let mut copy = png.clone();
    let n = copy.len();
    copy[n - 4..].fill(0);
    fix_png_crcs(&mut copy);
    assert_eq!(copy, png);
}
