//! `emotune profile …`, and the personal adjustment of `classify` and `eval`
//! (`--profile NAME`, `--neutral-ref IMG`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::capture::load_rgb;
use crate::emotion::EmotionScores;
use crate::pipeline::PipelineSettings;
use crate::profile::{Adjustment, NeutralAnchor, Profile, Reference, Store};
use crate::vision::preprocess::{FaceInput, face_input, luma, whole_image_input};
use crate::vision::{EmotionClassifier, FaceDetector, Frame};

/// Whose face it is, for `classify` and `eval`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Personal<'a> {
    /// A stored profile by name.
    pub profile: Option<&'a str>,
    /// Frames of the person's relaxed face, for this run only.
    pub neutral_refs: &'a [PathBuf],
}

impl Personal<'_> {
    pub fn is_empty(&self) -> bool {
        self.profile.is_none() && self.neutral_refs.is_empty()
    }
}

/// The adjustment `personal` asks for, with a line saying what it is; None when it asks for none.
pub(crate) fn adjustment(
    personal: Personal<'_>,
    model: &Path,
    clf: &EmotionClassifier,
    det: &mut FaceDetector,
    assume_face: bool,
) -> anyhow::Result<Option<(Adjustment, String)>> {
    if personal.is_empty() {
        return Ok(None);
    }
    let (anchor, warning) = NeutralAnchor::for_model(model);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    if !personal.neutral_refs.is_empty() {
        let r = reference_from_images(personal.neutral_refs, clf, det, assume_face)?;
        let what = format!("calibrated on {} neutral reference picture(s)", r.frames);
        return Ok(Some((Adjustment::new(Some(&r), &anchor, &[], 0), what)));
    }
    let name = personal.profile.unwrap_or_default();
    let store = Store::open_default()?;
    let p = store.load(name)?.with_context(|| {
        format!("no profile named {name:?} (see `emotune profile list`, or create it)")
    })?;
    let what = match &p.neutral {
        Some(r) => format!("profile {:?}: calibrated on {} frame(s)", p.name, r.frames),
        None => format!("profile {:?}: not calibrated", p.name),
    };
    Ok(Some((p.adjustment(&anchor), what)))
}

/// The person's relaxed face from pictures of it: one face each, found by the app's detector
/// (the largest, with a warning, where a picture holds several).
pub(crate) fn reference_from_images(
    images: &[PathBuf],
    clf: &EmotionClassifier,
    det: &mut FaceDetector,
    assume_face: bool,
) -> anyhow::Result<Reference> {
    let mut inputs = Vec::with_capacity(images.len());
    for path in images {
        let rgb = load_rgb(path).with_context(|| "a neutral reference picture".to_string())?;
        if assume_face {
            inputs.push(whole_image_input(&luma(&rgb)));
            continue;
        }
        let (face, n) = largest_face(&rgb, det);
        let Some(face) = face else {
            anyhow::bail!(
                "{}: no face found in this neutral reference picture; use a picture of the same \
                 person with a relaxed face, looking at the camera",
                path.display()
            );
        };
        if n > 1 {
            eprintln!(
                "warning: {}: {n} faces; the largest is taken as the neutral reference",
                path.display()
            );
        }
        inputs.push(face);
    }
    let scores: Vec<EmotionScores> = clf.classify(&inputs)?;
    Reference::from_scores(&scores).context("no neutral reference pictures given")
}

/// The active profile: its music language, market and own playlists (none when it cannot be
/// read; a warning).
pub(crate) fn active_profile() -> Option<Profile> {
    let read = || -> crate::Result<Option<Profile>> {
        let store = Store::open_default()?;
        store.load(&store.active()?)
    };
    read().unwrap_or_else(|e| {
        eprintln!("warning: {e}");
        None
    })
}

/// The largest face's classifier input (the app's detector and crop), and how many faces the
/// picture holds.
pub(crate) fn largest_face(
    rgb: &image::RgbImage,
    det: &mut FaceDetector,
) -> (Option<FaceInput>, usize) {
    let gray = luma(rgb);
    let found = det.detect(Frame::with_color(&gray, rgb));
    let crop = PipelineSettings::default().crop;
    let face = found
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        .map(|f| face_input(&gray, &f.bbox, f.roll, &crop));
    (face, found.len())
}

// ---------------------------------------------------------------------------------------------
// the subcommands

