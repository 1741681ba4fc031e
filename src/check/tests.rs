//! Every always-on checker fires on a trace that violates it, and no checker
//! reaches into the component code it judges.

use std::sync::Arc;

use super::testing::{ev, ev_rev, node, pod};
use super::{Commit, ContainerStart, Runtimes, Violation, default_checkers};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::Object;
use crate::runtime::PodIdentity;
use crate::time::SimTime;

/// One step of a hand-written trace.
enum Step {
    Commit { secs: u64, actor: &'static str, ev: WatchEvent },
    /// A container starts on n2 while the same pod runs on n1 (`elsewhere`) / `copies` times on n2.
    Start { secs: u64, elsewhere: bool, copies: usize },
}

struct FakeRuntimes(bool, usize);
impl Runtimes for FakeRuntimes {
    fn running_elsewhere(&self, _: &str, _: &str, _: &str) -> Option<(String, String)> {
        self.0.then(|| ("n1".into(), "u1".into()))
    }
    fn running_copies(&self, _: &str, _: &str, _: &str) -> usize {
        self.1
    }
}

fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn c(secs: u64, actor: &'static str, o: Object) -> Step {
    Step::Commit { secs, actor, ev: ev(o) }
}

fn added(secs: u64, actor: &'static str, o: Object) -> Step {
    Step::Commit { secs, actor, ev: WatchEvent { type_: WatchEventType::Added, ..ev(o) } }
}

fn ts(secs: u64) -> String {
    crate::model::meta::Timestamp::from_sim(SimTime::from_secs(secs)).to_string()
}

fn lease(ns: &str, name: &str, holder: &str, transitions: i32) -> Object {
    yaml::<crate::model::Lease>(&format!("metadata: {{name: {name}, namespace: {ns}}}\nspec: {{holderIdentity: {holder}, leaseDurationSeconds: 15, leaseTransitions: {transitions}}}")).into()
}

fn zone_node(name: &str, ready: &str, taint_at: Option<u64>) -> Object {
    let taints = taint_at.map_or("[]".to_string(), |t| format!("[{{key: node.kubernetes.io/unreachable, effect: NoExecute, timeAdded: '{}'}}]", ts(t)));
    yaml::<crate::model::Node>(&format!("metadata: {{name: {name}, labels: {{topology.kubernetes.io/zone: a}}}}\nspec: {{taints: {taints}}}\nstatus: {{conditions: [{{type: Ready, status: '{ready}', lastTransitionTime: '{}'}}]}}", ts(40))).into()
}

fn rs_pod(name: &str) -> Object {
    yaml::<crate::model::Pod>(&format!("metadata: {{name: {name}, namespace: d, uid: {name}, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: rs1, controller: true}}]}}\nspec: {{containers: [{{name: c}}]}}")).into()
}

/// A trace that breaks the named checker's rule.
fn violating_trace(checker: &str) -> Vec<Step> {
    match checker {
        "deployment-bounds" => {
            let d = yaml::<crate::model::Deployment>("metadata: {name: web, namespace: d, uid: d1, generation: 2}\nspec: {replicas: 10, strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}\nstatus: {observedGeneration: 2}");
            let rs = |name: &str, n: i32| -> Object {
                yaml::<crate::model::ReplicaSet>(&format!("metadata: {{name: {name}, namespace: d, uid: {name}, ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}}]}}\nspec: {{replicas: {n}, selector: {{matchLabels: {{a: b}}}}, template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c}}]}}}}}}")).into()
            };
            // 10 at 25 %: at most 13 (surge rounds up to 3); 10 + 4 is above.
            vec![c(0, "x", d.into()), c(0, "x", rs("old", 10)), c(1, "x", rs("new", 4))]
        }
        "eviction-timing" => {
            let l = lease("kube-node-lease", "n1", "n1", 0);
            let mut n = zone_node("n1", "Unknown", Some(30));
            if let Object::Node(node) = &mut n {
                Arc::make_mut(node).metadata.name = "n1".into();
            }
            // Renewed at 0 s, found unreachable at 40 s: before the 50 s grace period.
            vec![c(0, "kubelet/n1", l), c(40, "controller-manager-1", n)]
        }
        "revision-order" => vec![Step::Commit { secs: 1, actor: "x", ev: ev_rev(pod("a", "", "1"), 6) }, Step::Commit { secs: 1, actor: "x", ev: ev_rev(pod("a", "", "1"), 5) }],
        "node-name-immutable" => vec![c(1, "scheduler", pod("b", "n1", "1")), c(2, "scheduler", pod("b", "n2", "1"))],
        "untolerated-taint-bind" => vec![c(0, "x", node("[{key: gpu, effect: NoSchedule, timeAdded: '2025-01-01T00:00:10Z'}]")), c(100, "scheduler", pod("p", "n1", "100m"))],
        "node-capacity" => vec![c(0, "x", node("[]")), c(1, "scheduler", pod("a", "n1", "600m")), c(1, "scheduler", pod("b", "n1", "600m"))],
        "duplicate-container" => vec![Step::Start { secs: 5, elsewhere: false, copies: 2 }],
        "one-running-instance" => vec![Step::Start { secs: 5, elsewhere: true, copies: 1 }],
        "eviction-rate" => {
            let mut t: Vec<Step> = (0..10).map(|i| c(0, "x", zone_node(&format!("n{i}"), "True", None))).collect();
            t.push(c(60, "controller-manager-1", zone_node("n0", "Unknown", Some(60))));
            t.push(c(62, "controller-manager-1", zone_node("n1", "Unknown", Some(62))));
            t
        }
        "leader-lease" => vec![
            c(0, "scheduler-1", lease("kube-system", "kube-scheduler", "scheduler-1", 0)),
            c(5, "scheduler-2", lease("kube-system", "kube-scheduler", "scheduler-2", 1)),
        ],
        "replicaset-overcreate" => {
            let rs = yaml::<crate::model::ReplicaSet>("metadata: {name: web, namespace: d, uid: rs1}\nspec: {replicas: 1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}");
            vec![added(0, "x", rs.into()), added(1, "controller-manager-1", rs_pod("a")), added(2, "controller-manager-1", rs_pod("b"))]
        }
        other => panic!("checker {other} has no violating trace here: add one"),
    }
}

fn replay(checker: &str, trace: Vec<Step>) -> Vec<Violation> {
    let mut all = default_checkers();
    let c = all.iter_mut().find(|c| c.name() == checker).expect("a default checker");
    let mut out = Vec::new();
    let identity = PodIdentity { namespace: "d".into(), name: "web-0".into(), uid: "u2".into(), labels: Default::default() };
    for (i, step) in trace.into_iter().enumerate() {
        match step {
            Step::Commit { secs, actor, ev } => c.on_commit(&Commit { now: SimTime::from_secs(secs), index: i as u64, actor }, &ev, &mut out),
            Step::Start { secs, elsewhere, copies } => {
                let at = ContainerStart { now: SimTime::from_secs(secs), index: i as u64, node: "n2", pod: &identity, container: "app" };
                c.on_container_start(&at, &FakeRuntimes(elsewhere, copies), &mut out);
            }
        }
    }
    out
}

#[test]
fn every_checker_fires_on_a_trace_that_violates_it() {
    let names: Vec<&str> = default_checkers().iter().map(|c| c.name()).collect();
    assert!(names.len() >= 11, "{names:?}");
    for name in names {
        let found = replay(name, violating_trace(name));
        assert!(!found.is_empty(), "{name} stayed silent on its violating trace");
    }
}

/// An oracle that calls the code it judges moves with it when that code is
/// wrong. Checkers may read the API's types and the model's data; the rules
/// they judge by are their own (`check::spec`), never a controller's,
/// the scheduler's, a kubelet's or a driver's code, nor the model helpers
/// those components decide with.
#[test]
fn no_checker_imports_the_component_it_judges() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check");
    let forbidden = [
        "crate::control",
        "crate::sim",
        "crate::driver",
        "crate::live",
        "crate::runtime::fake",
        "kubesim::",
        // Model helpers components decide with (toleration matching, percent scaling, availability).
        "pod::tolerated",
        ".tolerates(",
        "scaled_value(",
        ".is_available(",
        ".is_ready()",
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        if file == "tests.rs" || !file.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for f in forbidden {
            assert!(!text.contains(f), "src/check/{file} uses {f}: an oracle must compute its verdict itself (check::spec)");
        }
        checked += 1;
    }
    assert!(checked >= 12, "read {checked} checker files");
}
