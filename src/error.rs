//! Library errors: each names the thing that failed and, where there is one, the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "emotion model not found (looked in: {searched}). Pass --model PATH or set EMOTUNE_MODEL"
    )]
    ModelNotFound { searched: String },

    #[error(
        "cannot load emotion model {path}: {message}. Is it a TorchScript file exported by training/?"
    )]
    ModelLoad { path: PathBuf, message: String },

    #[error("emotion model {path} does not fit the model contract: {reason}")]
    ModelContract { path: PathBuf, reason: String },

    #[error("inference failed: {0}")]
    Inference(String),

    #[error("cannot read image {path}: {message}")]
    Image { path: PathBuf, message: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("camera: {0}")]
    Camera(String),

    #[error("the frame source crashed ({0}); opening it again")]
    SourceCrashed(String),

    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::Inference(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
