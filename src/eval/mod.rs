//! `emotune eval`: accuracy, macro-F1, per-class precision/recall/F1 and 4-class accuracy on a
//! FER-2013 folder, with the same definitions as training/metrics.py.

pub(crate) mod ferplus;
#[cfg(feature = "measure")]
pub(crate) mod scene;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::capture::load_rgb;
use crate::emotion::Emotion;
use crate::error::{Error, Result};
use crate::vision::EmotionClassifier;
use crate::vision::preprocess::{luma, whole_image_input};

/// Which test images to use: the Kaggle layout keeps both halves of the test set in test/.
/// Which labels score: FER+'s ten votes (plurality), or the FER-2013 folder (one annotator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelSet {
    #[value(name = "ferplus")]
    FerPlus,
    #[value(name = "folder")]
    Folder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    #[value(name = "PrivateTest")]
    PrivateTest,
    #[value(name = "PublicTest")]
    PublicTest,
    #[value(name = "all")]
    All,
}

impl Split {
    fn matches(self, file_name: &str) -> bool {
        match self {
            Split::PrivateTest => file_name.starts_with("PrivateTest"),
            Split::PublicTest => file_name.starts_with("PublicTest"),
            Split::All => true,
        }
    }
}

/// Labelled images of `split` under `dir/test/<class>/` (or `dir/<class>/` if there is no test/).
pub fn list_labelled(dir: &Path, split: Split) -> Result<Vec<(PathBuf, Emotion)>> {
    let base = if dir.join("test").is_dir() {
        dir.join("test")
    } else {
        dir.to_path_buf()
    };
    let mut out = Vec::new();
    for e in Emotion::ALL {
        let class_dir = base.join(e.name());
        let Ok(entries) = std::fs::read_dir(&class_dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_file() && split.matches(&name) {
                out.push((p, e));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no {split:?} images found; expected the Kaggle FER-2013 layout \
             (test/<class>/PrivateTest_*.jpg, classes {})",
            dir.display(),
            Emotion::ALL.map(|e| e.name()).join(", ")
        )));
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ClassMetrics {
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) f1: f64,
    pub(crate) support: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct EvalReport {
    pub(crate) accuracy: f64,
    pub(crate) macro_f1: f64,
    pub(crate) per_class: BTreeMap<String, ClassMetrics>,
    /// Over images labelled angry/happy/neutral/sad, argmax restricted to those four logits.
    pub(crate) accuracy_4class: f64,
    pub(crate) n: u64,
    /// Rows: true class, columns: predicted, FER-2013 order.
    pub(crate) confusion: [[u64; Emotion::COUNT]; Emotion::COUNT],
}

const FOUR: [Emotion; 4] = [
    Emotion::Angry,
    Emotion::Happy,
    Emotion::Neutral,
    Emotion::Sad,
];

fn argmax(xs: impl Iterator<Item = f32>) -> usize {
    xs.enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, v)| if v > b.1 { (i, v) } else { b },
        )
        .0
}

/// Computes the report from labels and logits (one row per image).
pub(crate) fn report(labels: &[Emotion], logits: &[[f32; Emotion::COUNT]]) -> EvalReport {
    let mut cm = [[0u64; Emotion::COUNT]; Emotion::COUNT];
    let (mut four_ok, mut four_n) = (0u64, 0u64);
    for (y, l) in labels.iter().zip(logits) {
        let pred = argmax(l.iter().copied());
        cm[y.index()][pred] += 1;
        if FOUR.contains(y) {
            four_n += 1;
            let p4 = FOUR[argmax(FOUR.iter().map(|e| l[e.index()]))];
            four_ok += (p4 == *y) as u64;
        }
    }
    let n: u64 = cm.iter().flatten().sum();
    let correct: u64 = (0..Emotion::COUNT).map(|i| cm[i][i]).sum();
    let mut per_class = BTreeMap::new();
    let mut f1_sum = 0.0;
    for e in Emotion::ALL {
        let i = e.index();
        let tp = cm[i][i] as f64;
        let predicted: u64 = (0..Emotion::COUNT).map(|r| cm[r][i]).sum();
        let support: u64 = cm[i].iter().sum();
        let precision = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        let recall = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        f1_sum += f1;
        per_class.insert(
            e.name().to_string(),
            ClassMetrics {
                precision,
                recall,
                f1,
                support,
            },
        );
    }
    EvalReport {
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1: f1_sum / Emotion::COUNT as f64,
        per_class,
        accuracy_4class: if four_n > 0 {
            four_ok as f64 / four_n as f64
        } else {
            0.0
        },
        n,
        confusion: cm,
    }
}

