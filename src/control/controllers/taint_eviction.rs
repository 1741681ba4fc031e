//! The taint-eviction controller (pkg/controller/tainteviction): evicts pods
//! from nodes with NoExecute taints. A pod that does not tolerate every
//! NoExecute taint on its node is deleted at once; one that does is deleted
//! `tolerationSeconds` after the controller first saw it tainted (the minimum
//! over the tolerations used; none with seconds → never; ≤ 0 → at once).
//! Removing the taints cancels a scheduled eviction.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{DeleteOptions, WatchEventType};
use crate::control::{Cache, Component, Input, Outbox, WriteOp};
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

#[derive(Default)]
pub struct TaintEvictionController {
    scheduled: BTreeMap<Key, Scheduled>,
    timers: BTreeMap<(SimTime, u64), Key>,
    seq: u64,
    pub evictions: u64,
}

impl TaintEvictionController {
    pub fn new() -> Self {
        Self::default()
    }

    fn process(&mut self, p: &Pod, view: &Cache, now: SimTime, out: &mut Outbox) {
        let key = (p.metadata.namespace.clone(), p.metadata.name.clone());
        let node = view.get(Kind::Node, "", &p.spec.node_name).and_then(Object::as_node);
        let delay = if p.is_terminal() || p.metadata.is_deleting() { None } else { node.and_then(|n| eviction_delay(p, n)) };
        let Some(delay) = delay else {
            self.scheduled.remove(&key);
            return;
        };
        let mut created = now;
        if let Some(s) = self.scheduled.get(&key) {
            created = s.created;
            if created + delay >= s.trigger {
                return; // already due no later
            }
        }
        let trigger = created + delay;
        self.scheduled.insert(key.clone(), Scheduled { created, trigger });
        self.seq += 1;
        self.timers.insert((trigger, self.seq), key);
        out.wake_at(trigger.max(now), self.seq);
    }

    fn fire(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((trigger, _), key) = entry.remove_entry();
            let Some(s) = self.scheduled.get(&key) else { continue };
            if s.trigger != trigger {
                continue; // rescheduled
            }
            self.scheduled.remove(&key);
            let Some(p) = view.get(Kind::Pod, &key.0, &key.1).and_then(Object::as_pod) else { continue };
            self.evictions += 1;
            let options = DeleteOptions { precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() };
            out.write(WriteOp::Delete { target: ObjectRef::new(Kind::Pod, &key.0, &key.1), options });
        }
    }

    fn pods_on<'a>(view: &'a Cache, node: &'a str) -> impl Iterator<Item = &'a Pod> {
        view.pods().on_node(node).map(|p| &**p)
    }
}

impl Component for TaintEvictionController {
    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Node, Kind::Pod]
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        vec![("evictions", self.evictions)]
    }

    fn restart(&mut self) {
        self.scheduled.clear();
        self.timers.clear();
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        match input {
            Input::RuntimeResult { .. } | Input::RuntimeEvent(_) => {}
            Input::Synced => {
                let pods: Vec<Pod> = view.list(Kind::Pod).filter_map(Object::as_pod).filter(|p| p.is_bound()).cloned().collect();
                for p in &pods {
                    self.process(p, view, now, out);
                }
            }
            Input::Watch(ev) => match &ev.object {
                Object::Node(n) => {
                    let pods: Vec<Pod> = Self::pods_on(view, &n.metadata.name).cloned().collect();
                    for p in &pods {
                        self.process(p, view, now, out);
                    }
                }
                Object::Pod(p) if ev.type_ == WatchEventType::Deleted => {
                    self.scheduled.remove(&(p.metadata.namespace.clone(), p.metadata.name.clone()));
                }
                Object::Pod(p) if p.is_bound() => self.process(p, view, now, out),
                _ => {}
            },
            Input::Timer { .. } => {}
            Input::WriteResult { .. } => {}
        }
        self.fire(now, view, out);
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
