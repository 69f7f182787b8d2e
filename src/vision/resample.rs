//! Resampling the frame for the detectors: area-average downscales (gray and color), rustface's
//! own pyramid resize, and turning an image (and a point of it) about its centre. Shared by the
//! cascade (`detector`) and BlazeFace (`neural`), which import it and not each other.

use image::{GrayImage, RgbImage};

use super::preprocess::BBox;

/// `pixels` (`w`×`h`) rotated by `deg` about the centre, bilinear; what falls outside takes
/// the nearest edge pixel. Output pixel `d` (from the centre) shows source pixel `R·d`, with
/// `R = [cos sin; -sin cos]`: the map `unrotate_point` and the rolled crop use.
pub fn rotate_gray(pixels: &[u8], w: u32, h: u32, deg: f32) -> Vec<u8> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = deg.to_radians().sin_cos();
    let (maxx, maxy) = (w as f32 - 1.001, h as f32 - 1.001);
    let mut out = Vec::with_capacity((w * h) as usize);
    if w < 2 || h < 2 {
        out.extend_from_slice(pixels);
        return out;
    }
    let at = |x: usize, y: usize| f32::from(pixels[y * w as usize + x]);
    for y in 0..h {
        let dy = y as f32 + 0.5 - cy;
        for x in 0..w {
            let dx = x as f32 + 0.5 - cx;
            let sx = (c * dx + s * dy + cx - 0.5).clamp(0.0, maxx);
            let sy = (-s * dx + c * dy + cy - 0.5).clamp(0.0, maxy);
            let (x0, y0) = (sx as usize, sy as usize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy).round() as u8);
        }
    }
    out
}

/// A point of an image rotated by `deg` (`rotate_gray`) back in the unrotated image.
pub fn unrotate_point((x, y): (f32, f32), (w, h): (u32, u32), deg: f32) -> (f32, f32) {
    if deg == 0.0 {
        return (x, y);
    }
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = deg.to_radians().sin_cos();
    let (dx, dy) = (x - cx, y - cy);
    (c * dx + s * dy + cx, -s * dx + c * dy + cy)
}

/// rustface's own pyramid resize (bilinear, its rounding), so a level made here is the level
/// rustface would make.
pub(crate) fn pyramid_resize(src: &[u8], sw: u32, sh: u32, w: u32, h: u32) -> Vec<u8> {
    if sw < 2 || sh < 2 {
        return vec![0; (w * h) as usize];
    }
    let (fx, fy) = (f64::from(sw) / f64::from(w), f64::from(sh) / f64::from(h));
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        let ys = fy * f64::from(y);
        let y0 = (ys as u32).min(sh - 2);
        let wy = ys - f64::from(y0);
        for x in 0..w {
            let xs = fx * f64::from(x);
            let x0 = (xs as u32).min(sw - 2);
            let wx = xs - f64::from(x0);
            let at = |xx: u32, yy: u32| f64::from(src[(yy * sw + xx) as usize]);
            let top = (1.0 - wx) * at(x0, y0) + wx * at(x0 + 1, y0);
            let bot = (1.0 - wx) * at(x0, y0 + 1) + wx * at(x0 + 1, y0 + 1);
            out.push(((1.0 - wy) * top + wy * bot) as u8);
        }
    }
    out
}

/// Area-average downscale of `region` into `out` (`sw`×`sh`, row-major gray).
pub(crate) fn downscale_into(gray: &GrayImage, region: BBox, sw: u32, sh: u32, out: &mut Vec<u8>) {
    let (iw, ih) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    let half = region == BBox::new(0.0, 0.0, (2 * sw) as f32, (2 * sh) as f32);
    if half && 2 * sw as usize <= iw && 2 * sh as usize <= ih {
        // Exactly half (a 640×480 frame's full scan): the same averages, 2×2 at a time, in a
        // loop that vectorises.
        out.clear();
        out.reserve((sw * sh) as usize);
        for y in 0..sh as usize {
            let (r0, r1) = (
                &raw[2 * y * iw..][..2 * sw as usize],
                &raw[(2 * y + 1) * iw..][..2 * sw as usize],
            );
            out.extend(r0.chunks_exact(2).zip(r1.chunks_exact(2)).map(|(a, b)| {
                ((u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]) + u16::from(b[1])) / 4) as u8
            }));
        }
        return;
    }
    area_average::<1>(
        raw,
        gray.dimensions(),
        region,
        (sw as usize, sh as usize),
        out,
    );
}

