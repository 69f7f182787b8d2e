//! People. A profile is a name, the person's neutral reference, their corrections and their music
//! preferences, kept as one JSON file per person in the OS data dir
//! (`~/.local/share/emotune/profiles/` on Linux). It holds numbers only, never a frame.
//!
//! It also holds the person's music: their language and their own playlist per mood.
//!
//! One profile is active (`active` in that folder; "default" until another is picked). There is
//! no face recognition: the window applies the active profile to the largest face and labels it
//! so, and the command line to every face it is given.

pub mod adjust;
pub mod calibrate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use adjust::{Adjustment, Correction, NeutralAnchor, Reference};

use crate::emotion::Emotion;
use crate::error::{Error, Result};

/// The profile in use when none was picked.
pub(crate) const DEFAULT_NAME: &str = "default";
const VERSION: u32 = 1;

/// The `own_playlists` key of a mood: "happy/match".
pub(crate) fn own_key(e: Emotion, s: crate::emotion::Strategy) -> String {
    format!("{e}/{}", s.name())
}

/// A person's playlists, keyed by `own_key`.
pub(crate) type OwnPlaylists = BTreeMap<String, OwnPlaylist>;

/// One of the user's playlists, as picked for a mood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPlaylist {
    pub id: String,
    pub name: String,
}

/// Music preferences: the language or region searches and the offline catalog lean to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MusicPrefs {
    /// "any", or one of `music::LANGUAGES` (e.g. "hindi", "k-pop").
    #[serde(default = "any")]
    pub language: String,
    /// A Spotify market (ISO 3166-1 alpha-2, e.g. "IN"); None: the account's own.
    #[serde(default)]
    pub market: Option<String>,
}

fn any() -> String {
    "any".into()
}

impl Default for MusicPrefs {
    fn default() -> Self {
        MusicPrefs {
            language: any(),
            market: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub neutral: Option<Reference>,
    /// The reference before the last calibration, for one-click undo.
    #[serde(default)]
    pub previous_neutral: Option<Reference>,
    /// Unix seconds of the last calibration.
    #[serde(default)]
    pub calibrated_at: Option<u64>,
    #[serde(default)]
    pub corrections: Vec<Correction>,
    #[serde(default)]
    pub music: MusicPrefs,
    /// Keyed "emotion/strategy" (e.g. "sad/uplift").
    #[serde(default)]
    pub own_playlists: BTreeMap<String, OwnPlaylist>,
}

impl Profile {
    pub fn new(name: &str) -> Self {
        Profile {
            version: VERSION,
            name: name.to_string(),
            neutral: None,
            previous_neutral: None,
            calibrated_at: None,
            corrections: Vec::new(),
            music: MusicPrefs::default(),
            own_playlists: BTreeMap::new(),
        }
    }

    /// The playlist this person picked for the mood, if any.
    pub(crate) fn own_playlist(
        &self,
        e: Emotion,
        s: crate::emotion::Strategy,
    ) -> Option<&OwnPlaylist> {
        self.own_playlists.get(&own_key(e, s))
    }

    /// Copies own playlists kept in `settings.toml` by older versions into this profile (a pick
    /// the profile already has wins); true when anything was new.
    pub(crate) fn adopt_own_playlists(&mut self, legacy: &OwnPlaylists) -> bool {
        let mut new = false;
        for (k, p) in legacy {
            if !self.own_playlists.contains_key(k) {
                self.own_playlists.insert(k.clone(), p.clone());
                new = true;
            }
        }
        new
    }

    /// The adjustment this profile makes now.
    pub fn adjustment(&self, anchor: &NeutralAnchor) -> Adjustment {
        let now = crate::clock::unix_now().as_secs();
        Adjustment::new(self.neutral.as_ref(), anchor, &self.corrections, now)
    }

    pub fn calibrate(&mut self, reference: Reference) {
        self.previous_neutral = self.neutral.replace(reference);
        self.calibrated_at = Some(crate::clock::unix_now().as_secs());
    }

    /// Back to the reference before the last calibration (none if there was none).
    pub(crate) fn undo_calibration(&mut self) {
        self.neutral = self.previous_neutral.take();
    }

    pub(crate) fn correct(&mut self, c: Correction) {
        // Old ones weigh nothing any more; the file stays small.
        const KEEP: usize = 500;
        self.corrections.push(c);
        if self.corrections.len() > KEEP {
            let drop = self.corrections.len() - KEEP;
            self.corrections.drain(..drop);
        }
    }
}

/// A profile name as a file name: lower-case letters, digits and '-', so "Ana María" and
/// "ana-maría" are the same person and no name can point outside the folder.
pub(crate) fn slug(name: &str) -> Result<String> {
    let mut s = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() || s.len() > 64 {
        return Err(Error::Invalid(format!(
            "profile name {name:?}: use 1 to 64 letters or digits"
        )));
    }
    Ok(s)
}

/// The folder of profiles.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A profile file that could not be read, kept as it is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    pub path: PathBuf,
    pub reason: String,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Store { dir: dir.into() }
    }

