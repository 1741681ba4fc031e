//! An insta snapshot of a small scenario's summary (wall time left out), so
//! any change in behaviour shows up as a reviewed diff.

use std::path::Path;

#[test]
fn small_scenario_summary_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let scenario = kubesim::scenario::load(Path::new("scenarios/replicaset-scale.yaml")).unwrap();
    let outcome = kubesim::run::run_scenario(&scenario, 7, scenario.duration, false, &mut |_| {}).unwrap();
    let mut summary = serde_json::to_value(kubesim::run::summarize(&scenario, 7, scenario.duration, &outcome, 0.0)).unwrap();
    summary.as_object_mut().unwrap().remove("wall_seconds");
    insta::assert_snapshot!(serde_json::to_string_pretty(&summary).unwrap());
}
