//! The scheduler as a sans-IO component.
//!
//! Queues as kube-scheduler keeps them: an active queue in PrioritySort
//! order (priority, then queue time), a backoff queue (1 s doubling to 10 s
//! per pod by default), and unschedulable pods that return on cluster events
//! that could make them fit (a node added or changed, a bound pod gone) or
//! after 5 minutes. Gated pods wait outside. The snapshot is kept
//! incrementally from watch events; a pod sent to bind is *assumed* on its
//! node so the next cycle sees its resources before the bind is observed;
//! a failed bind un-assumes it. Preemption evicts victims through the API and
//! nominates the node.
//!
//! Not modelled: nominated pods reserving room for others, custom QueueSort
//! plugins (PrioritySort's order is built in), Reserve/Permit/PreBind.

use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::cycle::{CycleOptions, schedule};
use super::framework::{NodeInfo, PodInfo, Snapshot};
use super::profile::SchedulerConfig;
use crate::api::{DeleteOptions, WatchEventType};
use crate::control::events::{EventRecorder, reference_to};
use crate::control::{Cache, Component, Input, Outbox, RequestId, WriteOp};
use crate::model::pod::Pod;
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;

pub const NAME: &str = "scheduler";
/// The reporting component of the scheduler's Events (the default profile's name).
pub const EVENT_SOURCE: &str = "default-scheduler";
/// `podMaxInUnschedulablePodsDuration` and the flush period.
pub const UNSCHEDULABLE_MAX: Duration = Duration::from_secs(300);
pub const FLUSH_PERIOD: Duration = Duration::from_secs(30);

type Key = (String, String);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    pub attempts: u64,
    pub scheduled: u64,
    pub unschedulable_attempts: u64,
    pub preemptions: u64,
    pub victims: u64,
    pub bind_failures: u64,
}

struct Waiting {
    since: SimTime,
    attempts: u32,
    /// The pod as it failed, to tell its own changes from status writes.
    pod: Arc<Pod>,
}

/// `isPodUpdated`: a change beyond resourceVersion, generation, status and
/// finalizers (the scheduler's own condition write is not one).
fn pod_updated(old: &Pod, new: &Pod) -> bool {
    let strip = |p: &Pod| {
        let mut m = p.metadata.clone();
        m.resource_version.clear();
        m.generation = 0;
        m.finalizers.clear();
        m
    };
    old.spec != new.spec || strip(old) != strip(new)
}

pub struct Scheduler {
    config: Arc<SchedulerConfig>,
    rng: ChaCha8Rng,
    start_index: usize,
    /// (−priority, queued at, seq) → pod: PrioritySort order.
    active: BTreeMap<(i64, SimTime, u64), Key>,
    backoff: BTreeMap<(SimTime, u64), Key>,
    unschedulable: BTreeMap<Key, Waiting>,
    gated: BTreeSet<Key>,
    /// Where each pod is in the queues (to dedupe), with its attempts.
    queued: BTreeMap<Key, u32>,
    seq: u64,
    snapshot: Snapshot,
    node_index: BTreeMap<String, usize>,
    /// Pods counted on a node: bound, or assumed while their bind is in flight.
    placed: BTreeMap<Key, String>,
    assumed: BTreeSet<Key>,
    binds: BTreeMap<RequestId, Key>,
    next_wake: Option<SimTime>,
    last_flush: SimTime,
    /// Every informer has listed since the (re)start. Upstream runs the
    /// scheduling loop only after `WaitForCacheSync`: a pod scheduled while the
    /// pods bound to its node have not all been seen overcommits that node.
    synced: bool,
    /// Scheduled / FailedScheduling.
    recorder: EventRecorder,
    /// The failure handler's pod status update in flight: upstream's
    /// `handleSchedulingFailure` makes it from the scheduling goroutine, so
    /// the next pod is not scheduled until it answered.
    status_update: Option<RequestId>,
    pub stats: SchedulerStats,
}

/// The events API's note limit (`truncateMessage`).
const NOTE_LENGTH_LIMIT: usize = 1024;

fn truncate_message(m: &str) -> String {
    if m.len() <= NOTE_LENGTH_LIMIT {
        return m.to_string();
    }
    let suffix = " ...";
    let mut end = NOTE_LENGTH_LIMIT - suffix.len();
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &m[..end])
}

