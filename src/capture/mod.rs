//! Frame sources (camera, still image, folder replay) behind one trait, each run on its own
//! thread that hands over only the latest frame: latency beats completeness.

pub(crate) mod camera;
pub(crate) mod files;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use image::RgbImage;

use crate::error::{Error, Result};
pub(crate) use camera::{CameraSource, list_cameras};
pub(crate) use files::{FolderSource, StillImage, decode_image, load_rgb};

/// What a source yields.
pub(crate) enum Next {
    Frame(RgbImage),
    /// Nothing now; ask again (a camera that is reconnecting, say).
    Wait(Duration),
    /// The source is exhausted (a still image after its one frame).
    End,
}

pub(crate) trait FrameSource: Send {
    /// Human-readable name for the status bar ("camera 0: HD Webcam", "folder ./faces").
    fn name(&self) -> String;
    /// Blocks until the next frame is due. Errors are reported and the source asked again,
    /// unless `Next::End` follows.
    fn next(&mut self) -> Result<Next>;
    /// A single photo: analysed once, its emotion taken as the mood at once (it cannot flap).
    fn is_still(&self) -> bool {
        false
    }
}

/// A source as the user names it: `camera:N` or a path to an image or a folder of images.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Camera(u32),
    Path(PathBuf),
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("camera:") {
            return n.parse().map(SourceSpec::Camera).map_err(|_| {
                format!("{s:?}: expected camera:N with N a camera index (see `emotune devices`)")
            });
        }
        if s.is_empty() {
            return Err("empty source: use camera:N, an image or a folder".into());
        }
        Ok(SourceSpec::Path(PathBuf::from(s)))
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Camera(n) => write!(f, "camera:{n}"),
            SourceSpec::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Capture settings: camera resolution and rate, folder replay rate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CaptureSettings {
    pub(crate) camera_width: u32,
    pub(crate) camera_height: u32,
    pub(crate) camera_fps: u32,
    /// Folder replay rate (frames per second).
    pub(crate) replay_fps: f32,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            camera_width: 640,
            camera_height: 480,
            camera_fps: 30,
            replay_fps: 10.0,
        }
    }
}

impl CaptureSettings {
    /// These settings with the command line's `--resolution` / `--fps` applied (for this run
    /// only; the saved settings stay as they are). `fps` sets both the camera rate and the replay
    /// rate of a folder.
    pub(crate) fn with_overrides(
        mut self,
        resolution: Option<(u32, u32)>,
        fps: Option<f32>,
    ) -> Self {
        if let Some((w, h)) = resolution {
            self.camera_width = w;
            self.camera_height = h;
        }
        if let Some(f) = fps {
            self.camera_fps = f.round().max(1.0) as u32;
            self.replay_fps = f;
        }
        self
    }
}

/// Parses `WIDTHxHEIGHT` (e.g. `1280x720`) for `--resolution`.
pub fn parse_resolution(s: &str) -> std::result::Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a size: write WIDTHxHEIGHT, e.g. 640x480 or 1280x720");
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=7680).contains(&w) || !(16..=4320).contains(&h) {
        return Err(format!(
            "{w}x{h} is outside what a camera delivers (16x16 to 7680x4320)"
        ));
    }
    Ok((w, h))
}

/// Parses `--fps`: a rate between 0.1 and 240 frames per second.
pub fn parse_fps(s: &str) -> std::result::Result<f32, String> {
    let f: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of frames per second (e.g. 30)"))?;
    if !(0.1..=240.0).contains(&f) {
        return Err(format!("{f} fps is out of range: use 0.1 to 240"));
    }
    Ok(f)
}

/// Opens the source a spec names. Folders replay at `replay_fps`, looping.
pub(crate) fn open(spec: &SourceSpec, s: &CaptureSettings) -> Result<Box<dyn FrameSource>> {
    match spec {
        SourceSpec::Camera(i) => Ok(Box::new(CameraSource::open_with(
            *i,
            s.camera_width,
            s.camera_height,
            s.camera_fps,
        )?)),
        SourceSpec::Path(p) => open_path(p, s.replay_fps),
    }
}

