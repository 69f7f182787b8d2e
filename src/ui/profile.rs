//! The person in front of the camera: the active profile, neutral calibration from the live
//! feed (with progress, refusal and undo), and "that's not it" corrections.

use std::path::Path;

use egui::{Color32, RichText};

use super::command::Command;
use super::{ERROR_COLOR, emotion_color};
use crate::emotion::Emotion;
use crate::pipeline::FrameResult;
use crate::profile::calibrate::{Calibration, FaceSample};
use crate::profile::{Adjustment, Correction, NeutralAnchor, Profile, Store};

/// What the profile section asks of the app.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProfileCmd {
    Calibrate,
    Cancel,
    Undo,
    /// Use the calibration or show the model's own scores.
    Toggle,
    /// The main face is this emotion, not what it shows.
    Correct(Emotion),
    ResetCorrections,
}

pub(crate) struct ProfilePanel {
    /// None: profiles are kept in memory only (no data folder, or tests).
    store: Option<Store>,
    pub(crate) profile: Profile,
    anchor: NeutralAnchor,
    pub(crate) enabled: bool,
    calibrating: Option<Calibration>,
    /// Time of the last frame seen (for the progress bar).
    now: std::time::Duration,
    correcting: bool,
    /// The last thing that happened (text, is an error).
    pub(crate) note: Option<(String, bool)>,
    /// What was done to the profile since it was last handed out for saving.
    unsaved: Option<String>,
    /// Why changes are not written: the profile file could not be read and is kept as it is.
    unwritable: Option<String>,
    /// Own playlists from `settings.toml` are being saved into the profile; once that save
    /// succeeds the settings may drop them (`take_moved`).
    moving: bool,
    moved: bool,
}

impl ProfilePanel {
    /// The active profile from `store`; a broken file is named in the warning and left alone,
    /// and the window goes on without calibration.
    pub(crate) fn load(store: Option<Store>, model: Option<&Path>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let anchor = match crate::vision::resolve_model_path(model) {
            Ok(m) => {
                let (a, w) = NeutralAnchor::for_model(&m);
                warnings.extend(w);
                a
            }
            Err(_) => NeutralAnchor::generic(),
        };
        let name = store
            .as_ref()
            .and_then(|s| s.active().ok())
            .unwrap_or_else(|| crate::profile::DEFAULT_NAME.into());
        let mut unwritable = None;
        let profile = match store.as_ref().map(|s| s.load(&name)) {
            Some(Ok(Some(p))) => p,
            Some(Err(e)) => {
                unwritable = Some(e.to_string());
                warnings.push(e.to_string());
                Profile::new(&name)
            }
            _ => Profile::new(&name),
        };
        let panel = ProfilePanel {
            store,
            profile,
            anchor,
            enabled: true,
            calibrating: None,
            now: std::time::Duration::ZERO,
            correcting: false,
            note: None,
            unsaved: None,
            unwritable,
            moving: false,
            moved: false,
        };
        (panel, warnings)
    }

    /// The profile's music language and market.
    pub(crate) fn taste(&self) -> crate::music::language::Taste {
        (&self.profile.music).into()
    }

    /// What the worker applies to the largest face; None: the model's own scores.
    pub(crate) fn adjustment(&self) -> Option<Adjustment> {
        self.enabled
            .then(|| self.profile.adjustment(&self.anchor))
            .filter(|a| !a.is_identity())
    }

    /// Feeds a frame to a running calibration; true when the adjustment changed.
    pub(crate) fn on_frame(&mut self, r: &FrameResult) -> bool {
        self.now = r.at;
        let Some(cal) = &mut self.calibrating else {
            return false;
        };
        let sample = r.main_face().and_then(|f| {
            Some(FaceSample {
                track: f.track_id,
                center: f.bbox.center(),
                width: f.bbox.w,
                scores: f.unadjusted?,
            })
        });
        match cal.feed(r.at, sample) {
            None => false,
            Some(Err(why)) => {
                self.calibrating = None;
                self.note = Some((format!("Calibration not saved: {why}"), true));
                false
            }
            Some(Ok(reference)) => {
                self.calibrating = None;
                let frames = reference.frames;
                self.profile.calibrate(reference);
                self.enabled = true;
                self.save(format!(
                    "Calibrated on {frames} frames of your relaxed face"
                ));
                true
            }
        }
    }

    /// Carries out `cmd`; true when the adjustment changed.
    pub(crate) fn handle(&mut self, cmd: ProfileCmd, last: Option<&FrameResult>) -> bool {
        match cmd {
            ProfileCmd::Calibrate => {
                self.calibrating = Some(Calibration::new());
                self.correcting = false;
                self.note = None;
                false
            }
            ProfileCmd::Cancel => {
                self.calibrating = None;
                false
            }
            ProfileCmd::Undo => {
                self.profile.undo_calibration();
                let what = if self.profile.neutral.is_some() {
                    "Back to the previous calibration"
                } else {
                    "Calibration removed"
                };
                self.save(what.into());
                true
            }
            ProfileCmd::Toggle => {
                self.enabled = !self.enabled;
                true
            }
            ProfileCmd::Correct(to) => {
                self.correcting = false;
                let Some(face) = last.and_then(FrameResult::main_face) else {
                    self.note = Some(("No face to correct".into(), true));
                    return false;
                };
                let from = face.scores.dominant().0;
                self.profile.correct(Correction {
                    at: crate::clock::unix_now().as_secs(),
                    from,
                    to,
                    scores: face.unadjusted.unwrap_or(face.raw).0,
                });
                self.save(format!(
                    "Noted: {to}, not {from}. Later faces lean a little that way; it fades \
                     over a few weeks"
                ));
                true
            }
            ProfileCmd::ResetCorrections => {
                self.profile.corrections.clear();
                self.save("Corrections forgotten".into());
                true
            }
        }
    }

