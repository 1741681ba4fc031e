//! The ReplicaSet controller (pkg/controller/replicaset): creates and deletes
//! pods so each ReplicaSet has `spec.replicas` active pods it controls.
//! A reconciler (`control::host`) with upstream's 5 workers
//! (`--concurrent-replicaset-syncs`); one sync is upstream's `syncReplicaSet`:
//!
//! 1. `manageReplicas`, only if the expectations are satisfied and the
//!    ReplicaSet is not being deleted: too few pods → creates in slow-start
//!    batches (1, 2, 4, …, each batch at once, the next only if the whole
//!    batch succeeded; at most `BurstReplicas` per sync); too many → deletes,
//!    all at once, of the pods ranked first by `ActivePodsWithRanks`
//!    (unassigned before assigned, Pending before Running, not-ready before
//!    ready, then the most recently created);
//! 2. then the status (replicas, fullyLabeledReplicas, readyReplicas,
//!    availableReplicas, observedGeneration) computed from the pods listed at
//!    the start, written if it changed;
//! 3. the sync fails (backoff) if managing failed or the status write failed.
//!
//! Expectations: after issuing creates/deletes the controller does not
//! manage a ReplicaSet again until it has observed them through the watch
//! (creations counted, deletions tracked by pod key and observed as soon as
//! the pod carries a deletionTimestamp), or they expire after 5 minutes, so
//! a slow watch never causes double creates.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::api::{ApiError, DeleteOptions, WatchEvent, WatchEventType};
use crate::control::host::{Keys, Reconciler, Step};
use crate::control::{Cache, WriteOp};
use crate::model::meta::OwnerReference;
use crate::model::pod::Pod;
use crate::model::replicaset::ReplicaSetStatus;
use crate::model::{Kind, Object, ObjectMeta, ObjectRef, ReplicaSet};
use crate::time::SimTime;

pub const NAME: &str = "replicaset-controller";
/// Upstream `BurstReplicas`: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;
pub const EXPECTATIONS_TTL: Duration = Duration::from_secs(300);
/// `--concurrent-replicaset-syncs`.
pub const WORKERS: usize = 5;
/// `controller.SlowStartInitialBatchSize`.
const SLOW_START_INITIAL_BATCH: usize = 1;

type Key = (String, String);

#[derive(Clone, Debug, Default)]
struct Expectations {
    add: i64,
    /// Pods (namespace/name) whose deletion is yet to be observed.
    del: BTreeSet<Key>,
    set_at: SimTime,
}

/// Where a sync resumes.
#[derive(Debug)]
pub enum Stage {
    /// A slow-start batch of creates answered; `left` more to make, next batch `next`.
    Creating { rs: std::sync::Arc<ReplicaSet>, status: ReplicaSetStatus, left: usize, next: usize },
    /// The deletes answered (`pods` in the order issued).
    Deleting { rs: std::sync::Arc<ReplicaSet>, status: ReplicaSetStatus, pods: Vec<Key> },
    /// The status write answered; `manage_failed` carries the manage step's outcome.
    Status { manage_failed: bool },
}

#[derive(Default)]
pub struct ReplicaSetController {
    expectations: BTreeMap<Key, Expectations>,
}

impl ReplicaSetController {
    pub fn new() -> Self {
        Self::default()
    }

    fn satisfied(&self, key: &Key, now: SimTime) -> bool {
        self.expectations.get(key).is_none_or(|e| (e.add <= 0 && e.del.is_empty()) || now.since(e.set_at) > EXPECTATIONS_TTL)
    }

    fn creation_observed(&mut self, key: &Key) {
        if let Some(e) = self.expectations.get_mut(key) {
            e.add -= 1;
        }
    }

    fn deletion_observed(&mut self, key: &Key, pod: &Key) {
        if let Some(e) = self.expectations.get_mut(key) {
            e.del.remove(pod);
        }
    }

    fn owner_key(obj: &Object) -> Option<Key> {
        let r = obj.meta().controller_ref()?;
        (r.kind == "ReplicaSet").then(|| (obj.meta().namespace.clone(), r.name.clone()))
    }

    /// `calculateStatus` from the active pods listed at the start of the sync.
    fn calculate_status(rs: &ReplicaSet, active: &[&Pod]) -> ReplicaSetStatus {
        let template = &rs.spec.template.metadata.labels;
        let ready = active.iter().filter(|p| p.is_ready()).count() as i32;
        let mut status = rs.status.clone();
        status.replicas = active.len() as i32;
        status.fully_labeled_replicas = active.iter().filter(|p| template.iter().all(|(k, v)| p.metadata.labels.get(k) == Some(v))).count() as i32;
        status.ready_replicas = ready;
        // minReadySeconds is not yet judged by the Ready condition's transition time: ready pods count as available.
        status.available_replicas = ready;
        status.observed_generation = rs.metadata.generation;
        status
    }

    /// The status write (if the status changed), then the sync's outcome.
    fn update_status(rs: &ReplicaSet, status: ReplicaSetStatus, manage_failed: bool) -> Step<Stage> {
        if status == rs.status {
            return if manage_failed { Step::Failed } else { Step::done() };
        }
        let mut updated = rs.clone();
        updated.status = status;
        Step::Call { ops: vec![WriteOp::UpdateStatus(updated.into())], then: Stage::Status { manage_failed } }
    }

