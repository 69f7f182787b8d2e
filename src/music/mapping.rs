//! Emotion × strategy → playlist searches (assets/mapping.toml; a user copy wins).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Strategy;
use crate::emotion::Emotion;

static DEFAULT_MAPPING: &str = include_str!("../../assets/mapping.toml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MappingEntry {
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) queries: Vec<String>,
    /// Playlist ids or open.spotify.com URLs tried before searching.
    #[serde(default)]
    pub(crate) playlists: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct PerStrategy {
    #[serde(rename = "match")]
    matching: MappingEntry,
    uplift: MappingEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    entries: BTreeMap<Emotion, PerStrategy>,
    /// Where it was loaded from (None: the built-in default).
    pub(crate) origin: Option<PathBuf>,
}

impl Mapping {
    /// The mapping shipped in the binary.
    pub fn builtin() -> Mapping {
        Self::parse(DEFAULT_MAPPING, None).expect("assets/mapping.toml is valid (tested)")
    }

    /// Parses a mapping; every emotion must have both strategies. Errors name the line.
    pub(crate) fn parse(text: &str, origin: Option<&Path>) -> Result<Mapping, String> {
        let where_ = origin
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in mapping".into());
        let entries: BTreeMap<Emotion, PerStrategy> = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            format!("{where_}{line}: {}", e.message())
        })?;
        for e in Emotion::ALL {
            let Some(p) = entries.get(&e) else {
                return Err(format!("{where_}: no [{e}.match] / [{e}.uplift] section"));
            };
            for (s, entry) in [("match", &p.matching), ("uplift", &p.uplift)] {
                if entry.queries.is_empty() && entry.playlists.is_empty() {
                    return Err(format!("{where_}: [{e}.{s}] needs queries or playlists"));
                }
            }
        }
        Ok(Mapping {
            entries,
            origin: origin.map(Path::to_path_buf),
        })
    }

    /// The user's copy (`path`, usually `~/.config/emotune/mapping.toml`) if it exists and is
    /// valid; else the built-in one. A broken user file is reported, never fatal.
    pub(crate) fn load(path: Option<&Path>) -> (Mapping, Option<String>) {
        let Some(path) = path.filter(|p| p.is_file()) else {
            return (Self::builtin(), None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => match Self::parse(&text, Some(path)) {
                Ok(m) => (m, None),
                Err(e) => (
                    Self::builtin(),
                    Some(format!("{e}; using the default mapping")),
                ),
            },
            Err(e) => (
                Self::builtin(),
                Some(format!(
                    "{}: {e}; using the default mapping",
                    path.display()
                )),
            ),
        }
    }

    pub(crate) fn user_path() -> Option<PathBuf> {
        crate::config::config_dir().map(|d| d.join("mapping.toml"))
    }

    pub fn entry(&self, e: Emotion, s: Strategy) -> &MappingEntry {
        let p = &self.entries[&e];
        match s {
            Strategy::Match => &p.matching,
            Strategy::Uplift => &p.uplift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_covers_every_emotion_and_strategy() {
        let m = Mapping::builtin();
        for e in Emotion::ALL {
            for s in [Strategy::Match, Strategy::Uplift] {
                let entry = m.entry(e, s);
                assert!(!entry.label.is_empty());
                assert!(!entry.queries.is_empty(), "{e} {s:?}");
            }
        }
        assert!(
            m.entry(Emotion::Sad, Strategy::Match)
                .queries
                .iter()
                .any(|q| q.contains("sad"))
        );
        assert!(
            m.entry(Emotion::Angry, Strategy::Uplift)
                .queries
                .iter()
                .any(|q| q.contains("calm"))
        );
    }

    #[test]
    fn invalid_toml_names_the_line_and_keeps_defaults() {
        let dir = std::env::temp_dir().join(format!("emotune-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mapping.toml");
        std::fs::write(&path, "[happy.match]\nlabel = \"x\"\nqueries = [\"a\"\n").expect("write");
        let (m, err) = Mapping::load(Some(&path));
        let err = err.expect("an error message");
        assert!(
            err.contains("mapping.toml") && err.contains("line"),
            "{err}"
        );
        assert_eq!(m, Mapping::builtin());
        let happy_only = "[happy.match]\nlabel = \"x\"\nqueries = [\"a\"]\n[happy.uplift]\nlabel = \"y\"\nqueries = [\"b\"]\n";
        std::fs::write(&path, happy_only).expect("write");
        let (_, err) = Mapping::load(Some(&path));
        assert!(err.expect("incomplete").contains("angry"));
    }

    #[test]
    fn a_valid_user_copy_wins() {
        let text = DEFAULT_MAPPING.replace("\"happy hits\", \"upbeat pop\"", "\"my own happy\"");
        let dir = std::env::temp_dir().join(format!("emotune-map2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mapping.toml");
        std::fs::write(&path, text).expect("write");
        let (m, err) = Mapping::load(Some(&path));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            m.entry(Emotion::Happy, Strategy::Match).queries[0],
            "my own happy"
        );
    }
}
