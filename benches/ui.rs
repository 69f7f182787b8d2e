//! UI frame time while Spotify hangs: the music request is in flight on the music thread (the
//! fake server accepts and never answers), and each UI frame only polls a channel and draws.
//! ≥ 30 repaints/s means a frame under 33 ms; this measures how far under.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use emotune::Emotion;
use emotune::config::SpotifyCredentials;
use emotune::music::Strategy;
use emotune::music::mapping::Mapping;
use emotune::music::recommender::Ask;
use emotune::music::service::{Music, MusicEvent, MusicHandle, MusicRequest};
use emotune::music::spotify::SpotifySource;
use emotune::ui::music::MusicPanel;

fn hanging_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c); // accept, never answer
        }
    });
    url
}

fn bench(c: &mut Criterion) {
    let url = hanging_server();
    let creds = SpotifyCredentials {
        client_id: "id".into(),
        client_secret: "secret".into(),
        redirect_uri: None,
    };
    let spotify = SpotifySource::new(
        &creds,
        Some(format!("{url}/v1/")),
        Some(format!("{url}/")),
        Duration::from_secs(600),
    );
    let handle = MusicHandle::spawn(
        Music::new(Mapping::builtin(), Some(spotify), None).into(),
        Arc::new(|| {}),
    );
    handle.request(MusicRequest {
        id: 1,
        ask: Ask {
            refresh: true,
            ..Ask::new(Emotion::Sad, Strategy::Match)
        },
    });
    let mut panel = MusicPanel {
        loading: true,
        ..Default::default()
    };
    let mut answered = false;
    let mut h = Harness::new_ui(|ui| {
        for ev in handle.poll() {
            answered |= matches!(ev, MusicEvent::Ready { .. } | MusicEvent::Failed { .. });
        }
        let _ = panel.show(ui);
    });
    c.bench_function("ui_frame_while_spotify_hangs", |b| b.iter(|| h.step()));
    drop(h);
    assert!(
        !answered,
        "the fake Spotify was supposed to hang for the whole bench"
    );
}

criterion_group! {
    name = ui;
    config = Criterion::default().without_plots().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(ui);