    fn creates(rs: &ReplicaSet, n: usize) -> Vec<WriteOp> {
        (0..n).map(|_| WriteOp::Create(pod_from_template(rs).into())).collect()
    }
}

/// Lower sorts first = deleted first (upstream `ActivePodsWithRanks.Less`, limited
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

impl Reconciler for ReplicaSetController {
    type Key = Key;
    type Stage = Stage;

    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::ReplicaSet, Kind::Pod]
    }

    fn workers(&self) -> usize {
        WORKERS
    }

    /// A restarted process keeps nothing: expectations and queue are rebuilt from the relist.
    fn restart(&mut self) {
        *self = ReplicaSetController::new();
    }

    fn on_synced(&mut self, _now: SimTime, view: &Cache, keys: &mut Keys<Key>) {
        for rs in view.replicasets().iter() {
            keys.add((rs.metadata.namespace.clone(), rs.metadata.name.clone()));
        }
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, _view: &Cache, keys: &mut Keys<Key>) {
        match &ev.object {
            Object::ReplicaSet(rs) => keys.add((rs.metadata.namespace.clone(), rs.metadata.name.clone())),
            Object::Pod(p) => {
                let Some(key) = Self::owner_key(&ev.object) else { return };
                let pod = (p.metadata.namespace.clone(), p.metadata.name.clone());
                match ev.type_ {
                    WatchEventType::Added if p.metadata.is_deleting() => self.deletion_observed(&key, &pod),
                    WatchEventType::Added => self.creation_observed(&key),
                    // updatePod: a deletionTimestamp is as good as the deletion (the pod is leaving).
                    WatchEventType::Modified if p.metadata.is_deleting() => self.deletion_observed(&key, &pod),
                    WatchEventType::Modified => {}
                    WatchEventType::Deleted => self.deletion_observed(&key, &pod),
                }
                keys.add(key);
            }
            _ => {}
        }
    }

    fn reconcile(&mut self, now: SimTime, key: &Key, view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        let Some(rs) = view.replicasets().get(&key.0, &key.1).cloned() else {
            self.expectations.remove(key);
            return Step::done();
        };
        let active: Vec<&Pod> = view
            .pods()
            .controlled_by(&rs.metadata.uid)
            .filter(|p| p.metadata.namespace == key.0 && !p.is_terminal() && !p.metadata.is_deleting())
            .map(|p| &**p)
            .collect();
        let status = Self::calculate_status(&rs, &active);
        if !self.satisfied(key, now) || rs.metadata.is_deleting() {
            return Self::update_status(&rs, status, false);
        }
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        if active.len() < want {
            let n = (want - active.len()).min(BURST_REPLICAS);
            self.expectations.insert(key.clone(), Expectations { add: n as i64, del: BTreeSet::new(), set_at: now });
            let batch = n.min(SLOW_START_INITIAL_BATCH);
            let ops = Self::creates(&rs, batch);
            return Step::Call { ops, then: Stage::Creating { rs, status, left: n - batch, next: 2 * batch } };
        }
        if active.len() > want {
            let n = (active.len() - want).min(BURST_REPLICAS);
            let mut ranked: Vec<&Pod> = active;
            ranked.sort_by_key(|p| deletion_rank(p));
            let victims: Vec<&Pod> = ranked.into_iter().take(n).collect();
            let pods: Vec<Key> = victims.iter().map(|p| (p.metadata.namespace.clone(), p.metadata.name.clone())).collect();
            self.expectations.insert(key.clone(), Expectations { add: 0, del: pods.iter().cloned().collect(), set_at: now });
            let ops = victims
                .iter()
                .map(|p| {
                    let target = ObjectRef::new(Kind::Pod, &p.metadata.namespace, &p.metadata.name);
                    WriteOp::Delete { target, options: DeleteOptions { precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() } }
                })
                .collect();
            return Step::Call { ops, then: Stage::Deleting { rs, status, pods } };
        }
        Self::update_status(&rs, status, false)
    }

    fn resume(&mut self, _now: SimTime, key: &Key, stage: Stage, results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        match stage {
            Stage::Creating { rs, status, left, next } => {
                let failed = results.iter().filter(|r| r.is_err()).count();
                // A failed create will never be observed; neither will the skipped ones.
                for _ in 0..failed {
                    self.creation_observed(key);
                }
                if failed > 0 {
                    for _ in 0..left {
                        self.creation_observed(key);
                    }
                    return Self::update_status(&rs, status, true);
                }
                if left == 0 {
                    return Self::update_status(&rs, status, false);
                }
                let batch = next.min(left);
                Step::Call { ops: Self::creates(&rs, batch), then: Stage::Creating { rs, status, left: left - batch, next: 2 * batch } }
            }
            Stage::Deleting { rs, status, pods } => {
                let mut failed = false;
                for (pod, result) in pods.iter().zip(&results) {
                    if let Err(e) = result {
                        self.deletion_observed(key, pod);
                        failed |= !e.is_not_found();
                    }
                }
                Self::update_status(&rs, status, failed)
            }
            Stage::Status { manage_failed } => {
                if manage_failed || results.iter().any(Result::is_err) {
                    Step::Failed
                } else {
                    Step::done()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
