//! The taint-eviction controller (pkg/controller/tainteviction): evicts pods
//! from nodes with NoExecute taints. A pod that does not tolerate every
//! NoExecute taint on its node is deleted at once; one that does is deleted
//! `tolerationSeconds` after the controller first saw it tainted (the minimum
//! over the tolerations used; none with seconds → never; ≤ 0 → at once).
//! Removing the taints cancels a scheduled eviction.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::control::events::EventRecorder;
use crate::api::{ApiError, DeleteOptions, WatchEvent, WatchEventType};
use crate::control::host::{Keys, Reconciler, Step};
use crate::control::{Cache, WriteOp};
use crate::model::node::{Node, TaintEffect};
use crate::model::pod::Pod;
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;

pub const NAME: &str = "taint-eviction-controller";

type Key = (String, String);

/// When to evict a pod from `node`: None = never, Some(ZERO) = now.
pub fn eviction_delay(pod: &Pod, node: &Node) -> Option<Duration> {
    let taints: Vec<_> = node.spec.taints.iter().filter(|t| t.effect == TaintEffect::NoExecute).collect();
    if taints.is_empty() {
        return None;
    }
    let mut used = Vec::new();
    for t in &taints {
        let matching: Vec<_> = pod.spec.tolerations.iter().filter(|tol| tol.tolerates(t)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        used.extend(matching);
    }
    // `getMinTolerationTime`.
    let mut min: Option<i64> = None;
    for tol in used {
        if let Some(s) = tol.toleration_seconds {
            if s <= 0 {
                return Some(Duration::ZERO);
            }
            min = Some(min.map_or(s, |m| m.min(s)));
        }
    }
    min.map(|s| Duration::from_secs(s as u64))
}

struct Scheduled {
    created: SimTime,
    trigger: SimTime,
}

/// Pods handled at once (the controller's `UpdateWorkerSize`).
pub const WORKERS: usize = 8;

pub struct TaintEvictionController {
    scheduled: BTreeMap<Key, Scheduled>,
    pub evictions: u64,
    /// TaintManagerEviction, before each deletion (`emitPodDeletionEvent`).
    recorder: EventRecorder,
}

impl Default for TaintEvictionController {
    fn default() -> Self {
        TaintEvictionController { scheduled: BTreeMap::new(), evictions: 0, recorder: EventRecorder::new(NAME, "") }
    }
}

impl TaintEvictionController {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Reconciler for TaintEvictionController {
    type Key = Key;
    type Stage = ();

    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Node, Kind::Pod]
    }

    fn workers(&self) -> usize {
        WORKERS
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        vec![("evictions", self.evictions)]
    }

    fn restart(&mut self) {
        self.scheduled.clear();
        self.recorder = EventRecorder::new(NAME, "");
    }

    fn recorder(&mut self) -> Option<&mut EventRecorder> {
        Some(&mut self.recorder)
    }

    fn on_synced(&mut self, _now: SimTime, view: &Cache, keys: &mut Keys<Key>) {
        for p in view.pods().iter().filter(|p| p.is_bound()) {
            keys.add((p.metadata.namespace.clone(), p.metadata.name.clone()));
        }
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, view: &Cache, keys: &mut Keys<Key>) {
        match &ev.object {
            Object::Node(n) => {
                for p in view.pods().on_node(&n.metadata.name) {
                    keys.add((p.metadata.namespace.clone(), p.metadata.name.clone()));
                }
            }
            Object::Pod(p) if ev.type_ == WatchEventType::Deleted => {
                self.scheduled.remove(&(p.metadata.namespace.clone(), p.metadata.name.clone()));
            }
            Object::Pod(p) if p.is_bound() => keys.add((p.metadata.namespace.clone(), p.metadata.name.clone())),
            _ => {}
        }
    }

    /// `processPodOnNode`: evict now, schedule the eviction (tolerationSeconds
    /// after the controller first saw the pod tainted), or cancel it.
    fn reconcile(&mut self, now: SimTime, key: &Key, view: &Cache, _keys: &mut Keys<Key>) -> Step<()> {
        let Some(p) = view.pods().get(&key.0, &key.1) else {
            self.scheduled.remove(key);
            return Step::done();
        };
        let node = view.nodes().get("", &p.spec.node_name);
        let delay = if p.is_terminal() || p.metadata.is_deleting() { None } else { node.and_then(|n| eviction_delay(p, n)) };
        let Some(delay) = delay else {
            self.scheduled.remove(key);
            return Step::done();
        };
        let trigger = match self.scheduled.get(key) {
            // Already due no later than this would make it.
            Some(s) if s.created + delay >= s.trigger => s.trigger,
            Some(s) => s.created + delay,
            None => now + delay,
        };
        let created = self.scheduled.get(key).map_or(now, |s| s.created);
        self.scheduled.insert(key.clone(), Scheduled { created, trigger });
        if trigger > now {
            return Step::after(trigger.since(now));
        }
        let about = crate::model::event::ObjectReference { kind: "Pod".into(), api_version: "v1".into(), namespace: key.0.clone(), name: key.1.clone(), ..Default::default() };
        self.recorder.normal(now, about, "TaintManagerEviction", format!("Marking for deletion Pod {}/{}", key.0, key.1));
        let options = DeleteOptions { precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() };
        Step::Call { ops: vec![WriteOp::Delete { target: ObjectRef::new(Kind::Pod, &key.0, &key.1), options }], then: () }
    }

    fn resume(&mut self, _now: SimTime, key: &Key, _: (), results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<()> {
        match &results[0] {
            Ok(_) => {
                self.evictions += 1;
                self.scheduled.remove(key);
                Step::done()
            }
            Err(e) if e.is_not_found() || e.is_conflict() => {
                self.scheduled.remove(key);
                Step::done()
            }
            Err(_) => Step::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(tols: &str) -> Pod {
        serde_yaml::from_str(&format!("spec: {{containers: [{{name: c, image: i}}], tolerations: {tols}}}")).unwrap()
    }

    fn node(taints: &str) -> Node {
        serde_yaml::from_str(&format!("metadata: {{name: n}}\nspec: {{taints: {taints}}}")).unwrap()
    }

    /// Cases in the spirit of upstream's TestComputeTaintDifference / TestUpdateNode.
    #[test]
    fn eviction_delays() {
        let unreachable = node("[{key: node.kubernetes.io/unreachable, effect: NoExecute}]");
        assert_eq!(eviction_delay(&pod("[]"), &unreachable), Some(Duration::ZERO), "not tolerated: at once");
        let default = pod("[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}]");
        assert_eq!(eviction_delay(&default, &unreachable), Some(Duration::from_secs(300)));
        let forever = pod("[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]");
        assert_eq!(eviction_delay(&forever, &unreachable), None, "no tolerationSeconds: never");
        let two = pod("[{operator: Exists, effect: NoExecute, tolerationSeconds: 60}, {key: node.kubernetes.io/unreachable, operator: Exists, tolerationSeconds: 30}]");
        assert_eq!(eviction_delay(&two, &unreachable), Some(Duration::from_secs(30)), "the minimum of the used tolerations");
        assert_eq!(eviction_delay(&pod("[]"), &node("[{key: a, effect: NoSchedule}]")), None, "NoSchedule does not evict");
        let negative = pod("[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: -5}]");
        assert_eq!(eviction_delay(&negative, &unreachable), Some(Duration::ZERO));
    }
}