/// Area-average downscale of `region` of an image of `C` interleaved channels (`size` pixels)
/// into `out` (`out_size`, interleaved the same way); the nearest pixel where it enlarges.
pub(crate) fn area_average<const C: usize>(
    raw: &[u8],
    (width, height): (u32, u32),
    region: BBox,
    (sw, sh): (usize, usize),
    out: &mut Vec<u8>,
) {
    let (iw, ih) = (width as usize, height as usize);
    out.clear();
    if iw == 0 || ih == 0 || raw.len() < iw * ih * C {
        return;
    }
    out.reserve(sw * sh * C);
    let fx = region.w / sw as f32;
    let fy = region.h / sh as f32;
    let cols: Vec<(usize, usize)> = (0..sw)
        .map(|x| {
            let a = ((region.x + x as f32 * fx) as usize).min(iw - 1);
            let b = ((region.x + (x + 1) as f32 * fx) as usize).clamp(a + 1, iw);
            (a, b)
        })
        .collect();
    for y in 0..sh {
        let ya = ((region.y + y as f32 * fy) as usize).min(ih - 1);
        let yb = ((region.y + (y + 1) as f32 * fy) as usize).clamp(ya + 1, ih);
        for &(xa, xb) in &cols {
            let mut sum = [0u32; C];
            for row in ya..yb {
                let line = &raw[(row * iw + xa) * C..(row * iw + xb) * C];
                for px in line.chunks_exact(C) {
                    for (s, v) in sum.iter_mut().zip(px) {
                        *s += u32::from(*v);
                    }
                }
            }
            let n = ((yb - ya) * (xb - xa)) as u32;
            out.extend(sum.map(|s| (s / n) as u8));
        }
    }
}

/// `color` area-averaged to `w`×`h`.
pub(crate) fn scaled_color(color: &RgbImage, w: u32, h: u32) -> Option<RgbImage> {
    let (cw, ch) = color.dimensions();
    let mut out = Vec::new();
    let region = BBox::new(0.0, 0.0, cw as f32, ch as f32);
    area_average::<3>(
        color.as_raw(),
        (cw, ch),
        region,
        (w as usize, h as usize),
        &mut out,
    );
    RgbImage::from_raw(w, h, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_means_each_channel_and_gray_takes_the_same_path() {
        // 4×2 RGB: left half red-ish, right half blue-ish; into 2×1, each cell one half.
        let px = |x: u32| if x < 2 { [200u8, 10, 0] } else { [0, 20, 100] };
        let raw: Vec<u8> = (0..2).flat_map(|_| (0..4).flat_map(px)).collect();
        let mut out = Vec::new();
        area_average::<3>(
            &raw,
            (4, 2),
            BBox::new(0.0, 0.0, 4.0, 2.0),
            (2, 1),
            &mut out,
        );
        assert_eq!(out, vec![200, 10, 0, 0, 20, 100]);
        // Too short a buffer for the size given: nothing, no panic.
        area_average::<3>(
            &raw[..5],
            (4, 2),
            BBox::new(0.0, 0.0, 4.0, 2.0),
            (2, 1),
            &mut out,
        );
        assert!(out.is_empty());
        // The gray downscale (not the exact-half fast path) is the one-channel case.
        let gray = GrayImage::from_fn(9, 7, |x, y| image::Luma([(x * 20 + y * 7) as u8]));
        let region = BBox::new(1.0, 1.0, 7.0, 5.0);
        downscale_into(&gray, region, 3, 2, &mut out);
        let mut generic = Vec::new();
        area_average::<1>(gray.as_raw(), (9, 7), region, (3, 2), &mut generic);
        assert_eq!(out, generic);
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn the_exact_half_shortcut_matches_the_general_downscale() {
        let g = GrayImage::from_fn(64, 48, |x, y| {
            image::Luma([((x * 37 + y * 11 + x * y) % 256) as u8])
        });
        let mut fast = Vec::new();
        downscale_into(&g, BBox::new(0.0, 0.0, 64.0, 48.0), 32, 24, &mut fast);
        // The general path: the same region given as a sub-pixel-different box.
        let mut general = Vec::new();
        downscale_into(&g, BBox::new(0.0, 0.0, 64.0001, 48.0), 32, 24, &mut general);
        assert_eq!(fast, general);
    }

    #[test]
    fn a_point_rotated_with_the_image_comes_back_where_it_was() {
        // A bright dot at (30, 10) of a 64×48 image: find it in the rotated image and map
        // its position back.
        let (w, h) = (64u32, 48u32);
        let mut pixels = vec![0u8; (w * h) as usize];
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            pixels[((10 + dy) * w + 30 + dx) as usize] = 255;
        }
        for deg in [25.0f32, -25.0, 90.0] {
            let r = rotate_gray(&pixels, w, h, deg);
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
            for (i, v) in r.iter().enumerate() {
                let v = f32::from(*v);
                sx += v * ((i as u32 % w) as f32 + 0.5);
                sy += v * ((i as u32 / w) as f32 + 0.5);
                n += v;
            }
            let (x, y) = unrotate_point((sx / n, sy / n), (w, h), deg);
            assert!(
                (x - 31.0).abs() < 0.6 && (y - 11.0).abs() < 0.6,
                "{deg}: {x}, {y}"
            );
        }
        assert_eq!(
            rotate_gray(&pixels, w, h, 0.0),
            pixels,
            "0° is the identity"
        );
    }

    #[test]
    fn downscale_halves_by_averaging() {
        let g = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 100 }]));
        let mut out = Vec::new();
        downscale_into(&g, BBox::new(0.0, 0.0, 4.0, 2.0), 2, 1, &mut out);
        assert_eq!(out, vec![50, 50]);
    }
}
