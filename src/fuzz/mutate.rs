//! Inputs for the fuzz targets: valid documents with random edits, and raw bytes and text.
//!
//! Byte edits (`Edit`) cut, delete, insert, duplicate, overwrite and splice in tokens of the
//! format (and 32-bit words, for image headers). Tree edits (`TreeEdit`) work on a parsed
//! JSON or TOML document before it is written out again: a value replaced by one of another
//! type or an extreme one, a key or element removed, a value nested deeply, one value copied
//! over another. Every choice is a proptest value, so a failing input shrinks.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::Input;

/// Tokens every text format gets: unicode, escapes, controls, numbers at the edges.
pub(crate) const COMMON: &[&[u8]] = &[
    b"\0",
    "\u{FFFD}".as_bytes(),
    "é".as_bytes(),
    "🎵".as_bytes(),
    "\u{202E}".as_bytes(),
    "\u{FEFF}".as_bytes(),
    b"\xff\xfe",
    b"\xc3",
    b"\r\n",
    b"\n",
    b"\t",
    b" ",
    b"\\",
    b"\"",
    b"'",
    b"%",
    b"%ZZ",
    b"%FF",
    b"%C3%B3",
    b"%00",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9223372036854775807",
    b"4294967296",
    b"-1",
    b"0",
    b"-0",
    b"1e999",
    b"-1e999",
    b"1e-999",
    b"0.1",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
];

/// A byte edit; positions are `Index`es into the input as it is when the edit applies.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Truncate(Index),
    Delete(Index, u8),
    Insert(Index, Vec<u8>),
    /// One of the format's tokens, or one of `COMMON`.
    Token(Index, Index),
    Replace(Index, u8, Index),
    Duplicate(Index, u8),
    Byte(Index, u8),
    /// A 32-bit word (big- or little-endian) written over the input: sizes in headers.
    Word(Index, u32, bool),
    /// A token repeated: long runs, deep nesting.
    Repeat(Index, Index, u16),
}

