//! The emotion classifier: a TorchScript model run through tch on the CPU.

use std::path::{Path, PathBuf};

use tch::{CModule, Device, IValue, Kind, Tensor};

use super::preprocess::{FaceInput, INPUT_LEN, INPUT_SIZE};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, Result};

/// File name of the shipped model under `models/`.
pub(crate) const MODEL_FILE: &str = "emotion_resnet18_cbam.pt";

/// Where to look for the model when neither `--model` nor `EMOTUNE_MODEL` says.
pub(crate) fn default_model_candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // Installed next to the binary, or the binary is target/{debug,release}/ in the project.
        for dir in exe.ancestors().skip(1).take(4) {
            c.push(dir.join("models").join(MODEL_FILE));
        }
        // `make install`: PREFIX/bin/emotune and PREFIX/share/emotune/models/.
        if let Some(prefix) = exe.parent().and_then(Path::parent) {
            c.push(prefix.join("share/emotune/models").join(MODEL_FILE));
        }
    }
    c.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(MODEL_FILE),
    );
    c.push(PathBuf::from("models").join(MODEL_FILE));
    c.dedup();
    c
}

/// `explicit` (from `--model`), else `EMOTUNE_MODEL`, else the first default that exists.
pub fn resolve_model_path(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("EMOTUNE_MODEL").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let candidates = default_model_candidates();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| Error::ModelNotFound {
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub struct EmotionClassifier {
    module: CModule,
    /// Subtracted from every face's log-probabilities (a person's calibration, applied to
    /// every face by the command line); None: the model's own scores.
    offset: Option<[f32; Emotion::COUNT]>,
}

impl EmotionClassifier {
    /// Loads the model, casts its (possibly fp16) weights to fp32, checks the model contract and
    /// runs one warm-up batch so the first real frame is not slow.
    pub fn load(path: &Path) -> Result<Self> {
        quiet_libtorch_warnings();
        if !path.is_file() {
            return Err(Error::ModelNotFound {
                searched: path.display().to_string(),
            });
        }
        let load_err = |e: tch::TchError| Error::ModelLoad {
            path: path.to_path_buf(),
            message: first_line(&e.to_string()),
        };
        let mut module = CModule::load_on_device(path, Device::Cpu).map_err(load_err)?;
        module.f_set_eval().map_err(load_err)?;
        let contract = |reason: String| Error::ModelContract {
            path: path.to_path_buf(),
            reason,
        };
        let names = match module.method_is::<IValue>("class_names", &[]) {
            Ok(IValue::StringList(v)) => v,
            Ok(IValue::GenericList(v)) => v
                .into_iter()
                .map(|x| match x {
                    IValue::String(s) => Ok(s),
                    other => Err(contract(format!("class_names() holds {other:?}"))),
                })
                .collect::<Result<Vec<_>>>()?,
            Ok(other) => return Err(contract(format!("class_names() returned {other:?}"))),
            Err(_) => return Err(contract("it exports no class_names() method".into())),
        };
        let want: Vec<&str> = Emotion::ALL.iter().map(|e| e.name()).collect();
        if names != want {
            return Err(contract(format!(
                "class_names() is {names:?}, expected {want:?} (FER-2013 order)"
            )));
        }
        match module.method_is::<IValue>("input_size", &[]) {
            Ok(IValue::Int(n)) if n == INPUT_SIZE as i64 => {}
            Ok(other) => {
                return Err(contract(format!(
                    "input_size() is {other:?}, expected {INPUT_SIZE}"
                )));
            }
            Err(_) => return Err(contract("it exports no input_size() method".into())),
        }
        // A float export stores fp16 weights to keep the file small; inference runs in fp32.
        // The int8 layers of a quantized export hold packed integer weights this leaves alone.
        module.to(Device::Cpu, Kind::Float, false);
        let clf = EmotionClassifier {
            module,
            offset: None,
        };
        // Two test batches: TorchScript's executor profiles the graph on the first call and
        // optimises it on the second (46 and 14 ms for the shipped file, then ~2 ms), so the
        // first face the user shows is not the slow one.
        for _ in 0..2 {
            let probe = clf
                .logits(&[Box::new([0.5; INPUT_LEN])])
                .map_err(|e| contract(format!("a test batch failed: {e}")))?;
            if probe.len() != 1 {
                return Err(contract("a test batch gave no output".into()));
            }
        }
        Ok(clf)
    }

    /// Raw logits, one row per face, all faces in one batch.
    pub fn logits(&self, faces: &[FaceInput]) -> Result<Vec<[f32; Emotion::COUNT]>> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let mut flat = Vec::with_capacity(faces.len() * INPUT_LEN);
        for f in faces {
            flat.extend_from_slice(&f[..]);
        }
        let n = faces.len() as i64;
        let s = INPUT_SIZE as i64;
        let input = Tensor::f_from_slice(&flat)?.f_view([n, 1, s, s])?;
        let out = self.module.forward_ts(&[input])?;
        let size = out.size();
        if size != [n, Emotion::COUNT as i64] {
            return Err(Error::Inference(format!(
                "model output has shape {size:?}, expected [{n}, {}]",
                Emotion::COUNT
            )));
        }
        let v = Vec::<f32>::try_from(out.f_to_kind(Kind::Float)?.f_view([-1])?)?;
        Ok(v.chunks_exact(Emotion::COUNT)
            .map(|c| {
                let mut a = [0.0; Emotion::COUNT];
                a.copy_from_slice(c);
                if let Some(off) = &self.offset {
                    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let lse = max + a.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
                    for (l, o) in a.iter_mut().zip(off) {
                        *l = *l - lse - o;
                    }
                }
                a
            })
            .collect())
    }

    /// From now on, `offset` is subtracted from each face's log-probabilities (None: off).
    pub(crate) fn set_offset(&mut self, offset: Option<[f32; Emotion::COUNT]>) {
        self.offset = offset;
    }

    /// Softmax probabilities per face.
    pub fn classify(&self, faces: &[FaceInput]) -> Result<Vec<EmotionScores>> {
        Ok(self
            .logits(faces)?
            .iter()
            .map(EmotionScores::from_logits)
            .collect())
    }
}

/// Sets libtorch's intra-op threads once per process. One face is a tiny batch, so more than
/// two threads mostly adds synchronisation; the detector and capture want the other cores.
pub fn configure_threads(n: usize) {
    tch::set_num_threads(n.max(1) as i32);
}

/// libtorch prints a deprecation warning for quantized tensors the first time the int8 model runs
/// (int8 stays supported in the pinned 2.13). Users cannot act on it, so libtorch's own log is
/// limited to errors; `TORCH_CPP_LOG_LEVEL`, when set, is left to decide instead. Model errors
/// still arrive as `TchError`s.
fn quiet_libtorch_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TORCH_CPP_LOG_LEVEL").is_some() {
            return;
        }
        unsafe extern "C" {
            // c10's minimum log severity (0 info, 1 warning, 2 error), exported by libc10.
            static mut FLAGS_caffe2_log_level: i32;
        }
        // SAFETY: a plain int that libtorch only reads; written once, before any model runs.
        unsafe {
            FLAGS_caffe2_log_level = 2;
        }
    });
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}
