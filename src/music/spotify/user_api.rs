//! The REST client for the signed-in user's endpoints (`/me`, their playlists, playback) and
//! the readings of those answers. One small reqwest client with one error mapping: see the
//! module's page (`spotify/mod.rs`) for why not rspotify here.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::token::{Token, TokenStore};
use super::{AccountError, Endpoints, Result, SignInConfig, oauth};

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct User {
    pub id: String,
    pub display_name: String,
}

/// One of the user's playlists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct UserPlaylist {
    pub id: String,
    pub name: String,
    pub uri: String,
}

/// A signed-in Spotify account.
pub(crate) struct Account {
    http: reqwest::Client,
    ep: Endpoints,
    client_id: String,
    store: TokenStore,
    token: Token,
}

fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| AccountError::Io(e.to_string()))
}

fn unreachable(e: &reqwest::Error) -> AccountError {
    if e.is_timeout() {
        return AccountError::Unreachable("no answer in time".into());
    }
    // Without the URL: it can hold a query, never a secret, but it says nothing useful.
    AccountError::Unreachable(
        e.to_string()
            .split(" for url")
            .next()
            .unwrap_or("")
            .to_string(),
    )
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    retry_secs(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
    )
}

/// A `Retry-After` header's seconds (1 when it is missing or not a number of seconds).
pub(crate) fn retry_secs(header: Option<&str>) -> u64 {
    header.and_then(|v| v.trim().parse().ok()).unwrap_or(1)
}

/// What one API call's answer means: its JSON (Null for an empty body), or the error its
/// status says (`retry`: seconds to wait after a 429). An error's body is never read.
pub(crate) fn answer(call: Call, status: u16, retry: u64, body: &[u8]) -> Result<Value> {
    if !(200..300).contains(&status) {
        return Err(call.error(status, retry));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| AccountError::Protocol(format!("{}: {e}", call.what())))
}

/// What a call is, for its error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    Me,
    Playlists,
    Create,
    AddItems,
    Play,
    ReadItems,
}

impl Call {
    fn what(self) -> &'static str {
        match self {
            Call::Me => "read your profile",
            Call::Playlists => "list your playlists",
            Call::Create => "create a playlist",
            Call::AddItems => "add tracks to the playlist",
            Call::Play => "start playback",
            Call::ReadItems => "read the playlist's tracks",
        }
    }

    fn error(self, status: u16, retry: u64) -> AccountError {
        match (self, status) {
            (_, 401) => AccountError::SignInExpired,
            (Call::Play, 403) => AccountError::NotPremium,
            (Call::Play, 404) => AccountError::NoActiveDevice,
            (c, 403) => AccountError::Forbidden(c.what()),
            (c, 404) => AccountError::NotFound(c.what()),
            (_, 429) => AccountError::RateLimited(retry),
            (c, s) => AccountError::Status(s, c.what()),
        }
    }
}

impl Account {
    /// Runs the whole sign-in (`oauth::sign_in`: `show_url` gets the authorize URL) and
    /// returns the account it signed in.
    pub async fn login(cfg: SignInConfig, show_url: impl FnOnce(&str)) -> Result<Account> {
        let token = oauth::sign_in(&cfg, show_url).await?;
        Account::with(cfg, token)
    }

    /// The account whose token is stored, if any.
    pub fn stored(cfg: SignInConfig) -> Result<Account> {
        let token = cfg.store.load()?.ok_or(AccountError::NotSignedIn)?;
        Account::with(cfg, token)
    }

    /// The account signed in under this environment (`NoClientId` or `NotSignedIn` when none).
    pub fn signed_in(env: &crate::config::SpotifyEnv) -> Result<Account> {
        Account::stored(SignInConfig::of(env)?)
    }

    fn with(cfg: SignInConfig, token: Token) -> Result<Account> {
        Ok(Account {
            http: client(Duration::from_secs(10))?,
            ep: cfg.endpoints,
            client_id: cfg.client_id,
            store: cfg.store,
            token,
        })
    }

    async fn refresh(&mut self) -> Result<()> {
        let t = oauth::refresh(&self.ep, &self.client_id, &self.token).await?;
        self.store.save(&t)?;
        self.token = t;
        tracing::info!("Spotify token refreshed");
        Ok(())
    }

