//! Signing in: Authorization Code with PKCE through rspotify's `AuthCodePkceSpotify` (the
//! verifier, challenge, state and authorize URL, the code exchange and the refresh). The
//! browser comes back to a loopback listener on 127.0.0.1, the port and path of the redirect
//! URI registered in the Spotify dashboard; what it sends is judged in `callback`. The token
//! goes to our own file (`TokenStore`, mode 0600), not rspotify's cache.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use rspotify::clients::{BaseClient, OAuthClient};
use rspotify::{AuthCodePkceSpotify, ClientError, Config, Credentials, OAuth};

use super::callback::{self, Loopback, Refusal, Verdict};
use super::{AccountError, Endpoints, LOGIN_TIMEOUT, Result, SCOPES, SignInConfig, Token};

/// How long one call to the token endpoint may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a PKCE client for `client_id` against `ep`, coming back to `redirect`, is made of. It
/// neither caches nor refreshes tokens on its own: both are ours to do, with our file.
fn parts(ep: &Endpoints, client_id: &str, redirect: &str) -> (Credentials, OAuth, Config) {
    let config = Config {
        api_base_url: ep.api.clone(),
        auth_base_url: ep.auth.clone(),
        token_cached: false,
        token_refreshing: false,
        ..Config::default()
    };
    let oauth = OAuth {
        redirect_uri: redirect.to_string(),
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        // `state` stays rspotify's: 16 random alphanumerics for each sign-in.
        ..OAuth::default()
    };
    (Credentials::new_pkce(client_id), oauth, config)
}

fn client(ep: &Endpoints, client_id: &str, redirect: &str) -> AuthCodePkceSpotify {
    let (creds, oauth, config) = parts(ep, client_id, redirect);
    AuthCodePkceSpotify::with_config(creds, oauth, config)
}

/// What a failed call to the token endpoint means for the user.
fn token_error(e: ClientError) -> AccountError {
    match e {
        ClientError::Http(h) => match *h {
            rspotify::http::HttpError::StatusCode(resp) => match resp.status().as_u16() {
                // A code or refresh token Spotify no longer accepts.
                400 | 401 => AccountError::SignInExpired,
                429 => AccountError::RateLimited(super::user_api::retry_secs(
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                )),
                s => AccountError::Status(s, "sign in"),
            },
            // Without the URL: it says nothing useful.
            rspotify::http::HttpError::Client(c) => {
                AccountError::Unreachable(c.without_url().to_string())
            }
        },
        ClientError::ParseJson(e) => AccountError::Protocol(format!("token answer: {e}")),
        other => AccountError::Protocol(other.to_string()),
    }
}

/// One token call, bounded in time (rspotify's client has no timeout of its own).
async fn timed(call: impl Future<Output = std::result::Result<(), ClientError>>) -> Result<()> {
    match tokio::time::timeout(TOKEN_TIMEOUT, call).await {
        Ok(r) => r.map_err(token_error),
        Err(_) => Err(AccountError::Unreachable("no answer in time".into())),
    }
}

/// The token the client holds after a successful call.
async fn held(c: &AuthCodePkceSpotify, keep: Option<String>) -> Result<Token> {
    let t = c
        .get_token()
        .lock()
        .await
        .map_err(|_| AccountError::Io("the sign-in's token lock broke".into()))?
        .clone()
        .ok_or_else(|| AccountError::Protocol("no token in the answer".into()))?;
    Ok(Token::from_rspotify(
        t,
        crate::clock::unix_now().as_secs(),
        keep,
    ))
}

