//! The desktop UI's behaviour through egui_kittest (AccessKit queries, simulated clicks).

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use emotune::Emotion;
use emotune::capture::SourceSpec;
use emotune::music::service::Outcome;
use emotune::music::{PlaylistRef, Recommendation, SourceKind, Strategy, Track};
use emotune::ui::command::Command;
use emotune::ui::music::MusicPanel;
use emotune::ui::sources::SourceChooser;

fn track(n: u32) -> Track {
    Track {
        title: format!("Song {n}"),
        artists: vec!["Band".into()],
        duration_ms: Some(185_000),
        url: format!("https://open.spotify.com/track/T{n}"),
        uri: format!("spotify:track:T{n}"),
        album_art: None,
    }
}

fn panel_with_tracks() -> MusicPanel {
    MusicPanel {
        current: Some(Outcome {
            recommendation: Recommendation {
                emotion: Emotion::Happy,
                strategy: Strategy::Match,
                source: SourceKind::Spotify,
                playlist: PlaylistRef {
                    name: "Happy hits".into(),
                    url: None,
                },
                tracks: (1..=3).map(track).collect(),
            },
            notes: vec![],
        }),
        ..Default::default()
    }
}

#[test]
fn match_uplift_and_refresh_become_commands() {
    let state = (MusicPanel::default(), Vec::<Command>::new());
    let mut h = Harness::new_ui_state(
        |ui, (panel, sent): &mut (MusicPanel, Vec<Command>)| sent.extend(panel.show(ui)),
        state,
    );
    h.run();
    h.get_by_label("Uplift").click();
    h.run();
    assert_eq!(h.state().1, vec![Command::SetStrategy(Strategy::Uplift)]);
    // The panel only asks; the strategy changes when the app handles the command.
    assert_eq!(h.state().0.strategy, Strategy::Match);
    h.state_mut().0.strategy = Strategy::Uplift;
    h.run();
    h.get_by_label("Match").click();
    h.run();
    assert_eq!(
        h.state().1.last(),
        Some(&Command::SetStrategy(Strategy::Match))
    );
    h.state_mut().0.strategy = Strategy::Match;
    // Clicking the strategy already selected sends nothing new.
    h.get_by_label("Match").click();
    h.run();
    assert_eq!(h.state().1.len(), 2);
    h.get_by_label("Refresh").click();
    h.run();
    assert_eq!(
        h.state().1.last(),
        Some(&Command::RequestMusic { refresh: true })
    );
}

#[test]
fn clicking_a_track_sends_the_open_url_command() {
    let mut h = Harness::new_ui_state(
        |ui, panel: &mut MusicPanel| {
            for a in panel.show(ui) {
                if let Command::OpenTrack(t) = a {
                    // No Spotify app in tests: the web player link goes through egui.
                    emotune::ui::open_track(ui.ctx(), &t, false);
                }
            }
        },
        panel_with_tracks(),
    );
    h.run();
    h.get_by_label("Song 2 — Band  3:05").click();
    h.step();
    let opened: Vec<String> = h
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::OpenUrl(u) => Some(u.url.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        vec!["https://open.spotify.com/track/T2".to_string()]
    );
}

#[test]
fn without_a_camera_the_source_chooser_is_offered() {
    let state = (SourceChooser::default(), None::<SourceSpec>);
    let mut h = Harness::new_ui_state(
        |ui, (chooser, picked): &mut (SourceChooser, Option<SourceSpec>)| {
            for c in chooser.show(ui, Some(&[])) {
                if let Command::SetSource(s) = c {
                    *picked = Some(s);
                }
            }
        },
        state,
    );
    h.run();
    h.get_by_label("No camera found");
    h.get_by_label("Open").click();
    h.run();
    assert_eq!(h.state().1, None, "an empty path opens nothing");
    h.state_mut().0.path = "tests/fixtures/astronaut.png".into();
    h.run();
    h.get_by_label("Open").click();
    h.run();
    assert_eq!(
        h.state().1,
        Some(SourceSpec::Path("tests/fixtures/astronaut.png".into()))
    );
}

#[test]
fn the_browser_walks_into_folders_and_picks_an_image_or_the_folder() {
    let root = std::env::temp_dir().join(format!("emotune-ui-browse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let album = root.join("album");
    std::fs::create_dir_all(&album).expect("temp dir");
    std::fs::create_dir_all(root.join(".hidden")).expect("temp dir");
    std::fs::copy("tests/fixtures/astronaut.png", album.join("face.png")).expect("copy");
    std::fs::write(album.join("notes.txt"), "not an image").expect("write");

    let mut chooser = SourceChooser::default();
    chooser.path = root.display().to_string();
    let mut h = Harness::new_ui_state(
        |ui, (chooser, picked): &mut (SourceChooser, Option<SourceSpec>)| {
            for c in chooser.show(ui, Some(&["Test cam".into()])) {
                if let Command::SetSource(s) = c {
                    *picked = Some(s);
                }
            }
            // The window lists folders on its file thread; here, at once.
            if let Some(dir) = chooser.take_request() {
                let listing = emotune::ui::sources::read_listing(&dir);
                chooser.listed(&dir, listing);
            }
        },
        (chooser, None::<SourceSpec>),
    );
    h.run();
    h.get_by_label("Browse…").click();
    h.run();
    assert!(
        h.query_by_label(".hidden/").is_none(),
        "hidden folders are not listed"
    );
    h.get_by_label("album/").click();
    h.run();
    assert!(
        h.query_by_label("notes.txt").is_none(),
        "only images are listed"
    );
    h.get_by_label("Replay this folder (1 image)");
    h.get_by_label("face.png").click();
    h.run();
    assert_eq!(h.state().1, Some(SourceSpec::Path(album.join("face.png"))));
    assert_eq!(
        h.state().0.path,
        album.join("face.png").display().to_string()
    );

    // Browsing again starts next to the picked file; "Up" and the folder itself work too.
    h.state_mut().1 = None;
    h.get_by_label("Browse…").click();
    h.run();
    h.get_by_label("Up").click();
    h.run();
    h.get_by_label("album/").click();
    h.run();
    h.get_by_label("Replay this folder (1 image)").click();
    h.run();
    assert_eq!(h.state().1, Some(SourceSpec::Path(album.clone())));
    let _ = std::fs::remove_dir_all(&root);
}
