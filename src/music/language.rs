//! The language or region a person's music leans to: extra words for Spotify's playlist search,
//! a market, and the offline catalog's regional lists.

/// (id, what the window shows, words added to the playlist search).
pub(crate) const LANGUAGES: &[(&str, &str, &str)] = &[
    ("any", "Any language", ""),
    ("english", "English", "english"),
    ("hindi", "Hindi / Bollywood", "bollywood hindi"),
    ("telugu", "Telugu", "telugu"),
    ("tamil", "Tamil", "tamil"),
    ("spanish", "Spanish / Latin", "latin spanish"),
    ("portuguese", "Portuguese / Brazilian", "brasil"),
    ("french", "French", "french"),
    ("german", "German", "deutsch"),
    ("k-pop", "K-pop", "k-pop"),
    ("j-pop", "J-pop", "j-pop"),
    ("arabic", "Arabic", "arabic"),
];

/// What a person's music leans to: a language id of `LANGUAGES` ("" or "any": none) and a
/// Spotify market.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taste {
    pub language: String,
    pub market: Option<String>,
}

impl From<&crate::profile::MusicPrefs> for Taste {
    fn from(m: &crate::profile::MusicPrefs) -> Self {
        Taste {
            language: m.language.clone(),
            market: m.market.clone(),
        }
    }
}

impl Taste {
    pub(crate) fn is_any(&self) -> bool {
        self.language.is_empty() || self.language == "any"
    }

    /// A suffix for cache file names, so lists of one language are not served for another.
    pub(crate) fn cache_tag(&self) -> String {
        let mut t = String::new();
        if !self.is_any() {
            t.push('-');
            t.push_str(&self.language);
        }
        if let Some(m) = &self.market {
            t.push('-');
            t.push_str(m);
        }
        t
    }

    /// The mapping entry for this taste: its searches in the language first, then as they are;
    /// the entry's fixed playlists only without a language (they are in no particular one).
    pub(crate) fn entry(
        &self,
        entry: &super::mapping::MappingEntry,
    ) -> super::mapping::MappingEntry {
        if self.is_any() {
            return entry.clone();
        }
        let mut e = entry.clone();
        e.queries = entry
            .queries
            .iter()
            .map(|q| localise_query(q, &self.language))
            .chain(entry.queries.iter().cloned())
            .collect();
        e.playlists.clear();
        e
    }
}

/// A language id from what a user typed ("Hindi", "kpop", "K-Pop"); the error lists the choices.
pub fn parse(s: &str) -> Result<String, String> {
    let key: String = s
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    LANGUAGES
        .iter()
        .find(|(id, label, _)| {
            let norm = |t: &str| -> String {
                t.to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect()
            };
            norm(id) == key || norm(label) == key
        })
        .map(|(id, _, _)| (*id).to_string())
        .ok_or_else(|| {
            let ids: Vec<&str> = LANGUAGES.iter().map(|l| l.0).collect();
            format!(
                "unknown music language {s:?}: use one of {}",
                ids.join(", ")
            )
        })
}

/// A Spotify market: two letters (ISO 3166-1 alpha-2), or "any"/"" for the account's own.
pub(crate) fn parse_market(s: &str) -> Result<Option<String>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    if t.len() == 2 && t.chars().all(|c| c.is_ascii_alphabetic()) {
        return Ok(Some(t.to_ascii_uppercase()));
    }
    Err(format!(
        "market {s:?}: use a two-letter country code such as IN, ES, KR or US, or \"any\""
    ))
}

/// The words a language adds to a playlist search ("" for any or an unknown id).
pub(crate) fn search_terms(id: &str) -> &'static str {
    LANGUAGES.iter().find(|l| l.0 == id).map_or("", |l| l.2)
}

/// A playlist search for `query` in the language `id`.
pub(crate) fn localise_query(query: &str, id: &str) -> String {
    match search_terms(id) {
        "" => query.to_string(),
        terms => format!("{terms} {query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_loosely_and_errors_list_the_choices() {
        assert_eq!(parse("K-Pop").as_deref(), Ok("k-pop"));
        assert_eq!(parse("kpop").as_deref(), Ok("k-pop"));
        assert_eq!(parse(" Hindi ").as_deref(), Ok("hindi"));
        assert_eq!(parse("Hindi / Bollywood").as_deref(), Ok("hindi"));
        let e = parse("klingon").expect_err("unknown");
        assert!(e.contains("telugu") && e.contains("klingon"), "{e}");
        assert_eq!(parse_market("in"), Ok(Some("IN".into())));
        assert_eq!(parse_market("any"), Ok(None));
        assert!(parse_market("India").is_err());
    }

    #[test]
    fn queries_gain_the_language_words() {
        assert_eq!(localise_query("sad songs", "any"), "sad songs");
        assert_eq!(localise_query("sad songs", "telugu"), "telugu sad songs");
    }
}