/// Classifies every image (whole image = face, as in training) in batches.
/// `progress` is called with the number of images done so far.
pub(crate) fn evaluate(
    clf: &EmotionClassifier,
    items: &[(PathBuf, Emotion)],
    batch: usize,
    progress: impl FnMut(usize),
) -> Result<EvalReport> {
    let logits = classify_all(clf, items, batch, progress)?;
    let labels: Vec<Emotion> = items.iter().map(|(_, l)| *l).collect();
    Ok(report(&labels, &logits))
}

/// Logits of every image (whole image = face), in `items`' order.
pub(crate) fn classify_all(
    clf: &EmotionClassifier,
    items: &[(PathBuf, Emotion)],
    batch: usize,
    mut progress: impl FnMut(usize),
) -> Result<Vec<[f32; Emotion::COUNT]>> {
    let mut logits = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch.max(1)) {
        let mut inputs = Vec::with_capacity(chunk.len());
        for (path, _) in chunk {
            inputs.push(whole_image_input(&luma(&load_rgb(path)?)));
        }
        logits.extend(clf.logits(&inputs)?);
        progress(logits.len());
    }
    Ok(logits)
}

/// `eval --labels ferplus`: the report on FER+'s plurality labels, calibration against the
/// votes, and the folder labels' accuracy over the whole split as a second figure.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FerPlusReport {
    pub(crate) labels: &'static str,
    #[serde(flatten)]
    pub(crate) report: EvalReport,
    pub(crate) ece: f64,
    pub(crate) ece_votes: f64,
    pub(crate) kl: f64,
    /// Files of the split FER+ does not score (no row, a tie, contempt/unknown/not-a-face).
    pub(crate) unscored: u64,
    pub(crate) folder_accuracy: f64,
    pub(crate) folder_n: u64,
}

/// The items FER+ scores, each with its plurality label instead of the folder's.
pub(crate) fn ferplus_items(
    items: &[(PathBuf, Emotion)],
    votes: &ferplus::VoteTable,
) -> Vec<(PathBuf, Emotion)> {
    items
        .iter()
        .filter_map(|(p, _)| Some((p.clone(), votes.get(p)?.plurality()?)))
        .collect()
}

pub(crate) fn evaluate_ferplus(
    clf: &EmotionClassifier,
    items: &[(PathBuf, Emotion)],
    votes: &ferplus::VoteTable,
    progress: impl FnMut(usize),
) -> Result<FerPlusReport> {
    let logits = classify_all(clf, items, 256, progress)?;
    let folder: Vec<Emotion> = items.iter().map(|(_, l)| *l).collect();
    let folder = report(&folder, &logits);
    let (mut labels, mut shares, mut scored) = (Vec::new(), Vec::new(), Vec::new());
    for ((path, _), l) in items.iter().zip(&logits) {
        if let Some(v) = votes.get(path)
            && let (Some(label), Some(q)) = (v.plurality(), v.shares())
        {
            labels.push(label);
            shares.push(q);
            scored.push(*l);
        }
    }
    if labels.is_empty() {
        return Err(Error::Invalid(
            "none of the split's files has a FER+ vote row: is the vote table for this copy of \
             FER-2013 (rows are matched by file name)?"
                .into(),
        ));
    }
    let cal = ferplus::calibration(&labels, &shares, &scored);
    Ok(FerPlusReport {
        labels: "ferplus",
        report: report(&labels, &scored),
        ece: cal.ece,
        ece_votes: cal.ece_votes,
        kl: cal.kl,
        unscored: (items.len() - labels.len()) as u64,
        folder_accuracy: folder.accuracy,
        folder_n: folder.n,
    })
}

