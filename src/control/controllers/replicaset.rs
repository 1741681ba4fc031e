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
use crate::model::meta::Timestamp;
use crate::model::{Kind, Object, ObjectMeta, ObjectRef, ReplicaSet};
use crate::time::SimTime;

pub const NAME: &str = "replicaset-controller";
/// `apps.ReplicaSetReplicaFailure`: set when creating or deleting pods failed.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
/// The annotation that ranks a pod for deletion (`PodDeletionCost`).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
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
    Creating { rs: std::sync::Arc<ReplicaSet>, pods: Listed, left: usize, next: usize },
    /// The deletes answered (`pods` in the order issued).
    Deleting { rs: std::sync::Arc<ReplicaSet>, listed: Listed, pods: Vec<Key> },
    /// The status write answered; `manage_err` is the manage step's error, if it failed.
    Status { manage_err: Option<String>, requeue_after: Option<Duration> },
}

/// What the sync saw of its pods when it started (upstream's `filteredPods`),
/// as much as the status needs.
#[derive(Debug, Default)]
pub struct Listed {
    counts: Counts,
    /// With minReadySeconds: when each ready pod became ready (availability
    /// is judged when the status is computed, after managing, as upstream).
    ready_since: Vec<Option<crate::model::meta::Timestamp>>,
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

    /// The ReplicaSet's active pods as the sync starts.
    fn list(rs: &ReplicaSet, counts: Counts, view: &Cache) -> Listed {
        let mut listed = Listed { counts, ready_since: Vec::new() };
        if rs.spec.min_ready_seconds > 0 {
            listed.ready_since = Self::active_pods(rs, view).filter(|p| p.is_ready()).map(|p| p.ready_since()).collect();
        }
        listed
    }

    fn active_pods<'v>(rs: &'v ReplicaSet, view: &'v Cache) -> impl Iterator<Item = &'v Pod> + 'v {
        view.pods()
            .controlled_by(&rs.metadata.uid)
            .filter(move |p| p.metadata.namespace == rs.metadata.namespace && !p.is_terminal() && !p.metadata.is_deleting())
            .map(|p| &**p)
    }

    /// `calculateStatus` from the pods listed at the start of the sync, at
    /// `now` (after managing), with the ReplicaFailure condition set when
    /// managing failed and cleared when it did not.
    pub fn calculate_status(rs: &ReplicaSet, listed: &Listed, manage_err: Option<&str>, now: SimTime) -> ReplicaSetStatus {
        let counts = listed.counts;
        let mut status = rs.status.clone();
        status.replicas = counts.active;
        status.fully_labeled_replicas = counts.labeled;
        status.ready_replicas = counts.ready;
        status.available_replicas = if rs.spec.min_ready_seconds > 0 {
            listed.ready_since.iter().filter(|&&t| crate::model::pod::available_since(t, rs.spec.min_ready_seconds, now)).count() as i32
        } else {
            counts.ready
        };
        status.observed_generation = rs.metadata.generation;
        let failure = status.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
        match manage_err {
            Some(message) if !failure => {
                let diff = counts.active - rs.spec.replicas.unwrap_or(1);
                let reason = match diff {
                    ..0 => "FailedCreate",
                    1.. => "FailedDelete",
                    0 => "",
                };
                status.conditions.push(crate::model::meta::Condition {
                    type_: REPLICA_FAILURE.into(),
                    status: "True".into(),
                    reason: reason.into(),
                    message: message.into(),
                    last_transition_time: Some(crate::model::meta::Timestamp::from_sim(now)),
                    ..Default::default()
                });
            }
            None if failure => status.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
            _ => {}
        }
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

    /// The status write (if the status changed), then the sync's outcome:
    /// failed if managing failed; otherwise, with minReadySeconds and every
    /// replica ready but not all available, looked at again after minReadySeconds.
    fn update_status(rs: &ReplicaSet, listed: &Listed, manage_err: Option<String>, now: SimTime) -> Step<Stage> {
        let status = Self::calculate_status(rs, listed, manage_err.as_deref(), now);
        let replicas = rs.spec.replicas.unwrap_or(1);
        let requeue_after = (manage_err.is_none() && rs.spec.min_ready_seconds > 0 && status.ready_replicas == replicas && status.available_replicas != replicas)
            .then(|| Duration::from_secs(rs.spec.min_ready_seconds as u64));
        if status == rs.status {
            return Self::outcome(manage_err.is_some(), requeue_after);
        }
        let mut updated = rs.clone();
        updated.status = status;
        Step::Call { ops: vec![WriteOp::UpdateStatus(updated.into())], then: Stage::Status { manage_err, requeue_after } }
    }

    fn outcome(manage_failed: bool, requeue_after: Option<Duration>) -> Step<Stage> {
        if manage_failed { Step::Failed } else { Step::Done { requeue_after } }
    }

    /// `getIndirectlyRelatedPods`: the active pods of every ReplicaSet that
    /// shares this one's controller (itself alone when it has none).
    fn related_pods<'v>(rs: &'v ReplicaSet, view: &'v Cache) -> Vec<&'v Pod> {
        let Some(owner) = rs.metadata.controller_ref() else { return Self::active_pods(rs, view).collect() };
        let mut siblings: Vec<&ReplicaSet> =
            view.replicasets().controlled_by(&owner.uid).filter(|r| r.metadata.namespace == rs.metadata.namespace).map(|r| &**r).collect();
        if !siblings.iter().any(|r| r.metadata.uid == rs.metadata.uid) {
            siblings.push(rs);
        }
        siblings.into_iter().flat_map(|r| Self::active_pods(r, view)).collect()
    }

    fn creates(rs: &ReplicaSet, n: usize) -> Vec<WriteOp> {
        (0..n).map(|_| WriteOp::Create(pod_from_template(rs).into())).collect()
    }
}