    /// `<data dir>/emotune/profiles`; None when the OS gives no home.
    pub(crate) fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "emotune").map(|d| d.data_dir().join("profiles"))
    }

    pub(crate) fn open_default() -> Result<Self> {
        Self::default_dir()
            .map(Store::new)
            .ok_or_else(|| Error::Invalid("no data folder for profiles (is $HOME set?)".into()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.dir.join(format!("{}.json", slug(name)?)))
    }

    /// The profile called `name`; Ok(None) if there is none. A file that cannot be read is an
    /// error naming it, and it is left untouched.
    pub fn load(&self, name: &str) -> Result<Option<Profile>> {
        let path = self.path(name)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        parse(&text).map(Some).map_err(|e| {
            Error::Invalid(format!(
                "profile file {} is not readable ({e}); it is kept as it is: fix or delete it",
                path.display()
            ))
        })
    }

    /// The profile, or a new empty one of that name (not written until saved).
    pub(crate) fn load_or_new(&self, name: &str) -> Result<Profile> {
        Ok(self.load(name)?.unwrap_or_else(|| Profile::new(name)))
    }

    /// Writes atomically (temp file + rename): a crash never leaves half a profile.
    pub fn save(&self, p: &Profile) -> Result<PathBuf> {
        let path = self.path(&p.name)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut p = p.clone();
        p.version = VERSION;
        let text = serde_json::to_string_pretty(&p)
            .map_err(|e| Error::Invalid(format!("cannot write profile {}: {e}", p.name)))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    }

    /// Ok(false) if there was no such profile.
    pub fn delete(&self, name: &str) -> Result<bool> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if self.active().ok().as_deref() == Some(&slug(name)?) {
                    self.set_active(DEFAULT_NAME)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Every profile that reads, sorted by name, and the files that do not.
    pub fn list(&self) -> Result<(Vec<Profile>, Vec<Broken>)> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let (mut good, mut broken) = (Vec::new(), Vec::new());
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse(&t))
            {
                Ok(p) => good.push(p),
                Err(reason) => broken.push(Broken { path, reason }),
            }
        }
        good.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((good, broken))
    }

    /// The active profile's name ("default" when none was picked).
    pub fn active(&self) -> Result<String> {
        let path = self.dir.join("active");
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
            Ok(_) => Ok(DEFAULT_NAME.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_NAME.into()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    pub(crate) fn set_active(&self, name: &str) -> Result<()> {
        let s = slug(name)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let path = self.dir.join("active");
        std::fs::write(&path, s + "\n").map_err(|e| Error::io(&path, e))
    }
}

fn parse(text: &str) -> std::result::Result<Profile, String> {
    let p: Profile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if p.version > VERSION {
        return Err(format!(
            "written by a newer emotune (profile version {}, this one reads {VERSION})",
            p.version
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::{Emotion, EmotionScores};

    fn temp_store(tag: &str) -> Store {
        let dir =
            std::env::temp_dir().join(format!("emotune-profiles-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Store::new(dir)
    }

    #[test]
    fn a_profile_survives_a_restart() {
        let store = temp_store("restart");
        let mut p = Profile::new("Ana María");
        let rest = EmotionScores([0.05, 0.02, 0.03, 0.05, 0.2, 0.6, 0.05]);
        p.calibrate(Reference::from_scores([&rest]).expect("frame"));
        p.correct(Correction {
            at: 5,
            from: Emotion::Sad,
            to: Emotion::Neutral,
            scores: rest.0,
        });
        p.music.language = "spanish".into();
        store.save(&p).expect("saved");
        store.set_active("Ana María").expect("active");
        // A new store on the same folder: what a restarted app sees.
        let again = Store::new(store.dir().to_path_buf());
        assert_eq!(again.active().expect("active"), "ana-maría");
        let back = again.load("ana maría").expect("reads").expect("exists");
        assert_eq!(
            back,
            Profile {
                version: VERSION,
                ..p
            }
        );
        let anchor = NeutralAnchor::generic();
        assert_eq!(
            back.adjustment(&anchor).apply(&rest).dominant().0,
            Emotion::Neutral
        );
        std::fs::remove_dir_all(store.dir()).ok();
    }

    #[test]
    fn a_corrupt_profile_is_named_kept_and_the_others_still_list() {
        let store = temp_store("corrupt");
        store.save(&Profile::new("ok")).expect("saved");
        let bad = store.dir().join("bad.json");
        std::fs::write(&bad, "{ not json").expect("write");
        let err = store.load("bad").expect_err("corrupt").to_string();
        assert!(err.contains("bad.json") && err.contains("kept"), "{err}");
        let (good, broken) = store.list().expect("lists");
        assert_eq!(good.len(), 1);
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].path, bad);
        assert_eq!(
            std::fs::read_to_string(&bad).expect("still there"),
            "{ not json"
        );
        std::fs::remove_dir_all(store.dir()).ok();
    }

    #[test]
    fn undo_restores_the_previous_reference_and_delete_resets_active() {
        let store = temp_store("undo");
        let mut p = Profile::new("bo");
        let a = Reference::from_scores([&EmotionScores([0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1])]);
        let b = Reference::from_scores([&EmotionScores([0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])]);
        p.calibrate(a.clone().expect("a"));
        p.calibrate(b.expect("b"));
        p.undo_calibration();
        assert_eq!(p.neutral, a);
        store.save(&p).expect("saved");
        store.set_active("bo").expect("active");
        assert!(store.delete("bo").expect("deleted"));
        assert!(!store.delete("bo").expect("already gone"));
        assert_eq!(store.active().expect("active"), DEFAULT_NAME);
        std::fs::remove_dir_all(store.dir()).ok();
    }

    #[test]
    fn names_cannot_leave_the_folder_and_newer_files_are_refused() {
        assert_eq!(slug("../../etc/passwd").expect("slug"), "etc-passwd");
        assert!(slug("  //  ").is_err());
        let newer = r#"{"version": 99, "name": "x"}"#;
        assert!(parse(newer).expect_err("newer").contains("newer"));
    }
}
