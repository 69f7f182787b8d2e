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

/// A language's own lists (`[regional.<language>]`), served before the general ones.
#[derive(Debug, Clone, Default, Deserialize)]
struct Regional {
    #[serde(default)]
    upbeat: Vec<Entry>,
    #[serde(default)]
    sad: Vec<Entry>,
    #[serde(default)]
    calm: Vec<Entry>,
}

impl Regional {
    /// The lists that fit a mood: energy for happy moods and lifting, quiet for tense ones.
    fn for_mood(&self, e: Emotion, s: Strategy) -> Vec<&Entry> {
        use Emotion::*;
        let lists: &[&Vec<Entry>] = match (s, e) {
            (Strategy::Match, Sad) => &[&self.sad],
            (Strategy::Match, Neutral | Fear | Disgust) => &[&self.calm],
            (Strategy::Match, _) => &[&self.upbeat],
            (Strategy::Uplift, Angry | Fear | Disgust) => &[&self.calm, &self.upbeat],
            (Strategy::Uplift, _) => &[&self.upbeat, &self.calm],
        };
        lists.iter().flat_map(|l| l.iter()).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Catalog {
    moods: BTreeMap<Emotion, MoodLists>,
    lists: BTreeMap<String, Lists>,
    #[serde(default)]
    regional: BTreeMap<String, Regional>,
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
        let entries: Vec<&Entry> = names
            .iter()
            .filter_map(|n| self.lists.get(n))
            .flat_map(|l| &l.tracks)
            .collect();
        as_tracks(entries)
    }

    /// The language's own tracks for the mood (none for "any" or a language without lists).
    pub(crate) fn regional_tracks(&self, language: &str, e: Emotion, s: Strategy) -> Vec<Track> {
        self.regional
            .get(language)
            .map(|r| as_tracks(r.for_mood(e, s)))
            .unwrap_or_default()
    }
}

/// Catalog entries as tracks opened by a Spotify search, without duplicates.
fn as_tracks(entries: Vec<&Entry>) -> Vec<Track> {
    let mut out: Vec<Track> = Vec::new();
    for t in entries {
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

impl Catalog {
    /// Up to `n` tracks, rotated by `seed` so the same mood does not always start alike; the
    /// language's own tracks first, then the general ones.
    pub(crate) fn recommend(
        &self,
        e: Emotion,
        s: Strategy,
        label: &str,
        n: usize,
        seed: u64,
        language: &str,
    ) -> Recommendation {
        let rotated = |mut t: Vec<Track>| {
            if !t.is_empty() {
                let k = (seed % t.len() as u64) as usize;
                t.rotate_left(k);
            }
            t
        };
        let mut tracks = rotated(self.regional_tracks(language, e, s));
        let regional = !tracks.is_empty();
        for t in rotated(self.tracks(e, s)) {
            if !tracks.iter().any(|o| o.uri == t.uri) {
                tracks.push(t);
            }
        }
        tracks.truncate(n);
        let label = match super::language::LANGUAGES.iter().find(|l| l.0 == language) {
            Some((_, name, _)) if regional => format!("{label}, {name}"),
            _ => label.to_string(),
        };
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
        let a = c.recommend(Emotion::Sad, Strategy::Uplift, "calm", 12, 0, "any");
        let b = c.recommend(Emotion::Sad, Strategy::Uplift, "calm", 12, 5, "any");
        assert_eq!(a.source, SourceKind::Offline);
        assert_eq!(a.tracks.len(), 12);
        assert_ne!(a.tracks[0], b.tracks[0]);
        assert_eq!(a.tracks[5], b.tracks[0]);
    }

    #[test]
    fn a_language_with_lists_comes_first_and_every_language_is_known() {
        let c = Catalog::builtin();
        for lang in c.regional.keys() {
            assert!(
                super::super::language::LANGUAGES
                    .iter()
                    .any(|l| l.0 == lang),
                "[regional.{lang}] is not a language id"
            );
            for e in Emotion::ALL {
                for s in [Strategy::Match, Strategy::Uplift] {
                    assert!(
                        !c.regional_tracks(lang, e, s).is_empty(),
                        "{lang} {e} {s:?}"
                    );
                }
            }
        }
        let own = c.regional_tracks("hindi", Emotion::Sad, Strategy::Match);
        let rec = c.recommend(Emotion::Sad, Strategy::Match, "sad", 12, 3, "hindi");
        assert!(
            own.iter().any(|t| t == &rec.tracks[0]),
            "{:?}",
            rec.tracks[0]
        );
        assert!(rec.playlist.name.contains("Hindi"), "{}", rec.playlist.name);
        assert_eq!(rec.tracks.len(), 12, "topped up from the general lists");
        let any = c.recommend(Emotion::Sad, Strategy::Match, "sad", 12, 3, "any");
        assert!(!own.iter().any(|t| any.tracks.contains(t)));
    }
}
