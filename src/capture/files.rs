//! Still images and folders of images replayed as video.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage, ImageReader, RgbImage};

use super::{FrameSource, Next};
use crate::error::{Error, Result};

const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "webp", "gif", "tif", "tiff", "pnm", "ppm", "pgm",
];

/// Largest image decoded: 1 GiB of buffers and 30 000 pixels a side. A file claiming more
/// (a decompression bomb) is refused before anything is allocated.
const MAX_DECODE_BYTES: u64 = 1 << 30;
const MAX_SIDE: u32 = 30_000;

/// Whether a JPEG's last scan is followed by its end marker. A file cut short decodes "fine"
/// with grey where the data stopped, so this is checked before decoding. (FF D9 cannot occur
/// inside scan data, which escapes every FF; an EXIF thumbnail's end marker precedes the scans.)
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let find_last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (find_last(0xDA), find_last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

/// Decodes any supported image into RGB, with an error naming the file and what is wrong.
pub(crate) fn load_rgb(path: &Path) -> Result<RgbImage> {
    let err = |message: String| Error::Image {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    decode_image(&bytes, MAX_DECODE_BYTES)
        .map(|img| img.to_rgb8())
        .map_err(err)
}

/// Decodes image bytes of any supported format, allocating at most `max_alloc` bytes (and
/// `MAX_SIDE` pixels a side): the header is checked before anything is allocated. The error
/// says what is wrong with the bytes. Never an image without pixels.
pub(crate) fn decode_image(
    bytes: &[u8],
    max_alloc: u64,
) -> std::result::Result<image::DynamicImage, String> {
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let Some(format) = reader.format() else {
        return Err(if bytes.is_empty() {
            "the file is empty (0 bytes)".into()
        } else {
            "not an image (unrecognised format; use JPEG, PNG, BMP or WebP)".into()
        });
    };
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(
            "the JPEG is cut short (no end marker after its image data); copy the file again"
                .into(),
        );
    }
    if format == image::ImageFormat::Jpeg
        && let Some(decoded) = decode_jpeg(bytes, max_alloc)
    {
        return decoded;
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_alloc);
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(max_alloc, &e.to_string()),
        e => format!("corrupt or unsupported image: {e}"),
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err("image is empty (0 pixels)".into());
    }
    Ok(img)
}

fn too_large(max_alloc: u64, what: &str) -> String {
    format!(
        "too large to decode safely (over {MAX_SIDE} pixels a side or {} MiB): {what}",
        max_alloc >> 20
    )
}

/// A JPEG through libjpeg-turbo (the `mozjpeg` crate), the decoder the camera's MJPEG frames
/// already take (nokhwa) and the one PIL uses in training: `emotune eval` then sees exactly
/// the pixels `training.evaluate` sees. (zune-jpeg, the image crate's, is off by one level in
/// ~1 % of FER-2013's pixels, which moved FER+ accuracy by up to 0.3 points.) `None` where
/// libjpeg gives up (CMYK, corrupt data): the image crate then decodes it or words the error.
fn decode_jpeg(bytes: &[u8], max_alloc: u64) -> Option<std::result::Result<DynamicImage, String>> {
    use mozjpeg::{ColorSpace, Decompress};
    let run = || -> std::io::Result<std::result::Result<DynamicImage, String>> {
        let d = Decompress::new_mem(bytes)?;
        let (w, h) = d.size();
        let gray = d.color_space() == ColorSpace::JCS_GRAYSCALE;
        let bytes_out = w as u64 * h as u64 * if gray { 1 } else { 3 };
        let side = u64::from(MAX_SIDE);
        if w as u64 > side || h as u64 > side || bytes_out > max_alloc {
            return Ok(Err(too_large(max_alloc, &format!("{w}×{h} pixels"))));
        }
        let (w32, h32) = (w as u32, h as u32);
        let img = if gray {
            let mut s = d.grayscale()?;
            let px: Vec<u8> = s.read_scanlines()?;
            s.finish()?;
            GrayImage::from_raw(w32, h32, px).map(DynamicImage::ImageLuma8)
        } else {
            let mut s = d.rgb()?;
            let px: Vec<u8> = s.read_scanlines()?;
            s.finish()?;
            RgbImage::from_raw(w32, h32, px).map(DynamicImage::ImageRgb8)
        };
        // libjpeg refuses empty images and returns whole scanlines, so this is not expected;
        // should it happen, the image crate gets the file.
        img.map(Ok)
            .ok_or_else(|| std::io::Error::other("fewer pixels than the header says"))
    };
    // libjpeg reports fatal errors by unwinding (without the panic hook: nothing is printed).
    match std::panic::catch_unwind(run) {
        Ok(Ok(decoded)) => Some(decoded),
        _ => None,
    }
}

