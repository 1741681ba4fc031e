//! The kubelet against the simulated runtime: small scenarios, run whole.

use crate::model::Object;
use crate::run::run_scenario;
use crate::scenario;
use crate::sim::trace::TraceKind;
use crate::sim::world::RunOutcome;

/// Runs a scenario on two 4-CPU nodes (`n-0`, `n-1`) with the given
/// runtime section, objects and timeline.
fn run(runtime: &str, objects: &str, timeline: &str, duration: &str) -> RunOutcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    let text = format!(
        "kind: Scenario\nname: t\nduration: {duration}\ncluster:\n  nodePools:\n  - {{name: n, count: 2, capacity: {{cpu: '4', memory: 8Gi, pods: '110'}}}}\ntiming:\n  podStartLatency: {{constant: 1s}}\n  podStopLatency: {{constant: 2s}}\nruntime:\n{runtime}\nobjects:\n{objects}\ntimeline:\n{timeline}\n"
    );
    std::fs::write(&path, text).unwrap();
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let until = s.duration;
    run_scenario(&s, 1, until, true, &mut |_| {}).unwrap()
}

fn pod_manifest(name: &str, image: &str, extra_spec: &str, container_extra: &str) -> String {
    format!(
        "- manifest:\n    apiVersion: v1\n    kind: Pod\n    metadata: {{name: {name}, namespace: default, labels: {{app: {name}}}}}\n    spec:\n      nodeName: n-0\n{extra_spec}      containers:\n      - name: app\n        image: {image}\n{container_extra}"
    )
}

fn final_pod<'a>(o: &'a RunOutcome, name: &str) -> &'a crate::model::Pod {
    o.final_pods.iter().filter_map(Object::as_pod).find(|p| p.metadata.name == name).unwrap_or_else(|| panic!("pod {name} is gone"))
}

fn starts(o: &RunOutcome) -> Vec<f64> {
    o.trace.records().filter(|r| r.kind == TraceKind::RuntimeDone && r.detail.starts_with("StartContainer ok")).map(|r| r.t.as_secs_f64()).collect()
}

#[test]
fn crash_loop_backoff_doubles_from_ten_seconds_to_five_minutes() {
    let runtime = "  images:\n    crasher: {lifetime: {constant: 1s}, exitCode: 1}";
    let o = run(runtime, &pod_manifest("c", "crasher", "", ""), "  []", "20m");
    let s = starts(&o);
    assert!(s.len() >= 8, "starts: {s:?}");
    // Between an exit (start + 1 s) and the next start: the backoff, then
    // remove + create + start (1 s) and the API round trips.
    let waits: Vec<f64> = s.windows(2).map(|w| w[1] - (w[0] + 1.0) - 1.0).collect();
    for (wait, expected) in waits.iter().zip([0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0]) {
        assert!(*wait >= expected && *wait < expected + 0.5, "waits {waits:?}");
    }
    let p = final_pod(&o, "c");
    let cs = &p.status.container_statuses[0];
    assert!(cs.restart_count >= 7, "{cs:?}");
    assert_eq!(p.status.phase, "Running", "restartPolicy Always keeps the phase Running");
}

#[test]
fn over_the_memory_limit_the_container_is_oom_killed_and_restarted() {
    let runtime = "  images:\n    hog: {memoryUsage: 300Mi}";
    let limits = "        resources: {limits: {memory: 256Mi}}\n";
    let o = run(runtime, &pod_manifest("h", "hog", "", limits), "  []", "1m");
    let cs = &final_pod(&o, "h").status.container_statuses[0];
    assert!(cs.restart_count >= 1);
    let last = cs.last_state.as_ref().expect("lastState");
    assert_eq!(last["terminated"]["reason"], "OOMKilled");
    assert_eq!(last["terminated"]["exitCode"], 137);
}