/// `ActivePodsWithRanks.Less` (pkg/controller/controller_utils.go): true if
/// `a` should be deleted before `b`. `rank_*` is the number of active pods of
/// the ReplicaSet and its siblings on the pod's node; `now` scales times
/// logarithmically (LogarithmicScaleDown, on by default), ties by uid.
pub fn delete_before(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: SimTime) -> bool {
    // 1. Unassigned < assigned.
    if a.spec.node_name != b.spec.node_name && (!a.is_bound() || !b.is_bound()) {
        return !a.is_bound();
    }
    // 2. Pending < Unknown < Running.
    let phase = |p: &Pod| match p.status.phase.as_str() {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    if phase(a) != phase(b) {
        return phase(a) < phase(b);
    }
    // 3. Not ready < ready.
    if a.is_ready() != b.is_ready() {
        return !a.is_ready();
    }
    // 4. Lower pod-deletion-cost < higher (PodDeletionCost, on by default).
    let (cost_a, cost_b) = (deletion_cost(a), deletion_cost(b));
    if cost_a != cost_b {
        return cost_a < cost_b;
    }
    // 5. Doubled up (more colocated pods) < not.
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    // 6. Ready for a shorter time < longer (empty first).
    if a.is_ready() && b.is_ready() {
        let (ta, tb) = (a.ready_since(), b.ready_since());
        if ta != tb {
            return later_or_unset(ta, tb, a, b, now);
        }
    }
    // 7. More container restarts < fewer.
    if a.max_container_restarts() != b.max_container_restarts() {
        return a.max_container_restarts() > b.max_container_restarts();
    }
    // 8. Created more recently < earlier (empty first).
    let (ca, cb) = (a.metadata.creation_timestamp, b.metadata.creation_timestamp);
    if ca != cb {
        return later_or_unset(ca, cb, a, b, now);
    }
    false
}

/// Rules 6 and 8: an unset time first; else by log2 of the age at `now`
/// (younger bucket first), the same bucket by uid.
fn later_or_unset(ta: Option<Timestamp>, tb: Option<Timestamp>, a: &Pod, b: &Pod, now: SimTime) -> bool {
    let (Some(ta), Some(tb)) = (ta, tb) else { return ta.is_none() };
    let bucket = |t: Timestamp| {
        let age_ns = i128::from(Timestamp::from_sim(now).0) - i128::from(t.0);
        if age_ns > 0 { (age_ns as f64).log2() as i64 } else { -1 }
    };
    match bucket(ta).cmp(&bucket(tb)) {
        std::cmp::Ordering::Equal => a.metadata.uid < b.metadata.uid,
        other => other == std::cmp::Ordering::Less,
    }
}

/// `controller.kubernetes.io/pod-deletion-cost` (an int32; unset or invalid is 0).
fn deletion_cost(p: &Pod) -> i32 {
    p.metadata.annotations.get(POD_DELETION_COST).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `getPodsToDelete`: the first `diff` of `pods` by `delete_before` (unsorted
/// when all go). `related` are the active pods of the ReplicaSet and of the
/// ReplicaSets sharing its controller, whose count per node is each pod's rank.
/// A merge sort on `delete_before` alone: like Go's sort it never fails on a
/// comparison that is not a total order (the logarithmic buckets are not).
pub fn pods_to_delete<'p>(mut pods: Vec<&'p Pod>, related: &[&Pod], diff: usize, now: SimTime) -> Vec<&'p Pod> {
    if diff < pods.len() {
        let mut on_node: BTreeMap<&str, usize> = BTreeMap::new();
        for p in related.iter().filter(|p| !p.is_terminal() && !p.metadata.is_deleting()) {
            *on_node.entry(p.spec.node_name.as_str()).or_default() += 1;
        }
        let rank = |p: &Pod| on_node.get(p.spec.node_name.as_str()).copied().unwrap_or(0);
        merge_sort(&mut pods, &|a, b| delete_before(a, rank(a), b, rank(b), now));
    }
    pods.truncate(diff);
    pods
}

fn merge_sort<'p>(v: &mut Vec<&'p Pod>, less: &dyn Fn(&Pod, &Pod) -> bool) {
    if v.len() < 2 {
        return;
    }
    let right = v.split_off(v.len() / 2);
    let mut left = std::mem::take(v);
    let mut right = right;
    merge_sort(&mut left, less);
    merge_sort(&mut right, less);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        // Stable: the right one goes first only if strictly before.
        if less(right[j], left[i]) {
            v.push(right[j]);
            j += 1;
        } else {
            v.push(left[i]);
            i += 1;
        }
    }
    v.extend_from_slice(&left[i..]);
    v.extend_from_slice(&right[j..]);
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
        let listed = Self::list(&rs, counts, view);
        if !self.satisfied(key, now) || rs.metadata.is_deleting() {
            return Self::update_status(&rs, &listed, None, now);
        }
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        let have = counts.active.max(0) as usize;
        if have < want {
            let n = (want - have).min(BURST_REPLICAS);
            if !crate::mutants::active("rs-no-expectations") {
                self.expectations.insert(key.clone(), Expectations { add: n as i64, del: BTreeSet::new(), set_at: now });
            }
            let batch = n.min(SLOW_START_INITIAL_BATCH);
            let ops = Self::creates(&rs, batch);
            return Step::Call { ops, then: Stage::Creating { rs, pods: listed, left: n - batch, next: 2 * batch } };
        }
        if have > want {
            let n = (have - want).min(BURST_REPLICAS);
            let mut filtered: Vec<&Pod> = Self::active_pods(&rs, view).collect();
            filtered.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            let related = Self::related_pods(&rs, view);
            let victims = pods_to_delete(filtered, &related, n, now);
            let pods: Vec<Key> = victims.iter().map(|p| (p.metadata.namespace.clone(), p.metadata.name.clone())).collect();
            self.expectations.insert(key.clone(), Expectations { add: 0, del: pods.iter().cloned().collect(), set_at: now });
            let ops = victims
                .iter()
                .map(|p| {
                    let target = ObjectRef::new(Kind::Pod, &p.metadata.namespace, &p.metadata.name);
                    WriteOp::Delete { target, options: DeleteOptions { precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() } }
                })
                .collect();
            return Step::Call { ops, then: Stage::Deleting { rs, listed, pods } };
        }
        Self::update_status(&rs, &listed, None, now)
    }

    fn resume(&mut self, now: SimTime, key: &Key, stage: Stage, results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<Stage> {
        match stage {
            Stage::Creating { rs, pods: listed, left, next } => {
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
                if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
                    for _ in 0..left {
                        self.creation_observed(key);
                    }
                    return Self::update_status(&rs, &listed, Some(e.to_string()), now);
                }
                if left == 0 {
                    return Self::update_status(&rs, &listed, None, now);
                }
                let batch = next.min(left);
                Step::Call { ops: Self::creates(&rs, batch), then: Stage::Creating { rs, pods: listed, left: left - batch, next: 2 * batch } }
            }
            Stage::Deleting { rs, listed, pods } => {
                let mut failed: Option<String> = None;
                for (pod, result) in pods.iter().zip(&results) {
                    match result {
                        Ok(_) => self.recorder.normal(now, reference_to(&*rs), "SuccessfulDelete", format!("Deleted pod: {}", pod.1)),
                        Err(e) => {
                            self.deletion_observed(key, pod);
                            // A pod already gone is not a failure (DeletePod ignores NotFound).
                            if !e.is_not_found() {
                                self.recorder.warning(now, reference_to(&*rs), "FailedDelete", format!("Error deleting: {e}"));
                            }
                            if !e.is_not_found() && failed.is_none() {
                                failed = Some(e.to_string());
                            }
                        }
                    }
                }
                Self::update_status(&rs, &listed, failed, now)
            }
            Stage::Status { manage_err, requeue_after } => {
                if results.iter().any(Result::is_err) {
                    Step::Failed
                } else {
                    Self::outcome(manage_err.is_some(), requeue_after)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
