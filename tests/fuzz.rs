//! A bounded fuzz run over mutated inputs (issue 10, item 7): the shipped
//! scenarios, manifests and scheduler configurations, mutated the way the
//! original 26,000-input fuzzing campaign did (cut, repeat and splice lines,
//! insert YAML tokens and extreme values), must load or fail with a
//! positioned error in bounded time, never panic; a mutant that loads also
//! runs its first simulated seconds without a panic.
//!
//! proptest draws the mutations from a fixed seed, so the run is the same
//! every time (`PROPTEST_CASES` raises the case count for a longer run).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Tokens the mutations splice in: YAML syntax, anchors, and values at the edges.
const TOKENS: &[&str] = &[
    "-", ":", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "'", "\"", "#", "|", ">", "? ", "\t", "~", "null", "true", "0", "-1", "1e400",
    "1000000000", "18446744073709551615", "9999999999999999999999", "0.5", "1ms", "-3s", "100h", "\"-4\"", "1Ei", "NaN", "\u{0}", "é", "kind: Pod",
    "replicas: -2", "count: 200001", "every: 1ms", "at: 99h", "---", "...",
];

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLines { at: usize, len: usize },
    RepeatLine { at: usize, times: usize },
    Insert { line: usize, column: usize, token: usize },
    Truncate { at: usize },
    SwapLines { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..400usize, 1..4usize).prop_map(|(at, len)| Mutation::DeleteLines { at, len }),
        (0..400usize, 1..50usize).prop_map(|(at, times)| Mutation::RepeatLine { at, times }),
        (0..400usize, 0..80usize, 0..TOKENS.len()).prop_map(|(line, column, token)| Mutation::Insert { line, column, token }),
        (0..20_000usize).prop_map(|at| Mutation::Truncate { at }),
        (0..400usize, 0..400usize).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *m {
            Mutation::DeleteLines { at, len } => {
                let at = at % n;
                lines.drain(at..(at + len).min(n));
            }
            Mutation::RepeatLine { at, times } => {
                let l = lines[at % n].clone();
                for _ in 0..times {
                    lines.insert(at % n, l.clone());
                }
            }
            Mutation::Insert { line, column, token } => {
                let l = &mut lines[line % n];
                let mut at = column.min(l.len());
                while !l.is_char_boundary(at) {
                    at -= 1;
                }
                l.insert_str(at, TOKENS[token]);
            }
            Mutation::Truncate { at } => {
                let mut joined = lines.join("\n");
                let mut at = at.min(joined.len());
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                joined.truncate(at);
                lines = joined.lines().map(str::to_string).collect();
            }
            Mutation::SwapLines { a, b } => lines.swap(a % n, b % n),
        }
    }
    lines.join("\n") + "\n"
}

fn inputs(dir: &str, ext: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == ext)).collect();
    v.sort();
    assert!(!v.is_empty(), "no inputs in {}", root.display());
    v
}

/// Each error names the file with a line and column (or says why it has none).
fn assert_positioned(e: &kubesim::yamlpos::SourceError, file: &Path) {
    assert!(e.file.contains(&*file.file_name().unwrap().to_string_lossy()), "error names another file: {e}");
    assert!(e.line > 0 || e.message.contains("cannot read"), "error without a position: {e}");
    assert!(!e.message.contains("panicked"), "{e}");
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    TestRunner::new_with_rng(Config { cases, failure_persistence: None, ..Config::default() }, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

#[test]
fn mutated_scenarios_load_or_fail_with_a_position_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    // The manifests the shipped scenarios name are copied beside the mutants.
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/manifests");
    std::fs::create_dir_all(dir.path().join("manifests")).unwrap();
    for m in std::fs::read_dir(&manifests).unwrap().flatten() {
        std::fs::copy(m.path(), dir.path().join("manifests").join(m.file_name())).unwrap();
    }
    let originals: Vec<(PathBuf, String)> = inputs("scenarios", "yaml").into_iter().map(|p| { let t = std::fs::read_to_string(&p).unwrap(); (p, t) }).collect();
    let (loaded, rejected) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut r = runner(512);
    r.run(&(0..originals.len(), prop::collection::vec(mutation(), 1..4)), |(which, muts)| {
        let (orig, text) = &originals[which];
        let path = dir.path().join(orig.file_name().unwrap());
        std::fs::write(&path, apply(text, &muts)).unwrap();
        let started = Instant::now();
        match kubesim::scenario::load(&path) {
            Ok(s) => {
                loaded.set(loaded.get() + 1);
                // The first simulated seconds run without a panic (an error is fine).
                let until = s.duration.min(Duration::from_secs(5));
                let _ = kubesim::run::run_scenario(&s, 1, until, false, &mut |_| {});
            }
            Err(e) => {
                rejected.set(rejected.get() + 1);
                assert_positioned(&e, &path);
            }
        }
        prop_assert!(started.elapsed() < Duration::from_secs(20), "{} mutated by {muts:?} took {:?}", orig.display(), started.elapsed());
        Ok(())
    })
    .unwrap();
    // Not vacuous: the mutations reach both outcomes.
    let (loaded, rejected) = (loaded.get(), rejected.get());
    assert!(loaded > 0 && rejected > 0, "loaded {loaded}, rejected {rejected}");
}

#[test]
fn mutated_manifests_and_scheduler_configurations_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut originals: Vec<(PathBuf, String)> = inputs("scenarios/manifests", "yaml").into_iter().map(|p| { let t = std::fs::read_to_string(&p).unwrap(); (p, t) }).collect();
    let configs = inputs("scenarios/schedulers", "yaml");
    let first_config = originals.len();
    originals.extend(configs.into_iter().map(|p| { let t = std::fs::read_to_string(&p).unwrap(); (p, t) }));
    let (ok, err) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut r = runner(512);
    r.run(&(0..originals.len(), prop::collection::vec(mutation(), 1..4)), |(which, muts)| {
        let (orig, text) = &originals[which];
        let mutated = apply(text, &muts);
        let name = orig.file_name().unwrap().to_string_lossy().to_string();
        let started = Instant::now();
        let result = if which >= first_config {
            kubesim::control::scheduler::profile::parse(&mutated, &name).map(|_| ())
        } else {
            let path = dir.path().join(&name);
            std::fs::write(&path, &mutated).unwrap();
            kubesim::scenario::read_manifests(&path).map(|_| ())
        };
        match result {
            Ok(()) => ok.set(ok.get() + 1),
            Err(e) => {
                err.set(err.get() + 1);
                assert_positioned(&e, Path::new(&name));
            }
        }
        prop_assert!(started.elapsed() < Duration::from_secs(10), "{name} mutated by {muts:?} took {:?}", started.elapsed());
        Ok(())
    })
    .unwrap();
    let (ok, err) = (ok.get(), err.get());
    assert!(ok > 0 && err > 0, "accepted {ok}, rejected {err}");
}
