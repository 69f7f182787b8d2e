//! FER+ labels (Barsoum et al. 2016): ten crowd votes per FER-2013 file, read from
//! `ferplus.csv`, with the same rules as training/ferplus.py:
//! - the **plurality label** is the column with the most votes; ties and rows won by contempt,
//!   unknown or not-a-face are not scored;
//! - the **vote shares** are the seven emotions' votes over their sum (contempt, unknown and
//!   not-a-face votes dropped): what calibration is measured against.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::emotion::Emotion;
use crate::error::{Error, Result};

/// `ferplus.csv`'s vote columns, in its order.
pub(crate) const VOTE_COLUMNS: [&str; 10] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
];

/// Vote column → FER-2013 emotion; contempt, unknown and not-a-face have none.
const COLUMN_EMOTION: [Option<Emotion>; 10] = [
    Some(Emotion::Neutral),
    Some(Emotion::Happy),
    Some(Emotion::Surprise),
    Some(Emotion::Sad),
    Some(Emotion::Angry),
    Some(Emotion::Disgust),
    Some(Emotion::Fear),
    None,
    None,
    None,
];

/// One file's ten vote counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Votes(pub(crate) [u32; 10]);

impl Votes {
    /// The unique most-voted column's emotion; None for a tie or a contempt/unknown/NF win.
    pub(crate) fn plurality(&self) -> Option<Emotion> {
        let top = *self.0.iter().max()?;
        if top == 0 || self.0.iter().filter(|&&v| v == top).count() > 1 {
            return None;
        }
        let col = self.0.iter().position(|&v| v == top)?;
        COLUMN_EMOTION[col]
    }

    /// Share of the seven emotions' votes each got (FER-2013 order); None without any.
    pub(crate) fn shares(&self) -> Option<[f64; Emotion::COUNT]> {
        let mut out = [0.0; Emotion::COUNT];
        for (v, e) in self.0.iter().zip(COLUMN_EMOTION) {
            if let Some(e) = e {
                out[e.index()] += f64::from(*v);
            }
        }
        let total: f64 = out.iter().sum();
        if total <= 0.0 {
            return None;
        }
        out.iter_mut().for_each(|x| *x /= total);
        Some(out)
    }
}

/// Votes by file name (`PrivateTest_10077120.jpg`).
#[derive(Debug, Default)]
pub(crate) struct VoteTable(HashMap<String, Votes>);

impl VoteTable {
    pub(crate) fn read(path: &Path) -> Result<VoteTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// Parses the CSV text; the error names the line and what is wrong with it.
    pub(crate) fn parse(text: &str) -> std::result::Result<VoteTable, String> {
        let mut lines = text.lines().enumerate();
        let want = format!("file,ferplus_image,{}", VOTE_COLUMNS.join(","));
        match lines.next() {
            Some((_, h)) if h.trim_end() == want => {}
            _ => {
                return Err(format!(
                    "not FER+'s vote table: the first line must be `{want}`"
                ));
            }
        }
        let mut map = HashMap::new();
        for (i, line) in lines {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != 12 {
                return Err(format!(
                    "line {}: {} fields, expected 12",
                    i + 1,
                    fields.len()
                ));
            }
            let mut votes = [0u32; 10];
            for (v, f) in votes.iter_mut().zip(&fields[2..]) {
                *v = f.trim().parse().map_err(|_| {
                    format!("line {}: vote count `{f}` is not a whole number", i + 1)
                })?;
            }
            map.insert(fields[0].to_string(), Votes(votes));
        }
        Ok(VoteTable(map))
    }

    pub(crate) fn get(&self, path: &Path) -> Option<&Votes> {
        self.0.get(path.file_name()?.to_str()?)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Where `emotune eval --labels ferplus` looks for the votes when `--votes` is not given: next
/// to the data, then the checkout's `../shared/datasets/`.
pub(crate) fn find_votes(data: &Path) -> std::result::Result<PathBuf, Vec<PathBuf>> {
    let mut tried = vec![data.join("ferplus.csv")];
    if let Some(parent) = data.parent() {
        tried.push(parent.join("ferplus.csv"));
    }
    tried.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/ferplus.csv"));
    match tried.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(tried),
    }
}

/// How far the probabilities are from what they claim.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Calibration {
    /// Expected calibration error of the top class (15 equal-width bins): |confidence −
    /// accuracy against the plurality label|, weighted by the share of faces in each bin.
    pub(crate) ece: f64,
    /// The same bins, with accuracy replaced by the share of people who voted for the top
    /// class: does a bar at 60 % mean six people in ten?
    pub(crate) ece_votes: f64,
    /// Mean KL divergence from the vote shares to the model's probabilities (nats).
    pub(crate) kl: f64,
    pub(crate) n: u64,
}

pub(crate) const ECE_BINS: usize = 15;

pub(crate) fn softmax(logits: &[f32; Emotion::COUNT]) -> [f64; Emotion::COUNT] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = logits.map(|l| f64::from(l - max).exp());
    let sum: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= sum);
    p
}