impl FerPlusReport {
    pub(crate) fn to_text(&self) -> String {
        format!(
            "labels: FER+ plurality of ten votes ({} files of the split not scored)\n{}\n\
             calibration against the votes (15 bins):\n  ECE (top class vs plurality) {:.4}\n  \
             ECE (top class vs its vote share) {:.4}\n  mean KL(votes || model) {:.4} nats\n\n\
             folder labels (one annotator): accuracy {:.2} % (n = {})\n",
            self.unscored,
            self.report.to_text(),
            self.ece,
            self.ece_votes,
            self.kl,
            self.folder_accuracy * 100.0,
            self.folder_n
        )
    }
}

impl EvalReport {
    /// Human-readable table for the terminal.
    pub(crate) fn to_text(&self) -> String {
        let mut s = format!(
            "n = {}\naccuracy        {:.2} %\nmacro-F1        {:.2} %\n4-class accuracy {:.2} % (angry/happy/neutral/sad)\n\n{:<10} {:>9} {:>7} {:>7} {:>8}\n",
            self.n,
            self.accuracy * 100.0,
            self.macro_f1 * 100.0,
            self.accuracy_4class * 100.0,
            "class",
            "precision",
            "recall",
            "F1",
            "support"
        );
        for e in Emotion::ALL {
            if let Some(m) = self.per_class.get(e.name()) {
                s += &format!(
                    "{:<10} {:>9.3} {:>7.3} {:>7.3} {:>8}\n",
                    e.name(),
                    m.precision,
                    m.recall,
                    m.f1,
                    m.support
                );
            }
        }
        s += "\nconfusion (rows: true, columns: predicted)\n          ";
        for e in Emotion::ALL {
            s += &format!("{:>9}", e.name());
        }
        for e in Emotion::ALL {
            s += &format!("\n{:<10}", e.name());
            for v in self.confusion[e.index()] {
                s += &format!("{v:>9}");
            }
        }
        s.push('\n');
        s
    }

    /// Row-normalised confusion matrix as a PNG (plotters, bitmap backend).
    pub(crate) fn save_confusion_png(&self, path: &Path, title: &str) -> Result<()> {
        crate::plot::confusion_png(&self.confusion, title, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onehot(i: usize) -> [f32; 7] {
        let mut a = [0.0; 7];
        a[i] = 1.0;
        a
    }

    #[test]
    fn metrics_match_hand_computation() {
        use Emotion::*;
        let labels = [Angry, Angry, Happy, Sad, Disgust];
        let logits = [onehot(0), onehot(3), onehot(3), onehot(5), onehot(0)];
        let r = report(&labels, &logits);
        assert_eq!(r.n, 5);
        assert!((r.accuracy - 0.6).abs() < 1e-9);
        let angry = &r.per_class["angry"];
        assert!((angry.precision - 0.5).abs() < 1e-9);
        assert!((angry.recall - 0.5).abs() < 1e-9);
        let happy = &r.per_class["happy"];
        assert!((happy.precision - 0.5).abs() < 1e-9 && (happy.recall - 1.0).abs() < 1e-9);
        // angry .5, happy 2/3, sad 1, others 0 → mean over 7.
        assert!((r.macro_f1 - (0.5 + 2.0 / 3.0 + 1.0) / 7.0).abs() < 1e-9);
        // 4-class: the disgust image is excluded; 3 of 4 right.
        assert!((r.accuracy_4class - 0.75).abs() < 1e-9);
        assert_eq!(r.confusion[0][3], 1);
    }

    #[test]
    fn four_class_argmax_ignores_other_logits() {
        let mut l = [0.0; 7];
        l[Emotion::Surprise.index()] = 9.0;
        l[Emotion::Sad.index()] = 2.0;
        let r = report(&[Emotion::Sad], &[l]);
        assert_eq!(r.accuracy, 0.0);
        assert_eq!(r.accuracy_4class, 1.0);
    }

    #[test]
    fn empty_folder_is_a_clear_error() {
        let d = std::env::temp_dir().join(format!("emotune-eval-empty-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("dir");
        let e = list_labelled(&d, Split::PrivateTest)
            .expect_err("empty")
            .to_string();
        assert!(e.contains("Kaggle FER-2013 layout"), "{e}");
    }
}
