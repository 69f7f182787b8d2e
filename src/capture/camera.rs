//! Webcam capture through nokhwa (V4L2 on Linux): MJPEG/YUYV decoded to RGB, reconnects when
//! the camera vanishes.

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
pub struct CameraDesc {
    pub index: String,
    pub name: String,
    pub description: String,
}

/// Cameras the platform backend can see; an empty list when there are none.
pub fn list_cameras() -> Result<Vec<CameraDesc>> {
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

/// Requested capture format: 640×480 at 30 fps, MJPEG preferred (the cheapest for USB).
pub fn requested_format(width: u32, height: u32, fps: u32) -> RequestedFormat<'static> {
    RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
        Resolution::new(width, height),
        FrameFormat::MJPEG,
        fps,
    )))
}

pub struct CameraSource {
    index: u32,
    name: String,
    camera: Option<Camera>,
    size: (u32, u32, u32),
}

impl CameraSource {
    pub fn open(index: u32) -> Result<Self> {
        Self::open_with(index, 640, 480, 30)
    }

    pub fn open_with(index: u32, width: u32, height: u32, fps: u32) -> Result<Self> {
        let camera = connect(index, (width, height, fps))?;
        let name = camera.info().human_name();
        Ok(CameraSource {
            index,
            name,
            camera: Some(camera),
            size: (width, height, fps),
        })
    }
}

fn connect(index: u32, (w, h, fps): (u32, u32, u32)) -> Result<Camera> {
    let mut cam = Camera::new(CameraIndex::Index(index), requested_format(w, h, fps)).map_err(|e| {
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

impl FrameSource for CameraSource {
    fn name(&self) -> String {
        format!("camera {}: {}", self.index, self.name)
    }

    fn next(&mut self) -> Result<Next> {
        let Some(cam) = self.camera.as_mut() else {
            // Lost earlier: try to reconnect, reporting failures through the capture thread.
            self.camera = Some(connect(self.index, self.size)?);
            return Ok(Next::Wait(Duration::ZERO));
        };
        let decoded = cam
            .frame()
            .and_then(|buf| buf.decode_image::<RgbFormat>());
        match decoded {
            Ok(img) => {
                let (w, h) = img.dimensions();
                RgbImage::from_raw(w, h, img.into_raw())
                    .map(Next::Frame)
                    .ok_or_else(|| Error::Camera("camera sent a frame of the wrong size".into()))
            }
            Err(e) => {
                self.camera = None;
                Err(Error::Camera(format!(
                    "camera {} stopped delivering frames ({e}); reconnecting",
                    self.index
                )))
            }
        }
    }
}
