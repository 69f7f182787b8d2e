//! The window: its state (saved settings apart from what lives only while it runs), the events
//! it takes from the worker and music threads, the commands it handles, and the panels.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use super::autoquit::AutoQuit;
use super::command::{self, Command};
use super::dialogs::{DialogKind, Dialogs};
use super::music::MusicPanel;
use super::profile::{ProfileCmd, ProfilePanel};
use super::sources::SourceChooser;
use super::timeline::Timeline;
use super::{ERROR_COLOR, emotions, settings, video};
use crate::capture::SourceSpec;
use crate::config::Settings;
use crate::emotion::Emotion;
use crate::music::SourceKind;
use crate::music::account::{AccountEvent, AccountHandle, AccountJob};
use crate::music::recommender::Ask;
use crate::music::service::{CredentialStatus, MusicEvent, MusicHandle, MusicRequest};
use crate::pipeline::worker::{Command as WorkerCommand, Event, Worker, WorkerError};
use crate::pipeline::{FrameResult, TimingWindow};
use settings::AccountView;

/// The threads the window talks to. Passed in, so tests can drive the window with fakes.
pub(crate) struct Handles {
    pub(crate) worker: Worker,
    pub(crate) music: MusicHandle,
    pub(crate) account: AccountHandle,
    pub(crate) dialogs: Dialogs,
    pub(crate) probe: Receiver<Probe>,
    /// The mood diary's writer (history off: a recorder without one).
    pub(crate) diary: crate::diary::Recorder,
    /// Saves, exports and folder listings, off the UI thread.
    pub(crate) files: super::files::FileWorker,
    /// How soon a camera frame is painted (the worker's wake-up reads it).
    pub(crate) pace: FramePace,
}

/// What the window starts from.
pub(crate) struct Startup {
    pub(crate) settings: Settings,
    pub(crate) settings_path: Option<PathBuf>,
    /// `--source`; without it the first camera, once the probe finds one.
    pub(crate) source: Option<SourceSpec>,
    /// Problems found while loading settings, `.env` and the mapping.
    pub(crate) warnings: Vec<String>,
    pub(crate) creds: CredentialStatus,
    pub(crate) mapping_info: String,
    pub(crate) autoquit: Option<AutoQuit>,
    /// Open the settings window at start (`--show-settings`).
    pub(crate) show_settings: bool,
    /// Open the History tab at start (`--show-history`).
    pub(crate) show_history: bool,
    /// Start with the camera image hidden (`--hide-feed`).
    pub(crate) hide_feed: bool,
    /// The active person's profile.
    pub(crate) profile: ProfilePanel,
    /// Start a calibration at once (`--calibrate`).
    pub(crate) calibrate: bool,
}

/// Something the status line reports; turned into text only when drawn.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Notice {
    #[error("{0}")]
    Worker(WorkerError),
    #[error("{0}")]
    Startup(String),
    #[error("cannot write {}: {error}", path.display())]
    Export {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}")]
    Settings(crate::Error),
    #[error("{0}; what it was saving may not have been written. Please report this bug")]
    Files(String),
}

/// Saved between runs.
struct Persisted {
    settings: Settings,
    path: Option<PathBuf>,
    dirty: bool,
}

/// What exists only while the window runs.
struct Runtime {
    last: Option<FrameResult>,
    source_name: Option<String>,
    /// The source asked for before the first one opened (`--source`, or camera 0).
    source_asked: bool,
    paused: bool,
    /// None until the probe answers.
    cameras: Option<Vec<String>>,
    spotify_app: bool,
    creds: CredentialStatus,
    mapping_info: String,
    account: AccountView,
    /// The signed-in user's playlists, once fetched for the settings.
    user_playlists: Option<Vec<crate::music::account::UserPlaylist>>,
    notice: Option<Notice>,
    model_error: Option<crate::Error>,
    info: Option<String>,
    rate: FrameRate,
    timings: TimingWindow,
    started: Instant,
}