#[derive(Serialize)]
struct Summary<'a> {
    name: &'a str,
    active: bool,
    calibrated: bool,
    calibrated_at: Option<u64>,
    reference_frames: usize,
    corrections: usize,
    language: &'a str,
    market: Option<&'a str>,
    /// What the profile subtracts from each emotion's log-probability now.
    offset: Option<[f32; crate::Emotion::COUNT]>,
}

fn summary<'a>(p: &'a Profile, active: &str, anchor: Option<&NeutralAnchor>) -> Summary<'a> {
    Summary {
        name: &p.name,
        active: crate::profile::slug(&p.name).is_ok_and(|s| s == active),
        calibrated: p.neutral.is_some(),
        calibrated_at: p.calibrated_at,
        reference_frames: p.neutral.as_ref().map_or(0, |r| r.frames),
        corrections: p.corrections.len(),
        language: &p.music.language,
        market: p.music.market.as_deref(),
        offset: anchor.map(|a| p.adjustment(a).offset()),
    }
}

fn print_summary(s: &Summary<'_>) {
    let mark = if s.active { "*" } else { " " };
    let cal = if s.calibrated {
        format!("calibrated ({} frames)", s.reference_frames)
    } else {
        "not calibrated".into()
    };
    println!(
        "{mark} {}  {cal}, {} correction(s), music: {}{}",
        s.name,
        s.corrections,
        s.language,
        s.market.map(|m| format!(" ({m})")).unwrap_or_default()
    );
}

/// Saves `p` and prints its summary.
fn save_and_show(store: &Store, p: &Profile, json: bool) -> anyhow::Result<i32> {
    store.save(p)?;
    let active = store.active()?;
    let s = summary(p, &active, None);
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print_summary(&s);
    }
    Ok(0)
}

fn store() -> anyhow::Result<Store> {
    Ok(Store::open_default()?)
}

/// The named profile, or the active one.
fn name_or_active(store: &Store, name: Option<&str>) -> anyhow::Result<String> {
    Ok(match name {
        Some(n) => n.to_string(),
        None => store.active()?,
    })
}

fn existing(store: &Store, name: &str) -> anyhow::Result<Profile> {
    store.load(name)?.with_context(|| {
        format!(
            "no profile named {name:?} in {} (`emotune profile create {name}`)",
            store.dir().display()
        )
    })
}

pub fn create(
    name: &str,
    language: Option<&str>,
    market: Option<&str>,
    json: bool,
) -> anyhow::Result<i32> {
    let store = store()?;
    if store.load(name)?.is_some() {
        anyhow::bail!("a profile named {name:?} exists already");
    }
    let mut p = Profile::new(name.trim());
    set_music(&mut p, language, market)?;
    let path = store.save(&p)?;
    let active = store.active()?;
    if json {
        println!("{}", serde_json::to_string(&summary(&p, &active, None))?);
    } else {
        println!("created profile {:?} ({})", p.name, path.display());
    }
    Ok(0)
}

