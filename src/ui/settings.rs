//! The settings window: strategy, mood hold time, smoothing, minimum face size, mapping file,
//! Spotify credential status (never the secret). Changes are saved when the window closes.

use std::time::Duration;

use super::command::Command;
use crate::config::{OwnPlaylist, Refresh, Settings};
use crate::profile::own_key;

/// The active profile's own playlists, keyed by `own_key`.
type OwnPlaylists = std::collections::BTreeMap<String, OwnPlaylist>;
use crate::emotion::Emotion;
use crate::music::Strategy;
use crate::music::account::UserPlaylist;
use crate::music::service::CredentialStatus;

/// The signed-in state, as the settings show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum AccountView {
    #[default]
    SignedOut,
    /// Waiting for the browser; the page to open.
    SigningIn(Option<String>),
    SignedIn(String),
}

/// What the settings window shows besides the editable settings.
pub(crate) struct Shown<'a> {
    pub(crate) strategy: Strategy,
    pub(crate) mapping_info: &'a str,
    pub(crate) creds: CredentialStatus,
    pub(crate) account: &'a AccountView,
    /// The signed-in user's playlists, once fetched.
    pub(crate) playlists: Option<&'a [UserPlaylist]>,
}

/// The Spotify account row: who is signed in, or how to sign in.
fn account_row(ui: &mut egui::Ui, account: &AccountView) -> Option<Command> {
    let mut cmd = None;
    ui.label("Spotify account");
    ui.horizontal(|ui| match account {
        AccountView::SignedIn(name) => {
            ui.label(format!("signed in as {name}"));
            if ui.button("Sign out").clicked() {
                cmd = Some(Command::SignOut);
            }
        }
        AccountView::SigningIn(url) => {
            ui.spinner();
            ui.label("waiting for the browser…");
            if let Some(url) = url {
                ui.hyperlink_to("open the sign-in page", url);
            }
        }
        AccountView::SignedOut => {
            if ui
                .button("Sign in")
                .on_hover_text("opens Spotify in your browser: save lists as playlists, play them")
                .clicked()
            {
                cmd = Some(Command::SignIn);
            }
        }
    });
    ui.end_row();
    cmd
}

/// Edits `settings` and the active profile's playlists (`own`) in place and says what changed,
/// as commands for the app.
pub(crate) fn show(
    ui: &mut egui::Ui,
    settings: &mut Settings,
    own: &mut OwnPlaylists,
    shown: &Shown<'_>,
) -> Vec<Command> {
    let Shown {
        strategy,
        mapping_info,
        creds,
        account,
        playlists,
    } = *shown;
    let mut cmds = Vec::new();
    egui::Grid::new("settings").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
        ui.label("Strategy");
        ui.horizontal(|ui| {
            for s in [Strategy::Match, Strategy::Uplift] {
                if ui.selectable_label(strategy == s, s.name()).clicked() && s != strategy {
                    cmds.push(Command::SetStrategy(s));
                }
            }
        });
        ui.end_row();
        cmds.extend(pipeline_rows(ui, settings));
        cmds.extend(refresh_row(ui, settings));
        ui.label("Mapping file");
        ui.label(mapping_info);
        ui.end_row();
        ui.label("Spotify");
        ui.label(match creds {
            CredentialStatus::Missing => "credentials missing: set RSPOTIFY_CLIENT_ID / RSPOTIFY_CLIENT_SECRET (offline catalog in use)",
            CredentialStatus::Present => "credentials present",
            CredentialStatus::Rejected => "credentials rejected by Spotify: check the client id / secret",
        });
        ui.end_row();
        cmds.extend(account_row(ui, account));
        cmds.extend(history_row(ui, &mut settings.diary));
    });
    if matches!(account, AccountView::SignedIn(_)) {
        cmds.extend(own_playlist_rows(ui, own, playlists));
    }
    cmds
}

/// Whether the mood diary is kept, and for how long.
fn history_row(ui: &mut egui::Ui, d: &mut crate::config::DiarySettings) -> Option<Command> {
    let mut changed = false;
    ui.label("History");
    ui.horizontal(|ui| {
        changed |= ui
            .checkbox(&mut d.enabled, "keep a mood diary on this computer")
            .on_hover_text("numbers only, never pictures; applies at the next start")
            .changed();
        ui.label("keep");
        changed |= ui
            .add(
                egui::DragValue::new(&mut d.keep_days)
                    .range(0..=3650)
                    // 0 is "no limit": "keep 0 days" would read as keeping nothing.
                    .custom_formatter(|v, _| keep_label(v))
                    .custom_parser(parse_keep),
            )
            .on_hover_text("drag or type a number of days; 0 keeps everything; older days are deleted at start")
            .changed();
    });
    ui.end_row();
    changed.then_some(Command::SettingsEdited)
}

