//! Safety invariants, checked on every committed change against the store's
//! ground truth (never a component's cache):
//!
//! - `node-capacity`: the bound, unfinished pods on a node never request more
//!   CPU, memory or pods than the node allocates;
//! - `node-name-immutable`: a pod's nodeName is set at most once and never changes;
//! - `untolerated-taint-bind`: no pod is bound onto a NoSchedule / NoExecute
//!   taint it does not tolerate and that was on the node for longer than
//!   `TAINT_SLACK` before the bind (a taint added while a bind was in flight
//!   is a race real clusters have too);
//! - `revision-order`: store revisions strictly increase;
//! - `deployment-bounds` (deployment_bounds.rs) and `not-ready-before-grace` /
//!   `early-eviction` (eviction_timing.rs).
//!
//! (Watch order per component is checked by the driver on delivery.)

use std::collections::BTreeMap;
use std::time::Duration;

use super::Violation;
use crate::api::{WatchEvent, WatchEventType};
use crate::control::scheduler::resources::{CPU, MEMORY, PODS, pod_requests};
use crate::model::meta::Timestamp;
use crate::model::node::{Node, TaintEffect};
use crate::model::pod::{Pod, tolerated};
use crate::model::Object;
use crate::time::SimTime;

pub const TAINT_SLACK: Duration = Duration::from_secs(5);

pub struct Invariants {
    deployment_bounds: super::deployment_bounds::DeploymentBounds,
    eviction_timing: super::eviction_timing::EvictionTiming,
    nodes: BTreeMap<String, Node>,
    /// Pod key → (node, cpu milli, memory) while it counts against its node.
    placed: BTreeMap<String, (String, i64, i64)>,
    /// Per node: (cpu milli, memory, pods) requested.
    used: BTreeMap<String, (i64, i64, i64)>,
    last_revision: i64,
}

fn violation(check: &str, now: SimTime, index: u64, message: String, objects: Vec<String>) -> Violation {
    Violation { check: check.into(), t: now, event_index: index, message, objects }
}

impl Invariants {
    pub fn new() -> Invariants {
        Invariants {
            deployment_bounds: Default::default(),
            eviction_timing: super::eviction_timing::EvictionTiming::new(),
            nodes: BTreeMap::new(),
            placed: BTreeMap::new(),
            used: BTreeMap::new(),
            last_revision: 0,
        }
    }

    /// `actor` is the component whose write committed (or "scenario").
    pub fn observe(&mut self, now: SimTime, index: u64, ev: &WatchEvent, actor: &str, out: &mut Vec<Violation>) {
        self.deployment_bounds.observe(now, index, ev, out);
        self.eviction_timing.observe(now, index, ev, actor, out);
        if ev.revision < self.last_revision {
            out.push(violation("revision-order", now, index, format!("revision {} committed after {}", ev.revision, self.last_revision), vec![]));
        }
        self.last_revision = self.last_revision.max(ev.revision);
        match &ev.object {
            Object::Node(n) => {
                if ev.type_ == WatchEventType::Deleted {
                    self.nodes.remove(&n.metadata.name);
                } else {
                    self.nodes.insert(n.metadata.name.clone(), (**n).clone());
                    self.check_node(now, index, &n.metadata.name, out);
                }
            }
            Object::Pod(p) => self.observe_pod(now, index, ev, p, out),
            _ => {}
        }
    }

    fn observe_pod(&mut self, now: SimTime, index: u64, ev: &WatchEvent, p: &Pod, out: &mut Vec<Violation>) {
        let key = format!("{}/{}", p.metadata.namespace, p.metadata.name);
        let uid_key = format!("{key}#{}", p.metadata.uid);
        let before = self.placed.get(&uid_key).map(|(n, _, _)| n.clone());
        if let Some(old) = &before
            && p.is_bound()
            && *old != p.spec.node_name
        {
            out.push(violation("node-name-immutable", now, index, format!("pod {key} moved from {old} to {}", p.spec.node_name), vec![format!("pods/{key}")]));
        }
        // Release what it held.
        if let Some((node, cpu, mem)) = self.placed.remove(&uid_key)
            && let Some(u) = self.used.get_mut(&node)
        {
            u.0 -= cpu;
            u.1 -= mem;
            u.2 -= 1;
        }
        if ev.type_ == WatchEventType::Deleted || !p.is_bound() || p.is_terminal() {
            return;
        }
        if before.is_none() {
            self.check_bind(now, index, &key, p, out);
        }
        let r = pod_requests(p, false);
        let node = p.spec.node_name.clone();
        let u = self.used.entry(node.clone()).or_default();
        u.0 += r.milli_cpu;
        u.1 += r.memory;
        u.2 += 1;
        self.placed.insert(uid_key, (node.clone(), r.milli_cpu, r.memory));
        if before.is_none() {
            self.check_node(now, index, &node, out);
        }
    }