pub(crate) fn open_path(p: &Path, fps: f32) -> Result<Box<dyn FrameSource>> {
    if p.is_dir() {
        Ok(Box::new(FolderSource::open(p, fps, true)?))
    } else if p.is_file() {
        Ok(Box::new(StillImage::open(p)?))
    } else {
        Err(Error::Invalid(format!(
            "{}: no such file or folder; give an image, a folder of images or camera:N",
            p.display()
        )))
    }
}

/// One frame as handed over by a capture thread.
#[derive(Clone)]
pub(crate) struct Frame {
    pub(crate) image: Arc<RgbImage>,
}

/// Messages from a capture thread besides frames.
#[derive(Debug)]
pub(crate) enum CaptureEvent {
    /// The source failed; it is asked again with a growing delay (reported once per message).
    Error(Error),
    /// Frames flow again after errors.
    Recovered,
    Ended,
    /// The source panicked; the thread is gone (the worker reopens the source).
    Crashed,
}

#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    events: Vec<CaptureEvent>,
    closed: bool,
}

/// The hand-over point: a capture thread overwrites, a consumer takes the newest.
#[derive(Clone, Default)]
pub(crate) struct Latest {
    inner: Arc<(Mutex<Slot>, Condvar)>,
}

impl Latest {
    fn put(&self, f: Frame) {
        let (m, cv) = &*self.inner;
        if let Ok(mut s) = m.lock() {
            s.frame = Some(f);
            cv.notify_all();
        }
    }

    fn event(&self, e: CaptureEvent) {
        let (m, cv) = &*self.inner;
        if let Ok(mut s) = m.lock() {
            if matches!(e, CaptureEvent::Ended | CaptureEvent::Crashed) {
                s.closed = true;
            }
            s.events.push(e);
            cv.notify_all();
        }
    }

    /// Waits up to `timeout` for a frame newer than what was last taken.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Frame> {
        let (m, cv) = &*self.inner;
        let guard = m.lock().ok()?;
        let (mut s, _) = cv
            .wait_timeout_while(guard, timeout, |s| s.frame.is_none() && !s.closed)
            .ok()?;
        s.frame.take()
    }

    /// Whether a frame is waiting to be taken.
    pub(crate) fn ready(&self) -> bool {
        let (m, _) = &*self.inner;
        m.lock().is_ok_and(|s| s.frame.is_some())
    }

    pub(crate) fn take_events(&self) -> Vec<CaptureEvent> {
        let (m, _) = &*self.inner;
        m.lock()
            .map(|mut s| std::mem::take(&mut s.events))
            .unwrap_or_default()
    }
}

