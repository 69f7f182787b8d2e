//! The layout DESIGN.md draws ("dependencies point down only; no cycles"), checked on the
//! source: every `crate::…`, `super::…` and `self::…` path in `src/**/*.rs` (comments and
//! string literals left out, `pub use` re-exports followed to where the item lives) is an edge
//! between top-level modules (the first path segment under src/: ui, music, pipeline, vision,
//! capture, config, eval, …). There must be no cycle among them, nor among the files of
//! src/vision/. Items of lib.rs itself (`crate::clock`, `crate::restart_on_panic`) are the root,
//! not a module, and main.rs is the binary's own crate; neither is a node.
//!
//! And no file under src/ is over `MAX_LINES` lines, except the ones that already were.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// Files over `MAX_LINES` allowed to stay over it: none. A file that grows past the limit
/// is split along its seams instead.
const LONG_FILES: &[&str] = &[];

// --- a small Rust lexer: identifiers, `::`, braces, commas; no comments, strings or chars ---

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Open,
    Close,
    Comma,
    Other,
}

/// Reads a source file char by char, skipping what holds no path, counting lines.
struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
}

impl Lexer {
    fn at(&self, k: usize) -> char {
        self.c.get(self.i + k).copied().unwrap_or('\0')
    }

    /// Moves one char on, counting a newline.
    fn bump(&mut self) {
        if self.at(0) == '\n' {
            self.line += 1;
        }
        self.i += 1;
    }