/// Runs the whole sign-in: `show_url` gets the authorize URL (the window opens it, the command
/// line prints it), the loopback waits for the browser, the code is exchanged and the token
/// saved.
pub(crate) async fn sign_in(cfg: &SignInConfig, show_url: impl FnOnce(&str)) -> Result<Token> {
    let loopback = Loopback::parse(&cfg.redirect)
        .ok_or_else(|| AccountError::BadRedirect(cfg.redirect.clone()))?;
    let listener = TcpListener::bind(("127.0.0.1", loopback.port)).map_err(|e| {
        AccountError::Io(format!(
            "cannot listen on 127.0.0.1:{} for the sign-in ({e}); is another sign-in running?",
            loopback.port
        ))
    })?;
    let mut c = client(&cfg.endpoints, &cfg.client_id, &cfg.redirect);
    // 64 characters of verifier, as before (rspotify allows 43 to 128).
    let url = c
        .get_authorize_url(Some(64))
        .map_err(|e| AccountError::Protocol(e.to_string()))?;
    show_url(&url);
    let (path, state) = (loopback.path, c.get_oauth().state.clone());
    let code =
        tokio::task::spawn_blocking(move || wait_for_code(&listener, &path, &state, LOGIN_TIMEOUT))
            .await
            .map_err(|e| AccountError::Io(e.to_string()))??;
    // The verifier is set: `get_authorize_url` made it (rspotify panics without one).
    timed(c.request_token(&code)).await?;
    let token = held(&c, None).await?;
    cfg.store.save(&token)?;
    Ok(token)
}

/// A new access token for `old`'s refresh token; Spotify may keep the refresh token the same,
/// and then it stays valid.
pub async fn refresh(ep: &Endpoints, client_id: &str, old: &Token) -> Result<Token> {
    let keep = old
        .refresh_token
        .clone()
        .ok_or(AccountError::SignInExpired)?;
    let (creds, oauth, config) = parts(ep, client_id, "");
    let c = AuthCodePkceSpotify::from_token_with_config(old.to_rspotify(), creds, oauth, config);
    timed(c.refresh_token()).await?;
    held(&c, Some(keep)).await
}

/// Waits on `listener` for the browser's redirect to `path`; returns the code once its state
/// matches. Other paths (a favicon) get a 404 and malformed requests a 400, and the wait goes on;
/// a well-formed answer with another state ends it (`callback::judge`).
pub fn wait_for_code(
    listener: &TcpListener,
    path: &str,
    state: &str,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    listener
        .set_nonblocking(true)
        .map_err(|e| AccountError::Io(e.to_string()))?;
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(AccountError::Timeout(timeout));
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(AccountError::Io(e.to_string())),
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let verdict = match callback::read_request_line(&conn) {
            Ok(line) => callback::judge(&line, path, state),
            Err(why) => Verdict::Again("400 Bad Request", why),
        };
        let (status, text) = verdict.answer();
        callback::respond(&conn, status, text);
        match verdict {
            Verdict::Again(..) => {}
            Verdict::Code(code) => return Ok(code),
            Verdict::Refused(Refusal::StateMismatch) => return Err(AccountError::StateMismatch),
            Verdict::Refused(Refusal::Denied(e)) => return Err(AccountError::Denied(e)),
            Verdict::Refused(Refusal::NoCode) => {
                return Err(AccountError::Protocol(
                    "the redirect carried no code".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The authorize URL carries what Spotify's PKCE flow asks for, and each sign-in gets its
    /// own state.
    #[test]
    fn the_authorize_url_asks_for_pkce_with_a_fresh_state() {
        let ep = Endpoints {
            api: "http://127.0.0.1:9/v1/".into(),
            auth: "http://127.0.0.1:9/".into(),
        };
        let redirect = "http://127.0.0.1:8888/callback";
        let mut a = client(&ep, "cid", redirect);
        let url = a.get_authorize_url(Some(64)).expect("url");
        let parsed = reqwest::Url::parse(&url).expect("a URL");
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(parsed.path(), "/authorize");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["redirect_uri"], redirect);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["state"], a.get_oauth().state);
        for s in SCOPES {
            assert!(
                q["scope"].split(' ').any(|x| x == s),
                "{s} in {}",
                q["scope"]
            );
        }
        let b = client(&ep, "cid", redirect);
        assert_ne!(a.get_oauth().state, b.get_oauth().state);
    }
}
