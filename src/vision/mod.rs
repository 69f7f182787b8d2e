//! Faces and emotions in a frame: detection (rustface), preprocessing, classification (tch).

pub mod classifier;
pub(crate) mod detector;
pub mod neural;
pub mod preprocess;
pub mod scene;
pub mod testset;

pub use classifier::{EmotionClassifier, resolve_model_path};
pub use detector::{Detection, DetectorSettings, FaceDetector, Frame, rotate_gray, unrotate_point};
pub use preprocess::{BBox, FaceInput};
