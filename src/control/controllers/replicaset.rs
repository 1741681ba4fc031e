//! The ReplicaSet controller (pkg/controller/replicaset): creates and deletes
//! pods so each ReplicaSet has `spec.replicas` active pods it controls.
//!
//! - Expectations: after issuing creates/deletes for a ReplicaSet it does not
//!   act on it again until it has observed them through the watch (or they
//!   expire after 5 min), so a slow watch never causes double creates.
//! - Pods to delete are ranked as upstream's `ActivePodsWithRanks`:
//!   unassigned before assigned, Pending before Running, not-ready before
//!   ready, then the most recently created first.
//! - Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//!   observedGeneration.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{DeleteOptions, WatchEventType};
use crate::control::workqueue::WorkQueue;
use crate::control::{Cache, Component, Input, Outbox, RequestId, WriteOp};
use crate::model::meta::OwnerReference;
use crate::model::pod::Pod;
use crate::model::{Kind, Object, ObjectMeta, ObjectRef, ReplicaSet};
use crate::time::SimTime;

pub const NAME: &str = "replicaset-controller";
/// Upstream `BurstReplicas`: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;
pub const EXPECTATIONS_TTL: Duration = Duration::from_secs(300);

type Key = (String, String);

#[derive(Clone, Debug, Default)]
struct Expectations {
    add: i64,
    del: i64,
    set_at: SimTime,
}

#[derive(Default)]
pub struct ReplicaSetController {
    queue: WorkQueue<Key>,
    expectations: BTreeMap<Key, Expectations>,
    inflight: BTreeMap<RequestId, (Key, &'static str)>,
    wake_scheduled: Option<SimTime>,
}

impl ReplicaSetController {
    pub fn new() -> Self {
        Self::default()
    }

    fn satisfied(&self, key: &Key, now: SimTime) -> bool {
        self.expectations.get(key).is_none_or(|e| (e.add <= 0 && e.del <= 0) || now.since(e.set_at) > EXPECTATIONS_TTL)
    }

    fn observe(&mut self, key: &Key, created: bool) {
        if let Some(e) = self.expectations.get_mut(key) {
            if created { e.add -= 1 } else { e.del -= 1 }
        }
    }

    fn write(&mut self, key: &Key, what: &'static str, op: WriteOp, out: &mut Outbox) {
        let id = out.write(op);
        self.inflight.insert(id, (key.clone(), what));
    }

    fn sync(&mut self, now: SimTime, key: Key, view: &Cache, out: &mut Outbox) {
        let Some(rs) = view.replicasets().get(&key.0, &key.1) else {
            self.expectations.remove(&key);
            return;
        };
        let pods: Vec<&Pod> = view.pods().controlled_by(&rs.metadata.uid).filter(|p| p.metadata.namespace == key.0).map(|p| &**p).collect();
        let active: Vec<&Pod> = pods.iter().copied().filter(|p| !p.is_terminal() && !p.metadata.is_deleting()).collect();
        if self.satisfied(&key, now) && !rs.metadata.is_deleting() {
            self.manage(now, &key, rs, &active, out);
        }
        self.update_status(&key, rs, &active, out);
    }

    fn manage(&mut self, now: SimTime, key: &Key, rs: &ReplicaSet, active: &[&Pod], out: &mut Outbox) {
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        if active.len() < want {
            let n = (want - active.len()).min(BURST_REPLICAS);
            self.expectations.insert(key.clone(), Expectations { add: n as i64, del: 0, set_at: now });
            for _ in 0..n {
                let pod = pod_from_template(rs);
                self.write(key, "create", WriteOp::Create(pod.into()), out);
            }
        } else if active.len() > want {
            let n = (active.len() - want).min(BURST_REPLICAS);
            let mut ranked: Vec<&Pod> = active.to_vec();
            ranked.sort_by(|a, b| deletion_rank(a).cmp(&deletion_rank(b)));
            self.expectations.insert(key.clone(), Expectations { add: 0, del: n as i64, set_at: now });
            for p in ranked.into_iter().take(n) {
                let target = ObjectRef::new(Kind::Pod, &p.metadata.namespace, &p.metadata.name);
                let options = DeleteOptions { precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() };
                self.write(key, "delete", WriteOp::Delete { target, options }, out);
            }
        }
    }