/// `nodeSchedulingPropertiesChange`: a node update is a scheduling event
/// only if it changes `spec.unschedulable`, allocatable, labels, taints,
/// annotations or a condition's status (heartbeat times do not count).
pub fn node_scheduling_properties_changed(old: &crate::model::Node, new: &crate::model::Node) -> bool {
    let statuses = |n: &crate::model::Node| n.status.conditions.iter().map(|c| (c.type_.clone(), c.status.clone())).collect::<std::collections::BTreeMap<_, _>>();
    old.spec.unschedulable != new.spec.unschedulable
        || old.status.allocatable != new.status.allocatable
        || old.metadata.labels != new.metadata.labels
        || old.spec.taints != new.spec.taints
        || old.metadata.annotations != new.metadata.annotations
        || statuses(old) != statuses(new)
}

fn key_of(p: &Pod) -> Key {
    (p.metadata.namespace.clone(), p.metadata.name.clone())
}

impl Scheduler {
    pub fn new(config: Arc<SchedulerConfig>, rng: ChaCha8Rng) -> Scheduler {
        Scheduler {
            config,
            rng,
            start_index: 0,
            active: BTreeMap::new(),
            backoff: BTreeMap::new(),
            unschedulable: BTreeMap::new(),
            gated: BTreeSet::new(),
            queued: BTreeMap::new(),
            seq: 0,
            snapshot: Snapshot::default(),
            node_index: BTreeMap::new(),
            placed: BTreeMap::new(),
            assumed: BTreeSet::new(),
            binds: BTreeMap::new(),
            next_wake: None,
            last_flush: SimTime::ZERO,
            synced: false,
            recorder: EventRecorder::new(EVENT_SOURCE, ""),
            status_update: None,
            stats: SchedulerStats::default(),
        }
    }

