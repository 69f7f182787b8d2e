//! Faces and emotions in a frame: detection (rustface), preprocessing, classification (tch).

pub(crate) mod cascade;
pub mod classifier;
pub(crate) mod detector;
pub(crate) mod frame;
pub(crate) mod helper;
pub mod neural;
pub mod preprocess;
pub(crate) mod resample;
pub mod scene;
pub(crate) mod settings;
pub mod testset;

pub use classifier::{EmotionClassifier, resolve_model_path};
pub use detector::{DetectorSettings, FaceDetector};
pub use frame::{Detection, Frame};
pub use preprocess::{BBox, FaceInput};
pub use resample::{rotate_gray, unrotate_point};