/// Which parts of the window are open.
#[derive(Default)]
struct View {
    chooser: bool,
    settings: bool,
    feed_only: bool,
    /// The camera image is not shown (nor uploaded); the faces are still read.
    feed_hidden: bool,
    /// The History tab instead of the live view.
    history: bool,
}

pub(crate) struct EmotuneApp {
    handles: Handles,
    saved: Persisted,
    rt: Runtime,
    view: View,
    panel: MusicPanel,
    feed: video::Feed,
    timeline: Timeline,
    chooser: SourceChooser,
    autoquit: Option<AutoQuit>,
    profile: ProfilePanel,
    history: super::history::HistoryView,
}

impl EmotuneApp {
    pub(crate) fn new(start: Startup, handles: Handles) -> Self {
        let source_asked = start.source.is_some();
        if let Some(s) = start.source {
            handles.worker.send(WorkerCommand::SetSource(s));
        }
        let mut history = super::history::HistoryView::default();
        if start.show_history
            && let super::history::HistoryCmd::Ask(days) = history.opened()
        {
            handles.diary.ask_summary(days);
        }
        let mut profile = start.profile;
        if start.calibrate {
            profile.handle(ProfileCmd::Calibrate, None);
        }
        let mut settings = start.settings;
        profile.adopt_own_playlists(&settings.own_playlists);
        let moved = profile.take_moved();
        if moved {
            settings.own_playlists.clear();
        }
        // The worker starts without one.
        if let Some(a) = profile.adjustment() {
            handles.worker.send(WorkerCommand::Adjust(Some(a)));
        }
        EmotuneApp {
            handles,
            saved: Persisted {
                settings,
                path: start.settings_path,
                dirty: moved,
            },
            rt: Runtime {
                last: None,
                source_name: None,
                source_asked,
                paused: false,
                cameras: None,
                spotify_app: false,
                creds: start.creds,
                mapping_info: start.mapping_info,
                account: AccountView::default(),
                user_playlists: None,
                notice: start.warnings.into_iter().next().map(Notice::Startup),
                model_error: None,
                info: None,
                rate: FrameRate::default(),
                timings: TimingWindow::default(),
                started: Instant::now(),
            },
            view: View {
                settings: start.show_settings,
                history: start.show_history,
                feed_hidden: start.hide_feed,
                ..View::default()
            },
            panel: MusicPanel::default(),
            feed: video::Feed::default(),
            timeline: Timeline::default(),
            chooser: SourceChooser::default(),
            autoquit: start.autoquit,
            profile,
            history,
        }
    }

    /// Draws the whole window and handles what the user did in it.
    pub(crate) fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        if let Some(a) = &mut self.autoquit {
            a.tick(&ctx);
        }
        let mut cmds = command::from_keys(&ctx);
        cmds.extend(command::from_drop(&ctx));
        cmds.extend(self.toolbar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if !self.view.feed_only && !self.view.history {
            cmds.extend(self.timeline_panel(ui));
            cmds.extend(self.side_panel(ui));
        }
        if self.view.settings {
            cmds.extend(self.settings_window(&ctx));
        }
        cmds.extend(self.central(ui));
        for c in cmds {
            self.handle(&ctx, c);
        }
        self.file_requests();
    }

    /// Hides or shows the camera image; hidden, its texture goes too (nothing of the image stays
    /// in the window) and frames wake the window less often.
    fn toggle_feed(&mut self, ctx: &egui::Context) {
        self.view.feed_hidden = !self.view.feed_hidden;
        self.handles.pace.set_feed_hidden(self.view.feed_hidden);
        if self.view.feed_hidden {
            self.feed = video::Feed::default();
        } else if let Some(last) = &self.rt.last {
            // A photo or a paused source sends no new frame: show the last one again.
            self.feed.upload(ctx, &last.frame);
        }
    }

    /// The desktop's file dialog, else the built-in browser in the chooser.
    fn open_dialog(&mut self, kind: DialogKind) {
        if !self.handles.dialogs.open(kind) {
            self.view.chooser = true;
            self.chooser.open_browser();
        }
    }