    fn backoff_for(&self, attempts: u32) -> Duration {
        let initial = Duration::from_secs(self.config.pod_initial_backoff_s as u64);
        let max = Duration::from_secs(self.config.pod_max_backoff_s as u64);
        initial.saturating_mul(1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX)).min(max)
    }

    fn push_active(&mut self, key: Key, now: SimTime, view: &Cache) {
        let Some(p) = view.get(Kind::Pod, &key.0, &key.1).and_then(Object::as_pod) else { return };
        self.seq += 1;
        self.active.insert((-i64::from(p.spec.priority.unwrap_or(0)), now, self.seq), key);
    }

    fn forget_queued(&mut self, key: &Key) {
        if self.queued.remove(key).is_some() {
            self.active.retain(|_, k| k != key);
            self.backoff.retain(|_, k| k != key);
            self.unschedulable.remove(key);
        }
        self.gated.remove(key);
    }

    /// Adds a pending pod to the queues unless it is already there or gated.
    fn enqueue(&mut self, p: &Pod, now: SimTime, view: &Cache) {
        let key = key_of(p);
        if self.queued.contains_key(&key) || self.assumed.contains(&key) {
            return;
        }
        let Some(profile) = self.config.profile(&p.spec.scheduler_name) else { return };
        let gated = profile.pre_enqueue.iter().filter_map(|g| g.as_pre_enqueue()).any(|g| !g.pre_enqueue(p).is_success());
        if gated {
            self.gated.insert(key);
            return;
        }
        self.gated.remove(&key);
        self.queued.insert(key.clone(), 0);
        self.push_active(key, now, view);
    }

    /// A cluster event that may make unschedulable pods fit: move them back,
    /// to backoff if their backoff has not expired.
    fn move_all_unschedulable(&mut self, now: SimTime, view: &Cache) {
        let waiting: Vec<(Key, Waiting)> = std::mem::take(&mut self.unschedulable).into_iter().collect();
        for (key, w) in waiting {
            let due = w.since + self.backoff_for(w.attempts);
            if due > now {
                self.seq += 1;
                self.backoff.insert((due, self.seq), key);
            } else {
                self.push_active(key, now, view);
            }
        }
    }

    fn place(&mut self, p: &Arc<Pod>, node: &str) {
        let key = key_of(p);
        if let Some(old) = self.placed.get(&key) {
            if old == node {
                // Refresh the stored pod (labels etc.) without double counting.
                if let Some(&i) = self.node_index.get(node) {
                    self.snapshot.nodes[i].remove_pod(&key.0, &key.1);
                    self.snapshot.nodes[i].add_pod(PodInfo::new(p.clone()));
                }
                return;
            }
            self.unplace(&key);
        }
        if let Some(&i) = self.node_index.get(node) {
            self.snapshot.nodes[i].add_pod(PodInfo::new(p.clone()));
        }
        self.placed.insert(key, node.to_string());
    }

    fn unplace(&mut self, key: &Key) -> bool {
        let Some(node) = self.placed.remove(key) else { return false };
        if let Some(&i) = self.node_index.get(&node) {
            self.snapshot.nodes[i].remove_pod(&key.0, &key.1);
        }
        true
    }

    fn upsert_node(&mut self, n: &Arc<crate::model::Node>) {
        match self.node_index.get(&n.metadata.name) {
            Some(&i) => {
                let mut info = NodeInfo::new(n.clone());
                for p in std::mem::take(&mut self.snapshot.nodes[i].pods) {
                    info.add_pod(p);
                }
                self.snapshot.nodes[i] = info;
            }
            None => {
                self.node_index.insert(n.metadata.name.clone(), self.snapshot.nodes.len());
                self.snapshot.nodes.push(NodeInfo::new(n.clone()));
            }
        }
    }

    fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.node_index.remove(name) {
            self.snapshot.nodes.remove(i);
            self.placed.retain(|_, n| n != name);
            self.node_index = self.snapshot.nodes.iter().enumerate().map(|(i, n)| (n.name().to_string(), i)).collect();
        }
    }

    fn on_pod(&mut self, ev_type: WatchEventType, p: &Arc<Pod>, now: SimTime, view: &Cache) {
        let key = key_of(p);
        let gone = ev_type == WatchEventType::Deleted || p.is_terminal();
        if gone {
            self.forget_queued(&key);
            self.assumed.remove(&key);
            if self.unplace(&key) {
                self.move_all_unschedulable(now, view);
            }
            return;
        }
        if p.is_bound() {
            self.forget_queued(&key);
            self.assumed.remove(&key);
            self.place(p, &p.spec.node_name);
            return;
        }
        if p.metadata.is_deleting() {
            self.forget_queued(&key);
            return;
        }
        if let Some(w) = self.unschedulable.get(&key)
            && ev_type == WatchEventType::Modified
        {
            if !pod_updated(&w.pod, p) {
                return;
            }
            // The pod itself changed: try it again.
            if let Some(w) = self.unschedulable.remove(&key) {
                self.queued.insert(key.clone(), w.attempts);
                self.push_active(key, now, view);
            }
            return;
        }
        // A gated pod whose gates were removed is re-checked by enqueue.
        self.gated.remove(&key);
        self.enqueue(p, now, view);
    }

    fn schedule_next(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) -> bool {
        if self.status_update.is_some() {
            return false;
        }
        let Some((_, key)) = self.active.pop_first() else { return false };
        let Some(Object::Pod(pod)) = view.get(Kind::Pod, &key.0, &key.1).cloned() else {
            self.queued.remove(&key);
            return true;
        };
        let config = self.config.clone();
        let Some(profile) = config.profile(&pod.spec.scheduler_name) else {
            self.queued.remove(&key);
            return true;
        };
        self.stats.attempts += 1;
        let opts = CycleOptions { start_index: &mut self.start_index, rng: &mut self.rng, explain: false, global_percentage: config.percentage_of_nodes_to_score };
        let d = schedule(profile, &self.snapshot, &pod, opts);
        let attempts = self.queued.get(&key).copied().unwrap_or(0) + 1;
        match d.selected {
            Some(node) => {
                // Assume, then bind through the API.
                self.queued.remove(&key);
                self.assumed.insert(key.clone());
                let mut assumed = (*pod).clone();
                assumed.spec.node_name = node.clone();
                self.place(&Arc::new(assumed), &node);
                let op = profile.bind.first().and_then(|b| b.as_bind()).map(|b| b.bind(&pod, &node)).unwrap_or(WriteOp::Bind {
                    namespace: key.0.clone(),
                    name: key.1.clone(),
                    node,
                });
                let id = out.write(op);
                self.binds.insert(id, key);
                self.stats.scheduled += 1;
            }
            None => {
                self.stats.unschedulable_attempts += 1;
                if let Some(nom) = &d.nominated {
                    self.stats.preemptions += 1;
                    for (ns, name, uid) in &nom.victims {
                        self.stats.victims += 1;
                        let options = DeleteOptions { precondition_uid: Some(uid.clone()), ..Default::default() };
                        out.write(WriteOp::Delete { target: ObjectRef::new(Kind::Pod, ns, name), options });
                    }
                }
                self.failed(now, &pod, d.message.as_deref().unwrap_or_default(), d.nominated.as_ref().map(|n| n.nominated_node.as_str()), out);
                self.queued.insert(key.clone(), attempts);
                self.unschedulable.insert(key, Waiting { since: now, attempts, pod: pod.clone() });
            }
        }
        true
    }

    /// `handleSchedulingFailure`: a FailedScheduling Event, then the pod's
    /// PodScheduled=False/Unschedulable condition with the same message
    /// (and its nominated node) if either changed — a call the scheduler
    /// waits for before it schedules the next pod.
    fn failed(&mut self, now: SimTime, pod: &Pod, message: &str, nominated: Option<&str>, out: &mut Outbox) {
        self.recorder.warning(now, reference_to(pod), "FailedScheduling", truncate_message(message));
        let mut next = pod.clone();
        let old = pod.status.conditions.iter().find(|c| c.type_ == "PodScheduled");
        let condition = crate::model::meta::Condition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: "Unschedulable".into(),
            message: message.to_string(),
            // podutil.UpdatePodCondition: the transition time moves only when the status does.
            last_transition_time: match old {
                Some(c) if c.status == "False" => c.last_transition_time,
                _ => Some(crate::model::meta::Timestamp::from_sim(now)),
            },
            ..Default::default()
        };
        let condition_changed = old != Some(&condition);
        let nominated_changed = nominated.is_some_and(|n| n != pod.status.nominated_node_name);
        if !condition_changed && !nominated_changed {
            return;
        }
        match next.status.conditions.iter_mut().find(|c| c.type_ == "PodScheduled") {
            Some(c) => *c = condition,
            None => next.status.conditions.push(condition),
        }
        if let Some(n) = nominated {
            next.status.nominated_node_name = n.to_string();
        }
        // A patch upstream: applied whatever the pod's resourceVersion now is.
        next.metadata.resource_version.clear();
        self.status_update = Some(out.write(WriteOp::UpdateStatus(next.into())));
    }

    fn schedule_wake(&mut self, now: SimTime, out: &mut Outbox) {
        let mut due = self.backoff.keys().next().map(|(t, _)| *t);
        if !self.unschedulable.is_empty() {
            let flush = self.last_flush + FLUSH_PERIOD;
            due = Some(due.map_or(flush, |d| d.min(flush)));
        }
        if let Some(d) = due
            && self.next_wake.is_none_or(|w| w <= now || d < w)
        {
            self.next_wake = Some(d.max(now));
            out.wake_at(d.max(now), 0);
        }
    }

    fn on_timer(&mut self, now: SimTime, view: &Cache) {
        if self.next_wake.is_some_and(|w| w <= now) {
            self.next_wake = None;
        }
        while let Some(entry) = self.backoff.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.push_active(key, now, view);
        }
        if now >= self.last_flush + FLUSH_PERIOD {
            self.last_flush = now;
            let stale: Vec<Key> = self.unschedulable.iter().filter(|(_, w)| now.since(w.since) >= UNSCHEDULABLE_MAX).map(|(k, _)| k.clone()).collect();
            for k in stale {
                self.unschedulable.remove(&k);
                self.push_active(k, now, view);
            }
        }
    }

    /// Pods waiting in the queues (active + backoff + unschedulable + gated).
    pub fn pending(&self) -> usize {
        self.active.len() + self.backoff.len() + self.unschedulable.len() + self.gated.len()
    }
}