/// Whether the file name has an image extension emotune decodes (the content is not checked).
pub(crate) fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// "1 image", "12 images": how the UI counts a folder.
pub(crate) fn image_count(n: usize) -> String {
    format!("{n} image{}", if n == 1 { "" } else { "s" })
}

/// Image files directly inside `dir`, sorted by name.
pub(crate) fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_image_extension(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no images in this folder (looked for {})",
            dir.display(),
            IMAGE_EXTENSIONS.join(", ")
        )));
    }
    Ok(files)
}

/// One image, yielded once.
pub(crate) struct StillImage {
    path: PathBuf,
    image: Option<RgbImage>,
}

impl StillImage {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Ok(StillImage {
            image: Some(load_rgb(path)?),
            path: path.to_path_buf(),
        })
    }
}

impl FrameSource for StillImage {
    fn name(&self) -> String {
        format!("image {}", self.path.display())
    }

    fn next(&mut self) -> Result<Next> {
        Ok(self.image.take().map_or(Next::End, Next::Frame))
    }

    fn is_still(&self) -> bool {
        true
    }
}

/// A folder of images replayed at a fixed rate, optionally looping.
/// The time between two frames of a folder replayed at `fps` (the settings file's
/// `replay_fps`, edited by hand: anything not a number of frames per second gives 10 fps, and
/// the rate is held to `--fps`'s 0.1 to 240).
pub(crate) fn replay_interval(fps: f32) -> Duration {
    let fps = if fps.is_finite() && fps > 0.0 {
        fps.clamp(0.1, 240.0)
    } else {
        10.0
    };
    Duration::from_secs_f32(1.0 / fps)
}

pub(crate) struct FolderSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    pos: usize,
    interval: Duration,
    looping: bool,
    next_due: Option<Instant>,
}

impl FolderSource {
    pub(crate) fn open(dir: &Path, fps: f32, looping: bool) -> Result<Self> {
        Ok(FolderSource {
            files: list_images(dir)?,
            dir: dir.to_path_buf(),
            pos: 0,
            interval: replay_interval(fps),
            looping,
            next_due: None,
        })
    }
}

impl FrameSource for FolderSource {
    fn name(&self) -> String {
        format!(
            "folder {} ({})",
            self.dir.display(),
            image_count(self.files.len())
        )
    }

    fn next(&mut self) -> Result<Next> {
        if self.pos >= self.files.len() {
            if !self.looping {
                return Ok(Next::End);
            }
            self.pos = 0;
        }
        let now = Instant::now();
        if let Some(due) = self.next_due
            && due > now
        {
            std::thread::sleep(due - now);
        }
        let late = now.checked_sub(self.interval).unwrap_or(now);
        self.next_due = Some(self.next_due.unwrap_or(now).max(late) + self.interval);
        let path = &self.files[self.pos];
        self.pos += 1;
        // An unreadable file is reported and skipped; the replay goes on.
        load_rgb(path).map(Next::Frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray_pattern() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/decoder/gray_pattern.jpg"
        );
        std::fs::read(path).expect("tests/fixtures/decoder/gray_pattern.jpg")
    }

