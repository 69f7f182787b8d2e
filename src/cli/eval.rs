//! `emotune eval`: the command around crate::eval (labels, limits, the detector, output).

use std::path::Path;

use super::{all_cores, load_classifier};
use crate::eval::{self, LabelSet, Split};
use crate::pipeline::PipelineSettings;

/// `--neural-score` / `--neural-saturation`: a number from 0 to 1.
pub fn parse_unit_interval(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

pub struct EvalOptions<'a> {
    pub data: &'a Path,
    pub split: Split,
    pub labels: LabelSet,
    /// FER+'s vote table (None: looked for next to the data).
    pub votes: Option<&'a Path>,
    pub model: Option<&'a Path>,
    pub json: bool,
    pub confusion: Option<&'a Path>,
    pub through_detector: bool,
    pub tune_crop: bool,
    /// BlazeFace's settings for `--through-detector` (None: the app's defaults).
    pub neural: NeuralOverrides,
    pub limit: Option<usize>,
    /// A person's calibration applied to every face (`--profile`).
    pub personal: super::profile::Personal<'a>,
}

/// BlazeFace's settings from the command line, to compare against the app's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeuralOverrides {
    /// Probability from which its faces count; 1: rustface alone.
    pub score: Option<f32>,
    /// How much color it sees; 0: the gray frame.
    pub saturation: Option<f32>,
}

impl NeuralOverrides {
    pub(crate) fn apply(self, detector: &mut crate::vision::DetectorSettings) {
        if let Some(p) = self.score {
            detector.neural_score = p;
        }
        if let Some(s) = self.saturation {
            detector.neural_saturation = s;
        }
    }
}

fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

pub fn eval(o: &EvalOptions) -> anyhow::Result<()> {
    if o.tune_crop && o.split != Split::PublicTest {
        anyhow::bail!(
            "--tune-crop tunes on PublicTest only (PrivateTest is kept for the final report): \
             add --split PublicTest"
        );
    }
    let model = crate::vision::classifier::resolve_model_path(o.model)?;
    let mut clf = load_classifier(Some(&model), all_cores())?;
    if !o.personal.is_empty() {
        let mut det = crate::vision::FaceDetector::new(super::photo_detector_settings())?;
        let adj = super::profile::adjustment(o.personal, &model, &clf, &mut det, false)?;
        if let Some((adj, what)) = adj {
            eprintln!("note: every face's scores {what}");
            clf.set_offset(Some(adj.offset()));
        }
    }
    let votes = match o.labels {
        LabelSet::Folder => None,
        LabelSet::FerPlus => Some(read_votes(o.data, o.votes)?),
    };
    let items = eval_items(o, votes.as_ref())?;
    let (report, title, text, json) = match (&votes, o.through_detector) {
        (Some(votes), false) => return eval_ferplus(o, &clf, &items, votes),
        (_, true) => match eval_through_detector(o, &clf, &items, votes.is_some())? {
            Some(done) => done,
            None => return Ok(()),
        },
        (None, false) => {
            let bar = progress_bar(items.len());
            let report = eval::evaluate(&clf, &items, 256, |done| bar.set_position(done as u64))?;
            bar.finish_and_clear();
            let title = format!(
                "FER-2013 {:?}: accuracy {:.2} % (n = {})",
                o.split,
                report.accuracy * 100.0,
                report.n
            );
            let (text, json) = (report.to_text(), serde_json::to_string(&report)?);
            (report, title, text, json)
        }
    };
    if let Some(png) = o.confusion {
        report.save_confusion_png(png, &title)?;
        eprintln!("confusion matrix written to {}", png.display());
    }
    if o.json {
        println!("{json}");
    } else {
        print!("{text}");
    }
    Ok(())
}

/// The split's images with the labels that score them, `--limit` applied.
fn eval_items(
    o: &EvalOptions,
    votes: Option<&eval::ferplus::VoteTable>,
) -> anyhow::Result<Vec<(std::path::PathBuf, crate::Emotion)>> {
    let mut items = eval::list_labelled(o.data, o.split)?;
    if let (Some(votes), true) = (votes, o.through_detector) {
        // Scored on the plurality label: the items carry it instead of the folder's.
        items = eval::ferplus_items(&items, votes);
    }
    if let Some(n) = o.limit.filter(|&n| n > 0 && n < items.len()) {
        // Spread over the sorted list, so every class keeps its share.
        let step = items.len() as f64 / n as f64;
        items = (0..n)
            .map(|i| items[(i as f64 * step) as usize].clone())
            .collect();
    }
    Ok(items)
}

type EvalOutput = (eval::EvalReport, String, String, String);

/// `--through-detector`: the report, its title, text and JSON; None when `--tune-crop` printed
/// its ranking instead.
fn eval_through_detector(
    o: &EvalOptions,
    clf: &crate::vision::EmotionClassifier,
    items: &[(std::path::PathBuf, crate::Emotion)],
    ferplus: bool,
) -> anyhow::Result<Option<EvalOutput>> {
    let bar = progress_bar(items.len());
    let crops = if o.tune_crop {
        eval::scene::crop_grid()
    } else {
        vec![PipelineSettings::default().crop]
    };
    let mut detector = PipelineSettings::default().detector;
    o.neural.apply(&mut detector);
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
    if o.tune_crop {
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

fn read_votes(data: &Path, given: Option<&Path>) -> anyhow::Result<eval::ferplus::VoteTable> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => eval::ferplus::find_votes(data).map_err(|tried| {
            anyhow::anyhow!(
                "no FER+ vote table found (looked in: {}). Pass --votes ferplus.csv, or \
                 --labels folder to score the FER-2013 folder labels",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
    };
    Ok(eval::ferplus::VoteTable::read(&path)?)
}

fn eval_ferplus(
    o: &EvalOptions,
    clf: &crate::vision::EmotionClassifier,
    items: &[(std::path::PathBuf, crate::Emotion)],
    votes: &eval::ferplus::VoteTable,
) -> anyhow::Result<()> {
    let bar = progress_bar(items.len());
    let r = eval::evaluate_ferplus(clf, items, votes, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    if let Some(png) = o.confusion {
        let title = format!(
            "FER+ {:?}: accuracy {:.2} % (n = {})",
            o.split,
            r.report.accuracy * 100.0,
            r.report.n
        );
        r.report.save_confusion_png(png, &title)?;
        eprintln!("confusion matrix written to {}", png.display());
    }
    if o.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print!("{}", r.to_text());
    }
    Ok(())
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
