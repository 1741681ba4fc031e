//! Zone outage: NoExecute taints at the normal rate (0.1 nodes/s) while one
//! zone is fully disrupted; none at all when every zone is down.

use std::path::Path;

use kubesim::model::node::TaintEffect;
use kubesim::model::Object;
use kubesim::scenario::{Action, TimedAction};
use kubesim::time::SimTime;

fn noexecute_times(o: &kubesim::sim::world::RunOutcome) -> Vec<f64> {
    let mut v: Vec<f64> = o
        .final_nodes
        .iter()
        .filter_map(Object::as_node)
        .flat_map(|n| n.spec.taints.iter().filter(|t| t.effect == TaintEffect::NoExecute).filter_map(|t| t.time_added).map(|t| t.0 as f64 / 1e9))
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn one_zone_down_is_tainted_one_node_per_ten_seconds() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scenario = kubesim::scenario::load(Path::new("scenarios/zone-outage.yaml")).unwrap();
    let o = kubesim::run::run_scenario(&scenario, 1, scenario.duration, false, &mut |_| {}).unwrap();
    assert!(o.ok(), "{:?} {:?}", o.violations, o.checks);
    let times = noexecute_times(&o);
    assert_eq!(times.len(), 3, "{times:?}");
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 10.0 - 1e-6, "0.1 nodes/s: {times:?}");
    }
}

#[test]
fn every_zone_down_stops_eviction() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut scenario = kubesim::scenario::load(Path::new("scenarios/zone-outage.yaml")).unwrap();
    scenario.checks.clear();
    for n in ["zone-b-0", "zone-b-1", "zone-b-2", "zone-c-0", "zone-c-1", "zone-c-2"] {
        scenario.timeline.push(TimedAction { at: SimTime::from_secs(60), action: kubesim::scenario::actions::CrashNode { node: n.into() }.into() });
    }
    let o = kubesim::run::run_scenario(&scenario, 1, scenario.duration, false, &mut |_| {}).unwrap();
    let not_ready = o.final_nodes.iter().filter_map(Object::as_node).filter(|n| !n.is_ready()).count();
    assert_eq!(not_ready, 9, "every node is down");
    assert!(noexecute_times(&o).is_empty(), "no NoExecute taints when every zone is fully disrupted");
    let deleting = o.final_pods.iter().filter(|p| p.meta().is_deleting()).count();
    assert_eq!(deleting, 0, "no evictions");
}