/// The retention as the settings show it: "forever" for 0 (no limit), else "N days".
fn keep_label(days: f64) -> String {
    match days.round() as u64 {
        0 => "forever".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// What can be typed into the retention field: a number of days (a unit after it is fine), or
/// "forever".
fn parse_keep(text: &str) -> Option<f64> {
    let t = text.trim().to_lowercase();
    if t == "forever" {
        return Some(0.0);
    }
    t.split_whitespace().next()?.parse().ok()
}

/// How often stored music lists are fetched again.
fn refresh_row(ui: &mut egui::Ui, settings: &mut Settings) -> Option<Command> {
    let label = ui.label("Renew music lists");
    let before = settings.music_refresh;
    let combo = egui::ComboBox::from_id_salt("music-refresh")
        .selected_text(before.label())
        .show_ui(ui, |ui| {
            for r in Refresh::CHOICES {
                ui.selectable_value(&mut settings.music_refresh, r, r.label());
            }
        });
    combo.response.labelled_by(label.id).on_hover_text(
        "lists fetched before the last midnight (daily) or the start of the chosen day \
             (weekly) are fetched again; older ones still play when Spotify cannot be reached. \
             Applies at the next start",
    );
    ui.end_row();
    (settings.music_refresh != before).then_some(Command::SettingsEdited)
}

/// Per mood, one of the user's own playlists instead of the mapping's searches (kept in the
/// active profile).
fn own_playlist_rows(
    ui: &mut egui::Ui,
    own: &mut OwnPlaylists,
    playlists: Option<&[UserPlaylist]>,
) -> Option<Command> {
    ui.separator();
    ui.label("Your playlists for each mood, in your profile (else the mapping's searches)");
    let Some(playlists) = playlists else {
        return ui
            .button("Load my playlists")
            .clicked()
            .then_some(Command::LoadPlaylists);
    };
    if playlists.is_empty() {
        ui.label("your account has no playlists yet");
    }
    let mut edited = false;
    egui::Grid::new("own-playlists")
        .num_columns(3)
        .show(ui, |ui| {
            ui.label("");
            ui.label("match");
            ui.label("uplift");
            ui.end_row();
            for e in Emotion::ALL {
                ui.label(e.name());
                for s in [Strategy::Match, Strategy::Uplift] {
                    edited |= playlist_picker(ui, own, own_key(e, s), playlists);
                }
                ui.end_row();
            }
        });
    edited.then_some(Command::OwnPlaylistsEdited)
}

/// One mood's drop-down; true when the pick changed.
fn playlist_picker(
    ui: &mut egui::Ui,
    own: &mut OwnPlaylists,
    key: String,
    playlists: &[UserPlaylist],
) -> bool {
    let current = own.get(&key).cloned();
    let mut pick = current.clone();
    let text = current.as_ref().map_or("mapping", |p| p.name.as_str());
    let combo = egui::ComboBox::from_id_salt(&key)
        .selected_text(text)
        .width(150.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut pick, None, "mapping");
            for p in playlists {
                let own = Some(OwnPlaylist {
                    id: p.id.clone(),
                    name: p.name.clone(),
                });
                ui.selectable_value(&mut pick, own, &p.name);
            }
        });
    // Named for screen readers (and the window tests): "playlist for neutral/match".
    let name = format!("playlist for {key}");
    combo
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, ui.is_enabled(), &name));
    if pick == current {
        return false;
    }
    match pick {
        Some(p) => own.insert(key, p),
        None => own.remove(&key),
    };
    true
}

/// Mood hold, smoothing and face size: grid rows that change the running pipeline.
fn pipeline_rows(ui: &mut egui::Ui, settings: &mut Settings) -> Option<Command> {
    let mut changed = false;
    let p = &mut settings.pipeline;
    let label = ui.label("Mood hold time");
    let mut hold = p.mood.hold.as_secs_f32();
    let slider = egui::Slider::new(&mut hold, 0.5..=10.0).suffix(" s");
    if ui.add(slider).labelled_by(label.id).changed() {
        p.mood.hold = Duration::from_secs_f32(hold);
        changed = true;
    }
    ui.end_row();
    let label = ui.label("Smoothing");
    // Shown as "more smoothing" to the right: alpha is the weight of each new frame.
    let mut smooth = 1.0 - p.tracker.alpha;
    if ui
        .add(egui::Slider::new(&mut smooth, 0.0..=0.95))
        .labelled_by(label.id)
        .changed()
    {
        p.tracker.alpha = (1.0 - smooth).max(0.05);
        changed = true;
    }
    ui.end_row();
    let label = ui.label("Smallest face");
    let mut pct = p.detector.min_face_height * 100.0;
    let slider = egui::Slider::new(&mut pct, 5.0..=50.0).suffix(" % of the height");
    let hint = "smaller finds faces further away, but scans slower";
    if ui
        .add(slider)
        .labelled_by(label.id)
        .on_hover_text(hint)
        .changed()
    {
        p.detector.min_face_height = pct / 100.0;
        changed = true;
    }
    ui.end_row();
    changed.then_some(Command::PipelineEdited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_retention_limit_reads_forever_and_typed_days_parse() {
        assert_eq!(keep_label(0.0), "forever");
        assert_eq!(keep_label(1.0), "1 day");
        assert_eq!(keep_label(30.0), "30 days");
        assert_eq!(parse_keep("forever"), Some(0.0));
        assert_eq!(parse_keep(" 90 days"), Some(90.0));
        assert_eq!(parse_keep("45"), Some(45.0));
        assert_eq!(parse_keep("soon"), None);
        assert_eq!(parse_keep(""), None);
    }
}