fn set_music(p: &mut Profile, language: Option<&str>, market: Option<&str>) -> anyhow::Result<()> {
    if let Some(l) = language {
        p.music.language = crate::music::language::parse(l).map_err(anyhow::Error::msg)?;
    }
    if let Some(m) = market {
        p.music.market = crate::music::language::parse_market(m).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// `profile set [NAME] --language L --market M`.
pub fn set(
    name: Option<&str>,
    language: Option<&str>,
    market: Option<&str>,
    json: bool,
) -> anyhow::Result<i32> {
    let store = store()?;
    let name = name_or_active(&store, name)?;
    let mut p = store.load_or_new(&name)?;
    set_music(&mut p, language, market)?;
    save_and_show(&store, &p, json)
}

pub fn list(json: bool) -> anyhow::Result<i32> {
    let store = store()?;
    let (profiles, broken) = store.list()?;
    let active = store.active()?;
    for b in &broken {
        eprintln!(
            "warning: profile file {} is not readable ({}); it is kept as it is",
            b.path.display(),
            b.reason
        );
    }
    let rows: Vec<Summary<'_>> = profiles.iter().map(|p| summary(p, &active, None)).collect();
    if json {
        let broken: Vec<String> = broken
            .iter()
            .map(|b| b.path.display().to_string())
            .collect();
        println!(
            "{}",
            serde_json::json!({"active": active, "profiles": rows, "unreadable": broken})
        );
    } else if rows.is_empty() {
        println!(
            "no profiles yet in {} (the active one is {active:?}; `emotune profile create NAME`)",
            store.dir().display()
        );
    } else {
        for r in &rows {
            print_summary(r);
        }
    }
    Ok(0)
}

pub fn show(name: Option<&str>, model: Option<&Path>, json: bool) -> anyhow::Result<i32> {
    let store = store()?;
    let name = name_or_active(&store, name)?;
    let p = existing(&store, &name)?;
    let anchor = crate::vision::classifier::resolve_model_path(model)
        .map(|m| NeutralAnchor::for_model(&m).0)
        .unwrap_or_else(|_| NeutralAnchor::generic());
    let active = store.active()?;
    let s = summary(&p, &active, Some(&anchor));
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print_summary(&s);
        if let Some(off) = s.offset {
            let parts: Vec<String> = crate::Emotion::ALL
                .iter()
                .zip(off)
                .map(|(e, o)| format!("{e} {:+.2}", -o))
                .collect();
            println!("  adjustment (log-probability): {}", parts.join(", "));
        }
    }
    Ok(0)
}

pub fn delete(name: &str, json: bool) -> anyhow::Result<i32> {
    let store = store()?;
    let gone = store.delete(name)?;
    if json {
        println!("{}", serde_json::json!({"deleted": gone, "name": name}));
    } else if gone {
        println!("deleted profile {name:?}");
    } else {
        eprintln!("error: no profile named {name:?}");
    }
    Ok(if gone { 0 } else { 1 })
}

/// `profile use NAME`: the profile the window applies.
pub fn activate(name: &str, json: bool) -> anyhow::Result<i32> {
    let store = store()?;
    let p = existing(&store, name)?;
    store.set_active(&p.name)?;
    if json {
        println!("{}", serde_json::json!({"active": p.name}));
    } else {
        println!("profile {:?} is now active", p.name);
    }
    Ok(0)
}

/// `profile calibrate [NAME] --neutral IMG...`.
pub fn calibrate(
    name: Option<&str>,
    images: &[PathBuf],
    model: Option<&Path>,
    assume_face: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let store = store()?;
    let name = name_or_active(&store, name)?;
    let mut p = store.load_or_new(&name)?;
    let model = crate::vision::classifier::resolve_model_path(model)?;
    let clf = super::load_classifier(Some(&model), 1)?;
    let mut det = crate::pipeline::detector(super::photo_detector_settings())?;
    let r = reference_from_images(images, &clf, &mut det, assume_face)?;
    let (anchor, warning) = NeutralAnchor::for_model(&model);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let read_before = EmotionScores::from_logits(&r.log_probs).dominant();
    p.calibrate(r);
    let path = store.save(&p)?;
    let active = store.active()?;
    let s = summary(&p, &active, Some(&anchor));
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "calibrated profile {:?} on {} picture(s); the relaxed face read {} {:.0} % before \
             ({})",
            p.name,
            images.len(),
            read_before.0,
            read_before.1 * 100.0,
            path.display()
        );
    }
    Ok(0)
}

/// `profile reset [NAME] [--calibration] [--corrections]` (neither flag: both).
pub fn reset(
    name: Option<&str>,
    calibration: bool,
    corrections: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let store = store()?;
    let name = name_or_active(&store, name)?;
    let mut p = existing(&store, &name)?;
    let both = !calibration && !corrections;
    if calibration || both {
        p.previous_neutral = p.neutral.take();
        p.calibrated_at = None;
    }
    if corrections || both {
        p.corrections.clear();
    }
    save_and_show(&store, &p, json)
}

/// `profile export [NAME] [--out FILE]`: the profile's numbers (reference, corrections with the
/// scores the face had), no images.
pub fn export(name: Option<&str>, out: Option<&Path>, json: bool) -> anyhow::Result<i32> {
    let store = store()?;
    let name = name_or_active(&store, name)?;
    let p = existing(&store, &name)?;
    let doc = serde_json::json!({
        "profile": p.name,
        "classes": crate::Emotion::ALL.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "neutral_reference": p.neutral,
        "corrections": p.corrections,
    });
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"written": path.display().to_string(),
                                       "corrections": p.corrections.len()})
                );
            } else {
                println!(
                    "wrote {} correction(s) of {:?} to {}",
                    p.corrections.len(),
                    p.name,
                    path.display()
                );
            }
        }
        None => print!("{text}"),
    }
    Ok(0)
}