    #[test]
    fn jpegs_decode_to_the_pixels_libjpeg_turbo_and_pil_give() {
        use sha2::{Digest, Sha256};
        // The fixture was written by PIL; the hash is of PIL's decoded pixels. The image
        // crate's own decoder (zune-jpeg) differs from them in 10 of the 1,024 pixels.
        let img = decode_image(&gray_pattern(), MAX_DECODE_BYTES).expect("decodes");
        let DynamicImage::ImageLuma8(gray) = &img else {
            panic!("a grey JPEG decodes to grey, not {:?}", img.color());
        };
        assert_eq!(gray.dimensions(), (32, 32));
        assert_eq!(
            format!("{:x}", Sha256::digest(gray.as_raw())),
            "9d5b122439b3dffbc87d49da1e8f5c4eed66e9ba7b663ffe00ccbde27a8cec82"
        );
        // Colour JPEGs come out as RGB, through the same decoder.
        let rgb = RgbImage::from_fn(24, 16, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 15) as u8, 90])
        });
        let mut bytes = Vec::new();
        let enc = jpeg_encoder::Encoder::new(&mut bytes, 90);
        enc.encode(rgb.as_raw(), 24, 16, jpeg_encoder::ColorType::Rgb)
            .expect("encodes");
        let back = decode_image(&bytes, MAX_DECODE_BYTES).expect("decodes");
        assert!(matches!(&back, DynamicImage::ImageRgb8(b) if b.dimensions() == (24, 16)));
    }

    #[test]
    fn a_jpeg_claiming_huge_dimensions_is_refused_before_decoding() {
        // The frame header (SOF0: FF C0, length, precision, height, width) says 40 000 wide.
        let mut bytes = gray_pattern();
        let sof = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline JPEG");
        bytes[sof + 7..sof + 9].copy_from_slice(&40_000u16.to_be_bytes());
        let err = decode_image(&bytes, MAX_DECODE_BYTES).expect_err("refused");
        assert!(err.contains("too large to decode safely"), "{err}");
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("emotune-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn non_images_and_missing_files_get_errors_naming_them() {
        let d = tempdir("bad");
        let txt = d.join("notes.png");
        std::fs::write(&txt, b"hello, not a png").expect("write");
        let e = load_rgb(&txt)
            .expect_err("text is not an image")
            .to_string();
        assert!(e.contains("notes.png"), "{e}");
        let e = load_rgb(&d.join("missing.jpg"))
            .expect_err("missing")
            .to_string();
        assert!(e.contains("missing.jpg"), "{e}");
        assert!(list_images(&d.join("nope")).is_err());
    }

    /// A hand-edited `replay_fps` of 1e-30 (or a subnormal 1e-45) asked for a frame interval
    /// longer than a `Duration` holds, and opening the folder panicked.
    #[test]
    fn any_replay_rate_gives_an_interval() {
        for fps in [
            1e-30,
            1e-45,
            f32::MIN_POSITIVE,
            0.0,
            -1.0,
            f32::NAN,
            f32::INFINITY,
            1e30,
        ] {
            let i = replay_interval(fps);
            assert!(
                i >= Duration::from_secs_f32(1.0 / 240.0) && i <= Duration::from_secs(10),
                "{fps} fps: {i:?}"
            );
        }
        assert_eq!(replay_interval(4.0), Duration::from_millis(250));
    }

    #[test]
    fn folder_replays_in_order_loops_and_skips_broken_files() {
        let d = tempdir("folder");
        for (i, v) in [10u8, 20, 30].iter().enumerate() {
            RgbImage::from_pixel(4, 4, image::Rgb([*v; 3]))
                .save(d.join(format!("f{i}.png")))
                .expect("save");
        }
        std::fs::write(d.join("f1b.jpg"), b"broken").expect("write");
        std::fs::write(d.join("readme.txt"), b"ignored").expect("write");
        let mut src = FolderSource::open(&d, 1000.0, true).expect("open");
        assert!(src.name().ends_with("(4 images)"), "{}", src.name());
        assert_eq!(image_count(1), "1 image");
        let mut seen = Vec::new();
        let mut errors = 0;
        for _ in 0..8 {
            match src.next() {
                Ok(Next::Frame(f)) => seen.push(f.get_pixel(0, 0)[0]),
                Err(_) => errors += 1,
                Ok(_) => panic!("folder ended while looping"),
            }
        }
        assert_eq!(seen, vec![10, 20, 30, 10, 20, 30]);
        assert_eq!(errors, 2);
        let mut once = FolderSource::open(&d, 1000.0, false).expect("open");
        let mut n = 0;
        while !matches!(once.next(), Ok(Next::End)) {
            n += 1;
        }
        assert_eq!(n, 4);
    }
}
