//! The account thread: the signed-in user's sign-in (which waits on the browser for minutes)
//! and calls run here, away from the UI and the music thread. The Spotify side of each job is
//! in `spotify/` (`oauth`, `token`, `user_api`); this file is the thread and its messages.

use crate::config::SpotifyEnv;

pub use super::spotify::AccountError;
pub(crate) use super::spotify::{
    Account, SignInConfig, TokenStore, User, UserPlaylist, playlist_name, track_uris,
};

type Result<T> = std::result::Result<T, AccountError>;

/// What the window asks of the account thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AccountJob {
    /// Who is signed in (at start, when a token is stored).
    Status,
    SignIn,
    SignOut,
    Save {
        name: String,
        uris: Vec<String>,
    },
    Play {
        uris: Vec<String>,
    },
    /// The user's playlists, for the settings to pick from.
    Playlists,
}

/// What the account thread answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AccountEvent {
    /// Open this page in a browser to sign in: the window opens it, and shows it too.
    AuthorizeUrl(String),
    SignedIn(User),
    SignedOut,
    Saved {
        name: String,
        tracks: usize,
    },
    Playing {
        tracks: usize,
    },
    Playlists(Vec<UserPlaylist>),
    Failed(AccountError),
}

/// The account thread: sign-in (which waits on the browser for minutes) and the user's calls
/// run here, away from the UI and the music thread.
pub(crate) struct AccountHandle {
    tx: std::sync::mpsc::Sender<AccountJob>,
    rx: std::sync::mpsc::Receiver<AccountEvent>,
}

impl AccountHandle {
    /// Starts the thread (`service::spawn`); its calls run on the shared network runtime.
    pub fn spawn(env: SpotifyEnv, notify: crate::service::Notify) -> AccountHandle {
        let (tx, jobs) = std::sync::mpsc::channel::<AccountJob>();
        let crashed = |r: crate::Restart| {
            AccountEvent::Failed(AccountError::Io(match r {
                crate::Restart::Panicked(_) => {
                    "the Spotify account thread crashed; it restarted".into()
                }
                crate::Restart::GaveUp(n) => {
                    format!(
                        "the Spotify account thread crashed {n} times and stopped; restart emotune"
                    )
                }
            }))
        };
        let s = crate::service::spawn("account", notify, crashed, move |out| {
            let rt = match crate::service::runtime() {
                Ok(rt) => rt,
                Err(e) => return out.send(AccountEvent::Failed(AccountError::Io(e))),
            };
            let send = |e: AccountEvent| out.send(e);
            while let Ok(job) = jobs.recv() {
                match rt.block_on(run_job(job, &env, &send)) {
                    Ok(Some(e)) => send(e),
                    Ok(None) => {}
                    Err(e) => send(AccountEvent::Failed(e)),
                }
            }
        });
        AccountHandle { tx, rx: s.events }
    }

    /// A handle on channels the caller serves itself (tests drive the UI with a fake).
    #[cfg(test)]
    pub(crate) fn from_channels(
        tx: std::sync::mpsc::Sender<AccountJob>,
        rx: std::sync::mpsc::Receiver<AccountEvent>,
    ) -> AccountHandle {
        AccountHandle { tx, rx }
    }

    pub fn send(&self, job: AccountJob) {
        let _ = self.tx.send(job);
    }

    pub fn poll(&self) -> Vec<AccountEvent> {
        self.rx.try_iter().collect()
    }
}

async fn run_job(
    job: AccountJob,
    env: &SpotifyEnv,
    send: &impl Fn(AccountEvent),
) -> Result<Option<AccountEvent>> {
    match job {
        AccountJob::Status => match Account::signed_in(env) {
            Ok(mut a) => Ok(Some(AccountEvent::SignedIn(a.me().await?))),
            // Not signed in (or no client id) is not an error at start.
            Err(AccountError::NotSignedIn | AccountError::NoClientId) => Ok(None),
            Err(e) => Err(e),
        },
        AccountJob::SignIn => {
            let mut a = Account::login(SignInConfig::of(env)?, |url| {
                send(AccountEvent::AuthorizeUrl(url.to_string()));
            })
            .await?;
            Ok(Some(AccountEvent::SignedIn(a.me().await?)))
        }
        AccountJob::SignOut => {
            TokenStore::of(env)?.delete()?;
            Ok(Some(AccountEvent::SignedOut))
        }
        AccountJob::Save { name, uris } => {
            Account::signed_in(env)?.save_playlist(&name, &uris).await?;
            Ok(Some(AccountEvent::Saved {
                name,
                tracks: uris.len(),
            }))
        }
        AccountJob::Play { uris } => {
            Account::signed_in(env)?.play(&uris).await?;
            Ok(Some(AccountEvent::Playing { tracks: uris.len() }))
        }
        AccountJob::Playlists => Ok(Some(AccountEvent::Playlists(
            Account::signed_in(env)?.playlists().await?,
        ))),
    }
}