    /// The one place commands are carried out.
    fn handle(&mut self, ctx: &egui::Context, cmd: Command) {
        let worker = &self.handles.worker;
        match cmd {
            Command::SetSource(spec) => worker.send(WorkerCommand::SetSource(spec)),
            Command::TogglePause => {
                self.rt.paused = !self.rt.paused;
                worker.send(WorkerCommand::Pause(self.rt.paused));
            }
            Command::ToggleChooser => self.view.chooser = !self.view.chooser,
            Command::ToggleSettings if !self.view.settings => self.view.settings = true,
            Command::ToggleSettings | Command::CloseSettings => {
                self.view.settings = false;
                self.save_settings();
            }
            Command::ToggleFeedOnly => self.view.feed_only = !self.view.feed_only,
            Command::ToggleFeed => self.toggle_feed(ctx),
            Command::RequestMusic { refresh } => self.request_music(refresh),
            Command::SetStrategy(s) => {
                self.panel.strategy = s;
                self.request_music(false);
            }
            Command::ToggleStrategy => {
                self.panel.strategy = self.panel.strategy.toggled();
                self.request_music(false);
            }
            Command::OpenTrack(t) => {
                self.record_play("open", &t.title, &t.artists.join(", "), &t.uri);
                super::open_track(ctx, &t, self.rt.spotify_app);
            }
            Command::ExportTimeline => {
                let suggested = suggested_csv();
                if !self
                    .handles
                    .dialogs
                    .open(DialogKind::ExportCsv(suggested.clone()))
                {
                    self.export_timeline(suggested);
                }
            }
            Command::OpenImageDialog => self.open_dialog(DialogKind::OpenImage),
            Command::OpenFolderDialog => self.open_dialog(DialogKind::OpenFolder),
            Command::PipelineEdited => {
                self.saved.dirty = true;
                worker.send(WorkerCommand::Settings(self.saved.settings.pipeline));
            }
            Command::SettingsEdited => self.saved.dirty = true,
            Command::SignIn => {
                self.rt.account = AccountView::SigningIn(None);
                self.handles.account.send(AccountJob::SignIn);
            }
            Command::SignOut => self.handles.account.send(AccountJob::SignOut),
            Command::SaveList | Command::PlayList => self.use_list(cmd == Command::SaveList),
            Command::LoadPlaylists => self.handles.account.send(AccountJob::Playlists),
            Command::OwnPlaylistsEdited => {
                self.profile.own_playlists_edited();
                self.request_music(false);
            }
            Command::ShowHistory(on) => {
                self.view.history = on;
                if on {
                    let ask = self.history.opened();
                    self.on_history(ask);
                }
            }
            Command::History(c) => self.on_history(c),
            Command::Profile(c) => {
                self.record_correction(c);
                if self.profile.handle(c, self.rt.last.as_ref()) {
                    worker.send(WorkerCommand::Adjust(self.profile.adjustment()));
                }
            }
        }
    }

    /// Sends the current list's Spotify tracks to be saved or played in the account.
    fn use_list(&mut self, save: bool) {
        let Some(o) = &self.panel.current else { return };
        let rec = &o.recommendation;
        let uris = crate::music::account::track_uris(rec);
        let action = if save { "save" } else { "play" };
        self.record_play(
            action,
            &rec.playlist.name,
            "",
            rec.playlist.url.as_deref().unwrap_or(""),
        );
        let job = if save {
            let date = crate::clock::today();
            let name = crate::music::account::playlist_name(rec.emotion, rec.strategy, &date);
            AccountJob::Save { name, uris }
        } else {
            AccountJob::Play { uris }
        };
        self.panel.account_note = Some(("asking Spotify…".into(), false));
        self.handles.account.send(job);
    }

