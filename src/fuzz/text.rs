//! Text formats: the sign-in callback, `settings.toml` (and its `music_refresh` schedule),
//! `mapping.toml`, FER+'s vote table and the command line's values.

use std::path::Path;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::mutate::{mutated, raw, toml_text, trees};
use super::{accepted, check, fuzz};
use crate::config::{OwnPlaylist, Refresh, Settings};
use crate::emotion::{Emotion, Strategy as Plan};
use crate::music::mapping::Mapping;
use crate::music::spotify::callback::{
    Loopback, Refusal, Verdict, decode_value, judge, request_target,
};

const REQUEST: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b" HTTP/1.1",
    b"HTTP/",
    b"/callback",
    b"?",
    b"&",
    b"=",
    b"+",
    b"#",
    b"%2F",
    b"%2",
    b"%G0",
    b"%E2%82",
    b"code=",
    b"state=",
    b"error=",
    b"state=good-state",
    b"access_denied",
    b"/",
    b"//",
    b"\r",
];

/// A TOML document as a value whose tables can be edited.
fn toml_doc(text: &str) -> toml::Value {
    toml::Value::Table(toml::from_str(text).expect("a seed is a TOML document"))
}

const STATE: &str = "good-state";

fn request_seeds() -> Vec<Vec<u8>> {
    [
        "GET /callback?code=AQB1x-yz_0&state=good-state HTTP/1.1\r\n",
        "GET /callback?state=good-state&code=a%2Fb+c HTTP/1.1\r\n",
        "GET /callback?error=access_denied&state=good-state HTTP/1.1\r\n",
        "GET /callback?code=x&state=other HTTP/1.1\r\n",
        "GET /callback?state=good%2Dstate HTTP/1.1\r\n",
        "GET /favicon.ico HTTP/1.1\r\n",
        "GET /callback?code=S%C3%B3&state=good-state&&x HTTP/1.0\n",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec()
}

/// The browser's request line, its query, and the redirect URI's loopback address; and, for
/// any text, that strict decoding undoes percent-encoding.
#[test]
fn callback() {
    let inputs = prop_oneof![4 => mutated(request_seeds(), REQUEST), 1 => raw()];
    fuzz("callback", inputs, |input| {
        let verdict = judge(&input.0, "/callback", STATE);
        if let Verdict::Code(_) = verdict {
            accepted();
        }
        let (status, _) = verdict.answer();
        if let Verdict::Code(_) | Verdict::Refused(Refusal::Denied(_) | Refusal::NoCode) = verdict {
            let target = request_target(&input.0).map_err(TestCaseError::fail)?;
            check(target.split('?').next() == Some("/callback"), || {
                format!("{verdict:?} ({status}) for the target {target:?}")
            })?;
        }
        let text = input.text();
        if let Some(l) = Loopback::parse(&text) {
            check(
                l.path.starts_with('/') && text.starts_with("http://"),
                || format!("{l:?} from {text:?}"),
            )?;
        }
        let encoded = utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string();
        let decoded = decode_value(&encoded);
        check(decoded.as_deref() == Some(text.as_str()), || {
            format!("{encoded:?} decodes to {decoded:?}")
        })
    });
}

const TOML: &[&[u8]] = &[
    b"=",
    b" = ",
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"{",
    b"}",
    b",",
    b".",
    b"#",
    b"'''",
    b"\"\"\"",
    b"true",
    b"1979-05-27T07:32:00Z",
    b"0x7fffffffffffffff",
    b"0b",
    b"_",
    b"\\u0000",
    b"\\uD800",
    b"[capture]\n",
    b"[pipeline.mood]\n",
    b"replay_fps = ",
    b"hold = ",
    b"[own_playlists.\"happy/match\"]\n",
];

fn settings_seeds() -> Vec<String> {
    let mut custom = Settings::default();
    custom.capture.replay_fps = 2.5;
    custom.music_refresh = Refresh::Weekly(chrono::Weekday::Sun);
    custom.own_playlists.insert(
        "happy/match".into(),
        OwnPlaylist {
            id: "37i9dQZF1DXdPec7aLTmlC".into(),
            name: "Mine".into(),
        },
    );
    let text = |s: &Settings| s.to_text().expect("the settings serialise");
    vec![
        text(&Settings::default()),
        text(&custom),
        "inference_threads = 2\n[capture]\nreplay_fps = 4.0\n[pipeline.mood]\nhold = 1.5\n".into(),
        String::new(),
    ]
}

/// `settings.toml`: what loads must save, and what was saved must load as the same settings.
#[test]
fn settings_toml() {
    let texts = settings_seeds();
    let docs = texts.iter().map(|t| toml_doc(t)).collect();
    let bytes = texts.into_iter().map(String::into_bytes).collect();
    let inputs = prop_oneof![
        3 => trees(docs, toml_text, TOML),
        3 => mutated(bytes, TOML),
        1 => raw(),
    ];
    fuzz("settings_toml", inputs, |input| {
        let Ok(s) = Settings::parse(&input.text()) else {
            return Ok(());
        };
        accepted();
        let _ = s.music_refresh.is_fresh(0, 1_772_000_000_000);
        let _ = crate::capture::files::replay_interval(s.capture.replay_fps);
        let saved = s.to_text().map_err(TestCaseError::fail)?;
        let again = Settings::parse(&saved)
            .map_err(|e| TestCaseError::fail(format!("saved settings do not load: {e}")))?;
        let resaved = again.to_text().map_err(TestCaseError::fail)?;
        check(resaved == saved, || {
            format!("saved again, the settings change:\n{saved}\n---\n{resaved}")
        })
    });
}

static MAPPING: &str = include_str!("../../assets/mapping.toml");

/// `mapping.toml`: a mapping that loads has a non-empty entry for every mood and strategy.
#[test]
fn mapping_toml() {
    let doc = toml_doc(MAPPING);
    let inputs = prop_oneof![
        3 => trees(vec![doc], toml_text, TOML),
        3 => mutated(vec![MAPPING.as_bytes().to_vec()], TOML),
        1 => raw(),
    ];
    fuzz("mapping_toml", inputs, |input| {
        let text = input.text();
        let _ = Mapping::parse(&text, None);
        let Ok(m) = Mapping::parse(
            &text,
            Some(Path::new("/home/u/.config/emotune/mapping.toml")),
        ) else {
            return Ok(());
        };
        accepted();
        for e in Emotion::ALL {
            for s in [Plan::Match, Plan::Uplift] {
                let entry = m.entry(e, s);
                check(
                    !entry.queries.is_empty() || !entry.playlists.is_empty(),
                    || format!("{e}/{s:?} has neither queries nor playlists"),
                )?;
                entry.playlists.iter().for_each(|p| {
                    let _ = crate::music::spotify::search::parse_playlist_id(p);
                });
                entry.queries.iter().for_each(|q| {
                    let _ = crate::music::encode_query(q);
                });
            }
        }
        Ok(())
    });
}

const CSV: &[&[u8]] = &[
    b",",
    b",,",
    b"\n",
    b"\r\n",
    b"10",
    b"+1",
    b" 1",
    b"4294967295",
    b"4294967296",
    b"PrivateTest_1.jpg",
    b"fer0000001.png",
    b"0,0,0,0,0,0,0,0,0,0",
    b"10,10,10,10,10,10,10,10,10,10",
];

const HEADER: &str =
    "file,ferplus_image,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";

/// FER+'s vote table: every row it accepts has votes whose label and shares can be read.
#[test]
fn ferplus_votes() {
    let rows = [
        "PrivateTest_10072988.jpg,fer0033786.png,0,0,8,0,0,0,2,0,0,0",
        "PrivateTest_10077120.jpg,fer0035222.png,0,10,0,0,0,0,0,0,0,0",
        "PublicTest_1.jpg,fer0000001.png,0,0,0,0,0,0,0,3,3,4",
        "Training_1.jpg,,5,5,0,0,0,0,0,0,0,0",
    ];
    let seeds = vec![
        format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes(),
        format!("{HEADER}\r\n{}\r\n\r\n", rows[..2].join("\r\n")).into_bytes(),
    ];
    let inputs = prop_oneof![4 => mutated(seeds, CSV), 1 => raw()];
    fuzz("ferplus_votes", inputs, |input| {
        let text = input.text();
        let Ok(table) = crate::eval::ferplus::VoteTable::parse(&text) else {
            return Ok(());
        };
        accepted();
        for name in text.lines().filter_map(|l| l.split(',').next()) {
            let Some(votes) = table.get(Path::new(name)) else {
                continue;
            };
            let _ = votes.plurality();
            if let Some(shares) = votes.shares() {
                let sum: f64 = shares.iter().sum();
                check((sum - 1.0).abs() < 1e-9, || {
                    format!("shares of {name} sum to {sum}")
                })?;
            }
        }
        Ok(())
    });
}

const ARGS: &[&[u8]] = &[
    b"x",
    b"X",
    b"camera:",
    b"spotify:playlist:",
    b"/playlist/",
    b"http://",
    b"127.0.0.1",
    b":",
    b"?",
    b"/",
    b"7680",
    b"4320",
    b"240",
    b"0.1",
    b"1e-45",
    b"1e39",
    b"weekly",
    b"daily",
    b"sunday",
];

/// The command line's and the environment's values: `--resolution`, `--fps`, `--source`,
/// playlist ids and URLs, `RSPOTIFY_REDIRECT_URI`.
#[test]
fn cli_values() {
    let seeds = [
        "640x480",
        "1280X720",
        "30",
        "0.1",
        "camera:0",
        "faces/",
        "spotify:playlist:37i9dQZF1DXdPec7aLTmlC",
        "https://open.spotify.com/playlist/37i9dQZF1DXdPec7aLTmlC?si=x",
        "http://127.0.0.1:8888/callback",
        "weekly:sunday",
        "Weekly on Thursdays",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec();
    let inputs = prop_oneof![4 => mutated(seeds, ARGS), 1 => raw()];
    fuzz("cli_values", inputs, |input| {
        let s = input.text();
        if let Ok((w, h)) = crate::capture::parse_resolution(&s) {
            accepted();
            check((16..=7680).contains(&w) && (16..=4320).contains(&h), || {
                format!("{s:?} gave {w}x{h}")
            })?;
        }
        if let Ok(f) = crate::capture::parse_fps(&s) {
            accepted();
            check((0.1..=240.0).contains(&f), || format!("{s:?} gave {f} fps"))?;
            let _ = crate::capture::files::replay_interval(f);
        }
        let _ = s.parse::<crate::capture::SourceSpec>();
        // The schedule a settings file names: what is read back from its saved form is the same.
        if let Ok(r) = Refresh::parse(&s) {
            accepted();
            check(Refresh::parse(&r.to_string()) == Ok(r), || {
                format!("{s:?} gave {r}")
            })?;
        }
        let id = crate::music::spotify::search::parse_playlist_id(&s);
        if id.is_some() || Loopback::parse(&s).is_some() {
            accepted();
        }
        Ok(())
    });
}
