//! The taint-eviction controller (pkg/controller/tainteviction): evicts pods
//! from nodes with NoExecute taints. A pod that does not tolerate every
//! NoExecute taint on its node is deleted at once; one that does is deleted
//! `tolerationSeconds` after the controller first saw it tainted (the minimum
//! over the tolerations used; none with seconds → never; ≤ 0 → at once).
//! Removing the taints cancels a scheduled eviction (with a "Cancelling
//! deletion" event). An eviction first sets the pod's DisruptionTarget
//! condition (reason DeletionByTaintManager), then deletes it
//! (`addConditionAndDeletePod`), one call after the other.

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
    min_toleration_time(&used)
}

/// `getMinTolerationTime`: the shortest tolerationSeconds of the tolerations
/// used (≤ 0, or none used: at once); None if none sets seconds (forever).
pub fn min_toleration_time(used: &[&crate::model::pod::Toleration]) -> Option<Duration> {
    if used.is_empty() {
        return Some(Duration::ZERO);
    }
    let mut min: Option<i64> = None;
    for tol in used {
        if let Some(s) = tol.toleration_seconds {
            if s <= 0 {
                return Some(Duration::ZERO);
            }
            min = Some(min.map_or(s, |m| m.min(s)));
        }
    }
    if crate::mutants::active("toleration-millis") {
        return min.map(|s| Duration::from_millis(s as u64));
    }
    min.map(|s| Duration::from_secs(s as u64))
}

struct Scheduled {
    created: SimTime,
    trigger: SimTime,
    /// The eviction ran (upstream keeps the finished worker's key, which
    /// blocks a new schedule until the pod is gone or its taints are).
    fired: bool,
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

/// Where an eviction resumes.
#[derive(Debug)]
pub enum Stage {
    /// The DisruptionTarget condition was written; the delete comes next.
    ConditionSet,
    /// The delete answered.
    Deleted,
}

/// The condition an eviction sets before deleting (`addConditionAndDeletePod`).
pub const DISRUPTION_REASON: &str = "DeletionByTaintManager";
const DISRUPTION_MESSAGE: &str = "Taint manager: deleting due to NoExecute taint";

/// `UpdatePodCondition` with DisruptionTarget: the pod as it would be
/// written, if that changes it.
fn with_disruption_target(p: &Pod, now: SimTime) -> Option<Pod> {
    use crate::model::meta::{Condition, Timestamp};
    let old = p.status.conditions.iter().find(|c| c.type_ == "DisruptionTarget");
    if old.is_some_and(|c| c.status == "True" && c.reason == DISRUPTION_REASON && c.message == DISRUPTION_MESSAGE) {
        return None;
    }
    let transition = old.filter(|c| c.status == "True").and_then(|c| c.last_transition_time).or(Some(Timestamp::from_sim(now)));
    let condition = Condition { type_: "DisruptionTarget".into(), status: "True".into(), reason: DISRUPTION_REASON.into(), message: DISRUPTION_MESSAGE.into(), last_transition_time: transition, ..Default::default() };
    let mut next = p.clone();
    match next.status.conditions.iter_mut().find(|c| c.type_ == "DisruptionTarget") {
        Some(c) => *c = condition,
        None => next.status.conditions.push(condition),
    }
    Some(next)
}

impl TaintEvictionController {
    /// `cancelWorkWithEvent`: a scheduled eviction is dropped, and said so.
    fn cancel(&mut self, now: SimTime, key: &Key) {
        // An eviction already under way (its calls sent) is not cancelled in
        // words: upstream's worker is done by the time the deletion is seen.
        if self.scheduled.remove(key).is_some_and(|s| !s.fired && s.trigger > now) {
            self.recorder.normal(now, pod_ref(key), "TaintManagerEviction", format!("Cancelling deletion of Pod {}/{}", key.0, key.1));
        }
    }

    fn fired(&mut self, key: &Key) {
        if let Some(s) = self.scheduled.get_mut(key) {
            s.fired = true;
        }
    }

    fn delete(key: &Key) -> Step<Stage> {
        // Upstream deletes by name, with no preconditions, right after reading the pod.
        Step::Call { ops: vec![WriteOp::Delete { target: ObjectRef::new(Kind::Pod, &key.0, &key.1), options: DeleteOptions::default() }], then: Stage::Deleted }
    }
}

fn pod_ref(key: &Key) -> crate::model::event::ObjectReference {
    crate::model::event::ObjectReference { kind: "Pod".into(), api_version: "v1".into(), namespace: key.0.clone(), name: key.1.clone(), ..Default::default() }
}

impl Reconciler for TaintEvictionController {
    type Key = Key;
    type Stage = Stage;

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