    fn on_account(&mut self, ctx: &egui::Context, ev: AccountEvent) {
        let note = |text: String, error: bool| Some((text, error));
        match ev {
            AccountEvent::AuthorizeUrl(url) => {
                // Opened here, through eframe, so the account thread never touches the desktop;
                // shown too, for when no browser comes up.
                ctx.open_url(egui::OpenUrl::new_tab(&url));
                self.rt.account = AccountView::SigningIn(Some(url));
            }
            AccountEvent::SignedIn(u) => {
                self.rt.account = AccountView::SignedIn(u.display_name);
                // The settings' per-mood pickers list them; fetched once, off the UI thread.
                self.handles.account.send(AccountJob::Playlists);
            }
            AccountEvent::SignedOut => {
                self.rt.account = AccountView::SignedOut;
                self.rt.user_playlists = None;
            }
            AccountEvent::Saved { name, tracks } => {
                self.panel.account_note =
                    note(format!("saved {tracks} tracks as \"{name}\""), false);
            }
            AccountEvent::Playing { tracks } => {
                self.panel.account_note =
                    note(format!("playing {tracks} tracks on Spotify"), false);
            }
            AccountEvent::Playlists(v) => self.rt.user_playlists = Some(v),
            AccountEvent::Failed(e) => {
                if matches!(self.rt.account, AccountView::SigningIn(_))
                    || e == crate::music::account::AccountError::SignInExpired
                {
                    self.rt.account = AccountView::SignedOut;
                }
                self.panel.account_note = note(e.to_string(), true);
            }
        }
        self.panel.signed_in = matches!(self.rt.account, AccountView::SignedIn(_));
    }

    fn request_music(&mut self, refresh: bool) {
        let emotion = self
            .rt
            .last
            .as_ref()
            .and_then(|r| r.mood.stable)
            .unwrap_or(Emotion::Neutral);
        self.panel.loading = true;
        self.panel.asked += 1;
        let strategy = self.panel.strategy;
        // The user's own playlist for this mood, read through their sign-in (the music
        // thread's `Recommender` falls back to the mapping when it cannot be read).
        let own = match self.rt.account {
            AccountView::SignedIn(_) => self.profile.profile.own_playlist(emotion, strategy),
            _ => None,
        };
        self.handles.music.request(MusicRequest {
            id: self.panel.asked,
            ask: Ask {
                refresh,
                taste: self.profile.taste(),
                own: own.cloned(),
                ..Ask::new(emotion, strategy)
            },
        });
    }

    fn poll(&mut self, ctx: &egui::Context) {
        let mut framed = false;
        for ev in self.handles.worker.poll() {
            framed |= matches!(ev, Event::Frame(_));
            self.on_worker(ev);
        }
        // One upload a repaint, of the newest frame: frames of a still scene queue up between
        // the worker's wake-ups (`QUIET_WAKE`).
        if framed
            && !self.view.feed_hidden
            && let Some(last) = &self.rt.last
        {
            self.feed.upload(ctx, &last.frame);
        }
        for ev in self.handles.music.poll() {
            self.on_music(ctx, ev);
        }
        for ev in self.handles.account.poll() {
            self.on_account(ctx, ev);
        }
        if let Some((kind, Some(path))) = self.handles.dialogs.poll() {
            match kind {
                DialogKind::ExportCsv(_) => self.export_timeline(path),
                DialogKind::OpenImage | DialogKind::OpenFolder => {
                    let spec = SourceSpec::Path(path);
                    self.handles.worker.send(WorkerCommand::SetSource(spec));
                }
            }
        }
        if let Ok(p) = self.handles.probe.try_recv() {
            self.on_probe(p);
        }
        for done in self.handles.files.poll() {
            self.on_file_done(done);
        }
        for ev in self.handles.diary.poll() {
            if let Some(ask) = self.history.on_event(ev) {
                self.on_history(ask);
            }
        }
    }