    /// The own playlists were edited (in the settings window): save them.
    pub(crate) fn own_playlists_edited(&mut self) {
        self.save("Your playlists for each mood saved".into());
    }

    /// Copies own playlists an older version kept in `settings.toml` into the profile and
    /// saves it; `take_moved` says when the settings may drop them. With no profile to write
    /// (no data folder, or a file that could not be read) they are used and left where they are.
    pub(crate) fn adopt_own_playlists(&mut self, legacy: &crate::profile::OwnPlaylists) {
        if legacy.is_empty() {
            return;
        }
        let new = self.profile.adopt_own_playlists(legacy);
        if self.store.is_none() || self.unwritable.is_some() {
            return;
        }
        if new {
            self.moving = true;
            self.save("Your playlists for each mood moved into your profile".into());
        } else {
            // The profile file already holds every one of them.
            self.moved = true;
        }
    }

    /// True once, after the profile holding the moved playlists was written.
    pub(crate) fn take_moved(&mut self) -> bool {
        std::mem::take(&mut self.moved)
    }

    /// Queues the profile for saving (the window writes it off the UI thread: `take_save`);
    /// profiles kept in memory only are done at once.
    fn save(&mut self, done: String) {
        if let Some(why) = &self.unwritable {
            self.note = Some((format!("{done}, for this run only: {why}"), true));
        } else if self.store.is_some() {
            self.note = Some((format!("{done}…"), false));
            self.unsaved = Some(done);
        } else {
            self.saved(done, Ok(()));
        }
    }

    /// The save to run: where, what, and what to say once it is done.
    pub(crate) fn take_save(&mut self) -> Option<(Store, Profile, String)> {
        let what = self.unsaved.take()?;
        let store = self.store.clone()?;
        Some((store, self.profile.clone(), what))
    }

    pub(crate) fn saved(&mut self, done: String, result: crate::Result<()>) {
        // Any save after the move holds the moved playlists too.
        if self.moving {
            self.moving = result.is_err();
            self.moved = result.is_ok();
        }
        self.note = Some(match result {
            Ok(()) => (done, false),
            Err(e) => (format!("{done}, but it could not be saved: {e}"), true),
        });
    }

    pub(crate) fn show(&mut self, ui: &mut egui::Ui, last: Option<&FrameResult>) -> Vec<Command> {
        let mut cmds = Vec::new();
        self.header(ui, &mut cmds);
        if let Some(cal) = &self.calibrating {
            ui.label(RichText::new("Look at the camera with a relaxed face…").strong());
            ui.horizontal(|ui| {
                let p = cal.progress(self.now);
                ui.add(
                    egui::ProgressBar::new(p)
                        .text(format!("{:.1} / 3 s", p * 3.0))
                        .desired_width(200.0),
                );
                if ui.button("Cancel").clicked() {
                    cmds.push(Command::Profile(ProfileCmd::Cancel));
                }
            });
        } else {
            self.buttons(
                ui,
                last.and_then(FrameResult::main_face).is_some(),
                &mut cmds,
            );
        }
        if self.correcting {
            ui.horizontal_wrapped(|ui| {
                ui.label("It is:");
                for e in Emotion::ALL {
                    let b = egui::Button::new(RichText::new(e.name()).color(emotion_color(e)));
                    if ui.add(b).clicked() {
                        cmds.push(Command::Profile(ProfileCmd::Correct(e)));
                    }
                }
            });
        }
        if let Some((text, error)) = &self.note {
            let color = if *error { ERROR_COLOR } else { Color32::GRAY };
            ui.label(RichText::new(text).color(color).small());
        }
        cmds
    }

    /// The profile's name, whether calibration is on, and the switch.
    fn header(&self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("Profile: {}", self.profile.name)).strong());
            let state = match (self.profile.neutral.is_some(), self.enabled) {
                (true, true) => RichText::new("calibrated").color(Color32::from_rgb(90, 170, 90)),
                (true, false) => RichText::new("calibration off").color(Color32::GRAY),
                (false, _) => RichText::new("not calibrated").color(Color32::GRAY),
            };
            ui.label(state).on_hover_text(
                "There is no face recognition: the profile applies to the largest face in view. \
                 Calibration moves your relaxed face onto a typical neutral face, so your \
                 resting expression is not read as sad or angry.",
            );
            if self.profile.neutral.is_some() || !self.profile.corrections.is_empty() {
                let mut enabled = self.enabled;
                if ui
                    .checkbox(&mut enabled, "use")
                    .on_hover_text("Off: the model's own scores")
                    .changed()
                {
                    cmds.push(Command::Profile(ProfileCmd::Toggle));
                }
            }
        });
    }

    fn buttons(&mut self, ui: &mut egui::Ui, has_face: bool, cmds: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(has_face, egui::Button::new("Calibrate"))
                .on_hover_text("3 s of your relaxed face, looking at the camera")
                .on_disabled_hover_text("needs a face in view")
                .clicked()
            {
                cmds.push(Command::Profile(ProfileCmd::Calibrate));
            }
            if self.profile.neutral.is_some() && ui.button("Undo").clicked() {
                cmds.push(Command::Profile(ProfileCmd::Undo));
            }
            if ui
                .add_enabled(has_face, egui::Button::new("That's not it…"))
                .on_hover_text("Tell emotune what the face really shows")
                .clicked()
            {
                self.correcting = !self.correcting;
            }
            let n = self.profile.corrections.len();
            if n > 0
                && ui
                    .small_button(format!("Forget {n} correction(s)"))
                    .clicked()
            {
                cmds.push(Command::Profile(ProfileCmd::ResetCorrections));
            }
        });
    }
}
