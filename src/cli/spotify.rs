//! `emotune spotify …`: the signed-in user's commands (sign in and out, who, playlists, save
//! and play a mood's list).

use crate::config::SpotifyEnv;
use crate::music::account::{Account, SignInConfig, TokenStore};

/// The shared network runtime (`service::runtime`).
fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    crate::service::runtime().map_err(anyhow::Error::msg)
}

/// `spotify login`: prints the authorize URL (and opens a browser when there is a display),
/// waits for the browser on the loopback, saves the token, says who signed in.
pub fn spotify_login(env: &SpotifyEnv, open_browser: bool, json: bool) -> anyhow::Result<i32> {
    let cfg = match SignInConfig::of(env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    let (path, redirect) = (cfg.store.path.clone(), cfg.redirect.clone());
    let rt = runtime()?;
    let login = Account::login(cfg, |url| {
        eprintln!("Open this page to sign in to Spotify (waiting on {redirect}):");
        println!("{url}");
        if open_browser && crate::platform::display_available() {
            let _ = open::that_detached(url);
        }
    });
    let outcome = rt.block_on(async {
        let mut account = login.await?;
        account.me().await
    });
    match outcome {
        Ok(user) if json => println!("{}", serde_json::to_string(&user)?),
        Ok(user) => println!(
            "signed in as {} (token saved to {})",
            user.display_name,
            path.display()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

pub fn spotify_logout(env: &SpotifyEnv) -> anyhow::Result<i32> {
    let store = TokenStore::of(env).map_err(anyhow::Error::msg)?;
    let path = store.path.clone();
    match store.delete() {
        Ok(true) => println!("signed out (removed {})", path.display()),
        Ok(false) => println!("not signed in"),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// What `spotify save` / `spotify play` do with the list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpotifyAction {
    Save,
    Play,
}

/// `spotify save` / `spotify play`: a recommendation for the emotion, saved as a private
/// playlist or started on the active device.
pub fn spotify_use(
    env: &SpotifyEnv,
    action: SpotifyAction,
    emotion: crate::Emotion,
    strategy: crate::music::Strategy,
    json: bool,
) -> anyhow::Result<i32> {
    use crate::music::account::{playlist_name, track_uris};
    let mut account = match Account::signed_in(env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    let (recommender, ask) = super::recommender_for(env, emotion, strategy);
    let rt = runtime()?;
    let rec = match rt.block_on(recommender.recommend(&ask)) {
        Ok(o) => {
            for n in &o.notes {
                eprintln!("note: {n}");
            }
            o.recommendation
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    let uris = track_uris(&rec);
    if uris.is_empty() {
        eprintln!(
            "error: the list for {emotion} comes from the offline catalog, which has no Spotify \
             track ids; set RSPOTIFY_CLIENT_SECRET too, so lists come from Spotify"
        );
        return Ok(1);
    }
    let done = rt.block_on(async {
        match action {
            SpotifyAction::Save => {
                let name = playlist_name(emotion, strategy, &crate::clock::today());
                let p = account.save_playlist(&name, &uris).await?;
                Ok(serde_json::json!({"saved": p, "tracks": uris.len()}))
            }
            SpotifyAction::Play => account
                .play(&uris)
                .await
                .map(|()| serde_json::json!({"playing": rec.playlist.name, "tracks": uris.len()})),
        }
    });
    match done {
        Ok(v) if json => println!("{v}"),
        Ok(v) => match action {
            SpotifyAction::Save => println!(
                "saved {} tracks as the private playlist \"{}\"",
                uris.len(),
                v["saved"]["name"].as_str().unwrap_or("")
            ),
            SpotifyAction::Play => {
                println!("playing {} tracks from {}", uris.len(), rec.playlist.name)
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// `spotify status`: who is signed in (asks Spotify, so an expired sign-in shows).
pub fn spotify_status(env: &SpotifyEnv, json: bool) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let me = rt.block_on(async {
        let mut a = Account::signed_in(env)?;
        a.me().await
    });
    match me {
        Ok(u) if json => println!("{}", serde_json::to_string(&u)?),
        Ok(u) => println!("signed in as {}", u.display_name),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// `spotify playlists`: the signed-in user's playlists (ids for mapping.toml).
pub fn spotify_playlists(env: &SpotifyEnv, json: bool) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let listed = rt.block_on(async {
        let mut a = Account::signed_in(env)?;
        a.playlists().await
    });
    match listed {
        Ok(list) if json => println!("{}", serde_json::to_string(&list)?),
        Ok(list) => {
            for p in list {
                println!("{}  {}", p.uri, p.name);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}
