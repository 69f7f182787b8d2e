//! `emotune eval --through-detector` (feature `measure`): each test face placed in a synthetic
//! room and found by the app's detector before it is classified (crate::eval::scene).

use super::{EvalOptions, progress_bar};
use crate::cli::all_cores;
use crate::eval::{self, Split};
use crate::pipeline::PipelineSettings;

/// `eval`'s flags for going through the detector.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct ThroughDetectorArgs {
    /// Place each face in a textured 640x480 frame and go through the app's detector and
    /// crop, as the live app does; reports detection rate and accuracy.
    #[arg(long)]
    pub through_detector: bool,
    /// With --through-detector on PublicTest: try a grid of crops (margin, vertical shift,
    /// aspect) and rank them.
    #[arg(long, requires = "through_detector")]
    pub tune_crop: bool,
    /// With --through-detector: the probability from which a BlazeFace face counts
    /// (default: the app's setting); 1 leaves rustface alone.
    #[arg(long, value_name = "P", requires = "through_detector",
          value_parser = super::parse_unit_interval)]
    pub neural_score: Option<f32>,
    /// With --through-detector: how much of the frame's color BlazeFace sees, 0 (gray) to
    /// 1 (default: the app's setting).
    #[arg(long, value_name = "S", requires = "through_detector",
          value_parser = super::parse_unit_interval)]
    pub neural_saturation: Option<f32>,
}

impl ThroughDetectorArgs {
    /// Refuses flags that do not fit the split, before anything is loaded.
    pub(super) fn check(&self, split: Split) -> anyhow::Result<()> {
        if self.tune_crop && split != Split::PublicTest {
            anyhow::bail!(
                "--tune-crop tunes on PublicTest only (PrivateTest is kept for the final report): \
                 add --split PublicTest"
            );
        }
        Ok(())
    }

    /// BlazeFace's settings from the flags (None: the app's defaults).
    fn neural(&self) -> super::NeuralOverrides {
        super::NeuralOverrides {
            score: self.neural_score,
            saturation: self.neural_saturation,
        }
    }
}

type EvalOutput = (eval::EvalReport, String, String, String);

/// `--through-detector`: the report, its title, text and JSON; None when `--tune-crop` printed
/// its ranking instead.
pub(super) fn eval_through_detector(
    o: &EvalOptions,
    clf: &crate::vision::EmotionClassifier,
    items: &[(std::path::PathBuf, crate::Emotion)],
    ferplus: bool,
) -> anyhow::Result<Option<EvalOutput>> {
    let bar = progress_bar(items.len());
    let crops = if o.scene.tune_crop {
        eval::scene::crop_grid()
    } else {
        vec![PipelineSettings::default().crop]
    };
    let mut detector = PipelineSettings::default().detector;
    o.scene.neural().apply(&mut detector);
    let mut reports = eval::scene::evaluate_through_detector(
        clf,
        items,
        detector,
        &crops,
        all_cores(),
        |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    reports.sort_by(|a, b| b.report.accuracy.total_cmp(&a.report.accuracy));
    if o.scene.tune_crop {
        print_crop_ranking(&reports, o.json)?;
        return Ok(None);
    }
    let best = reports.swap_remove(0);
    let (labels, key) = if ferplus {
        ("FER+", "ferplus")
    } else {
        ("folder", "folder")
    };
    let title = format!(
        "FER-2013 {:?} through the detector, {labels} labels: accuracy {:.2} % (n = {})",
        o.split,
        best.report.accuracy * 100.0,
        best.report.n
    );
    let mut json = serde_json::to_value(&best)?;
    json["labels"] = serde_json::json!(key);
    Ok(Some((
        best.report.clone(),
        title,
        format!("labels: {labels}\n{}", best.to_text()),
        json.to_string(),
    )))
}

/// `--tune-crop`: every crop of the grid, best accuracy first.
fn print_crop_ranking(reports: &[eval::scene::SceneReport], json: bool) -> anyhow::Result<()> {
    if json {
        let rows: Vec<_> = reports.iter().map(|r| &r.through_detector).collect();
        let acc: Vec<f64> = reports.iter().map(|r| r.report.accuracy).collect();
        println!("{}", serde_json::json!({"crops": rows, "accuracy": acc}));
        return Ok(());
    }
    if let Some(r) = reports.first() {
        let d = &r.through_detector;
        println!(
            "{} frames, detected {} ({:.2} %), direct accuracy {:.2} % (detected subset {:.2} %)",
            d.frames,
            d.detected,
            d.detection_rate * 100.0,
            d.direct_accuracy * 100.0,
            d.direct_accuracy_detected * 100.0
        );
    }
    println!(
        "{:>7} {:>8} {:>7} {:>9}",
        "margin", "shift_y", "aspect", "accuracy"
    );
    for r in reports {
        let c = r.through_detector.crop;
        println!(
            "{:>7.2} {:>+8.2} {:>7.2} {:>8.2} %",
            c.margin,
            c.shift_y,
            c.aspect,
            r.report.accuracy * 100.0
        );
    }
    Ok(())
}
