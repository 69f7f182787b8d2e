//! Time-boxed fuzzing of every parser of outside input (issue 37): the sign-in callback's
//! request line and query, `settings.toml`, `mapping.toml`, the token file, Spotify's JSON
//! answers (search, playlist items, the signed-in user's calls and their error statuses),
//! image bytes, FER+'s vote table, the music cache and the command line's values.
//!
//! cargo-fuzz needs a nightly toolchain and an instrumented build (of libtorch's bindings
//! too), so this is property-based fuzzing with proptest instead: each target mixes valid
//! documents with random edits (`mutate`: truncations, inserted bytes and tokens, swapped
//! types, huge numbers, unicode, `%` escapes) with raw arbitrary bytes and strings, calls the
//! parser, and checks that it returns (a panic fails the target, shrunk to a small input) and,
//! where it accepts the input, a cheap invariant. Each target runs until its deadline:
//! `EMOTUNE_FUZZ_SECS` seconds (default 2, so `cargo test` stays fast), then prints
//! `fuzz <target>: N execs in S s; M accepted` on stderr (M: inputs the parser
//! accepted). `EMOTUNE_FUZZ_SEED` replays a run's inputs.
//!
//! `make fuzz` runs every target for `FUZZ_SECS` seconds, one at a time:
//! `EMOTUNE_FUZZ_SECS=600 cargo test --release --lib fuzz:: -- --nocapture --test-threads 1`.

mod images;
mod mutate;
mod spotify;
mod text;

use std::cell::Cell;
use std::fmt;
use std::sync::Once;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// One input: bytes, shown as an escaped byte string when a target fails (paste it into the
/// regression test).
#[derive(Clone, PartialEq)]
pub(crate) struct Input(pub(crate) Vec<u8>);

impl Input {
    /// The input as text for parsers of `&str` (invalid UTF-8 becomes U+FFFD, itself a case).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

/// How long each target runs: `EMOTUNE_FUZZ_SECS` (default 2 s).
fn budget() -> Duration {
    let secs = std::env::var("EMOTUNE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs.min(86_400.0))
}

/// The run's seed: `EMOTUNE_FUZZ_SEED`, else from the clock (printed when a target fails).
fn seed() -> u64 {
    std::env::var("EMOTUNE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            let t = crate::clock::unix_now();
            t.as_secs() ^ u64::from(t.subsec_nanos()).rotate_left(32)
        })
}

thread_local! {
    /// Set while a case runs: its panics are the target's findings, reported once shrunk,
    /// and a third-party parser's panic caught by the app (`CatchPanic`) is no news either.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Inputs the running target's parser accepted (`accepted`).
    static ACCEPTED: Cell<u64> = const { Cell::new(0) };
}

/// Counts an input the parser accepted: the share of inputs that get past the parser's first
/// checks says how deep the target reaches.
pub(crate) fn accepted() {
    ACCEPTED.with(|a| a.set(a.get() + 1));
}

/// Wraps the panic hook once, to keep quiet on a thread running a case.
fn quiet_while_running() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Fails a case (with a message naming what broke) unless `ok`.
pub(crate) fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

/// Runs `test` on inputs from `strategy` until the time box is spent. A failing case (a
/// panic, or an invariant `test` reports) is shrunk and the target fails naming the smallest
/// input found and the seed that replays the run.
pub(crate) fn fuzz<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let budget = budget();
    let seed = seed();
    let config = Config {
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 20_000,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    quiet_while_running();
    ACCEPTED.with(|a| a.set(0));
    let start = Instant::now();
    let mut execs = 0u64;
    while start.elapsed() < budget || execs == 0 {
        let case = match strategy.new_tree(&mut runner) {
            Ok(c) => c,
            Err(why) => panic!("fuzz {name}: no input: {why}"),
        };
        execs += 1;
        QUIET.with(|q| q.set(true));
        let result = runner.run_one(case, &test);
        QUIET.with(|q| q.set(false));
        match result {
            Ok(_) => {}
            Err(TestError::Fail(why, input)) => panic!(
                "fuzz {name}: {why}\n  input: {input:?}\n  after {execs} execs; replay with \
                 EMOTUNE_FUZZ_SEED={seed}"
            ),
            Err(TestError::Abort(why)) => panic!("fuzz {name}: aborted: {why}"),
        }
    }
    eprintln!(
        "fuzz {name}: {execs} execs in {:.1} s; {} accepted",
        start.elapsed().as_secs_f64(),
        ACCEPTED.with(Cell::get)
    );
}