    fn on_event(&mut self, now: SimTime, ev: &WatchEvent, view: &Cache, keys: &mut Keys<Key>) {
        match &ev.object {
            Object::Node(n) => {
                for p in view.pods().on_node(&n.metadata.name) {
                    keys.add((p.metadata.namespace.clone(), p.metadata.name.clone()));
                }
            }
            // handlePodUpdate on a deleted pod: a pending eviction is cancelled, with its event.
            Object::Pod(p) if ev.type_ == WatchEventType::Deleted => self.cancel(now, &(p.metadata.namespace.clone(), p.metadata.name.clone())),
            Object::Pod(p) if p.is_bound() => keys.add((p.metadata.namespace.clone(), p.metadata.name.clone())),
            _ => {}
        }
    }

    /// `processPodOnNode`: evict now, schedule the eviction tolerationSeconds
    /// from now, keep an eviction already scheduled (upstream keeps the
    /// earlier worker unless it was created this very instant), or cancel it.
    fn reconcile(&mut self, now: SimTime, key: &Key, view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        let Some(p) = view.pods().get(&key.0, &key.1) else {
            self.scheduled.remove(key);
            return Step::done();
        };
        let node = view.nodes().get("", &p.spec.node_name);
        let delay = if p.is_terminal() || p.metadata.is_deleting() { None } else { node.and_then(|n| eviction_delay(p, n)) };
        let Some(delay) = delay else {
            self.cancel(now, key);
            return Step::done();
        };
        if delay.is_zero() && self.scheduled.get(key).is_some_and(|s| s.trigger > now) {
            // Not all taints tolerated: the pending eviction is cancelled, the pod goes at once.
            self.cancel(now, key);
        }
        if self.scheduled.get(key).is_some_and(|s| s.fired) {
            if !delay.is_zero() {
                // AddWork finds the finished worker's key and does nothing.
                return Step::done();
            }
            // Not tolerated: cancelWorkWithEvent drops the finished worker (silently), AddWork evicts again.
            self.scheduled.remove(key);
        }
        let trigger = match self.scheduled.get(key) {
            _ if delay.is_zero() => now,
            Some(s) if s.created + delay < now + delay => s.trigger,
            _ => now + delay,
        };
        let created = self.scheduled.get(key).map_or(now, |s| s.created);
        self.scheduled.insert(key.clone(), Scheduled { created, trigger, fired: false });
        if trigger > now {
            return Step::after(trigger.since(now));
        }
        self.recorder.normal(now, pod_ref(key), "TaintManagerEviction", format!("Marking for deletion Pod {}/{}", key.0, key.1));
        match with_disruption_target(p, now) {
            Some(marked) => Step::Call { ops: vec![WriteOp::UpdateStatus(marked.into())], then: Stage::ConditionSet },
            None => Self::delete(key),
        }
    }

