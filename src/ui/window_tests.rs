//! The whole window driven through egui_kittest, with the worker, music and probe threads
//! replaced by channels the test holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::*;
use crate::capture::CaptureSettings;
use crate::error::Error;
use crate::music::account::{AccountEvent, AccountHandle, AccountJob};
use crate::music::service::{MusicError, MusicEvent, MusicHandle, MusicRequest, Outcome};
use crate::music::spotify::SpotifyError;
use crate::pipeline::worker::{Command as WorkerCommand, Event, Worker, WorkerError};
use crate::pipeline::worker::{WorkerConfig, default_opener};

#[path = "../../tests/corpus/mod.rs"]
mod corpus;

/// The test's ends of the window's channels.
struct Fakes {
    account_jobs: Receiver<AccountJob>,
    account_events: Sender<AccountEvent>,
    worker_cmds: Receiver<WorkerCommand>,
    worker_events: Sender<Event>,
    music_requests: tokio::sync::mpsc::UnboundedReceiver<MusicRequest>,
    music_events: Sender<MusicEvent>,
    probe: Sender<Probe>,
}

impl Fakes {
    /// Commands the window sent to the worker since the last call.
    fn sent(&self) -> Vec<WorkerCommand> {
        self.worker_cmds.try_iter().collect()
    }
}

fn window(source: Option<SourceSpec>) -> (EmotuneApp, Fakes) {
    window_with(source, crate::diary::Recorder::new(None))
}

/// The window with this diary recorder.
fn window_with(source: Option<SourceSpec>, diary: crate::diary::Recorder) -> (EmotuneApp, Fakes) {
    let (cmd_tx, worker_cmds) = channel();
    let (worker_events, ev_rx) = channel();
    let (req_tx, music_requests) = tokio::sync::mpsc::unbounded_channel();
    let (music_events, music_rx) = channel();
    let (probe, probe_rx) = channel();
    let (account_tx, account_jobs) = channel();
    let (account_events, account_rx) = channel();
    let start = Startup {
        settings: Settings::default(),
        settings_path: None,
        source,
        warnings: Vec::new(),
        creds: CredentialStatus::Present,
        mapping_info: "built-in".into(),
        autoquit: None,
        show_settings: false,
        show_history: false,
        hide_feed: false,
        profile: super::super::profile::ProfilePanel::load(None, None).0,
        calibrate: false,
    };
    let handles = Handles {
        worker: Worker::from_channels(cmd_tx, ev_rx),
        music: MusicHandle::from_channels(req_tx, music_rx),
        account: AccountHandle::from_channels(account_tx, account_rx),
        dialogs: super::Dialogs::new(false, Arc::new(|| {})),
        probe: probe_rx,
        diary,
        files: super::super::files::FileWorker::spawn(Arc::new(|| {})),
        pace: super::FramePace::new(false),
    };
    let fakes = Fakes {
        account_jobs,
        account_events,
        worker_cmds,
        worker_events,
        music_requests,
        music_events,
        probe,
    };
    (EmotuneApp::new(start, handles), fakes)
}

fn harness(app: EmotuneApp) -> Harness<'static, EmotuneApp> {
    Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .build_ui_state(|ui, app: &mut EmotuneApp| app.show(ui), app)
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(h: &mut Harness<'_, EmotuneApp>, path: &Path) {
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(path.to_path_buf())));
}

