//! Bugs the sweeps found, each a test named after what it found.

use std::time::Duration;

use kubesim::run::run_scenario;
use kubesim::sim::trace::TraceKind;

/// Found by `replicaset-overcreate` on controller-restart.yaml (seed 1): the
/// restarted ReplicaSet controller synced as soon as its ReplicaSets were
/// listed, before its pods were, saw none of the six that existed and
/// created sixty, then deleted the six extra. Upstream waits for every
/// informer (WaitForCacheSync) before it starts workers.
#[test]
fn controller_restart_waits_for_every_cache_before_syncing() {
    let s = kubesim::scenario::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/controller-restart.yaml"))).expect("loads");
    let o = run_scenario(&s, 1, Duration::from_secs(180), true, &mut |_| {}).expect("runs");
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let count = |detail: &str| o.trace.records().filter(|r| r.kind == TraceKind::Commit && r.object.starts_with("pods/") && &*r.detail == detail).count();
    assert_eq!(count("ADDED"), 60, "sixty pods created, none twice");
    assert_eq!(count("DELETED"), 0, "nothing to clean up after the restart");
}

/// Found by `node-capacity` on swarm-workload.yaml seed 27: scheduler-2 won
/// the election after scheduler-1 crashed and scheduled a pending pod while
/// its warm informers were still being replayed to it, before the pods bound
/// to the node it chose had been counted; the kubelet rejected the pod
/// (OutOfmemory). Upstream schedules only after `WaitForCacheSync`.
#[test]
fn swarm_workload_seed_27_a_new_leader_schedules_only_after_its_cache_is_synced() {
    let s = kubesim::scenario::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/swarm-workload.yaml"))).expect("loads");
    let o = run_scenario(&s, 27, Duration::from_secs(1500), false, &mut |_| {}).expect("runs");
    assert!(o.violations.iter().all(|v| v.check != "node-capacity"), "{:?}", o.violations);
    let rejected = o.final_pods.iter().filter_map(|p| p.as_pod()).filter(|p| p.status.reason == "OutOfmemory").count();
    assert_eq!(rejected, 0, "no pod bound beyond its node's memory");
}

/// Found by the event budget on swarm-workload.yaml seed 1..1000 (seed 692):
/// with all five ReplicaSet workers busy and a rate-limited key coming due,
/// the host asked to be woken at that (past) instant, found no free worker,
/// and asked again — 1.8 million timer events without time advancing. A due
/// key needs a wake-up only when a worker is free; a freed worker pumps anyway.
#[test]
fn swarm_workload_seed_692_a_saturated_controller_does_not_spin() {
    let s = kubesim::scenario::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/swarm-workload.yaml"))).expect("loads");
    let o = run_scenario(&s, 692, Duration::from_secs(600), false, &mut |_| {}).expect("runs");
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    assert!(o.events < 100_000, "{} events in 10 simulated minutes", o.events);
}
