//! Network and cache faults, end to end.

use std::process::{Command, Output};

use kubesim::model::Object;
use kubesim::sim::trace::TraceKind;

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The kubernetes#59848 hazard: with a stale kubelet, a force deletion lets
/// the same pod run on two nodes; the invariant fires and the run replays.
#[test]
fn force_deletion_under_a_stale_cache_runs_a_pod_twice_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = kubesim(&["run", "tests/data/stale-cache-force-delete.yaml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED: one-running-instance"), "{}", text(&o));
    assert!(text(&o).contains("pod default/db-0 runs on worker-1"), "{}", text(&o));
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains("the same violation"), "{}", text(&r));
}

fn run(timeline: &str, duration: &str) -> kubesim::sim::world::RunOutcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    let text = format!(
        "kind: Scenario\nname: t\nduration: {duration}\ncluster:\n  nodePools:\n  - {{name: w, count: 2, capacity: {{cpu: '4', memory: 8Gi, pods: '110'}}}}\nobjects:\n- manifest: {{apiVersion: v1, kind: Pod, metadata: {{name: p, namespace: default}}, spec: {{nodeName: w-0, containers: [{{name: c, image: img}}]}}}}\ntimeline:\n{timeline}\n"
    );
    std::fs::write(&path, text).unwrap();
    let s = kubesim::scenario::load(&path).unwrap();
    kubesim::run::run_scenario(&s, 1, s.duration, true, &mut |_| {}).unwrap()
}

fn node_ready(o: &kubesim::sim::world::RunOutcome, name: &str) -> bool {
    o.final_nodes.iter().filter_map(Object::as_node).find(|n| n.metadata.name == name).unwrap().is_ready()
}

#[test]
fn total_link_loss_is_a_partition_and_ends_by_itself() {
    let during = run("- {at: 10s, linkLoss: {nodes: [w-0], probability: 1.0, for: 2m}}", "100s");
    assert!(!node_ready(&during, "w-0"), "no renewal gets through: NotReady after the grace period");
    assert!(node_ready(&during, "w-1"));
    let after = run("- {at: 10s, linkLoss: {nodes: [w-0], probability: 1.0, for: 2m}}", "3m");
    assert!(node_ready(&after, "w-0"), "renewals resume after the loss ends");
}

#[test]
fn link_delay_slows_a_kubelet_s_writes() {
    let commit_of_first_lease = |o: &kubesim::sim::world::RunOutcome| {
        o.trace.records().find(|r| r.kind == TraceKind::Commit && &*r.object == "leases/kube-node-lease/w-0" && r.t.as_secs_f64() > 20.0).unwrap().t.as_secs_f64()
    };
    let plain = run("- {at: 15s, linkDelay: {nodes: [w-1], latency: {constant: 2s}, for: 1m}}", "40s");
    let slow = run("- {at: 15s, linkDelay: {nodes: [w-0], latency: {constant: 2s}, for: 1m}}", "40s");
    let (a, b) = (commit_of_first_lease(&plain), commit_of_first_lease(&slow));
    assert!(b - a > 1.9 && b - a < 2.2, "renewal committed {a} vs {b}");
}

#[test]
fn a_healed_partition_resumes_the_watch_without_a_relist() {
    let o = run("- {at: 10s, partition: {nodes: [w-0]}}\n- {at: 40s, healPartitions: {}}", "1m");
    let relists: Vec<_> = o.trace.records().filter(|r| r.kind == TraceKind::Relist && &*r.component == "kubelet/w-0" && r.t.as_secs_f64() > 39.0).map(|r| r.detail.to_string()).collect();
    assert!(relists.iter().any(|d| d.contains("resumed")), "{relists:?}");
    assert!(node_ready(&o, "w-0"));
}