#[test]
fn pause_switch_source_rejection_badge_and_worker_error() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    h.run();
    h.get_by_label("Looking for cameras…");
    fakes.probe.send(Probe::default()).expect("probe");
    h.run();
    h.get_by_label("No camera found");
    assert!(fakes.sent().is_empty(), "no camera: nothing is opened");

    // Switch source: type a folder and open it, then drop an image on the window.
    h.get_by_role(Role::TextInput).focus();
    h.run();
    h.get_by_role(Role::TextInput).type_text("/photos/album");
    h.run();
    h.get_by_label("Open").click();
    h.run();
    let sent = fakes.sent();
    assert!(
        matches!(&sent[..], [WorkerCommand::SetSource(SourceSpec::Path(p))] if p == Path::new("/photos/album")),
        "{:?}",
        sent.len()
    );
    fakes
        .worker_events
        .send(Event::SourceOpened("folder /photos/album".into()))
        .expect("event");
    h.run();
    h.get_by_label("folder /photos/album");
    drop_file(&mut h, Path::new("/photos/me.jpg"));
    h.run();
    assert!(matches!(
        &fakes.sent()[..],
        [WorkerCommand::SetSource(SourceSpec::Path(p))] if p == Path::new("/photos/me.jpg")
    ));

    // Space pauses and resumes.
    h.key_press(egui::Key::Space);
    h.run();
    assert!(matches!(&fakes.sent()[..], [WorkerCommand::Pause(true)]));
    h.get_by_label("paused (Space)");
    h.get_by_label("Resume").click();
    h.run();
    assert!(matches!(&fakes.sent()[..], [WorkerCommand::Pause(false)]));

    // A typed Spotify rejection turns the settings badge to "rejected".
    fakes
        .music_events
        .send(MusicEvent::Failed {
            id: None,
            error: MusicError::Spotify(SpotifyError::Rejected(401)),
        })
        .expect("event");
    h.run();
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("credentials rejected by Spotify: check the client id / secret");

    // A worker error shows in the window.
    let camera_gone = Error::Camera("camera 0 stopped delivering frames (No such device)".into());
    fakes
        .worker_events
        .send(Event::Error(WorkerError::Capture(camera_gone)))
        .expect("event");
    h.run();
    h.get_by_label_contains("camera 0 stopped delivering frames");
    // ... and goes away when the camera delivers again.
    fakes
        .worker_events
        .send(Event::SourceRecovered)
        .expect("event");
    h.run();
    assert!(h.query_by_label_contains("camera 0 stopped").is_none());
}

#[test]
fn keys_and_panels_become_music_requests() {
    let (app, mut fakes) = window(Some(SourceSpec::Path("/photos".into())));
    let mut h = harness(app);
    h.run();
    assert!(matches!(
        &fakes.sent()[..],
        [WorkerCommand::SetSource(SourceSpec::Path(_))]
    ));
    // A camera found later does not override the source asked for.
    fakes
        .probe
        .send(Probe {
            cameras: vec!["Test cam (0)".into()],
            spotify_app: false,
        })
        .expect("probe");
    h.run();
    assert!(fakes.sent().is_empty());
    // While music loads a spinner turns, so step frames instead of waiting to settle.
    h.key_press(egui::Key::M);
    h.run_steps(2);
    let req = fakes.music_requests.try_recv().expect("M asks for music");
    assert_eq!(
        (req.ask.strategy, req.ask.refresh),
        (crate::music::Strategy::Uplift, false)
    );
    h.key_press(egui::Key::R);
    h.run_steps(2);
    let req = fakes.music_requests.try_recv().expect("R refreshes");
    assert_eq!(
        (req.ask.strategy, req.ask.refresh),
        (crate::music::Strategy::Uplift, true)
    );
    h.key_press(egui::Key::F);
    h.run_steps(2);
    assert!(
        h.query_by_label("Mood timeline").is_none(),
        "F shows the feed only"
    );
}

#[test]
fn the_first_camera_opens_once_the_probe_finds_it() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    h.run();
    assert!(fakes.sent().is_empty(), "nothing opens before the probe");
    fakes
        .probe
        .send(Probe {
            cameras: vec!["Test cam (0)".into()],
            spotify_app: false,
        })
        .expect("probe");
    h.run();
    assert!(matches!(
        &fakes.sent()[..],
        [WorkerCommand::SetSource(SourceSpec::Camera(0))]
    ));
}