    /// One API call: refreshed first when due, and once more after a 401.
    async fn call(
        &mut self,
        call: Call,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        if self.token.expired() {
            self.refresh().await?;
        }
        let mut retried = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.ep.api))
                .bearer_auth(&self.token.access_token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| unreachable(&e))?;
            let status = resp.status().as_u16();
            if status == 401 && !retried {
                retried = true;
                self.refresh().await?;
                continue;
            }
            if !(200..300).contains(&status) {
                return answer(call, status, retry_after(&resp), &[]);
            }
            let bytes = resp.bytes().await.map_err(|e| unreachable(&e))?;
            return answer(call, status, 0, &bytes);
        }
    }

    pub async fn me(&mut self) -> Result<User> {
        let v = self
            .call(Call::Me, reqwest::Method::GET, "me", None)
            .await?;
        Ok(user_of(&v))
    }

    /// The user's playlists (up to 200).
    pub async fn playlists(&mut self) -> Result<Vec<UserPlaylist>> {
        let mut out = Vec::new();
        for offset in (0..200).step_by(50) {
            let path = format!("me/playlists?limit=50&offset={offset}");
            let v = self
                .call(Call::Playlists, reqwest::Method::GET, &path, None)
                .await?;
            let (page, more) = playlists_of(&v);
            out.extend(page);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// The tracks of one of the user's playlists (the first 100; private ones too, which the
    /// app's own client-credentials token cannot read). Episodes and local files are skipped.
    pub(crate) async fn playlist_tracks(&mut self, id: &str) -> Result<Vec<crate::music::Track>> {
        let path = format!("playlists/{id}/items?limit=100");
        let v = self
            .call(Call::ReadItems, reqwest::Method::GET, &path, None)
            .await?;
        Ok(items_of(&v))
    }

    /// The mood's list from the playlist the user picked for it (shared by the window and
    /// `spotify save/play`). An empty playlist is an error: the caller falls back.
    pub(crate) async fn own_recommendation(
        &mut self,
        emotion: crate::Emotion,
        strategy: crate::music::Strategy,
        p: &crate::config::OwnPlaylist,
    ) -> Result<crate::music::Recommendation> {
        let tracks = self.playlist_tracks(&p.id).await?;
        if tracks.is_empty() {
            return Err(AccountError::Protocol(format!(
                "your playlist \"{}\" has no playable tracks",
                p.name
            )));
        }
        Ok(crate::music::Recommendation {
            emotion,
            strategy,
            source: crate::music::SourceKind::Spotify,
            playlist: crate::music::PlaylistRef {
                name: p.name.clone(),
                url: Some(format!("https://open.spotify.com/playlist/{}", p.id)),
            },
            tracks,
        })
    }

    /// A new private playlist holding `uris` (in batches of 100, Spotify's limit).
    pub(crate) async fn save_playlist(
        &mut self,
        name: &str,
        uris: &[String],
    ) -> Result<UserPlaylist> {
        let body = json!({
            "name": name,
            "public": false,
            "description": "Made by emotune from the mood it read on your face",
        });
        let v = self
            .call(
                Call::Create,
                reqwest::Method::POST,
                "me/playlists",
                Some(&body),
            )
            .await?;
        let id = created_id(&v)?;
        for chunk in uris.chunks(100) {
            let path = format!("playlists/{id}/items");
            let body = json!({ "uris": chunk });
            self.call(Call::AddItems, reqwest::Method::POST, &path, Some(&body))
                .await?;
        }
        Ok(UserPlaylist {
            uri: v["uri"].as_str().unwrap_or("").to_string(),
            name: name.to_string(),
            id,
        })
    }

    /// Starts `uris` on the user's active device.
    pub async fn play(&mut self, uris: &[String]) -> Result<()> {
        let body = json!({ "uris": uris });
        self.call(
            Call::Play,
            reqwest::Method::PUT,
            "me/player/play",
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

/// Who `GET /me` says is signed in.
pub(crate) fn user_of(v: &Value) -> User {
    let id = v["id"].as_str().unwrap_or_default().to_string();
    User {
        display_name: v["display_name"].as_str().unwrap_or(&id).to_string(),
        id,
    }
}

/// One page of `GET /me/playlists` (those without an id left out), and whether more follow.
pub(crate) fn playlists_of(v: &Value) -> (Vec<UserPlaylist>, bool) {
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let page = items
        .iter()
        .filter_map(|p| {
            Some(UserPlaylist {
                id: p["id"].as_str()?.to_string(),
                name: p["name"].as_str().unwrap_or("").to_string(),
                uri: p["uri"].as_str().unwrap_or("").to_string(),
            })
        })
        .collect();
    (page, !v["next"].is_null() && !items.is_empty())
}

/// The playable tracks of `GET /playlists/{id}/items`.
pub(crate) fn items_of(v: &Value) -> Vec<crate::music::Track> {
    // 2026's /items answers each entry as `item`; older answers call it `track`.
    let entry = |i: &'_ Value| -> Option<crate::music::Track> {
        track_of(if i["item"].is_object() {
            &i["item"]
        } else {
            &i["track"]
        })
    };
    v["items"]
        .as_array()
        .map(|items| items.iter().filter_map(entry).collect())
        .unwrap_or_default()
}

/// The id of the playlist `POST /me/playlists` created.
pub(crate) fn created_id(v: &Value) -> Result<String> {
    v["id"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| AccountError::Protocol("the new playlist has no id".into()))
}

/// A playable track from the Web API's JSON, or None (episodes, local files, removed tracks).
fn track_of(t: &Value) -> Option<crate::music::Track> {
    let uri = t["uri"]
        .as_str()
        .filter(|u| u.starts_with("spotify:track:"))?;
    let id = uri.trim_start_matches("spotify:track:");
    Some(crate::music::Track {
        title: t["name"].as_str()?.to_string(),
        artists: t["artists"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        duration_ms: t["duration_ms"].as_u64(),
        url: t["external_urls"]["spotify"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("https://open.spotify.com/track/{id}")),
        uri: uri.to_string(),
        album_art: t["album"]["images"]
            .as_array()
            .and_then(|imgs| {
                imgs.iter()
                    .min_by_key(|i| i["width"].as_u64().unwrap_or(u64::MAX))
            })
            .and_then(|i| i["url"].as_str().map(String::from)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz::spotify_items`: an empty `external_urls.spotify` gave a track an empty
    /// link; it gets the track's page instead.
    #[test]
    fn an_empty_spotify_link_falls_back_to_the_track_page() {
        let v = json!({"items": [{"item": {"name": "S", "uri": "spotify:track:abc",
                                           "external_urls": {"spotify": ""}}}]});
        let tracks = items_of(&v);
        assert_eq!(tracks[0].url, "https://open.spotify.com/track/abc");
    }
}