    fn resume(&mut self, _now: SimTime, key: &Key, stage: Stage, results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        match (stage, &results[0]) {
            (Stage::ConditionSet, Ok(_)) => Self::delete(key),
            (_, Ok(_)) => {
                self.evictions += 1;
                self.fired(key);
                Step::done()
            }
            (_, Err(e)) if e.is_not_found() => {
                self.fired(key);
                Step::done()
            }
            // A stale status write: try again from a fresher cache (upstream retries, re-reading the pod).
            (_, Err(_)) => Step::Failed,
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

    /// TestGetMinTolerationTime (tainteviction/taint_eviction_test.go).
    #[test]
    fn test_get_min_toleration_time() {
        let tol = |secs: Option<i64>| { let mut t: crate::model::pod::Toleration = serde_yaml::from_str("{operator: Exists}").unwrap(); t.toleration_seconds = secs; t };
        let (one, two, none) = (tol(Some(1)), tol(Some(2)), tol(None));
        let one_sec = Some(Duration::from_secs(1));
        for (i, (tols, expected)) in [
            (vec![], Some(Duration::ZERO)),
            (vec![&none], None),
            (vec![&one, &two], one_sec),
            (vec![&one, &none], one_sec),
            (vec![&none, &one], one_sec),
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(min_toleration_time(&tols), expected, "case {i}");
        }
    }

    fn view(objects: Vec<Object>) -> Cache {
        let mut c = Cache::new(&[Kind::Node, Kind::Pod]);
        for (i, o) in objects.into_iter().enumerate() {
            c.apply(&WatchEvent { type_: WatchEventType::Added, key: std::sync::Arc::from(""), object: o, revision: i as i64 + 1 });
        }
        c
    }

    fn bound(tols: &str) -> Pod {
        let mut p = pod(tols);
        p.metadata.name = "p".into();
        p.metadata.namespace = "default".into();
        p.spec.node_name = "n".into();
        p.status.phase = "Running".into();
        p
    }

    fn step(c: &mut TaintEvictionController, now: SimTime, v: &Cache) -> Step<Stage> {
        let mut q = crate::control::workqueue::WorkQueue::new();
        c.reconcile(now, &("default".into(), "p".into()), v, &mut Keys::new(&mut q, now))
    }

    /// addConditionAndDeletePod: DisruptionTarget (DeletionByTaintManager)
    /// first, the delete after that write answered.
    #[test]
    fn an_eviction_sets_disruption_target_then_deletes() {
        let v = view(vec![node("[{key: node.kubernetes.io/unreachable, effect: NoExecute}]").into(), bound("[]").into()]);
        let mut c = TaintEvictionController::new();
        let Step::Call { ops, then } = step(&mut c, SimTime::from_secs(1), &v) else { panic!("evicts at once") };
        let WriteOp::UpdateStatus(Object::Pod(marked)) = &ops[0] else { panic!("{ops:?}") };
        let cond = marked.status.conditions.iter().find(|c| c.type_ == "DisruptionTarget").unwrap();
        assert_eq!((cond.status.as_str(), cond.reason.as_str(), cond.message.as_str()), ("True", DISRUPTION_REASON, DISRUPTION_MESSAGE));
        let mut q = crate::control::workqueue::WorkQueue::new();
        let next = c.resume(SimTime::from_secs(1), &("default".into(), "p".into()), then, vec![Ok(Object::Pod(marked.clone()))], &v, &mut Keys::new(&mut q, SimTime::ZERO));
        let Step::Call { ops, then } = next else { panic!("then the delete") };
        assert!(matches!(&ops[0], WriteOp::Delete { options, .. } if options.precondition_uid.is_none()));
        let done = c.resume(SimTime::from_secs(1), &("default".into(), "p".into()), then, vec![Ok(Object::Pod(marked.clone()))], &v, &mut Keys::new(&mut q, SimTime::ZERO));
        assert!(matches!(done, Step::Done { .. }));
        assert_eq!(c.evictions, 1);
        // A stale cache (the pod not yet seen deleting) schedules nothing new: the
        // finished worker's key stays until the pod is gone (TimedWorkerQueue).
        let tolerated = view(vec![node("[{key: node.kubernetes.io/unreachable, effect: NoExecute}]").into(), bound("[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}]").into()]);
        assert!(matches!(step(&mut c, SimTime::from_secs(2), &tolerated), Step::Done { requeue_after: None }));
        // A pod already carrying the condition is deleted directly.
        let v = view(vec![node("[{key: node.kubernetes.io/unreachable, effect: NoExecute}]").into(), (**marked).clone().into()]);
        assert!(matches!(step(&mut TaintEvictionController::new(), SimTime::from_secs(2), &v), Step::Call { ops, .. } if matches!(ops[0], WriteOp::Delete { .. })));
    }

    /// processPodOnNode keeps an eviction already scheduled (created earlier)
    /// even when a later taint would make it sooner; removing the taints
    /// cancels it with a "Cancelling deletion" event.
    #[test]
    fn a_scheduled_eviction_is_kept_and_cancelled_with_an_event() {
        let tols = "[{key: a, operator: Exists, effect: NoExecute, tolerationSeconds: 300}, {key: b, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]";
        let mut c = TaintEvictionController::new();
        let v = view(vec![node("[{key: a, effect: NoExecute}]").into(), bound(tols).into()]);
        assert!(matches!(step(&mut c, SimTime::from_secs(10), &v), Step::Done { requeue_after: Some(d) } if d == Duration::from_secs(300)));
        let v = view(vec![node("[{key: a, effect: NoExecute}, {key: b, effect: NoExecute}]").into(), bound(tols).into()]);
        assert!(matches!(step(&mut c, SimTime::from_secs(20), &v), Step::Done { requeue_after: Some(d) } if d == Duration::from_secs(290)), "kept at 310 s");
        let v = view(vec![node("[]").into(), bound(tols).into()]);
        assert!(matches!(step(&mut c, SimTime::from_secs(30), &v), Step::Done { requeue_after: None }));
        let mut out = crate::control::Outbox::default();
        c.recorder.flush(&mut out);
        let reasons: Vec<String> = out.effects().iter().filter_map(|e| match e {
            crate::control::Effect::Write { op: WriteOp::Create(Object::Event(ev)), .. } => Some(ev.message.clone()),
            _ => None,
        }).collect();
        assert_eq!(reasons, ["Cancelling deletion of Pod default/p"]);
    }
}