#[test]
fn restart_policies_decide_the_final_phase() {
    let runtime = "  images:\n    ok: {lifetime: {constant: 5s}, exitCode: 0}\n    bad: {lifetime: {constant: 5s}, exitCode: 2}";
    let objects = [
        pod_manifest("never-ok", "ok", "      restartPolicy: Never\n", ""),
        pod_manifest("never-bad", "bad", "      restartPolicy: Never\n", ""),
        pod_manifest("onfailure-ok", "ok", "      restartPolicy: OnFailure\n", ""),
        pod_manifest("onfailure-bad", "bad", "      restartPolicy: OnFailure\n", ""),
    ]
    .join("\n");
    let o = run(runtime, &objects, "  []", "2m");
    let phase = |n: &str| final_pod(&o, n).status.phase.clone();
    assert_eq!(phase("never-ok"), "Succeeded");
    assert_eq!(phase("never-bad"), "Failed");
    assert_eq!(phase("onfailure-ok"), "Succeeded");
    assert_eq!(phase("onfailure-bad"), "Running", "OnFailure restarts a failed container");
    assert!(final_pod(&o, "onfailure-bad").status.container_statuses[0].restart_count >= 1);
    assert_eq!(final_pod(&o, "never-bad").status.container_statuses[0].state.as_ref().unwrap()["terminated"]["exitCode"], 2);
}

#[test]
fn readiness_waits_for_the_probe_and_liveness_failures_restart() {
    let runtime = "  images:\n    slow: {readyAfter: 25s}\n    dying: {livenessFailsAfter: 30s}";
    let readiness = "        readinessProbe: {exec: {command: [true]}, periodSeconds: 5}\n";
    let liveness = "        livenessProbe: {exec: {command: [true]}, periodSeconds: 10, failureThreshold: 3}\n";
    let objects = [pod_manifest("slow", "slow", "", readiness), pod_manifest("dying", "dying", "", liveness)].join("\n");
    let early = run(runtime, &objects, "  []", "20s");
    assert!(!final_pod(&early, "slow").is_ready(), "not ready before readyAfter");
    assert_eq!(final_pod(&early, "slow").status.phase, "Running");
    let late = run(runtime, &objects, "  []", "90s");
    assert!(final_pod(&late, "slow").is_ready());
    // Fails from 30 s on; three failures 10 s apart kill it at about 50 s.
    let dying = &final_pod(&late, "dying").status.container_statuses[0];
    assert_eq!(dying.restart_count, 1, "{dying:?}");
}

#[test]
fn a_pod_that_does_not_fit_is_rejected_at_admission() {
    let big = "        resources: {requests: {cpu: '5'}}\n";
    let o = run("  {}", &pod_manifest("big", "img", "", big), "  []", "30s");
    let p = final_pod(&o, "big");
    assert_eq!((p.status.phase.as_str(), p.status.reason.as_str()), ("Failed", "OutOfcpu"));
    assert_eq!(o.component_stats["kubelet/n-0"]["pods_rejected"], 1);
}

#[test]
fn graceful_deletion_stops_the_containers_then_confirms() {
    let timeline = "- {at: 30s, delete: {kind: Pod, name: p, gracePeriodSeconds: 30}}";
    let o = run("  {}", &pod_manifest("p", "img", "", ""), timeline, "1m");
    assert!(o.final_pods.iter().all(|p| p.meta().name != "p"), "deleted after the 2 s stop");
    let stop = o.trace.records().find(|r| r.kind == TraceKind::RuntimeDone && r.detail.starts_with("StopContainer")).expect("stopped").t;
    assert!(stop.as_secs_f64() >= 32.0 && stop.as_secs_f64() < 33.0, "{stop}");
}

#[test]
fn a_restarted_kubelet_adopts_its_containers_and_kills_orphans() {
    // The kubelet stops; meanwhile `gone` is force-deleted; on start the
    // kubelet keeps `kept` running (no second container, probed again: Ready)
    // and kills `gone`'s.
    let probe = "        readinessProbe: {exec: {command: [true]}, periodSeconds: 5}\n";
    let objects = [pod_manifest("kept", "img", "", probe), pod_manifest("gone", "img", "", "")].join("\n");
    let timeline = "- {at: 20s, stopKubelet: {node: n-0}}\n- {at: 30s, delete: {kind: Pod, name: gone, gracePeriodSeconds: 0}}\n- {at: 40s, startKubelet: {node: n-0}}";
    let o = run("  {}", &objects, timeline, "2m");
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let kept = final_pod(&o, "kept");
    assert_eq!(kept.status.container_statuses[0].restart_count, 0);
    assert!(kept.is_ready());
    assert_eq!(starts(&o).len(), 2, "no container started again");
    assert_eq!(o.component_stats["kubelet/n-0"]["orphans_killed"], 1);
    let stops: Vec<_> = o.trace.records().filter(|r| r.kind == TraceKind::RuntimeDone && r.detail.starts_with("StopContainer")).map(|r| r.t).collect();
    assert_eq!(stops.len(), 1);
    assert!(stops[0].as_secs_f64() > 40.0);
}