impl Component for Scheduler {
    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Namespace, Kind::Node, Kind::Pod, Kind::ReplicaSet]
    }

    /// A new process: empty queues and snapshot (rebuilt from the relist),
    /// the counters kept for the summary.
    fn restart(&mut self) {
        let stats = std::mem::take(&mut self.stats);
        *self = Scheduler::new(self.config.clone(), self.rng.clone());
        self.stats = stats;
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        vec![
            ("attempts", s.attempts),
            ("scheduled", s.scheduled),
            ("unschedulable_attempts", s.unschedulable_attempts),
            ("preemptions", s.preemptions),
            ("victims", s.victims),
            ("bind_failures", s.bind_failures),
            ("pending", self.pending() as u64),
        ]
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        if let Input::WriteResult { id, result } = &input
            && self.recorder.answered(*id, result, out)
        {
            return;
        }
        match input {
            Input::RuntimeResult { .. } | Input::RuntimeEvent(_) => {}
            Input::Synced => {
                self.synced = true;
                self.last_flush = now;
                for o in view.list(Kind::Namespace) {
                    self.snapshot.namespace_labels.insert(o.meta().name.clone(), o.meta().labels.clone());
                }
                self.snapshot.workload_selectors = view.list(Kind::ReplicaSet).filter_map(Object::as_replicaset).map(|r| (r.metadata.namespace.clone(), r.spec.selector.clone())).collect();
            }
            Input::Watch(ev) => match &ev.object {
                Object::Pod(p) => self.on_pod(ev.type_, p, now, view),
                Object::Node(n) => {
                    if ev.type_ == WatchEventType::Deleted {
                        self.remove_node(&n.metadata.name);
                    } else {
                        // NodeAdd, or a NodeUpdate that changes what scheduling looks at
                        // (`nodeSchedulingPropertiesChange`); a heartbeat moves nothing.
                        let relevant = match self.node_index.get(&n.metadata.name) {
                            Some(&i) => node_scheduling_properties_changed(&self.snapshot.nodes[i].node, n),
                            None => true,
                        };
                        self.upsert_node(n);
                        if relevant {
                            self.move_all_unschedulable(now, view);
                        }
                    }
                }
                Object::Namespace(ns) => {
                    if ev.type_ == WatchEventType::Deleted {
                        self.snapshot.namespace_labels.remove(&ns.metadata.name);
                    } else {
                        self.snapshot.namespace_labels.insert(ns.metadata.name.clone(), ns.metadata.labels.clone());
                    }
                }
                Object::ReplicaSet(_) => {
                    self.snapshot.workload_selectors = view.list(Kind::ReplicaSet).filter_map(Object::as_replicaset).map(|r| (r.metadata.namespace.clone(), r.spec.selector.clone())).collect();
                }
                _ => {}
            },
            Input::WriteResult { id, result } => {
                if self.status_update == Some(id) {
                    self.status_update = None;
                }
                if let Some(key) = self.binds.get(&id)
                    && let Ok(bound) = &result
                {
                    let node = bound.as_pod().map(|p| p.spec.node_name.as_str()).unwrap_or_default();
                    let message = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
                    if let Some(p) = bound.as_pod() {
                        self.recorder.normal(now, reference_to(p), "Scheduled", message);
                    }
                }
                if let Some(key) = self.binds.remove(&id)
                    && result.is_err()
                {
                    // The bind failed: forget the assumption and retry after backoff.
                    self.stats.bind_failures += 1;
                    self.assumed.remove(&key);
                    self.unplace(&key);
                    let still_pending = view.get(Kind::Pod, &key.0, &key.1).and_then(Object::as_pod).is_some_and(|p| !p.is_bound() && !p.metadata.is_deleting());
                    if still_pending {
                        let attempts = self.queued.get(&key).copied().unwrap_or(0) + 1;
                        self.queued.insert(key.clone(), attempts);
                        self.seq += 1;
                        self.backoff.insert((now + self.backoff_for(attempts), self.seq), key);
                    }
                }
            }
            Input::Timer { .. } => self.on_timer(now, view),
        }
        while self.synced && self.schedule_next(now, view, out) {}
        self.schedule_wake(now, out);
        self.recorder.flush(out);
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::meta::{Condition, Timestamp};
    use crate::model::node::{Taint, TaintEffect};

    fn node() -> crate::model::Node {
        serde_yaml::from_str("metadata: {name: n, labels: {a: b}, annotations: {x: y}}\nspec: {taints: [{key: k, value: v, effect: NoSchedule}]}\nstatus: {allocatable: {cpu: '4'}, conditions: [{type: Ready, status: 'True', lastHeartbeatTime: '2025-01-01T00:00:00Z'}]}").unwrap()
    }

    /// TestNodeSchedulingPropertiesChange (scheduler eventhandlers_test.go),
    /// its cases by name: which node updates are scheduling events.
    #[test]
    fn test_node_scheduling_properties_change() {
        let old = node();
        let changed = |f: &dyn Fn(&mut crate::model::Node)| {
            let mut n = node();
            f(&mut n);
            node_scheduling_properties_changed(&old, &n)
        };
        assert!(!changed(&|_| {}), "no specific changed applied");
        assert!(changed(&|n| n.spec.unschedulable = true), "only node spec unavailable changed");
        assert!(changed(&|n| { n.status.allocatable.insert("cpu".into(), crate::model::quantity::Quantity::from_value(8)); }), "only node allocatable changed");
        assert!(changed(&|n| { n.metadata.labels.insert("a".into(), "c".into()); }), "only node label changed");
        assert!(changed(&|n| { n.metadata.annotations.insert("x".into(), "z".into()); }), "only node annotation changed");
        assert!(changed(&|n| n.spec.taints.push(Taint { key: "k2".into(), value: String::new(), effect: TaintEffect::NoExecute, time_added: None })), "only node taint changed");
        assert!(changed(&|n| n.spec.taints[0].value = "v2".into()), "taint value changed");
        assert!(changed(&|n| n.status.conditions[0].status = "False".into()), "only node Ready condition changed");
        assert!(
            !changed(&|n| n.status.conditions[0].last_heartbeat_time = Some(Timestamp(5))),
            "only a condition's heartbeat changed: not an event"
        );
        assert!(changed(&|n| n.status.conditions.push(Condition { type_: "MemoryPressure".into(), status: "True".into(), ..Default::default() })), "a condition added");
    }
}