/// Steps the window until `done` holds (10 s at most); the real worker answers meanwhile.
fn step_until(h: &mut Harness<'_, EmotuneApp>, done: impl Fn(&EmotuneApp) -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(10) {
        h.step();
        if done(h.state()) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn dropping_the_bad_input_corpus_on_the_window_never_takes_it_down() {
    let dir = std::env::temp_dir().join(format!("emotune-drop-{}", std::process::id()));
    let cases = corpus::images(&dir);
    let root_reads = corpus::reads_locked_files(&dir);
    let (app, fakes) = window(None);
    let worker = Worker::spawn(
        WorkerConfig {
            model: Some(PathBuf::from("models/emotion_resnet18_cbam.pt")),
            settings: Settings::default().pipeline,
            inference_threads: 1,
            open: default_opener(CaptureSettings::default()),
        },
        Arc::new(|| {}),
    );
    let mut app = app;
    app.handles.worker = worker;
    let mut h = harness(app);
    h.run();
    for case in &cases {
        let refused = match case.expect {
            corpus::Expect::Refused => true,
            corpus::Expect::Read => false,
            corpus::Expect::RefusedUnlessRoot => !root_reads,
        };
        h.state_mut().rt.notice = None;
        h.state_mut().rt.source_name = None;
        drop_file(&mut h, &case.path);
        let name = case.name;
        let settled = step_until(&mut h, |app| {
            let notice = app.rt.notice.as_ref().map(|n| n.to_string());
            let opened = app
                .rt
                .source_name
                .as_deref()
                .is_some_and(|s| s.contains(name));
            notice.is_some_and(|n| n.contains(name)) || opened
        });
        assert!(settled, "{name}: no answer from the worker");
        let app = h.state();
        if refused {
            assert!(
                matches!(app.rt.notice, Some(Notice::Worker(WorkerError::Open(_)))),
                "{name}: {:?}",
                app.rt.notice
            );
            assert!(
                h.get_all_by_label_contains(name).count() > 0,
                "{name}: not shown"
            );
        } else {
            assert!(app.rt.notice.is_none(), "{name}: {:?}", app.rt.notice);
        }
    }
    drop(fakes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sign_in_then_save_and_play_the_list_from_the_window() {
    use crate::music::account::AccountError;
    use crate::music::service::Outcome;
    use crate::music::{PlaylistRef, Recommendation, SourceKind, Strategy};
    let (app, fakes) = window(Some(SourceSpec::Path("/photos".into())));
    let mut h = harness(app);
    h.run();
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("Sign in").click();
    h.run_steps(2);
    assert_eq!(fakes.account_jobs.try_recv().ok(), Some(AccountJob::SignIn));
    h.get_by_label("waiting for the browser…");
    // The account thread only reports the sign-in page; the window opens it.
    let page = "http://127.0.0.1:9/authorize?state=s1";
    fakes
        .account_events
        .send(AccountEvent::AuthorizeUrl(page.into()))
        .expect("event");
    h.step();
    let opened = h
        .output()
        .platform_output
        .commands
        .iter()
        .any(|c| matches!(c, egui::OutputCommand::OpenUrl(u) if u.url == page));
    assert!(opened, "the sign-in page is opened");
    signed_in_as_ada(&mut h, &fakes);

    let outcome = Outcome {
        recommendation: Recommendation {
            emotion: crate::Emotion::Sad,
            strategy: Strategy::Uplift,
            source: SourceKind::Spotify,
            playlist: PlaylistRef {
                name: "Lift".into(),
                url: None,
            },
            tracks: vec![track("Song 1", "T1"), track("Song 2", "T2")],
        },
        notes: vec![],
    };
    fakes
        .music_events
        .send(MusicEvent::Ready {
            id: h.state().panel.asked,
            outcome,
        })
        .expect("event");
    h.run();
    h.get_by_label("Save as playlist").click();
    h.run();
    match fakes.account_jobs.try_recv() {
        Ok(AccountJob::Save { name, uris }) => {
            assert!(name.starts_with("emotune · sad (uplift) · "), "{name}");
            assert_eq!(uris, ["spotify:track:T1", "spotify:track:T2"]);
        }
        other => panic!("{other:?}"),
    }
    fakes
        .account_events
        .send(AccountEvent::Saved {
            name: "emotune · sad (uplift) · 2026-11-22".into(),
            tracks: 2,
        })
        .expect("event");
    h.run();
    h.get_by_label_contains("saved 2 tracks");
    h.get_by_label("Play on Spotify").click();
    h.run();
    assert!(matches!(
        fakes.account_jobs.try_recv(),
        Ok(AccountJob::Play { uris }) if uris.len() == 2
    ));
    fakes
        .account_events
        .send(AccountEvent::Failed(AccountError::NoActiveDevice))
        .expect("event");
    h.run();
    h.get_by_label_contains("no active Spotify device");
}

#[test]
fn without_a_dialog_service_open_image_falls_back_to_the_built_in_browser() {
    let (app, fakes) = window(None);
    let mut h = harness(app);
    fakes.probe.send(Probe::default()).expect("probe");
    h.run();
    assert!(h.query_by_label("Up").is_none(), "browser closed at first");
    h.get_by_label("Open image…").click();
    // The built-in browser lists a folder off the UI thread (a spinner turns meanwhile, so
    // step frames instead of waiting to settle), then shows its "Up" button and path.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.query_by_label("Up").is_none() && std::time::Instant::now() < deadline {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        h.query_by_label("Up").is_some(),
        "the built-in browser opened"
    );
    assert!(fakes.sent().is_empty());
}

#[test]
fn the_music_refresh_schedule_is_picked_in_the_settings() {
    let (app, _fakes) = window(None);
    let mut h = harness(app);
    h.run();
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("Renew music lists").click();
    h.run();
    h.get_by_label("weekly, Sunday").click();
    h.run_steps(2);
    let saved = &h.state().saved;
    assert_eq!(
        saved.settings.music_refresh,
        crate::config::Refresh::Weekly(chrono::Weekday::Sun)
    );
    assert!(saved.dirty, "saved when the window closes");
}

/// The account thread says Ada signed in; the window then asks for her playlists.
fn signed_in_as_ada(h: &mut Harness<'static, EmotuneApp>, fakes: &Fakes) {
    let user = crate::music::account::User {
        id: "u1".into(),
        display_name: "Ada".into(),
    };
    fakes
        .account_events
        .send(AccountEvent::SignedIn(user))
        .expect("event");
    h.run();
    h.get_by_label("signed in as Ada");
    assert!(h.query_by_label("Sign out").is_some());
    assert_eq!(
        fakes.account_jobs.try_recv().ok(),
        Some(AccountJob::Playlists),
        "the pickers' playlists are fetched at sign-in"
    );
}

fn track(title: &str, id: &str) -> crate::music::Track {
    crate::music::Track {
        title: title.into(),
        artists: vec!["Band".into()],
        duration_ms: None,
        url: format!("https://open.spotify.com/track/{id}"),
        uri: format!("spotify:track:{id}"),
        album_art: None,
    }
}

#[path = "profile_window_tests.rs"]
mod profile_window;

#[path = "history_window_tests.rs"]
mod history_window;

#[path = "own_list_window_tests.rs"]
mod own_list;
#[path = "sources_window_tests.rs"]
mod sources_window;

/// V hides the camera image: nothing of it is uploaded while hidden, the faces are still listed,
/// and V brings it back with the next frame.
#[test]
fn v_hides_the_camera_image_but_not_the_faces() {
    use crate::pipeline::FaceResult;
    let (app, fakes) = window(None);
    let mut h = harness(app);
    let frame = |ms: u64| {
        let s = crate::EmotionScores([0.05, 0.02, 0.03, 0.7, 0.1, 0.05, 0.05]);
        let mut r = crate::pipeline::worker::bare_result(
            Arc::new(image::RgbImage::new(64, 48)),
            std::time::Duration::from_millis(ms),
        );
        r.faces = vec![FaceResult {
            track_id: 1,
            bbox: crate::vision::BBox::new(20.0, 10.0, 24.0, 24.0),
            roll: 0.0,
            scores: s,
            raw: s,
            unadjusted: Some(s),
            personal: false,
        }];
        Event::Frame(Box::new(r))
    };
    fakes
        .worker_events
        .send(Event::SourceOpened("folder /photos".into()))
        .expect("event");
    fakes.worker_events.send(frame(0)).expect("frame");
    h.run();
    assert!(h.state().feed.has_image());
    let shown_pace = h.state().handles.pace.delay();
    h.key_press(egui::Key::V);
    fakes.worker_events.send(frame(33)).expect("frame");
    h.run();
    assert!(
        !h.state().feed.has_image(),
        "hidden: no texture kept or uploaded"
    );
    assert!(
        h.state().handles.pace.delay() > shown_pace,
        "hidden: the worker's frames wake the window less often"
    );
    h.get_by_label("The camera image is hidden (V shows it); faces are still read.");
    h.get_by_label("#1 happy 70%");
    h.key_press(egui::Key::V);
    h.run();
    // Shown again at once from the last frame: a photo or a paused source sends no other.
    assert!(h.state().feed.has_image());
    fakes.worker_events.send(frame(66)).expect("frame");
    h.run();
    assert!(h.state().feed.has_image());
    assert_eq!(h.state().handles.pace.delay(), shown_pace);
    assert!(
        h.query_by_label("The camera image is hidden (V shows it); faces are still read.")
            .is_none()
    );
}