/// A running capture thread; dropping it stops the thread.
pub(crate) struct Capture {
    pub(crate) name: String,
    pub(crate) still: bool,
    latest: Latest,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Retry delays after a failing `next()`: doubling from 100 ms up to 5 s, so an unplugged
/// camera is found again within seconds without spinning.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The capture thread's loop: frames into `latest` until stopped or the source ends.
fn pump(source: &mut dyn FrameSource, latest: &Latest, stop: &AtomicBool) {
    let mut last_error: Option<String> = None;
    let mut retry = RETRY_FIRST;
    while !stop.load(Ordering::Relaxed) {
        match source.next() {
            Ok(Next::Frame(img)) => {
                if last_error.take().is_some() {
                    latest.event(CaptureEvent::Recovered);
                }
                retry = RETRY_FIRST;
                latest.put(Frame {
                    image: Arc::new(img),
                });
            }
            Ok(Next::Wait(d)) => std::thread::sleep(d.min(Duration::from_millis(500))),
            Ok(Next::End) => break,
            Err(e) => {
                let msg = e.to_string();
                // Report each distinct error once, then keep retrying quietly.
                if last_error.as_deref() != Some(&msg) {
                    tracing::warn!("{msg}");
                    latest.event(CaptureEvent::Error(e));
                    last_error = Some(msg);
                }
                std::thread::sleep(retry);
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

impl Capture {
    pub(crate) fn spawn(mut source: Box<dyn FrameSource>) -> Capture {
        let latest = Latest::default();
        let stop = Arc::new(AtomicBool::new(false));
        let name = source.name();
        let still = source.is_still();
        let (l, s) = (latest.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| pump(source.as_mut(), &l, &s));
                match std::panic::catch_unwind(run) {
                    Ok(()) => l.event(CaptureEvent::Ended),
                    Err(p) => {
                        let msg = crate::panic_message(p.as_ref());
                        tracing::error!("capture thread panicked: {msg}");
                        l.event(CaptureEvent::Error(Error::SourceCrashed(msg)));
                        l.event(CaptureEvent::Crashed);
                    }
                }
            })
            .ok();
        if thread.is_none() {
            latest.event(CaptureEvent::Error(Error::Invalid(
                "could not start the capture thread (out of threads?); close other programs and \
                 try again"
                    .into(),
            )));
            latest.event(CaptureEvent::Ended);
        }
        Capture {
            name,
            still,
            latest,
            stop,
            thread,
        }
    }

    pub(crate) fn latest(&self) -> &Latest {
        &self.latest
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A camera read can block for a while; do not hang the caller on it.
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    struct Counter(u32);

    impl FrameSource for Counter {
        fn name(&self) -> String {
            "counter".into()
        }
        fn next(&mut self) -> Result<Next> {
            if self.0 == 0 {
                return Ok(Next::End);
            }
            self.0 -= 1;
            Ok(Next::Frame(RgbImage::from_pixel(
                2,
                2,
                image::Rgb([self.0 as u8; 3]),
            )))
        }
    }

    #[test]
    fn resolution_and_fps_flags() {
        assert_eq!(parse_resolution("1280x720"), Ok((1280, 720)));
        assert_eq!(parse_resolution(" 640X480 "), Ok((640, 480)));
        for bad in ["1280", "x720", "1280x", "axb", "1280*720", ""] {
            assert!(
                parse_resolution(bad).unwrap_err().contains("WIDTHxHEIGHT"),
                "{bad}"
            );
        }
        assert!(parse_resolution("8x8").unwrap_err().contains("outside"));
        assert_eq!(parse_fps("15"), Ok(15.0));
        assert!(
            parse_fps("0").is_err() && parse_fps("fast").is_err() && parse_fps("1000").is_err()
        );

        let base = CaptureSettings::default();
        assert_eq!(base.with_overrides(None, None), base);
        let s = base.with_overrides(Some((1280, 720)), Some(2.5));
        assert_eq!((s.camera_width, s.camera_height), (1280, 720));
        assert_eq!((s.camera_fps, s.replay_fps), (3, 2.5));
        assert_eq!(base.with_overrides(None, Some(0.2)).camera_fps, 1);
    }

    #[test]
    fn spec_parsing() {
        assert_eq!("camera:2".parse::<SourceSpec>(), Ok(SourceSpec::Camera(2)));
        assert!(
            "camera:x"
                .parse::<SourceSpec>()
                .unwrap_err()
                .contains("camera:N")
        );
        assert_eq!(
            "a/b.png".parse::<SourceSpec>(),
            Ok(SourceSpec::Path("a/b.png".into()))
        );
    }

    #[test]
    fn only_the_latest_frame_is_handed_over() {
        let cap = Capture::spawn(Box::new(Counter(50)));
        // Wait until the source has finished; all 50 frames were produced, one is left.
        let start = Instant::now();
        while !cap
            .latest()
            .take_events()
            .iter()
            .any(|e| matches!(e, CaptureEvent::Ended))
        {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "capture thread stalled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let f = cap
            .latest()
            .wait(Duration::from_millis(10))
            .expect("a frame");
        assert_eq!(f.image.get_pixel(0, 0).0, [0; 3], "the 50th (last) frame");
        assert!(cap.latest().wait(Duration::from_millis(10)).is_none());
    }

    #[test]
    fn missing_path_is_a_clear_error() {
        let err = open_path(Path::new("/definitely/not/here.png"), 10.0)
            .err()
            .expect("error");
        assert!(err.to_string().contains("/definitely/not/here.png"));
    }
}