    fn update_status(&mut self, key: &Key, rs: &ReplicaSet, active: &[&Pod], out: &mut Outbox) {
        let template = &rs.spec.template.metadata.labels;
        let ready = active.iter().filter(|p| p.is_ready()).count() as i32;
        let mut status = rs.status.clone();
        status.replicas = active.len() as i32;
        status.fully_labeled_replicas = active.iter().filter(|p| template.iter().all(|(k, v)| p.metadata.labels.get(k) == Some(v))).count() as i32;
        status.ready_replicas = ready;
        // minReadySeconds is judged by the Ready condition's transition time in the
        // kubelet issue; until kubelets exist, ready pods count as available.
        status.available_replicas = ready;
        status.observed_generation = rs.metadata.generation;
        if status != rs.status {
            let mut updated = rs.clone();
            updated.status = status;
            self.write(key, "status", WriteOp::UpdateStatus(updated.into()), out);
        }
    }

    fn owner_key(obj: &Object) -> Option<Key> {
        let r = obj.meta().controller_ref()?;
        (r.kind == "ReplicaSet").then(|| (obj.meta().namespace.clone(), r.name.clone()))
    }
}

/// Lower sorts first = deleted first (upstream `ActivePodsWithRanks.Less`, simplified
/// to the criteria kubesim models: assignment, phase, readiness, age).
fn deletion_rank(p: &Pod) -> (bool, u8, bool, std::cmp::Reverse<Option<crate::model::meta::Timestamp>>, String) {
    let phase = match p.status.phase.as_str() {
        "Pending" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    (p.is_bound(), phase, p.is_ready(), std::cmp::Reverse(p.metadata.creation_timestamp), p.metadata.name.clone())
}

pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let t = &rs.spec.template;
    Pod {
        metadata: ObjectMeta {
            generate_name: format!("{}-", rs.metadata.name),
            namespace: rs.metadata.namespace.clone(),
            labels: t.metadata.labels.clone(),
            annotations: t.metadata.annotations.clone(),
            owner_references: vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: rs.metadata.name.clone(),
                uid: rs.metadata.uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            ..Default::default()
        },
        spec: t.spec.clone(),
        status: Default::default(),
    }
}

impl Component for ReplicaSetController {
    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::ReplicaSet, Kind::Pod]
    }

    /// A restarted process keeps nothing: expectations, queue and in-flight
    /// bookkeeping are rebuilt from the relist.
    fn restart(&mut self) {
        *self = ReplicaSetController::new();
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        match input {
            Input::RuntimeResult { .. } | Input::RuntimeEvent(_) => {}
            Input::Synced => {
                for rs in view.list(Kind::ReplicaSet) {
                    self.queue.add((rs.meta().namespace.clone(), rs.meta().name.clone()));
                }
            }
            Input::Watch(ev) => match ev.object.kind() {
                Kind::ReplicaSet => self.queue.add((ev.object.meta().namespace.clone(), ev.object.meta().name.clone())),
                Kind::Pod => {
                    if let Some(key) = Self::owner_key(&ev.object) {
                        match ev.type_ {
                            WatchEventType::Added => self.observe(&key, true),
                            WatchEventType::Deleted => self.observe(&key, false),
                            WatchEventType::Modified => {}
                        }
                        self.queue.add(key);
                    }
                }
                _ => {}
            },
            Input::WriteResult { id, result } => {
                if let Some((key, _)) = self.inflight.get(&id)
                    && result.is_ok()
                {
                    // Only a success resets the key's backoff (client-go's Forget).
                    self.queue.forget(&key.clone());
                }
                if let Some((key, what)) = self.inflight.remove(&id)
                    && let Err(e) = result
                {
                    // A failed create or delete will never be observed: lower the expectation.
                    match what {
                        "create" => self.observe(&key, true),
                        "delete" if !e.is_not_found() => self.observe(&key, false),
                        _ => {}
                    }
                    let due = self.queue.add_rate_limited(key, now);
                    if self.wake_scheduled.is_none_or(|w| due < w || w <= now) {
                        self.wake_scheduled = Some(due);
                        out.wake_at(due, 0);
                    }
                }
            }
            Input::Timer { .. } => {}
        }
        while let Some(key) = self.queue.pop(now) {
            self.sync(now, key, view, out);
        }
        if let Some(due) = self.queue.next_due()
            && self.wake_scheduled.is_none_or(|w| w <= now || due < w)
        {
            self.wake_scheduled = Some(due);
            out.wake_at(due, 0);
        }
    }
}
