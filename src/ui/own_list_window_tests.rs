//! The user's own playlist for a mood: it goes with the music request, the list that takes
//! over when it cannot be read says so, and a late answer never replaces a newer list.

use super::*;

/// Signed in as Ada, her playlist "Mine" picked for neutral/match in the settings: the window
/// asks the music thread for the list with that playlist in the request. Returns the request.
fn own_list_for_neutral_match(
    h: &mut Harness<'static, EmotuneApp>,
    fakes: &mut Fakes,
) -> MusicRequest {
    use crate::music::Strategy;
    use crate::music::account::UserPlaylist;
    h.run();
    h.get_by_label("Settings").click();
    h.run();
    signed_in_as_ada(h, fakes);
    // Until they arrive (or when fetching failed) the button asks again.
    h.get_by_label("Load my playlists").click();
    h.run();
    assert_eq!(
        fakes.account_jobs.try_recv().ok(),
        Some(AccountJob::Playlists)
    );
    let mine = UserPlaylist {
        id: "p9".into(),
        name: "Mine".into(),
        uri: "spotify:playlist:p9".into(),
    };
    fakes
        .account_events
        .send(AccountEvent::Playlists(vec![mine]))
        .expect("event");
    h.run();
    assert_eq!(h.get_all_by_label_contains("playlist for ").count(), 14);
    h.get_by_label("playlist for neutral/match").click();
    h.run();
    h.get_by_label("Mine").click();
    h.run_steps(2);
    let picked = h.state().profile.profile.own_playlists.get("neutral/match");
    assert_eq!(picked.map(|p| p.id.as_str()), Some("p9"));
    // The list for the current mood (neutral until one settles) is asked for with it.
    let req = last_request(fakes).expect("a request");
    assert_eq!(
        (req.ask.emotion, req.ask.strategy),
        (crate::Emotion::Neutral, Strategy::Match)
    );
    assert_eq!(req.ask.own.as_ref().map(|p| p.id.as_str()), Some("p9"));
    assert_eq!(req.id, h.state().panel.asked);
    req
}

/// The latest of the music requests sent since the last look.
fn last_request(fakes: &mut Fakes) -> Option<MusicRequest> {
    std::iter::from_fn(|| fakes.music_requests.try_recv().ok()).last()
}

fn own_outcome(title: &str, uri: &str, notes: Vec<crate::music::service::Note>) -> Outcome {
    use crate::music::{PlaylistRef, Recommendation, SourceKind, Strategy};
    Outcome {
        recommendation: Recommendation {
            emotion: crate::Emotion::Neutral,
            strategy: Strategy::Match,
            source: SourceKind::Spotify,
            playlist: PlaylistRef {
                name: "Mine".into(),
                url: None,
            },
            tracks: vec![track(title, uri)],
        },
        notes,
    }
}

#[test]
fn an_own_playlist_picked_for_a_mood_goes_with_the_request() {
    use crate::music::account::AccountError;
    use crate::music::service::Note;
    let (app, mut fakes) = window(Some(SourceSpec::Path("/photos".into())));
    let mut h = harness(app);
    let req = own_list_for_neutral_match(&mut h, &mut fakes);
    fakes
        .music_events
        .send(MusicEvent::Ready {
            id: req.id,
            outcome: own_outcome("Own 1", "OT1", vec![]),
        })
        .expect("event");
    h.run();
    assert!(
        h.query_by_label_contains("Own 1").is_some(),
        "the own list is shown"
    );
    // When the playlist could not be read, the list that took over says so.
    h.key_press(egui::Key::R);
    h.run_steps(2);
    let again = last_request(&mut fakes).expect("refresh");
    let note = Note::OwnPlaylist {
        playlist: "Mine".into(),
        error: AccountError::NotFound("read the playlist's tracks"),
    };
    fakes
        .music_events
        .send(MusicEvent::Ready {
            id: again.id,
            outcome: own_outcome("Mapped 1", "MT1", vec![note]),
        })
        .expect("event");
    h.run_steps(3);
    assert!(h.query_by_label_contains("Mapped 1").is_some());
    assert!(
        h.query_by_label_contains("your playlist \"Mine\"")
            .is_some()
    );
}

#[test]
fn a_list_asked_for_earlier_does_not_replace_a_later_one() {
    use crate::music::Strategy;
    let (app, mut fakes) = window(Some(SourceSpec::Path("/photos".into())));
    let mut h = harness(app);
    let first = own_list_for_neutral_match(&mut h, &mut fakes);
    // Uplift asked for next; then the answer to the match list, still on its way, arrives
    // late and is dropped.
    h.get_by_label("Uplift").click();
    // The list's spinner keeps repainting while it loads: step, do not wait to settle.
    h.run_steps(3);
    let req = fakes.music_requests.try_recv().expect("uplift request");
    assert_eq!(req.ask.strategy, Strategy::Uplift);
    assert!(req.id > first.id);
    fakes
        .music_events
        .send(MusicEvent::Ready {
            id: first.id,
            outcome: own_outcome("Own 2", "OT2", vec![]),
        })
        .expect("event");
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Own 2").is_none(),
        "a stale list is not shown"
    );
    assert!(h.state().panel.loading, "still waiting for the uplift list");
}
