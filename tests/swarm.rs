//! Swarm sweeps and shrinking, through the command line.

use std::path::Path;
use std::process::{Command, Output};

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// CI's short swarm sweep: every seed's faults heal and the cluster recovers.
#[test]
fn the_ci_swarm_scenario_survives_a_short_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["sweep", "scenarios/swarm-ci.yaml", "--seeds", "1..12", "--jobs", "2", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("12 of 12 seeds passed"), "{}", text(&o));
    // Different seeds draw different plans, so the traces differ.
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    let hashes: std::collections::BTreeSet<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert_eq!(hashes.len(), 12);
}

#[test]
fn a_swarm_run_prints_its_fault_plan_and_replays_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = kubesim(&["run", "scenarios/swarm-ci.yaml", "--seed", "3", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("fault plan ("), "{}", text(&o));
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
}

#[test]
fn shrink_turns_a_failing_seed_into_a_short_scenario_that_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let shrunk = dir.path().join("shrunk.yaml");
    let run = kubesim(&["run", "tests/data/swarm-fragile.yaml", "--seed", "11", "--out", dir.path().join("full").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "seed 11 fails: {}", text(&run));
    let planned = text(&run).lines().filter(|l| l.starts_with("  ") && l.contains(" at ") && l.contains(" until ")).count();
    let o = kubesim(&["shrink", "tests/data/swarm-fragile.yaml", "--seed", "11", "--out", shrunk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = std::fs::read_to_string(&shrunk).unwrap();
    assert!(!written.contains("swarm:"), "an explicit scenario");
    let doc: serde_yaml::Value = serde_yaml::from_str(&written).unwrap();
    let entries = doc["timeline"].as_sequence().unwrap().len();
    assert!(entries >= 1 && entries < 2 * planned, "{entries} timeline entries from {planned} faults");
    let again = kubesim(&["run", shrunk.to_str().unwrap(), "--out", dir.path().join("again").to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("FAILED: all-web-ready-at-15m"), "{}", text(&again));
}

#[test]
fn shrink_refuses_a_passing_seed_and_a_scenario_without_a_swarm() {
    let o = kubesim(&["shrink", "scenarios/swarm-ci.yaml", "--seed", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("passes with seed 1: nothing to shrink"), "{}", text(&o));
    let o = kubesim(&["shrink", "scenarios/node-failure.yaml", "--seed", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("has no `swarm` section"), "{}", text(&o));
}

/// Issue 10: shrinking into another directory keeps the files the scenario
/// names reachable (written as absolute paths).
#[test]
fn shrink_into_another_directory_keeps_manifest_files_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let full = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/swarm-fragile.yaml")).unwrap();
    let start = full.find("- manifest:\n    apiVersion: apps/v1\n    kind: ReplicaSet").unwrap();
    let end = full.find("runtime:").unwrap();
    let worker: String = full[start..end].lines().map(|l| l.strip_prefix("    ").unwrap_or(l.trim_start_matches("- manifest:"))).collect::<Vec<_>>().join("\n");
    std::fs::write(src.join("worker.yaml"), worker).unwrap();
    std::fs::write(src.join("fragile.yaml"), format!("{}- file: worker.yaml\n{}", &full[..start], &full[end..])).unwrap();
    let shrunk = out.join("shrunk.yaml");
    let o = kubesim(&["shrink", src.join("fragile.yaml").to_str().unwrap(), "--seed", "11", "--out", shrunk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = std::fs::read_to_string(&shrunk).unwrap();
    assert!(written.contains(&format!("file: {}", std::fs::canonicalize(&src).unwrap().join("worker.yaml").display())), "{written}");
}
