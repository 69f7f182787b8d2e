//! The desktop UI's behaviour through egui_kittest (AccessKit queries, simulated clicks).

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use emotune::Emotion;
use emotune::capture::SourceSpec;
use emotune::music::service::Outcome;
use emotune::music::{PlaylistRef, Recommendation, SourceKind, Strategy, Track};
use emotune::ui::music::{MusicAction, MusicPanel};
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
fn match_and_uplift_change_the_music_request() {
    let state = (MusicPanel::default(), Vec::<MusicAction>::new());
    let mut h = Harness::new_ui_state(
        |ui, (panel, sent): &mut (MusicPanel, Vec<MusicAction>)| sent.extend(panel.show(ui)),
        state,
    );
    h.run();
    h.get_by_label("Uplift").click();
    h.run();
    assert_eq!(
        h.state().1,
        vec![MusicAction::Request {
            strategy: Strategy::Uplift,
            refresh: false
        }]
    );
    assert_eq!(h.state().0.strategy, Strategy::Uplift);
    h.get_by_label("Match").click();
    h.run();
    assert_eq!(
        h.state().1.last(),
        Some(&MusicAction::Request {
            strategy: Strategy::Match,
            refresh: false
        })
    );
    // Clicking the strategy already selected sends nothing new.
    h.get_by_label("Match").click();
    h.run();
    assert_eq!(h.state().1.len(), 2);
    h.get_by_label("Refresh").click();
    h.run();
    assert_eq!(
        h.state().1.last(),
        Some(&MusicAction::Request {
            strategy: Strategy::Match,
            refresh: true
        })
    );
}

#[test]
fn clicking_a_track_sends_the_open_url_command() {
    let mut h = Harness::new_ui_state(
        |ui, panel: &mut MusicPanel| {
            for a in panel.show(ui) {
                if let MusicAction::Open(t) = a {
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
            if let Some(s) = chooser.show(ui, &[]) {
                *picked = Some(s);
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
