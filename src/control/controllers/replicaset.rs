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
use crate::control::events::{EventRecorder, reference_to};
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

/// What one pod adds to its ReplicaSet's status counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    active: i32,
    ready: i32,
    labeled: i32,
}

impl Counts {
    fn add(&mut self, o: Counts, sign: i32) {
        self.active += sign * o.active;
        self.ready += sign * o.ready;
        self.labeled += sign * o.labeled;
    }
}

pub struct ReplicaSetController {
    expectations: BTreeMap<Key, Expectations>,
    /// SuccessfulCreate / FailedCreate / SuccessfulDelete / FailedDelete (pod_control.go).
    recorder: EventRecorder,
    /// Status counts per ReplicaSet uid, kept from pod events so a sync does
    /// not scan the ReplicaSet's pods (the same numbers `calculateStatus`
    /// derives from them; checked against a scan in debug builds).
    counts: BTreeMap<String, Counts>,
    /// Each pod's contribution: (controller uid, counts).
    contributions: BTreeMap<Key, (String, Counts)>,
    /// Each ReplicaSet's template labels as last counted (a change recounts its pods).
    templates: BTreeMap<String, crate::model::Labels>,
}

impl ReplicaSetController {
    pub fn new() -> Self {
        ReplicaSetController {
            expectations: BTreeMap::new(),
            recorder: EventRecorder::new(NAME, ""),
            counts: BTreeMap::new(),
            contributions: BTreeMap::new(),
            templates: BTreeMap::new(),
        }
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

    fn contribution(p: &Pod, rs: Option<&ReplicaSet>) -> Counts {
        let active = !p.is_terminal() && !p.metadata.is_deleting();
        if !active {
            return Counts::default();
        }
        let labeled = rs.is_some_and(|rs| rs.spec.template.metadata.labels.iter().all(|(k, v)| p.metadata.labels.get(k) == Some(v)));
        Counts { active: 1, ready: i32::from(p.is_ready()), labeled: i32::from(labeled) }
    }

    /// Moves one pod's contribution to what it is now (none if deleted).
    fn count_pod(&mut self, p: &Pod, deleted: bool, view: &Cache) {
        let key = (p.metadata.namespace.clone(), p.metadata.name.clone());
        if let Some((uid, old)) = self.contributions.remove(&key)
            && let Some(c) = self.counts.get_mut(&uid)
        {
            c.add(old, -1);
        }
        let owner = p.metadata.controller_ref().filter(|r| r.kind == "ReplicaSet");
        if deleted {
            return;
        }
        let Some(owner) = owner else { return };
        let rs = view.replicasets().get(&p.metadata.namespace, &owner.name).filter(|rs| rs.metadata.uid == owner.uid);
        let c = Self::contribution(p, rs.map(|r| &**r));
        self.counts.entry(owner.uid.clone()).or_default().add(c, 1);
        self.contributions.insert(key, (owner.uid.clone(), c));
    }

    /// A ReplicaSet appeared or changed its template's labels: its pods count again.
    fn recount(&mut self, rs: &ReplicaSet, view: &Cache) {
        let labels = &rs.spec.template.metadata.labels;
        if self.templates.get(&rs.metadata.uid) == Some(labels) {
            return;
        }
        self.templates.insert(rs.metadata.uid.clone(), labels.clone());
        let pods: Vec<std::sync::Arc<Pod>> = view.pods().controlled_by(&rs.metadata.uid).cloned().collect();
        for p in pods {
            self.count_pod(&p, false, view);
        }
    }

    fn owner_key(obj: &Object) -> Option<Key> {
        let r = obj.meta().controller_ref()?;
        (r.kind == "ReplicaSet").then(|| (obj.meta().namespace.clone(), r.name.clone()))
    }

    /// `calculateStatus` from the active pods as of the start of the sync.
    fn calculate_status(rs: &ReplicaSet, counts: Counts) -> ReplicaSetStatus {
        let mut status = rs.status.clone();
        status.replicas = counts.active;
        status.fully_labeled_replicas = counts.labeled;
        status.ready_replicas = counts.ready;
        // minReadySeconds is not yet judged by the Ready condition's transition time: ready pods count as available.
        status.available_replicas = counts.ready;
        status.observed_generation = rs.metadata.generation;
        status
    }

    /// The counts a scan of the ReplicaSet's pods gives (what `counts` must equal).
    /// Debug builds only (a `debug_assert`), over the controller-uid index.
    fn scan(rs: &ReplicaSet, view: &Cache) -> Counts {
        let mut c = Counts::default();
        for p in view.pods().controlled_by(&rs.metadata.uid).filter(|p| p.metadata.namespace == rs.metadata.namespace) {
            c.add(Self::contribution(p, Some(rs)), 1);
        }
        c
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
            // What the template holds that kubesim does not model goes into the pod too.
            unmodelled: rs.metadata.unmodelled.subtree(&["spec", "template"]),
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

    fn recorder(&mut self) -> Option<&mut EventRecorder> {
        Some(&mut self.recorder)
    }

    fn on_synced(&mut self, _now: SimTime, view: &Cache, keys: &mut Keys<Key>) {
        for rs in view.replicasets().iter() {
            keys.add((rs.metadata.namespace.clone(), rs.metadata.name.clone()));
        }
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, view: &Cache, keys: &mut Keys<Key>) {
        match &ev.object {
            Object::ReplicaSet(rs) => {
                if ev.type_ == WatchEventType::Deleted {
                    self.counts.remove(&rs.metadata.uid);
                    self.templates.remove(&rs.metadata.uid);
                } else {
                    self.recount(rs, view);
                }
                keys.add((rs.metadata.namespace.clone(), rs.metadata.name.clone()))
            }
            Object::Pod(p) => {
                self.count_pod(p, ev.type_ == WatchEventType::Deleted, view);
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
        let counts = self.counts.get(&rs.metadata.uid).copied().unwrap_or_default();
        debug_assert_eq!(counts, Self::scan(&rs, view), "incremental counts of {key:?} agree with a scan");
        let status = Self::calculate_status(&rs, counts);
        if !self.satisfied(key, now) || rs.metadata.is_deleting() {
            return Self::update_status(&rs, status, false);
        }
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        let have = counts.active.max(0) as usize;
        if have < want {
            let n = (want - have).min(BURST_REPLICAS);
            self.expectations.insert(key.clone(), Expectations { add: n as i64, del: BTreeSet::new(), set_at: now });
            let batch = n.min(SLOW_START_INITIAL_BATCH);
            let ops = Self::creates(&rs, batch);
            return Step::Call { ops, then: Stage::Creating { rs, status, left: n - batch, next: 2 * batch } };
        }
        if have > want {
            let n = (have - want).min(BURST_REPLICAS);
            let mut ranked: Vec<&Pod> =
                view.pods().controlled_by(&rs.metadata.uid).filter(|p| p.metadata.namespace == key.0 && !p.is_terminal() && !p.metadata.is_deleting()).map(|p| &**p).collect();
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

    fn resume(&mut self, now: SimTime, key: &Key, stage: Stage, results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        match stage {
            Stage::Creating { rs, status, left, next } => {
                for r in &results {
                    match r {
                        Ok(pod) => self.recorder.normal(now, reference_to(&*rs), "SuccessfulCreate", format!("Created pod: {}", pod.meta().name)),
                        Err(e) => self.recorder.warning(now, reference_to(&*rs), "FailedCreate", format!("Error creating: {e}")),
                    }
                }
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
                    match result {
                        Ok(_) => self.recorder.normal(now, reference_to(&*rs), "SuccessfulDelete", format!("Deleted pod: {}", pod.1)),
                        Err(e) => {
                            self.deletion_observed(key, pod);
                            // A pod already gone is not a failure (DeletePod ignores NotFound).
                            if !e.is_not_found() {
                                self.recorder.warning(now, reference_to(&*rs), "FailedDelete", format!("Error deleting: {e}"));
                            }
                            failed |= !e.is_not_found();
                        }
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
