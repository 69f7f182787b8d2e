//! `emotune eval --through-detector`: each FER-2013 test face is upscaled into a textured
//! 640×480 frame, found by the app's detector (a full scan with the live pipeline's settings),
//! cropped by the app's crop code and classified. Measures what the app loses between a
//! dataset crop and a face in a room.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{EvalReport, report};
use crate::capture::load_rgb;
use crate::emotion::Emotion;
use crate::error::Result;
use crate::vision::preprocess::{FaceCrop, FaceInput, face_input, luma, whole_image_input};
use crate::vision::scene::fer_scene;
use crate::vision::testset::hit;
use crate::vision::{DetectorSettings, EmotionClassifier, FaceDetector, Frame};

/// Detection numbers of one run, and the accuracy they cost.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct DetectorStats {
    pub(crate) frames: u64,
    pub(crate) detected: u64,
    pub(crate) detection_rate: f64,
    /// Detections that hit no true face (IoU < 0.3), over all frames.
    pub(crate) false_positives: u64,
    /// Accuracy with every missed face counted as wrong.
    pub(crate) accuracy_all_frames: f64,
    /// The same test images classified whole, without detector or crop.
    pub(crate) direct_accuracy: f64,
    /// Direct accuracy on the detected subset only (isolates the crop's effect).
    pub(crate) direct_accuracy_detected: f64,
    pub(crate) crop: FaceCrop,
}

/// The usual report (over the detected faces) plus the detector's numbers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SceneReport {
    #[serde(flatten)]
    pub(crate) report: EvalReport,
    pub(crate) through_detector: DetectorStats,
}

impl SceneReport {
    pub(crate) fn to_text(&self) -> String {
        let d = &self.through_detector;
        format!(
            "through the detector: {} frames, detected {} ({:.2} %), false positives {}\n\
             crop: margin {:.2}, shift_y {:+.2}, aspect {:.2}\n\
             direct accuracy {:.2} % (detected subset {:.2} %), through the detector {:.2} % \
             (misses counted wrong: {:.2} %)\n\n{}",
            d.frames,
            d.detected,
            d.detection_rate * 100.0,
            d.false_positives,
            d.crop.margin,
            d.crop.shift_y,
            d.crop.aspect,
            d.direct_accuracy * 100.0,
            d.direct_accuracy_detected * 100.0,
            self.report.accuracy * 100.0,
            d.accuracy_all_frames * 100.0,
            self.report.to_text()
        )
    }
}

/// What one test image became: its direct input, and one input per crop if it was found.
struct Outcome {
    label: Emotion,
    direct: FaceInput,
    found: Option<Vec<FaceInput>>,
    false_positives: u64,
}

/// The crops `--tune-crop` tries: margin × vertical shift × aspect.
pub(crate) fn crop_grid() -> Vec<FaceCrop> {
    let mut grid = Vec::new();
    for margin in [0.0, 0.1, 0.2, 0.3] {
        for shift_y in [-0.1, -0.05, 0.0, 0.05] {
            for aspect in [1.0, 1.15, 1.3] {
                grid.push(FaceCrop {
                    margin,
                    shift_y,
                    aspect,
                });
            }
        }
    }
    grid
}

fn outcome(
    det: &mut FaceDetector,
    path: &Path,
    label: Emotion,
    seed: u64,
    crops: &[FaceCrop],
) -> Result<Outcome> {
    let face = luma(&load_rgb(path)?);
    let direct = whole_image_input(&face);
    let scene = fer_scene(&face, seed);
    let gray = luma(&scene.frame);
    // The app's view: rustface reads the gray frame, BlazeFace the color one.
    let found = det.detect(Frame::with_color(&gray, &scene.frame));
    let best = found
        .iter()
        .filter(|d| hit(&[d.bbox], &scene.face))
        .max_by(|a, b| a.bbox.iou(&scene.face).total_cmp(&b.bbox.iou(&scene.face)));
    let false_positives = found
        .iter()
        .filter(|d| !hit(&[d.bbox], &scene.face))
        .count() as u64;
    Ok(Outcome {
        label,
        direct,
        found: best.map(|d| {
            crops
                .iter()
                .map(|c| face_input(&gray, &d.bbox, d.roll, c))
                .collect()
        }),
        false_positives,
    })
}

/// Images per batch through the classifier.
const CHUNK: usize = 128;

