//! `emotune eval`: the command around crate::eval (labels, limits, the detector, output).

use std::path::Path;

use super::{all_cores, load_classifier};
use crate::eval::{self, LabelSet, Split};

// `--through-detector`: measurement only (feature `measure`).
#[cfg(feature = "measure")]
mod detector;
#[cfg(feature = "measure")]
pub use detector::ThroughDetectorArgs;

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
    #[cfg(feature = "measure")]
    pub scene: ThroughDetectorArgs,
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

impl EvalOptions<'_> {
    /// Whether faces go through a scene and the detector (`--through-detector`).
    fn through_detector(&self) -> bool {
        #[cfg(feature = "measure")]
        return self.scene.through_detector;
        #[cfg(not(feature = "measure"))]
        false
    }
}

pub fn eval(o: &EvalOptions) -> anyhow::Result<()> {
    #[cfg(feature = "measure")]
    o.scene.check(o.split)?;
    let model = crate::vision::classifier::resolve_model_path(o.model)?;
    let mut clf = load_classifier(Some(&model), all_cores())?;
    if !o.personal.is_empty() {
        let mut det = crate::pipeline::detector(super::photo_detector_settings())?;
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
    let (report, title, text, json) = match &votes {
        #[cfg(feature = "measure")]
        _ if o.scene.through_detector => {
            match detector::eval_through_detector(o, &clf, &items, votes.is_some())? {
                Some(done) => done,
                None => return Ok(()),
            }
        }
        Some(votes) => return eval_ferplus(o, &clf, &items, votes),
        None => {
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
    if let (Some(votes), true) = (votes, o.through_detector()) {
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