    fn check_bind(&self, now: SimTime, index: u64, key: &str, p: &Pod, out: &mut Vec<Violation>) {
        let Some(node) = self.nodes.get(&p.spec.node_name) else { return };
        let cutoff = Timestamp::from_sim(now - TAINT_SLACK);
        for t in &node.spec.taints {
            let hard = matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute);
            let old_enough = t.time_added.is_none_or(|a| a <= cutoff);
            if hard && old_enough && !tolerated(&p.spec.tolerations, t) {
                out.push(violation(
                    "untolerated-taint-bind",
                    now,
                    index,
                    format!("pod {key} bound to {} despite its taint {}:{:?}", p.spec.node_name, t.key, t.effect),
                    vec![format!("pods/{key}"), format!("nodes/{}", p.spec.node_name)],
                ));
            }
        }
    }

    fn check_node(&self, now: SimTime, index: u64, name: &str, out: &mut Vec<Violation>) {
        let (Some(node), Some((cpu, mem, pods))) = (self.nodes.get(name), self.used.get(name)) else { return };
        let alloc = |k: &str| node.status.allocatable.get(k).map(|q| if k == CPU { q.milli_value() } else { q.value() });
        for (res, used) in [(CPU, *cpu), (MEMORY, *mem), (PODS, *pods)] {
            if let Some(a) = alloc(res)
                && used > a
            {
                out.push(violation("node-capacity", now, index, format!("node {name} has {used} {res} requested, allocatable {a}"), vec![format!("nodes/{name}")]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(t: WatchEventType, o: Object, rev: i64) -> WatchEvent {
        WatchEvent { type_: t, object: o, key: Arc::from("k"), revision: rev }
    }

    fn node(taints: &str) -> Object {
        serde_yaml::from_str::<Node>(&format!("metadata: {{name: n1}}\nspec: {{taints: {taints}}}\nstatus: {{allocatable: {{cpu: '1', memory: 1Gi, pods: '2'}}}}")).unwrap().into()
    }

    fn pod(name: &str, node: &str, cpu: &str) -> Object {
        serde_yaml::from_str::<Pod>(&format!("metadata: {{name: {name}, namespace: d, uid: {name}}}\nspec: {{nodeName: '{node}', containers: [{{name: c, image: i, resources: {{requests: {{cpu: '{cpu}'}}}}}}]}}")).unwrap().into()
    }

    fn checks(out: &[Violation]) -> Vec<&str> {
        out.iter().map(|v| v.check.as_str()).collect()
    }

    #[test]
    fn each_invariant_fires() {
        let mut inv = Invariants::new();
        let mut out = Vec::new();
        let t = SimTime::from_secs(100);
        inv.observe(t, 0, &ev(WatchEventType::Added, node("[]"), 2), "scenario", &mut out);
        inv.observe(t, 1, &ev(WatchEventType::Added, pod("a", "n1", "600m"), 3), "scenario", &mut out);
        assert!(out.is_empty());
        inv.observe(t, 2, &ev(WatchEventType::Added, pod("b", "n1", "600m"), 4), "scenario", &mut out);
        assert_eq!(checks(&out), vec!["node-capacity"], "1.2 CPU on a 1 CPU node");
        out.clear();
        inv.observe(t, 3, &ev(WatchEventType::Modified, pod("b", "n2", "600m"), 5), "scenario", &mut out);
        assert_eq!(checks(&out), vec!["node-name-immutable"]);
        out.clear();
        inv.observe(t, 4, &ev(WatchEventType::Modified, pod("a", "n1", "600m"), 3), "scenario", &mut out);
        assert_eq!(checks(&out), vec!["revision-order"]);
        let mut inv = Invariants::new();
        out.clear();
        inv.observe(t, 0, &ev(WatchEventType::Added, node("[{key: gpu, effect: NoSchedule, timeAdded: '2025-01-01T00:00:10Z'}]"), 2), "scenario", &mut out);
        inv.observe(t, 1, &ev(WatchEventType::Added, pod("c", "", "100m"), 3), "scenario", &mut out);
        inv.observe(t, 2, &ev(WatchEventType::Modified, pod("c", "n1", "100m"), 4), "scenario", &mut out);
        assert_eq!(checks(&out), vec!["untolerated-taint-bind"], "taint added at 10 s, bind at 100 s");
        // A taint added just now (a bind already in flight) is a race, not a bug.
        let mut inv = Invariants::new();
        out.clear();
        inv.observe(t, 0, &ev(WatchEventType::Added, node("[{key: gpu, effect: NoSchedule, timeAdded: '2025-01-01T00:01:39Z'}]"), 2), "scenario", &mut out);
        inv.observe(t, 1, &ev(WatchEventType::Added, pod("c", "n1", "100m"), 3), "scenario", &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
