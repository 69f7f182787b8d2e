//! Faces and emotions in a frame: detection (rustface), preprocessing, classification (tch).

pub(crate) mod cascade;
pub mod classifier;
pub(crate) mod detector;
pub(crate) mod frame;
pub(crate) mod helper;
pub mod neural;
pub mod preprocess;
pub(crate) mod resample;
// Synthetic rooms and test faces: measurement only (feature `measure`), and the unit tests'
// fixtures, so `cargo test` builds them whatever the features.
#[cfg(any(test, feature = "measure"))]
pub mod scene;
pub(crate) mod settings;
#[cfg(any(test, feature = "measure"))]
pub mod testset;

pub use classifier::{EmotionClassifier, resolve_model_path};
pub use detector::{DetectorSettings, FaceDetector};
pub(crate) use detector::{Offload, Task};
pub use frame::{Detection, Frame};
pub use preprocess::{BBox, hit};
pub use resample::{rotate_gray, unrotate_point};
