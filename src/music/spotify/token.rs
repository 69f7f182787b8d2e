//! The Spotify token: what the token endpoint answers, and the token file that keeps it
//! (`~/.config/emotune/spotify-token.json`, mode 0600). Neither secret is ever logged or shown.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{AccountError, Result};

/// Refresh this long before the token expires.
const EXPIRY_MARGIN: u64 = 60;

/// An access token and how to renew it. `Debug` shows neither secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
    #[serde(default)]
    pub scope: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Token {
    /// A token as the token file holds it (JSON).
    pub(crate) fn parse(bytes: &[u8]) -> std::result::Result<Token, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The token rspotify read from the token endpoint, its lifetime counted from `now` (Unix
    /// seconds). Spotify may leave the refresh token out of a refresh's answer: `keep` is the
    /// one to go on using then.
    pub(crate) fn from_rspotify(t: rspotify::Token, now: u64, keep: Option<String>) -> Token {
        let mut scopes: Vec<String> = t.scopes.into_iter().collect();
        scopes.sort();
        Token {
            access_token: t.access_token,
            refresh_token: t.refresh_token.or(keep),
            expires_at: now.saturating_add(t.expires_in.num_seconds().max(0) as u64),
            scope: scopes.join(" "),
        }
    }

    /// The token endpoint's answer (JSON) read as rspotify reads it, then as `from_rspotify`
    /// (what the sign-in does; the fuzz target and tests call it on raw bytes).
    #[cfg(test)]
    pub(crate) fn from_answer(body: &[u8], now: u64) -> Result<Token> {
        let t: rspotify::Token = serde_json::from_slice(body)
            .map_err(|e| AccountError::Protocol(format!("token answer: {e}")))?;
        Ok(Token::from_rspotify(t, now, None))
    }

    /// The rspotify token that refreshes this one (the rest of it does not matter there).
    pub(crate) fn to_rspotify(&self) -> rspotify::Token {
        rspotify::Token {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            ..rspotify::Token::default()
        }
    }

    pub(crate) fn expired(&self) -> bool {
        crate::clock::unix_now().as_secs() + EXPIRY_MARGIN >= self.expires_at
    }
}

/// The token file: `~/.config/emotune/spotify-token.json`, mode 0600.
#[derive(Debug, Clone)]
pub(crate) struct TokenStore {
    pub path: PathBuf,
}

impl TokenStore {
    /// The environment's token file, or why there is none.
    pub fn of(env: &crate::config::SpotifyEnv) -> Result<TokenStore> {
        let path = env.token_path.clone().ok_or_else(|| {
            AccountError::Io("no config folder to keep the Spotify sign-in in: set HOME".into())
        })?;
        Ok(TokenStore { path })
    }

    pub fn load(&self) -> Result<Option<Token>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Token::parse(&bytes).map(Some).map_err(|e| {
                AccountError::Io(format!(
                    "{}: unreadable token ({e}); sign in again",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AccountError::Io(format!("{}: {e}", self.path.display()))),
        }
    }

    /// Written to a temp file created with mode 0600, then renamed over the old one.
    pub fn save(&self, t: &Token) -> Result<()> {
        let io = |e: std::io::Error| AccountError::Io(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io)?;
        let bytes = serde_json::to_vec(t).map_err(|e| AccountError::Io(e.to_string()))?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// True when there was a token to forget.
    pub fn delete(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AccountError::Io(format!("{}: {e}", self.path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token endpoint answering a lifetime beyond the end of time is refused, not wrapped
    /// around to the past (it once was, and panicked in a debug build); a long one saturates.
    #[test]
    fn huge_token_lifetimes_are_refused_or_saturate() {
        let body = br#"{"access_token":"a","expires_in":18446744073709551615}"#;
        assert!(matches!(
            Token::from_answer(body, 1_767_225_600),
            Err(AccountError::Protocol(_))
        ));
        let body = br#"{"access_token":"a","expires_in":9000000000000000,"scope":"b a"}"#;
        let t = Token::from_answer(body, u64::MAX - 5).expect("a token");
        assert_eq!((t.expires_at, t.scope.as_str()), (u64::MAX, "a b"));
        assert!(!t.expired());
        assert!(Token::from_answer(b"{\"access_token\":\"a\"}", 0).is_err());
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let t: rspotify::Token =
            serde_json::from_str(r#"{"access_token":"n","expires_in":3600}"#).expect("json");
        let t = Token::from_rspotify(t, 100, Some("old".into()));
        assert_eq!(
            (t.refresh_token.as_deref(), t.expires_at),
            (Some("old"), 3700)
        );
    }

    #[test]
    fn the_token_file_is_private_and_debug_hides_it() {
        let dir = std::env::temp_dir().join(format!("emotune-token-{}", std::process::id()));
        let store = TokenStore {
            path: dir.join("spotify-token.json"),
        };
        let t = Token {
            access_token: "at-secret".into(),
            refresh_token: Some("rt-secret".into()),
            expires_at: 1,
            scope: String::new(),
        };
        store.save(&t).expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&store.path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.load().expect("load"), Some(t.clone()));
        assert!(!format!("{t:?}").contains("secret"));
        assert!(store.delete().expect("delete"));
        assert_eq!(store.load().expect("gone"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