fn word() -> impl Strategy<Value = u32> {
    prop_oneof![
        1 => Just(0u32),
        1 => Just(1),
        1 => Just(u32::MAX),
        1 => Just(0x8000_0000),
        1 => Just(0xFFFF),
        1 => Just(30_001),
        1 => Just(65_536),
        3 => any::<u32>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<Index>;
    prop_oneof![
        1 => i().prop_map(Edit::Truncate),
        2 => (i(), 1..32u8).prop_map(|(p, n)| Edit::Delete(p, n)),
        2 => (i(), vec(any::<u8>(), 1..16)).prop_map(|(p, b)| Edit::Insert(p, b)),
        4 => (i(), i()).prop_map(|(p, t)| Edit::Token(p, t)),
        3 => (i(), 1..16u8, i()).prop_map(|(p, n, t)| Edit::Replace(p, n, t)),
        1 => (i(), 1..64u8).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        2 => (i(), any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
        2 => (i(), word(), any::<bool>()).prop_map(|(p, w, be)| Edit::Word(p, w, be)),
        1 => (i(), i(), 2..3000u16).prop_map(|(p, t, n)| Edit::Repeat(p, t, n)),
    ]
}

/// A position in `0..=len`.
fn at(i: &Index, len: usize) -> usize {
    i.index(len + 1)
}

fn token<'a>(tokens: &'a [&'a [u8]], t: &Index) -> &'a [u8] {
    let n = t.index(tokens.len() + COMMON.len());
    tokens
        .get(n)
        .copied()
        .unwrap_or_else(|| COMMON[n - tokens.len()])
}

/// Applies one edit to `b`.
pub(crate) fn apply(b: &mut Vec<u8>, e: &Edit, tokens: &[&[u8]]) {
    let len = b.len();
    let span = |p: &Index, n: u8| {
        let s = at(p, len);
        (s, (s + usize::from(n)).min(len))
    };
    match e {
        Edit::Truncate(p) => b.truncate(at(p, len)),
        Edit::Delete(p, n) => {
            let (s, e) = span(p, *n);
            b.drain(s..e);
        }
        Edit::Insert(p, bytes) => {
            let s = at(p, len);
            b.splice(s..s, bytes.iter().copied());
        }
        Edit::Token(p, t) => {
            let s = at(p, len);
            b.splice(s..s, token(tokens, t).iter().copied());
        }
        Edit::Replace(p, n, t) => {
            let (s, e) = span(p, *n);
            b.splice(s..e, token(tokens, t).iter().copied());
        }
        Edit::Duplicate(p, n) => {
            let (s, e) = span(p, *n);
            let copy = b[s..e].to_vec();
            b.splice(e..e, copy);
        }
        Edit::Byte(p, v) => {
            if len > 0 {
                b[p.index(len)] = *v;
            }
        }
        Edit::Word(p, w, be) => {
            let s = at(p, len).min(len.saturating_sub(4));
            let bytes = if *be {
                w.to_be_bytes()
            } else {
                w.to_le_bytes()
            };
            b.resize(b.len().max(s + 4), 0);
            b[s..s + 4].copy_from_slice(&bytes);
        }
        Edit::Repeat(p, t, n) => {
            let s = at(p, len);
            let run = token(tokens, t).repeat(usize::from(*n));
            b.splice(s..s, run);
        }
    }
}

/// Seeds (valid inputs) with 1 to 8 byte edits.
pub(crate) fn mutated(
    seeds: Vec<Vec<u8>>,
    tokens: &'static [&'static [u8]],
) -> BoxedStrategy<Input> {
    let seeds = Arc::new(seeds);
    (any::<Index>(), vec(edit(), 1..8))
        .prop_map(move |(s, edits)| {
            let mut b = seeds[s.index(seeds.len())].clone();
            for e in &edits {
                apply(&mut b, e, tokens);
            }
            Input(b)
        })
        .boxed()
}

/// Arbitrary bytes, and arbitrary text (any chars, controls too).
pub(crate) fn raw() -> BoxedStrategy<Input> {
    prop_oneof![
        vec(any::<u8>(), 0..512).prop_map(Input),
        vec(any::<char>(), 0..256)
            .prop_map(|c| Input(c.into_iter().collect::<String>().into_bytes())),
    ]
    .boxed()
}

/// A parsed document whose values can be edited.
pub(crate) trait Tree: Clone + std::fmt::Debug + 'static {
    /// The values inside an object/table or an array.
    fn children(&mut self) -> Vec<&mut Self>;
    /// Removes the `i`-th key or element, if there is one.
    fn remove(&mut self, i: &Index);
    /// This value nested `depth` times in arrays and objects.
    fn nest(self, depth: u8) -> Self;
    /// Values of every type, at their edges.
    fn odd_values() -> Vec<Self>;
}

#[derive(Debug, Clone)]
pub(crate) enum TreeEdit {
    /// A value replaced by one of `odd_values`.
    Set(Index, Index),
    Remove(Index, Index),
    Nest(Index, u8),
    /// The first value copied over the second (types swapped with the document's own).
    Copy(Index, Index),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    let i = any::<Index>;
    prop_oneof![
        4 => (i(), i()).prop_map(|(n, v)| TreeEdit::Set(n, v)),
        2 => (i(), i()).prop_map(|(n, c)| TreeEdit::Remove(n, c)),
        1 => (i(), 1..100u8).prop_map(|(n, d)| TreeEdit::Nest(n, d)),
        2 => (i(), i()).prop_map(|(a, b)| TreeEdit::Copy(a, b)),
    ]
}

fn count<T: Tree>(t: &mut T) -> usize {
    1 + t.children().into_iter().map(count).sum::<usize>()
}

/// The `n`-th value in pre-order (0: the document itself).
fn nth<'a, T: Tree>(t: &'a mut T, n: &mut usize) -> Option<&'a mut T> {
    if *n == 0 {
        return Some(t);
    }
    *n -= 1;
    for c in t.children() {
        if let Some(found) = nth(c, n) {
            return Some(found);
        }
    }
    None
}

fn node<'a, T: Tree>(t: &'a mut T, i: &Index) -> Option<&'a mut T> {
    let mut n = i.index(count(t));
    nth(t, &mut n)
}

/// Applies one tree edit to `doc`.
pub(crate) fn apply_tree<T: Tree>(doc: &mut T, e: &TreeEdit) {
    match e {
        TreeEdit::Set(n, v) => {
            let odd = T::odd_values();
            if let Some(x) = node(doc, n) {
                *x = odd[v.index(odd.len())].clone();
            }
        }
        TreeEdit::Remove(n, c) => {
            if let Some(x) = node(doc, n) {
                x.remove(c);
            }
        }
        TreeEdit::Nest(n, d) => {
            if let Some(x) = node(doc, n) {
                *x = x.clone().nest(*d);
            }
        }
        TreeEdit::Copy(a, b) => {
            let Some(from) = node(doc, a).map(|x| x.clone()) else {
                return;
            };
            if let Some(x) = node(doc, b) {
                *x = from;
            }
        }
    }
}