    fn on_worker(&mut self, ev: Event) {
        match ev {
            Event::Frame(r) => {
                self.rt.rate.tick(Instant::now());
                if let Some(g) = r.group {
                    self.timeline.push(r.at.as_secs_f64(), g, r.mood.stable);
                }
                let settled = r.mood.changed && r.mood.stable.is_some();
                self.rt.timings.push(r.timings);
                self.record_frame(&r);
                if self.profile.on_frame(&r) {
                    let adjust = WorkerCommand::Adjust(self.profile.adjustment());
                    self.handles.worker.send(adjust);
                }
                self.rt.last = Some(*r);
                // Debounce: new music only when the *stable* mood changes (and not pinned).
                if settled && !self.panel.pinned {
                    self.request_music(false);
                }
            }
            Event::SourceOpened(name) => {
                self.record_session(&name);
                self.rt.source_name = Some(name);
                self.view.chooser = false;
                if matches!(self.rt.notice, Some(Notice::Worker(_))) {
                    self.rt.notice = None;
                }
            }
            Event::SourceRecovered => {
                if matches!(
                    self.rt.notice,
                    Some(Notice::Worker(WorkerError::Capture(_)))
                ) {
                    self.rt.notice = None;
                }
            }
            Event::SourceEnded => {}
            Event::Error(e) => self.rt.notice = Some(Notice::Worker(e)),
            Event::ModelError(e) => self.rt.model_error = Some(e),
        }
    }

    fn on_music(&mut self, ctx: &egui::Context, ev: MusicEvent) {
        match ev {
            MusicEvent::Art { url, image } => self.panel.add_art(ctx, url, &image),
            MusicEvent::Ready { id, outcome: o } => {
                if !self.panel.is_current(id) {
                    return;
                }
                if o.credentials_rejected() {
                    self.rt.creds = CredentialStatus::Rejected;
                } else if o.recommendation.source == SourceKind::Spotify {
                    self.rt.creds = CredentialStatus::Present;
                }
                self.record_shown(&o.recommendation);
                self.panel.show_list(o);
            }
            MusicEvent::Failed { id, error: e } => {
                if id.is_some_and(|id| !self.panel.is_current(id)) {
                    return;
                }
                self.panel.loading = false;
                if e.is_rejection() {
                    self.rt.creds = CredentialStatus::Rejected;
                }
                self.panel.error = Some(e);
            }
        }
    }

    /// Cameras found (at start, and whenever they change): with nothing open yet the first
    /// one opens; with another source open a new camera is offered.
    fn on_probe(&mut self, p: Probe) {
        self.rt.spotify_app = p.spotify_app;
        let had = self.rt.cameras.as_ref().map_or(0, Vec::len);
        let idle = !self.rt.source_asked && self.rt.source_name.is_none();
        if idle && !p.cameras.is_empty() {
            self.rt.source_asked = true;
            self.handles
                .worker
                .send(WorkerCommand::SetSource(SourceSpec::Camera(0)));
        } else if self.rt.cameras.is_some() && p.cameras.len() > had {
            let name = p.cameras.last().cloned().unwrap_or_default();
            self.rt.info = Some(format!("camera connected: {name} (Source… to use it)"));
        }
        self.rt.cameras = Some(p.cameras);
    }
}

/// Where the timeline goes without a dialog, and the name a dialog suggests: Documents (else
/// home), `emotune-mood-YYYY-MM-DD-<seconds>.csv`.
fn suggested_csv() -> PathBuf {
    let dir = directories::UserDirs::new()
        .and_then(|u| {
            u.document_dir()
                .map(|d| d.to_path_buf())
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let day = crate::clock::today();
    let secs = crate::clock::unix_now().as_secs() % 86_400;
    dir.join(format!("emotune-mood-{day}-{secs:05}.csv"))
}

impl eframe::App for EmotuneApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

impl Drop for EmotuneApp {
    fn drop(&mut self) {
        // A profile change not yet handed to the file thread is written too (the thread
        // finishes its queue when dropped).
        self.file_requests();
        self.save_settings();
    }
}

mod diary;
mod io;
mod layout;
mod parts;
pub(crate) use parts::FramePace;
use parts::FrameRate;
pub(crate) use parts::Probe;

#[cfg(test)]
#[path = "window_tests.rs"]
mod window_tests;