    /// `/* … */`, nested ones too.
    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.i < self.c.len() {
            if self.at(0) == '/' && self.at(1) == '*' {
                depth += 1;
                self.i += 2;
            } else if self.at(0) == '*' && self.at(1) == '/' {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A string literal whose opening quote is here; `raw` hashes for r#"…"#.
    fn quoted(&mut self, raw: Option<usize>) {
        self.i += 1;
        while self.i < self.c.len() {
            match (self.at(0), raw) {
                ('\\', None) => {
                    self.i += 1;
                    self.bump();
                }
                ('"', None) => {
                    self.i += 1;
                    return;
                }
                ('"', Some(n)) if (1..=n).all(|k| self.at(k) == '#') => {
                    self.i += 1 + n;
                    return;
                }
                _ => self.bump(),
            }
        }
    }

    /// A char literal ('a', '\n', '\u{1F600}', b'x' after its `b`) or a lifetime / label.
    fn quote(&mut self) {
        if self.at(1) == '\\' {
            // Past the backslash and the char it escapes (which may be a quote).
            self.i += 3;
            while self.i < self.c.len() && self.at(0) != '\'' {
                self.i += 1;
            }
            self.i += 1;
        } else if self.at(2) == '\'' {
            self.i += 3;
        } else {
            self.i += 1;
        }
    }

    /// An identifier or keyword here, or the literal it prefixes (r"…", b"…", b'…').
    fn word(&mut self) -> Option<String> {
        let start = self.i;
        while self.i < self.c.len() && (self.at(0).is_alphanumeric() || self.at(0) == '_') {
            self.i += 1;
        }
        let word: String = self.c[start..self.i].iter().collect();
        let hashes = (0..).take_while(|k| self.at(*k) == '#').count();
        match word.as_str() {
            "r" | "br" | "cr" if self.at(hashes) == '"' => {
                self.i += hashes;
                self.quoted(Some(hashes));
            }
            "b" | "c" if self.at(0) == '"' => self.quoted(None),
            "b" if self.at(0) == '\'' => self.quote(),
            // r#ident: the identifier follows the `#`.
            "r" if hashes == 1 => {}
            _ => return Some(word),
        }
        None
    }
}

/// The tokens of `src` that matter here, each with its line (1-based).
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let mut lx = Lexer {
        c: src.chars().collect(),
        i: 0,
        line: 1,
    };
    let mut out = Vec::new();
    while lx.i < lx.c.len() {
        let (ch, line) = (lx.at(0), lx.line);
        let tok = match ch {
            '/' if lx.at(1) == '/' => {
                while lx.i < lx.c.len() && lx.at(0) != '\n' {
                    lx.i += 1;
                }
                None
            }
            '/' if lx.at(1) == '*' => {
                lx.block_comment();
                None
            }
            '"' => {
                lx.quoted(None);
                None
            }
            '\'' => {
                lx.quote();
                None
            }
            _ if ch.is_alphabetic() || ch == '_' => lx.word().map(Tok::Ident),
            _ if ch.is_ascii_digit() => {
                while lx.at(0).is_alphanumeric() || lx.at(0) == '_' {
                    lx.i += 1;
                }
                None
            }
            ':' if lx.at(1) == ':' => {
                lx.i += 2;
                Some(Tok::Sep)
            }
            _ => {
                lx.bump();
                match ch {
                    '{' => Some(Tok::Open),
                    '}' => Some(Tok::Close),
                    ',' => Some(Tok::Comma),
                    _ if ch.is_whitespace() => None,
                    _ => Some(Tok::Other),
                }
            }
        };
        out.extend(tok.map(|t| (t, line)));
    }
    out
}

fn ident(toks: &[(Tok, usize)], i: usize) -> Option<&str> {
    match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

fn is(toks: &[(Tok, usize)], i: usize, t: &Tok) -> bool {
    toks.get(i).is_some_and(|(x, _)| x == t)
}

/// The paths named by the path (or `use` tree) at `toks[i..]`, each appended to `prefix`,
/// with the name each binds (its last segment, or its `as` alias). Returns where it ended.
fn expand(
    toks: &[(Tok, usize)],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) -> usize {
    loop {
        if is(toks, i, &Tok::Open) {
            i += 1;
            while i < toks.len() && !is(toks, i, &Tok::Close) {
                let end = expand(toks, i, prefix.clone(), out);
                i = if end == i { i + 1 } else { end };
                if is(toks, i, &Tok::Comma) {
                    i += 1;
                }
            }
            return i + 1;
        }
        let Some(seg) = ident(toks, i) else {
            if !prefix.is_empty() {
                let name = prefix.last().cloned().unwrap_or_default();
                out.push((prefix, name));
            }
            return i;
        };
        if seg != "self" {
            prefix.push(seg.to_string());
        }
        i += 1;
        if is(toks, i, &Tok::Sep) {
            i += 1;
            continue;
        }
        let mut name = prefix.last().cloned().unwrap_or_default();
        if ident(toks, i) == Some("as")
            && let Some(alias) = ident(toks, i + 1)
        {
            name = alias.to_string();
            i += 2;
        }
        out.push((prefix, name));
        return i;
    }
}

/// One path found in a file, made absolute (from the crate root).
#[derive(Debug)]
struct Reference {
    path: Vec<String>,
    line: usize,
    /// Inside a `pub use` at the top of the file: a re-export, the module's facade.
    reexport: Option<String>,
}

/// Module path of a file: src/music/account.rs → [music, account]; src/music/mod.rs → [music];
/// src/lib.rs → [] (the root).
fn module_of(rel: &Path) -> Vec<String> {
    if rel == Path::new("lib.rs") {
        return Vec::new();
    }
    let mut m: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if m.last().is_some_and(|l| l == "mod") {
        m.pop();
    }
    m
}

/// Every `crate::`/`super::`/`self::` path in a file at module `module`, and the `pub use`
/// of child modules (re-exports) at its top. `children` are the module's own submodules.
fn references(src: &str, module: &[String], children: &BTreeSet<String>) -> Vec<Reference> {
    let toks = lex(src);
    let mut out = Vec::new();
    // Inline modules (`mod tests { … }`): (name, brace depth inside it).
    let (mut inline, mut depth): (Vec<(String, usize)>, usize) = (Vec::new(), 0);
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(w) if w == "mod" => {
                if let (Some(name), true) = (ident(&toks, i + 1), is(&toks, i + 2, &Tok::Open)) {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            Tok::Ident(w) if w == "use" && inline.is_empty() => {
                // `use child::…` at the top (a `pub use` of one is a re-export).
                let public = (i.saturating_sub(5)..i).any(|k| ident(&toks, k) == Some("pub"));
                if let Some(first) = ident(&toks, i + 1)
                    && children.contains(first)
                {
                    let mut found = Vec::new();
                    expand(&toks, i + 1, module.to_vec(), &mut found);
                    for (path, name) in found {
                        out.push(Reference {
                            path,
                            line: toks[i].1,
                            reexport: public.then_some(name),
                        });
                    }
                }
            }
            Tok::Ident(w) if matches!(w.as_str(), "crate" | "super" | "self") => {
                let after_sep = i > 0 && is(&toks, i - 1, &Tok::Sep);
                if !after_sep && is(&toks, i + 1, &Tok::Sep) {
                    let here: Vec<String> = module
                        .iter()
                        .cloned()
                        .chain(inline.iter().map(|(n, _)| n.clone()))
                        .collect();
                    let mut base = if w == "crate" { Vec::new() } else { here };
                    let mut k = i;
                    if w == "super" {
                        while ident(&toks, k) == Some("super") && is(&toks, k + 1, &Tok::Sep) {
                            base.pop();
                            k += 2;
                        }
                    } else {
                        k += 2;
                    }
                    let public = inline.is_empty()
                        && (i.saturating_sub(6)..i).any(|j| {
                            ident(&toks, j) == Some("pub") && ident(&toks, j + 1) != Some("fn")
                        })
                        && (i.saturating_sub(6)..i).any(|j| ident(&toks, j) == Some("use"));
                    let mut found = Vec::new();
                    let end = expand(&toks, k, base, &mut found);
                    for (path, name) in found {
                        out.push(Reference {
                            path,
                            line: toks[i].1,
                            reexport: public.then_some(name),
                        });
                    }
                    i = end.max(i + 1);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

// --- the source tree ---

struct File {
    rel: PathBuf,
    module: Vec<String>,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn source() -> Vec<File> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root.join("src"))
                .expect("under src")
                .to_path_buf();
            File {
                module: module_of(&rel),
                text: std::fs::read_to_string(&p)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
                rel,
            }
        })
        .collect()
}

/// An edge and where it was first seen (file:line).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The module graph of the crate: `node` names a reference's target or None to leave it out.
struct Crate {
    files: Vec<File>,
    /// Re-exported path → where the item really is.
    reexports: BTreeMap<Vec<String>, Vec<String>>,
    refs: Vec<(usize, Reference)>,
}

impl Crate {
    fn read() -> Crate {
        let files = source();
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
        let mut refs = Vec::new();
        for (n, f) in files.iter().enumerate() {
            let children: BTreeSet<String> = modules
                .iter()
                .filter(|m| m.len() == f.module.len() + 1 && m.starts_with(&f.module))
                .filter_map(|m| m.last().cloned())
                .collect();
            let own = f
                .rel
                .file_name()
                .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
            for r in references(&f.text, &f.module, &children) {
                // A `pub use` in a plain file (not a module's facade) is an ordinary reference.
                let r = Reference {
                    reexport: r.reexport.filter(|_| own),
                    ..r
                };
                refs.push((n, r));
            }
        }
        let mut reexports = BTreeMap::new();
        for (n, r) in &refs {
            if let Some(name) = &r.reexport {
                let mut at = files[*n].module.clone();
                at.push(name.clone());
                if at != r.path {
                    reexports.insert(at, r.path.clone());
                }
            }
        }
        Crate {
            files,
            reexports,
            refs,
        }
    }

    /// `path`, as seen from top-level module `from`, with re-exports followed to where the item
    /// is defined: those of lib.rs (the root is no node) and those inside `from` itself (a
    /// file of vision naming `crate::vision::rotate_gray` depends on resample.rs). A path
    /// through another top-level module's re-export (`crate::music::Strategy`) stays a
    /// dependency on that module: it is written against it.
    fn resolve(&self, path: &[String], from: Option<&String>) -> Vec<String> {
        let mut p = path.to_vec();
        for _ in 0..16 {
            let followed = |k: usize| k == 1 || p.first() == from;
            let hit = (1..=p.len())
                .rev()
                .filter(|k| followed(*k))
                .find_map(|k| self.reexports.get(&p[..k]).map(|to| (k, to)));
            let Some((k, to)) = hit else { break };
            p = to.iter().cloned().chain(p[k..].iter().cloned()).collect();
        }
        p
    }

    /// Edges `node(file) → node(target)` for all references that are not re-exports.
    fn graph(
        &self,
        from: impl Fn(&File) -> Option<String>,
        to: impl Fn(&[String]) -> Option<String>,
    ) -> Graph {
        let mut g = Graph::new();
        for (n, r) in &self.refs {
            let f = &self.files[*n];
            if r.reexport.is_some() {
                continue;
            }
            let (Some(a), Some(b)) = (from(f), to(&self.resolve(&r.path, f.module.first()))) else {
                continue;
            };
            if a != b {
                g.entry(a)
                    .or_default()
                    .entry(b)
                    .or_insert_with(|| format!("src/{}:{}", f.rel.display(), r.line));
            }
        }
        g
    }
}

/// A cycle of `g` as its nodes (first = last), if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flat_map(|e| e.keys()) {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, m, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(g, n, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// The cycle with the reference that makes each step, for the failure message.
fn describe(g: &Graph, cycle: &[String]) -> String {
    cycle
        .windows(2)
        .map(|w| format!("  {} -> {}  ({})", w[0], w[1], g[&w[0]][&w[1]]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn top_level(c: &Crate) -> Graph {
    let tops: BTreeSet<String> = c
        .files
        .iter()
        .filter(|f| !f.module.is_empty() && f.module[0] != "main")
        .map(|f| f.module[0].clone())
        .collect();
    c.graph(
        |f| f.module.first().filter(|m| tops.contains(*m)).cloned(),
        |p| p.first().filter(|m| tops.contains(*m)).cloned(),
    )
}

fn vision_files(c: &Crate) -> Graph {
    let in_vision = |m: &[String]| m.first().is_some_and(|v| v == "vision");
    let files: BTreeSet<String> = c
        .files
        .iter()
        .filter(|f| in_vision(&f.module) && f.module.len() == 2)
        .map(|f| f.module[1].clone())
        .collect();
    let node = |m: &[String]| {
        in_vision(m).then(|| {
            m.get(1)
                .filter(|s| files.contains(*s))
                .cloned()
                .unwrap_or_else(|| "mod".into())
        })
    };
    c.graph(|f| node(&f.module), |p| node(p))
}

#[test]
fn top_level_modules_depend_one_way() {
    let c = Crate::read();
    let g = top_level(&c);
    // The reader must see the edges the layout is about, or the check is empty.
    for (a, b) in [("ui", "music"), ("music", "config"), ("pipeline", "vision")] {
        assert!(
            g.get(a).is_some_and(|e| e.contains_key(b)),
            "{a} -> {b} not seen: {g:?}"
        );
    }
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "top-level modules import each other: {}\n{}",
            cycle.join(" -> "),
            describe(&g, &cycle)
        );
    }
}

#[test]
fn the_files_of_vision_depend_one_way() {
    let c = Crate::read();
    let g = vision_files(&c);
    for (a, b) in [
        ("detector", "neural"),
        ("neural", "resample"),
        ("detector", "resample"),
    ] {
        assert!(
            g.get(a).is_some_and(|e| e.contains_key(b)),
            "{a} -> {b} not seen: {g:?}"
        );
    }
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "files of src/vision/ import each other: {}\n{}",
            cycle.join(" -> "),
            describe(&g, &cycle)
        );
    }
}

#[test]
fn no_source_file_grows_past_the_limit() {
    let mut problems = Vec::new();
    for f in source() {
        let name = format!("src/{}", f.rel.display());
        let lines = f.text.lines().count();
        let allowed = LONG_FILES.contains(&name.as_str());
        if lines > MAX_LINES && !allowed {
            problems.push(format!(
                "{name}: {lines} lines (at most {MAX_LINES}); split it by what it does"
            ));
        }
        if lines <= MAX_LINES && allowed {
            problems.push(format!(
                "{name}: {lines} lines, under the limit now; take it off LONG_FILES"
            ));
        }
    }
    for name in LONG_FILES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        if !path.is_file() {
            problems.push(format!("{name} is gone; take it off LONG_FILES"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The app's environment (`RSPOTIFY_*`, base URLs) is read once, in `main`
/// (`config::SpotifyEnv`), and handed down: music never reads it itself, so what it does
/// depends on what it is given. (Probing the desktop session, as `platform` and the file
/// dialogs do, is another matter.)
#[test]
fn the_environment_is_read_in_one_place() {
    let mut problems = Vec::new();
    for f in source() {
        let name = format!("src/{}", f.rel.display());
        if !name.starts_with("src/music/") {
            continue;
        }
        for (i, line) in f.text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["env::var", "env_first", "dotenvy"]
                .iter()
                .any(|w| code.contains(w))
            {
                problems.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "read the environment in main (config::SpotifyEnv) and pass it down:\n{}",
        problems.join("\n")
    );
}

// --- the checker checked ---

fn edges(list: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (a, b) in list {
        g.entry(a.to_string())
            .or_default()
            .insert(b.to_string(), "here".into());
    }
    g
}

#[test]
fn the_cycle_finder_finds_cycles_and_only_cycles() {
    let dag = edges(&[("ui", "music"), ("music", "config"), ("ui", "config")]);
    assert_eq!(find_cycle(&dag), None);
    let cyclic = edges(&[("ui", "music"), ("music", "config"), ("config", "music")]);
    let cycle = find_cycle(&cyclic).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last(), "{cycle:?}");
    let nodes: BTreeSet<&str> = cycle.iter().map(String::as_str).collect();
    assert_eq!(nodes, BTreeSet::from(["config", "music"]));
    assert!(describe(&cyclic, &cycle).contains("(here)"));
}

#[test]
fn paths_in_comments_and_strings_do_not_count_and_use_trees_do() {
    let src = r####"
        //! See crate::ui for the window.
        /* crate::eval /* nested */ crate::soak */
        use crate::{capture::Frame, music::{self, Track as T}};
        use super::super::pipeline::Worker;
        fn f<'a>(s: &'a str) -> char {
            let _ = "crate::plot";
            let _ = r#"crate::bench " still a string"#;
            let _ = b"crate::cli";
            let _ = '"';
            let _ = ('\'', b'\'', "a \" crate::ui", '\u{1F600}', "{crate::eval}");
            crate::config::load();
            'x'
        }
        mod tests {
            use super::*;
            use super::super::Sibling;
        }
    "####;
    let module = vec!["vision".to_string(), "neural".to_string()];
    let refs = references(src, &module, &BTreeSet::new());
    let paths: Vec<String> = refs.iter().map(|r| r.path.join("::")).collect();
    assert_eq!(
        paths,
        [
            "capture::Frame",
            "music",
            "music::Track",
            "pipeline::Worker",
            "config::load",
            "vision::neural",
            "vision::Sibling",
        ]
    );
    assert_eq!(refs[2].line, 4);
}