/// Parsed seeds with 1 to 4 tree edits, written out (`render`), then 0 to 3 byte edits.
pub(crate) fn trees<T: Tree>(
    seeds: Vec<T>,
    render: fn(&T) -> Vec<u8>,
    tokens: &'static [&'static [u8]],
) -> BoxedStrategy<Input> {
    let seeds = Arc::new(seeds);
    (any::<Index>(), vec(tree_edit(), 1..4), vec(edit(), 0..3))
        .prop_map(move |(s, tree_edits, edits)| {
            let mut doc = seeds[s.index(seeds.len())].clone();
            for e in &tree_edits {
                apply_tree(&mut doc, e);
            }
            let mut b = render(&doc);
            for e in &edits {
                apply(&mut b, e, tokens);
            }
            Input(b)
        })
        .boxed()
}

impl Tree for serde_json::Value {
    fn children(&mut self) -> Vec<&mut Self> {
        match self {
            serde_json::Value::Array(a) => a.iter_mut().collect(),
            serde_json::Value::Object(o) => o.values_mut().collect(),
            _ => Vec::new(),
        }
    }

    fn remove(&mut self, i: &Index) {
        match self {
            serde_json::Value::Array(a) if !a.is_empty() => {
                a.remove(i.index(a.len()));
            }
            serde_json::Value::Object(o) if !o.is_empty() => {
                let key = o.keys().nth(i.index(o.len())).cloned();
                key.map(|k| o.remove(&k));
            }
            _ => {}
        }
    }

    fn nest(self, depth: u8) -> Self {
        (0..depth).fold(self, |v, d| {
            if d % 2 == 0 {
                serde_json::Value::Array(vec![v])
            } else {
                serde_json::json!({ "": v })
            }
        })
    }

    fn odd_values() -> Vec<Self> {
        use serde_json::json;
        vec![
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(-0.0),
            json!(0.5),
            json!(""),
            json!("x".repeat(10_000)),
            json!("é🎵\u{0}\u{202E}\u{FFFF}"),
            json!("%ZZ%"),
            json!("spotify:track:"),
            json!("3600"),
            json!([]),
            json!({}),
            json!([null, 1, "a"]),
            json!({"": null}),
        ]
    }
}

impl Tree for toml::Value {
    fn children(&mut self) -> Vec<&mut Self> {
        match self {
            toml::Value::Array(a) => a.iter_mut().collect(),
            toml::Value::Table(t) => t.iter_mut().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    fn remove(&mut self, i: &Index) {
        match self {
            toml::Value::Array(a) if !a.is_empty() => {
                a.remove(i.index(a.len()));
            }
            toml::Value::Table(t) if !t.is_empty() => {
                let key = t.keys().nth(i.index(t.len())).cloned();
                key.map(|k| t.remove(&k));
            }
            _ => {}
        }
    }

    fn nest(self, depth: u8) -> Self {
        (0..depth).fold(self, |v, d| {
            if d % 2 == 0 {
                toml::Value::Array(vec![v])
            } else {
                toml::Value::Table(toml::Table::from_iter([("k".to_string(), v)]))
            }
        })
    }

    fn odd_values() -> Vec<Self> {
        use toml::Value as V;
        vec![
            V::Integer(0),
            V::Integer(-1),
            V::Integer(i64::MAX),
            V::Integer(i64::MIN),
            V::Float(f64::NAN),
            V::Float(f64::INFINITY),
            V::Float(f64::NEG_INFINITY),
            V::Float(-0.0),
            V::Float(1e300),
            V::Float(1e-300),
            V::Float(f64::from(f32::MIN_POSITIVE) / 1e6),
            V::Boolean(true),
            V::String(String::new()),
            V::String("é🎵\u{0}\u{202E}\n\"'".into()),
            V::String("x".repeat(10_000)),
            V::String("%ZZ%".into()),
            V::Array(Vec::new()),
            V::Table(toml::Table::new()),
            V::Datetime("1979-05-27T07:32:00Z".parse().expect("a TOML datetime")),
        ]
    }
}

/// A TOML document as text (a value that is not a table is written inline: itself a case).
pub(crate) fn toml_text(v: &toml::Value) -> Vec<u8> {
    toml::to_string(v)
        .unwrap_or_else(|_| v.to_string())
        .into_bytes()
}

/// A JSON document as text.
pub(crate) fn json_text(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
