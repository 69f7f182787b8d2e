//! The music policy, one place for the window and the command line: the user's own playlist
//! for the mood when they picked one (read through their sign-in), else the mapping's search
//! on Spotify, else a stored list, else the offline catalog. Each step that gives way leaves a
//! note saying why.

use super::language::Taste;
use super::service::{MusicError, Note, Outcome};
use super::spotify::{Account, AccountError};
use super::{Recommendation, SourcePreference, Strategy};
use crate::config::{OwnPlaylist, SpotifyEnv};
use crate::emotion::Emotion;

/// What a list is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    pub emotion: Emotion,
    pub strategy: Strategy,
    pub pref: SourcePreference,
    /// Skip a stored list that is still fresh (the user asked for new music).
    pub refresh: bool,
    /// The active profile's language and market.
    pub taste: Taste,
    /// The user's own playlist picked for this mood, if any.
    pub own: Option<OwnPlaylist>,
}

impl Ask {
    /// A list for the mood from any source, in no one's taste, without an own playlist.
    pub fn new(emotion: Emotion, strategy: Strategy) -> Ask {
        Ask {
            emotion,
            strategy,
            pref: SourcePreference::Auto,
            refresh: false,
            taste: Taste::default(),
            own: None,
        }
    }
}

/// The mapping, Spotify, the stored lists and the catalog (`Music`), and the signed-in user's
/// own playlists.
pub struct Recommender {
    music: super::service::Music,
    env: SpotifyEnv,
}

impl From<super::service::Music> for Recommender {
    /// Without a sign-in: own playlists cannot be read, and give way to the mapping.
    fn from(music: super::service::Music) -> Recommender {
        Recommender::new(music, SpotifyEnv::default())
    }
}

impl Recommender {
    pub fn new(music: super::service::Music, env: SpotifyEnv) -> Recommender {
        Recommender { music, env }
    }

    pub fn music(&self) -> &super::service::Music {
        &self.music
    }

    /// A list for `ask`, or why there is none (only when `pref` allows no fallback).
    pub async fn recommend(&self, ask: &Ask) -> Result<Outcome, MusicError> {
        let mut notes = Vec::new();
        if let Some(p) = ask
            .own
            .as_ref()
            .filter(|_| ask.pref != SourcePreference::Offline)
        {
            match self.own_list(ask, p).await {
                Ok(recommendation) => {
                    return Ok(Outcome {
                        recommendation,
                        notes,
                    });
                }
                Err(error) => notes.push(Note::OwnPlaylist {
                    playlist: p.name.clone(),
                    error,
                }),
            }
        }
        let mut o = self
            .music
            .recommend_for(ask.emotion, ask.strategy, ask.pref, ask.refresh, &ask.taste)
            .await?;
        notes.append(&mut o.notes);
        o.notes = notes;
        Ok(o)
    }

    async fn own_list(&self, ask: &Ask, p: &OwnPlaylist) -> Result<Recommendation, AccountError> {
        Account::signed_in(&self.env)?
            .own_recommendation(ask.emotion, ask.strategy, p)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::SourceKind;
    use crate::music::mapping::Mapping;
    use crate::music::service::Music;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// An own playlist that cannot be read (here: nobody signed in) gives way to the mapping's
    /// list, with a note naming the playlist and why; without one there is no such note.
    #[test]
    fn an_unreadable_own_playlist_falls_back_with_a_note() {
        let r = Recommender::from(Music::new(Mapping::builtin(), None, None));
        let mut ask = Ask::new(Emotion::Sad, Strategy::Uplift);
        ask.own = Some(OwnPlaylist {
            id: "p9".into(),
            name: "Mine".into(),
        });
        let o = block_on(r.recommend(&ask)).expect("a list");
        assert_eq!(o.recommendation.source, SourceKind::Offline);
        assert_eq!(o.recommendation.emotion, Emotion::Sad);
        let first = o.notes.first().map(ToString::to_string).unwrap_or_default();
        assert!(
            first.contains("your playlist \"Mine\"") && first.contains("RSPOTIFY_CLIENT_ID"),
            "{first}"
        );
        ask.own = None;
        let o = block_on(r.recommend(&ask)).expect("a list");
        assert!(
            !o.notes
                .iter()
                .any(|n| matches!(n, Note::OwnPlaylist { .. }))
        );
        // Offline asked for: the own playlist is not even tried.
        ask.pref = SourcePreference::Offline;
        ask.own = Some(OwnPlaylist {
            id: "p9".into(),
            name: "Mine".into(),
        });
        assert!(
            block_on(r.recommend(&ask))
                .expect("a list")
                .notes
                .is_empty()
        );
    }
}
