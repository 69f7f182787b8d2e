//! `emotune profile evaluate DIR`: what calibration is worth on pictures of known people.
//!
//! `DIR/<person>/<emotion>/*.{jpg,png,...}`. Every picture of a person is classified once (its
//! largest face, through the app's detector). Then, leave-one-out: each picture is scored
//!   - raw: the model alone;
//!   - baseline: minus the mean centred log-probabilities of the person's *other* neutral
//!     pictures (their relaxed face becomes "all emotions equal");
//!   - calibrated: emotune's adjustment from the same pictures (their relaxed face becomes a
//!     typical neutral face; `profile::adjust`).
//!
//! A picture whose person has no other neutral picture is left out of all three.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::emotion::{Emotion, EmotionScores};
use crate::profile::adjust::centred_log_probs;
use crate::profile::{Adjustment, NeutralAnchor, Reference};

/// One person's pictures: (true emotion, model scores).
pub(crate) type Person = Vec<(Emotion, EmotionScores)>;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct Tally {
    pub(crate) n: usize,
    pub(crate) raw: usize,
    pub(crate) baseline: usize,
    pub(crate) calibrated: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.n += o.n;
        self.raw += o.raw;
        self.baseline += o.baseline;
        self.calibrated += o.calibrated;
    }

    fn pct(&self, k: usize) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            100.0 * k as f64 / self.n as f64
        }
    }
}

fn argmax(l: &[f32; Emotion::COUNT]) -> usize {
    (0..Emotion::COUNT)
        .max_by(|&a, &b| l[a].total_cmp(&l[b]))
        .unwrap_or(0)
}

/// Leave-one-out over one person's pictures.
pub(crate) fn score_person(pics: &Person, anchor: &NeutralAnchor) -> Tally {
    let mut t = Tally::default();
    for (i, (truth, s)) in pics.iter().enumerate() {
        let refs: Vec<&EmotionScores> = pics
            .iter()
            .enumerate()
            .filter(|(j, (e, _))| *j != i && *e == Emotion::Neutral)
            .map(|(_, (_, s))| s)
            .collect();
        let Some(r) = Reference::from_scores(refs) else {
            continue;
        };
        let y = truth.index();
        t.n += 1;
        t.raw += usize::from(s.dominant().0.index() == y);
        let l = centred_log_probs(s);
        let mut base = [0.0; Emotion::COUNT];
        for ((b, l), r) in base.iter_mut().zip(l).zip(r.log_probs) {
            *b = l - r;
        }
        t.baseline += usize::from(argmax(&base) == y);
        let adj = Adjustment::new(Some(&r), anchor, &[], 0);
        t.calibrated += usize::from(adj.apply(s).dominant().0.index() == y);
    }
    t
}

#[derive(Serialize)]
struct Report {
    people: BTreeMap<String, Tally>,
    all: Tally,
    raw_accuracy: f64,
    baseline_accuracy: f64,
    calibrated_accuracy: f64,
    /// Pictures in which the detector found no face (left out).
    no_face: Vec<String>,
}

fn pictures(dir: &Path) -> anyhow::Result<Vec<(String, Emotion, PathBuf)>> {
    let mut out = Vec::new();
    let read = |d: &Path| std::fs::read_dir(d).with_context(|| format!("reading {}", d.display()));
    for person in read(dir)?.flatten().filter(|e| e.path().is_dir()) {
        let name = person.file_name().to_string_lossy().into_owned();
        for class in read(&person.path())?
            .flatten()
            .filter(|e| e.path().is_dir())
        {
            let Ok(e) = class.file_name().to_string_lossy().parse::<Emotion>() else {
                continue;
            };
            for f in read(&class.path())?.flatten() {
                let p = f.path();
                if crate::capture::files::has_image_extension(&p) {
                    out.push((name.clone(), e, p));
                }
            }
        }
    }
    out.sort();
    if out.is_empty() {
        anyhow::bail!(
            "{}: no pictures found; lay them out as DIR/<person>/<emotion>/<image> with emotions \
             named angry, disgust, fear, happy, neutral, sad, surprise",
            dir.display()
        );
    }
    Ok(out)
}

pub fn evaluate(dir: &Path, model: Option<&Path>, json: bool) -> anyhow::Result<i32> {
    let pics = pictures(dir)?;
    let model = crate::vision::classifier::resolve_model_path(model)?;
    let clf = super::load_classifier(Some(&model), 1)?;
    let mut det = crate::pipeline::detector(super::photo_detector_settings())?;
    let (anchor, warning) = NeutralAnchor::for_model(&model);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    let mut no_face = Vec::new();
    for (person, truth, path) in &pics {
        let rgb = crate::capture::load_rgb(path)?;
        let Some(input) = super::profile::largest_face(&rgb, &mut det).0 else {
            no_face.push(path.display().to_string());
            continue;
        };
        let s = clf.classify(&[input])?;
        let s = s
            .first()
            .copied()
            .context("the classifier gave no scores")?;
        people.entry(person.clone()).or_default().push((*truth, s));
    }
    let mut all = Tally::default();
    let per: BTreeMap<String, Tally> = people
        .iter()
        .map(|(name, pics)| {
            let t = score_person(pics, &anchor);
            all.add(&t);
            (name.clone(), t)
        })
        .collect();
    let report = Report {
        raw_accuracy: all.pct(all.raw),
        baseline_accuracy: all.pct(all.baseline),
        calibrated_accuracy: all.pct(all.calibrated),
        people: per,
        all,
        no_face,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("person            n    raw   baseline  calibrated");
        for (name, t) in &report.people {
            println!(
                "{name:<14} {:>4} {:>6.1} {:>9.1} {:>10.1}",
                t.n,
                t.pct(t.raw),
                t.pct(t.baseline),
                t.pct(t.calibrated)
            );
        }
        let a = &report.all;
        println!(
            "all            {:>4} {:>6.1} {:>9.1} {:>10.1}   (%, leave-one-out; {} picture(s) \
             without a face left out)",
            a.n,
            report.raw_accuracy,
            report.baseline_accuracy,
            report.calibrated_accuracy,
            report.no_face.len()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(e: Emotion, p: f32, second: Emotion) -> EmotionScores {
        let mut v = [0.02; Emotion::COUNT];
        v[e.index()] = p;
        v[second.index()] += 1.0 - p - 0.02 * Emotion::COUNT as f32;
        EmotionScores(v)
    }

    #[test]
    fn leave_one_out_scores_every_picture_with_another_neutral_one() {
        use Emotion::*;
        // A person whose relaxed face reads sad: the model gets their neutral pictures wrong.
        let person: Person = vec![
            (Neutral, s(Sad, 0.6, Neutral)),
            (Neutral, s(Sad, 0.55, Neutral)),
            (Neutral, s(Sad, 0.65, Neutral)),
            (Happy, s(Happy, 0.7, Sad)),
            (Sad, s(Sad, 0.9, Neutral)),
        ];
        let t = score_person(&person, &NeutralAnchor::generic());
        assert_eq!(t.n, 5);
        assert_eq!(t.raw, 2, "happy and sad right, neutral wrong");
        assert_eq!(t.calibrated, 5, "{t:?}");
        // A picture alone with no other neutral one is left out.
        let alone: Person = vec![(Neutral, s(Sad, 0.6, Neutral)), (Happy, s(Happy, 0.9, Sad))];
        assert_eq!(score_person(&alone, &NeutralAnchor::generic()).n, 1);
    }
}
