//! The node-failure scenario, to the second: NotReady once the 50 s grace
//! period has passed since the last Lease renewal (checked every 5 s), and
//! evictions 300 s (the default not-ready/unreachable tolerationSeconds) after
//! the NoExecute taint.

use std::path::Path;

use kubesim::model::meta::Timestamp;
use kubesim::model::node::TaintEffect;
use kubesim::model::Object;

fn secs(t: Timestamp) -> f64 {
    t.0 as f64 / 1e9
}

#[test]
fn not_ready_at_grace_period_and_eviction_at_taint_plus_300s() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scenario = kubesim::scenario::load(Path::new("scenarios/node-failure.yaml")).unwrap();
    for seed in 1..=3 {
        let o = kubesim::run::run_scenario(&scenario, seed, scenario.duration, true, &mut |_| {}).unwrap();
        assert!(o.ok(), "seed {seed}: {:?} {:?}", o.violations, o.checks);
        let last_renewal = o
            .trace
            .records()
            
            .filter(|r| r.kind == kubesim::sim::trace::TraceKind::Commit && &*r.object == "leases/kube-node-lease/worker-1" && r.t.as_secs_f64() < 60.0)
            .map(|r| r.t.as_secs_f64())
            .fold(0.0, f64::max);
        let node = o.final_nodes.iter().filter_map(Object::as_node).find(|n| n.metadata.name == "worker-1").unwrap();
        let ready = node.status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        let not_ready_at = secs(ready.last_transition_time.unwrap());
        let silent = not_ready_at - last_renewal;
        assert!((50.0..55.5).contains(&silent), "seed {seed}: NotReady {silent:.3}s after the last renewal (grace 50 s + monitor period 5 s)");
        let taint = node.spec.taints.iter().find(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == TaintEffect::NoExecute).unwrap();
        let tainted_at = secs(taint.time_added.unwrap());
        assert!((tainted_at - not_ready_at).abs() < 1.0, "seed {seed}: the first NoExecute taint is not rate-limited");
        let evicted: Vec<f64> = o
            .final_pods
            .iter()
            .filter_map(Object::as_pod)
            .filter(|p| p.spec.node_name == "worker-1")
            .map(|p| secs(p.metadata.deletion_timestamp.unwrap()) - p.metadata.deletion_grace_period_seconds.unwrap() as f64)
            .collect();
        assert!(!evicted.is_empty(), "seed {seed}: pods ran on worker-1");
        let still_ready = o.final_pods.iter().filter_map(Object::as_pod).filter(|p| p.spec.node_name == "worker-1" && p.is_ready()).count();
        assert_eq!(still_ready, 0, "seed {seed}: MarkPodsNotReady: the unreachable node's pods are not Ready");
        for e in evicted {
            let after = e - tainted_at;
            assert!((300.0..301.0).contains(&after), "seed {seed}: evicted {after:.3}s after the taint");
        }
    }
}
