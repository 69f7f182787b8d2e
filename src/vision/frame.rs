//! What the detectors read and what they find: a frame (gray, and color where the caller has
//! it) and one detected face. Below both detectors, so neither imports the other for them.

use image::{GrayImage, RgbImage};

use super::preprocess::BBox;

/// A frame as the detectors read it: rustface the gray copy, BlazeFace (trained on color
/// selfies) the color one where the caller has it. `gray` is `luma(color)`.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub gray: &'a GrayImage,
    pub color: Option<&'a RgbImage>,
}

impl<'a> Frame<'a> {
    /// Both copies of one frame; a color image of another size is left out.
    pub fn with_color(gray: &'a GrayImage, color: &'a RgbImage) -> Self {
        Frame {
            gray,
            color: (color.dimensions() == gray.dimensions()).then_some(color),
        }
    }
}

impl<'a> From<&'a GrayImage> for Frame<'a> {
    fn from(gray: &'a GrayImage) -> Self {
        Frame { gray, color: None }
    }
}

/// One detected face in original-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub(crate) score: f64,
    /// Degrees the face is rolled by: the pass that found it searched the image rotated by
    /// this (see `rotate_gray`), and the classifier's crop is cut rotated by it too. 0: upright.
    pub roll: f32,
    /// Found by BlazeFace, not rustface: a rustface box of the same face wins (`suppress_overlaps`).
    pub(crate) neural: bool,
}

impl Detection {
    /// Whether BlazeFace found this face (rustface did not).
    pub fn is_neural(&self) -> bool {
        self.neural
    }
}