/// Calibration of `logits` against each face's plurality `label` and vote `shares`.
pub(crate) fn calibration(
    labels: &[Emotion],
    shares: &[[f64; Emotion::COUNT]],
    logits: &[[f32; Emotion::COUNT]],
) -> Calibration {
    // Per bin: sums of confidence, of correctness and of the top class's vote share.
    let mut bins = [(0.0f64, 0.0f64, 0.0f64); ECE_BINS];
    let mut kl = 0.0;
    for ((label, q), l) in labels.iter().zip(shares).zip(logits) {
        let p = softmax(l);
        let (top, conf) =
            p.iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, v)| if v > b.1 { (i, v) } else { b },
                );
        let b = ((conf * ECE_BINS as f64).ceil() as usize).clamp(1, ECE_BINS) - 1;
        let bin = &mut bins[b];
        bin.0 += conf;
        bin.1 += f64::from(u8::from(top == label.index()));
        bin.2 += q[top];
        kl += q
            .iter()
            .zip(&p)
            .filter(|(qi, _)| **qi > 0.0)
            .map(|(qi, pi)| qi * (qi / pi.max(1e-12)).ln())
            .sum::<f64>();
    }
    let n = labels.len().min(shares.len()).min(logits.len()) as u64;
    let nf = n.max(1) as f64;
    let (mut ece, mut ece_votes) = (0.0, 0.0);
    // Σ_bins (n_b / n)·|mean conf − mean acc| = Σ_bins |Σ conf − Σ acc| / n.
    for (conf, ok, share) in bins {
        ece += (conf - ok).abs() / nf;
        ece_votes += (conf - share).abs() / nf;
    }
    Calibration {
        ece,
        ece_votes,
        kl: kl / nf,
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "file,ferplus_image,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n";

    #[test]
    fn plurality_skips_ties_and_non_emotions() {
        assert_eq!(
            Votes([0, 10, 0, 0, 0, 0, 0, 0, 0, 0]).plurality(),
            Some(Emotion::Happy)
        );
        assert_eq!(
            Votes([4, 0, 0, 0, 6, 0, 0, 0, 0, 0]).plurality(),
            Some(Emotion::Angry)
        );
        assert_eq!(Votes([5, 5, 0, 0, 0, 0, 0, 0, 0, 0]).plurality(), None);
        assert_eq!(Votes([2, 0, 0, 0, 0, 0, 0, 6, 2, 0]).plurality(), None);
        assert_eq!(Votes([1, 0, 0, 0, 0, 0, 0, 0, 0, 9]).plurality(), None);
        assert_eq!(Votes([0; 10]).plurality(), None);
    }

    #[test]
    fn shares_drop_contempt_unknown_and_not_a_face() {
        let s = Votes([3, 0, 0, 1, 0, 0, 0, 4, 1, 1])
            .shares()
            .expect("votes");
        assert!((s[Emotion::Neutral.index()] - 0.75).abs() < 1e-12);
        assert!((s[Emotion::Sad.index()] - 0.25).abs() < 1e-12);
        assert_eq!(Votes([0, 0, 0, 0, 0, 0, 0, 3, 3, 4]).shares(), None);
    }

    #[test]
    fn parse_reads_rows_and_names_bad_lines() {
        let t = VoteTable::parse(&format!(
            "{HEADER}PrivateTest_1.jpg,fer1.png,0,10,0,0,0,0,0,0,0,0\n"
        ))
        .expect("table");
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.get(Path::new("/x/test/happy/PrivateTest_1.jpg"))
                .and_then(Votes::plurality),
            Some(Emotion::Happy)
        );
        let e = VoteTable::parse(&format!("{HEADER}a.jpg,b.png,1,2,x,0,0,0,0,0,0,0\n"))
            .expect_err("bad count");
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
        let e = VoteTable::parse("file,label\n").expect_err("header");
        assert!(e.contains("first line"), "{e}");
        let e = VoteTable::parse(&format!("{HEADER}a.jpg,1,2\n")).expect_err("short");
        assert!(e.contains("3 fields"), "{e}");
    }

    fn logits_for(p: [f64; 7]) -> [f32; 7] {
        p.map(|x| x.ln() as f32)
    }

    #[test]
    fn probabilities_equal_to_the_votes_are_calibrated_against_them() {
        let q = [0.0, 0.0, 0.0, 0.6, 0.4, 0.0, 0.0];
        let p = [1e-9, 1e-9, 1e-9, 0.6, 0.4, 1e-9, 1e-9];
        let c = calibration(&[Emotion::Happy; 4], &[q; 4], &[logits_for(p); 4]);
        assert!(c.kl.abs() < 1e-6, "{c:?}");
        assert!(c.ece_votes.abs() < 1e-6, "{c:?}");
        // Against the plurality label the same face is always right: 0.6 claimed, 1.0 seen.
        assert!((c.ece - 0.4).abs() < 1e-6, "{c:?}");
        assert_eq!(c.n, 4);
    }

    #[test]
    fn an_overconfident_model_has_a_large_error_and_divergence() {
        let q = [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0];
        let p = [0.0001, 0.0001, 0.0001, 0.9996, 0.0001, 0.0, 0.0];
        let labels = [Emotion::Happy, Emotion::Neutral];
        let c = calibration(&labels, &[q, q], &[logits_for(p), logits_for(p)]);
        assert!((c.ece - 0.4996).abs() < 1e-3, "{c:?}");
        assert!((c.ece_votes - 0.4996).abs() < 1e-3, "{c:?}");
        assert!(c.kl > 2.0, "{c:?}");
    }
}
