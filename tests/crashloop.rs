//! The crashloop scenario, to the second: `crasher` exits 1 s after each
//! start; the kubelet waits 0, 10, 20, 40, 80, 160, 300, 300 s after each
//! exit before starting it again (plus the remove/create/start calls: the
//! scenario's 1 s start latency and a few milliseconds).

use std::path::Path;

use kubesim::model::Object;
use kubesim::sim::trace::TraceKind;

#[test]
fn crash_loop_backoff_schedule_to_the_second() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scenario = kubesim::scenario::load(Path::new("scenarios/crashloop.yaml")).unwrap();
    for seed in 1..=3 {
        let o = kubesim::run::run_scenario(&scenario, seed, scenario.duration, true, &mut |_| {}).unwrap();
        assert!(o.ok(), "seed {seed}: {:?} {:?}", o.violations, o.checks);
        let starts: Vec<f64> = o
            .trace
            .records()
            
            .filter(|r| r.kind == TraceKind::RuntimeDone && &*r.object == "pods/default/crasher" && r.detail.starts_with("StartContainer ok"))
            .map(|r| r.t.as_secs_f64())
            .collect();
        let exits: Vec<f64> = o.trace.records().filter(|r| r.kind == TraceKind::ContainerExit && &*r.object == "pods/default/crasher").map(|r| r.t.as_secs_f64()).collect();
        assert!(starts.len() >= 9, "seed {seed}: {starts:?}");
        for (i, expected) in [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0].iter().enumerate() {
            assert!((exits[i] - starts[i] - 1.0).abs() < 1e-6, "runs 1 s");
            let wait = starts[i + 1] - exits[i] - 1.0;
            assert!(wait >= *expected && wait < expected + 0.1, "seed {seed}: restart {} waited {wait:.3}s, expected {expected}s", i + 1);
        }
        let hog = o.final_pods.iter().filter_map(Object::as_pod).find(|p| p.metadata.name == "hog").unwrap();
        let last = hog.status.container_statuses[0].last_state.as_ref().unwrap();
        assert_eq!((last["terminated"]["reason"].as_str(), last["terminated"]["exitCode"].as_i64()), (Some("OOMKilled"), Some(137)));
        let crasher = o.final_pods.iter().filter_map(Object::as_pod).find(|p| p.metadata.name == "crasher").unwrap();
        assert!(crasher.status.container_statuses[0].restart_count >= 8);
    }
}
