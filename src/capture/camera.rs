//! Webcam capture through nokhwa (V4L2 on Linux): MJPEG/YUYV decoded to RGB, reconnects when
//! the camera vanishes. nokhwa's `Camera` is not `Send`, so it lives on a thread of its own,
//! created there, and hands decoded frames over a bounded channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, channel, sync_channel};
use std::time::Duration;

use image::RgbImage;
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{FrameSource, Next};
use crate::error::{Error, Result};

/// A camera as `emotune devices` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct CameraDesc {
    pub(crate) index: String,
    pub(crate) name: String,
    pub(crate) description: String,
}

/// Cameras the platform backend can see; an empty list when there are none.
pub(crate) fn list_cameras() -> Result<Vec<CameraDesc>> {
    let cams = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| Error::Camera(format!("cannot list cameras: {e}")))?;
    Ok(cams
        .into_iter()
        .map(|c| CameraDesc {
            index: c.index().to_string(),
            name: c.human_name(),
            description: c.description().to_string(),
        })
        .collect())
}

/// Requested capture format: the closest to `width`×`height` at `fps`, MJPEG preferred (the
/// cheapest over USB); nokhwa decodes MJPEG and YUYV to RGB.
pub(crate) fn requested_format(width: u32, height: u32, fps: u32) -> RequestedFormat<'static> {
    RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
        Resolution::new(width, height),
        FrameFormat::MJPEG,
        fps,
    )))
}

fn connect(index: u32, (w, h, fps): (u32, u32, u32)) -> Result<Camera> {
    let mut cam =
        Camera::new(CameraIndex::Index(index), requested_format(w, h, fps)).map_err(|e| {
            Error::Camera(format!(
                "camera {index} could not be opened ({e}). Check it is connected and not in use by \
             another program; `emotune devices` lists the cameras, or use --source PATH"
            ))
        })?;
    cam.open_stream().map_err(|e| {
        Error::Camera(format!(
            "camera {index} opened but will not stream ({e}); another program may be using it"
        ))
    })?;
    Ok(cam)
}

fn grab(cam: &mut Camera) -> std::result::Result<RgbImage, String> {
    let img = cam
        .frame()
        .and_then(|buf| buf.decode_image::<RgbFormat>())
        .map_err(|e| e.to_string())?;
    let (w, h) = img.dimensions();
    RgbImage::from_raw(w, h, img.into_raw()).ok_or_else(|| "frame of the wrong size".to_string())
}

/// Owns the camera: reads, decodes, and on failure reports, waits and reconnects.
fn camera_thread(
    index: u32,
    size: (u32, u32, u32),
    ready: std::sync::mpsc::Sender<Result<String>>,
    tx: SyncSender<Result<RgbImage>>,
    stop: Arc<AtomicBool>,
) {
    let mut cam = match connect(index, size) {
        Ok(c) => {
            let _ = ready.send(Ok(c.info().human_name()));
            Some(c)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let msg = match cam.as_mut() {
            Some(c) => match grab(c) {
                Ok(img) => Ok(img),
                Err(e) => {
                    cam = None;
                    Err(Error::Camera(format!(
                        "camera {index} stopped delivering frames ({e}); reconnecting"
                    )))
                }
            },
            None => {
                std::thread::sleep(Duration::from_secs(1));
                match connect(index, size) {
                    Ok(c) => {
                        cam = Some(c);
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

pub(crate) struct CameraSource {
    index: u32,
    name: String,
    rx: Receiver<Result<RgbImage>>,
    stop: Arc<AtomicBool>,
}

impl CameraSource {
    /// Opens the camera on its own thread and waits until it streams (or fails to).
    pub(crate) fn open_with(index: u32, width: u32, height: u32, fps: u32) -> Result<Self> {
        let (ready_tx, ready_rx) = channel();
        let (tx, rx) = sync_channel(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::Builder::new()
            .name(format!("camera-{index}"))
            .spawn(move || camera_thread(index, (width, height, fps), ready_tx, tx, s))
            .map_err(|e| Error::Camera(format!("cannot start the camera thread: {e}")))?;
        let name = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| Error::Camera(format!("camera {index} did not answer within 10 s")))??;
        Ok(CameraSource {
            index,
            name,
            rx,
            stop,
        })
    }
}

impl FrameSource for CameraSource {
    fn name(&self) -> String {
        format!("camera {}: {}", self.index, self.name)
    }

    fn next(&mut self) -> Result<Next> {
        match self.rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Ok(img)) => Ok(Next::Frame(img)),
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => Ok(Next::Wait(Duration::ZERO)),
            Err(RecvTimeoutError::Disconnected) => Ok(Next::End),
        }
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
