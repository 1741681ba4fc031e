//! Issue 10: scaling a Deployment — up, down, by patch, and during a
//! rollout — holds the deployment-bounds invariant and converges on every
//! seed. Before the controllers made their calls one after another (as
//! upstream's do), 8 of 20 seeds of the first scale-up failed.

use std::process::Command;

#[test]
fn deployment_scaling_holds_its_bounds_on_200_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["sweep", "scenarios/deployment-scale.yaml", "--seeds", "1..200", "--jobs", "2", "--out", dir.path().to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("200 of 200 seeds passed"), "{out}");
    // Each seed really ran the whole timeline: every row is ok and counted its events.
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 200, "{csv}");
    for r in &rows {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!(f[1], "true", "{r}");
        assert!(f[3].parse::<u64>().unwrap() > 2000, "a seed that ran the whole timeline has thousands of events: {r}");
    }
}

/// Issue 10: `progressDeadlineSeconds` — Progressing=False with reason
/// ProgressDeadlineExceeded once lastUpdateTime + deadline is before now
/// (DeploymentTimedOut), found by the resync requeueStuckDeployment asks for
/// (deadline + 1 s), never before the deadline.
#[test]
fn progress_deadline_exceeded_one_resync_after_the_deadline() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scenario = kubesim::scenario::load(std::path::Path::new("tests/data/progress-deadline.yaml")).unwrap();
    for seed in 1..=3 {
        let o = kubesim::run::run_scenario(&scenario, seed, scenario.duration, false, &mut |_| {}).unwrap();
        assert!(o.ok(), "seed {seed}: {:?} {:?}", o.violations, o.checks);
    }
    let o = kubesim::run::run_scenario(&scenario, 1, scenario.duration, true, &mut |_| {}).unwrap();
    let status_writes: Vec<f64> = o
        .trace
        .records()
        .filter(|r| r.kind == kubesim::sim::trace::TraceKind::Request && &*r.object == "deployments/default/stuck" && &*r.detail == "update-status")
        .map(|r| r.t.as_secs_f64())
        .collect();
    let timed_out = *status_writes.last().unwrap();
    assert!((61.0..61.5).contains(&timed_out), "the time-out is written at deadline + 1 s: {status_writes:?}");
}