/// The outcomes of `chunk` (whose first image is image `first` of the run), split over
/// `threads` detector threads, in order.
fn chunk_outcomes(
    chunk: &[(PathBuf, Emotion)],
    first: usize,
    threads: usize,
    detector: DetectorSettings,
    crops: &[FaceCrop],
) -> Vec<Result<Outcome>> {
    let per = chunk.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .enumerate()
            .map(|(t, part)| {
                s.spawn(move || {
                    // rustface's detector is not Send: one per thread, built here.
                    let mut det = match crate::pipeline::detector(detector) {
                        Ok(d) => d,
                        Err(e) => return vec![Err(e)],
                    };
                    part.iter()
                        .enumerate()
                        .map(|(i, (path, label))| {
                            let seed = (first + t * per + i) as u64;
                            outcome(&mut det, path, *label, seed, crops)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(_) => vec![Err(crate::error::Error::Invalid(
                    "a detection thread panicked".into(),
                ))],
            })
            .collect()
    })
}

/// Runs every image in `items` through a scene, the detector and each crop of `crops`; one
/// report per crop, in the same order. Image `i` of `items` always gets the same scene.
pub(crate) fn evaluate_through_detector(
    clf: &EmotionClassifier,
    items: &[(PathBuf, Emotion)],
    detector: DetectorSettings,
    crops: &[FaceCrop],
    threads: usize,
    mut progress: impl FnMut(usize),
) -> Result<Vec<SceneReport>> {
    let threads = threads.max(1);
    let mut labels = Vec::with_capacity(items.len());
    let mut direct = Vec::with_capacity(items.len());
    // Per crop: (label, logits) of the detected faces.
    let mut through: Vec<(Vec<Emotion>, Vec<[f32; Emotion::COUNT]>)> =
        vec![(Vec::new(), Vec::new()); crops.len()];
    let mut detected_mask = Vec::with_capacity(items.len());
    let mut false_positives = 0;
    for (c, chunk) in items.chunks(CHUNK).enumerate() {
        let outcomes = chunk_outcomes(chunk, c * CHUNK, threads, detector, crops);
        let mut direct_inputs = Vec::with_capacity(chunk.len());
        // Per crop: the labels and inputs of the faces found in this chunk.
        let mut per_crop: Vec<(Vec<Emotion>, Vec<FaceInput>)> =
            vec![(Vec::new(), Vec::new()); crops.len()];
        for o in outcomes {
            let o = o?;
            labels.push(o.label);
            detected_mask.push(o.found.is_some());
            false_positives += o.false_positives;
            direct_inputs.push(o.direct);
            for (input, (l, inputs)) in o.found.into_iter().flatten().zip(&mut per_crop) {
                l.push(o.label);
                inputs.push(input);
            }
        }
        direct.extend(clf.logits(&direct_inputs)?);
        for ((l, inputs), (crop_labels, crop_logits)) in per_crop.into_iter().zip(&mut through) {
            crop_labels.extend(l);
            crop_logits.extend(clf.logits(&inputs)?);
        }
        progress(labels.len());
    }
    let direct_report = report(&labels, &direct);
    let (sub_labels, sub_logits): (Vec<Emotion>, Vec<[f32; Emotion::COUNT]>) = labels
        .iter()
        .zip(&direct)
        .zip(&detected_mask)
        .filter(|(_, found)| **found)
        .map(|((l, g), _)| (*l, *g))
        .unzip();
    let direct_detected = report(&sub_labels, &sub_logits);
    let frames = labels.len() as u64;
    Ok(crops
        .iter()
        .zip(through)
        .map(|(crop, (l, g))| {
            let r = report(&l, &g);
            let detected = r.n;
            let correct = r.accuracy * detected as f64;
            SceneReport {
                through_detector: DetectorStats {
                    frames,
                    detected,
                    detection_rate: ratio(detected as f64, frames),
                    false_positives,
                    accuracy_all_frames: ratio(correct, frames),
                    direct_accuracy: direct_report.accuracy,
                    direct_accuracy_detected: direct_detected.accuracy,
                    crop: *crop,
                },
                report: r,
            }
        })
        .collect())
}

fn ratio(a: f64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_contains_the_plain_square_and_no_duplicates() {
        let g = crop_grid();
        assert!(g.contains(&FaceCrop {
            margin: 0.0,
            shift_y: 0.0,
            aspect: 1.0
        }));
        for (i, a) in g.iter().enumerate() {
            assert!(!g[i + 1..].contains(a), "{a:?} twice");
        }
    }
}
