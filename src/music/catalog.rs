//! The offline catalog (assets/catalog.toml, embedded): real, well-known tracks per emotion and
//! strategy, opened as Spotify searches. Used without credentials, offline, or on failure.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{PlaylistRef, Recommendation, SourceKind, Strategy, Track, encode_query};
use crate::emotion::Emotion;

static CATALOG: &str = include_str!("../../assets/catalog.toml");

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    title: String,
    artist: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Lists {
    tracks: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
struct MoodLists {
    #[serde(rename = "match")]
    matching: Vec<String>,
    uplift: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Catalog {
    moods: BTreeMap<Emotion, MoodLists>,
    lists: BTreeMap<String, Lists>,
}

impl Catalog {
    pub(crate) fn builtin() -> Catalog {
        toml::from_str(CATALOG).expect("assets/catalog.toml is valid (tested)")
    }

    /// All catalog tracks for an emotion and strategy, in catalog order, without duplicates.
    pub(crate) fn tracks(&self, e: Emotion, s: Strategy) -> Vec<Track> {
        let Some(m) = self.moods.get(&e) else {
            return Vec::new();
        };
        let names = match s {
            Strategy::Match => &m.matching,
            Strategy::Uplift => &m.uplift,
        };
        let mut out: Vec<Track> = Vec::new();
        for t in names
            .iter()
            .filter_map(|n| self.lists.get(n))
            .flat_map(|l| &l.tracks)
        {
            if out
                .iter()
                .any(|o| o.title == t.title && o.artists[0] == t.artist)
            {
                continue;
            }
            let q = encode_query(&format!("{} {}", t.title, t.artist));
            out.push(Track {
                title: t.title.clone(),
                artists: vec![t.artist.clone()],
                duration_ms: None,
                url: format!("https://open.spotify.com/search/{q}"),
                uri: format!("spotify:search:{q}"),
                album_art: None,
            });
        }
        out
    }

    /// Up to `n` tracks, rotated by `seed` so the same mood does not always start alike.
    pub(crate) fn recommend(
        &self,
        e: Emotion,
        s: Strategy,
        label: &str,
        n: usize,
        seed: u64,
    ) -> Recommendation {
        let mut tracks = self.tracks(e, s);
        if !tracks.is_empty() {
            let k = (seed % tracks.len() as u64) as usize;
            tracks.rotate_left(k);
        }
        tracks.truncate(n);
        Recommendation {
            emotion: e,
            strategy: s,
            source: SourceKind::Offline,
            playlist: PlaylistRef {
                name: format!("{label} (offline picks)"),
                url: None,
            },
            tracks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emotion_and_strategy_has_at_least_15_tracks() {
        let c = Catalog::builtin();
        for e in Emotion::ALL {
            for s in [Strategy::Match, Strategy::Uplift] {
                let t = c.tracks(e, s);
                assert!(t.len() >= 15, "{e} {s:?}: {}", t.len());
                assert!(
                    t.iter()
                        .all(|t| t.url.starts_with("https://open.spotify.com/search/"))
                );
                assert!(t.iter().all(|t| t.uri.starts_with("spotify:search:")));
            }
        }
    }

    #[test]
    fn recommendations_rotate_and_say_offline() {
        let c = Catalog::builtin();
        let a = c.recommend(Emotion::Sad, Strategy::Uplift, "calm", 12, 0);
        let b = c.recommend(Emotion::Sad, Strategy::Uplift, "calm", 12, 5);
        assert_eq!(a.source, SourceKind::Offline);
        assert_eq!(a.tracks.len(), 12);
        assert_ne!(a.tracks[0], b.tracks[0]);
        assert_eq!(a.tracks[5], b.tracks[0]);
    }
}
