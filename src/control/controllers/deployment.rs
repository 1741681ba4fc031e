//! The Deployment controller (pkg/controller/deployment), apps/v1 semantics.
//!
//! Each Deployment owns ReplicaSets: the *new* one carries the current
//! template (plus a `pod-template-hash` label and selector term); the others
//! are *old*. RollingUpdate scales the new one up while old ones go down,
//! keeping total replicas ≤ desired + maxSurge and available ≥ desired −
//! maxUnavailable (`ResolveFenceposts`: surge rounds up, unavailable down,
//! both 0 → unavailable 1). Recreate scales old ones to 0, waits for their
//! pods to be gone, then scales the new one up. A paused Deployment only
//! scales. Revisions are the `deployment.kubernetes.io/revision` annotation;
//! old ReplicaSets beyond `revisionHistoryLimit` (with no replicas) are
//! deleted. Status: replicas, updated, ready, available, unavailable,
//! observedGeneration, and the Available / Progressing conditions
//! (ProgressDeadlineExceeded after `progressDeadlineSeconds` without progress).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{ApiError, DeleteOptions, WatchEvent};
use crate::control::events::{EventRecorder, reference_to};
use crate::control::host::{Keys, Reconciler, Step};
use crate::control::{Cache, WriteOp};
use crate::model::deployment::IntOrString;
use crate::model::meta::{Condition, OwnerReference, Timestamp};
use crate::model::replicaset::{ReplicaSetSpec, ReplicaSetStatus};
use crate::model::{Deployment, Kind, Object, ObjectMeta, ObjectRef, ReplicaSet};
use crate::time::SimTime;

pub const NAME: &str = "deployment-controller";
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const HASH_LABEL: &str = "pod-template-hash";

type Key = (String, String);

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) as pod counts.
pub fn resolve_fenceposts(surge: Option<&IntOrString>, unavailable: Option<&IntOrString>, desired: i32) -> (i32, i32) {
    let s = surge.map_or(Ok(0), |v| v.scaled_value(desired, true)).unwrap_or(0);
    let u = unavailable.map_or(Ok(0), |v| v.scaled_value(desired, crate::mutants::active("unavailable-rounds-up"))).unwrap_or(0);
    if s == 0 && u == 0 { (0, 1) } else { (s, u) }
}

/// `MaxUnavailable`: maxUnavailable as a pod count, at most the replicas; 0
/// for Recreate or no replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let desired = d.spec.replicas.unwrap_or(1);
    if d.spec.strategy.type_ == "Recreate" || desired == 0 {
        return 0;
    }
    let ru = d.spec.strategy.rolling_update.as_ref();
    let (_, unavailable) = resolve_fenceposts(ru.and_then(|r| r.max_surge.as_ref()), ru.and_then(|r| r.max_unavailable.as_ref()), desired);
    unavailable.min(desired)
}

/// `NewRSNewReplicas`: the new ReplicaSet's size this step (Recreate: all
/// at once; RollingUpdate: up to replicas + maxSurge pods over all ReplicaSets).
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let desired = d.spec.replicas.unwrap_or(1);
    if d.spec.strategy.type_ == "Recreate" {
        return desired;
    }
    let surge = d.spec.strategy.rolling_update.as_ref().and_then(|r| r.max_surge.as_ref()).map_or(0, |v| v.scaled_value(desired, true).unwrap_or(0));
    let current: i32 = all.iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
    let max_total = desired + surge;
    let new = new_rs.spec.replicas.unwrap_or(0);
    if current >= max_total {
        return new;
    }
    new + (max_total - current).min(desired - new)
}

/// `reconcileNewReplicaSet`: the new ReplicaSet's next size, if it changes.
pub fn reconcile_new_replica_set(all: &[&ReplicaSet], new_rs: &ReplicaSet, d: &Deployment) -> Option<i32> {
    let desired = d.spec.replicas.unwrap_or(1);
    let new = new_rs.spec.replicas.unwrap_or(0);
    if new == desired {
        return None;
    }
    let target = if new > desired { desired } else { new_rs_new_replicas(d, all, new_rs) };
    (target != new).then_some(target)
}

/// `ReplicaSetsByCreationTimestamp`: older first, then by name.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `reconcileOldReplicaSets`: the old ReplicaSets' scale-downs, in the order
/// upstream writes them (name, new size; one ReplicaSet may be written twice:
/// unhealthy replicas first, then available ones). `Err` carries the writes
/// made before the sync fails (see `cleanup_unhealthy_replicas`).
pub fn reconcile_old_replica_sets(all: &[&ReplicaSet], old: &[&ReplicaSet], new_rs: &ReplicaSet, d: &Deployment) -> Result<Vec<(String, i32)>, Vec<(String, i32)>> {
    let old_pods: i32 = old.iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
    if old_pods == 0 {
        return Ok(Vec::new());
    }
    let all_pods: i32 = all.iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
    let min_available = d.spec.replicas.unwrap_or(1) - max_unavailable(d);
    let new_unavailable = new_rs.spec.replicas.unwrap_or(0) - new_rs.status.available_replicas;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(Vec::new());
    }
    let mut sorted: Vec<(&ReplicaSet, i32)> = old.iter().map(|rs| (*rs, rs.spec.replicas.unwrap_or(0))).collect();
    sorted.sort_by(|a, b| by_creation(a.0, b.0));
    let (mut writes, _) = cleanup_unhealthy_replicas(&mut sorted, max_scaled_down)?;
    let available: i32 = all.iter().map(|rs| rs.status.available_replicas).sum();
    writes.extend(scale_down_old_replica_sets_for_rolling_update(available, &mut sorted, d));
    Ok(writes)
}

/// `cleanupUnhealthyReplicas`: scales old ReplicaSets (oldest first) down by
/// their unavailable replicas, at most `max_cleanup` in all. `old` holds each
/// ReplicaSet with its current size, updated as written; returns the writes
/// and the count, or `Err` with the writes made before a ReplicaSet whose
/// status reports more available replicas than its spec asks (a lagging
/// status: upstream refuses to "scale down" upwards and fails the sync).
pub fn cleanup_unhealthy_replicas(old: &mut [(&ReplicaSet, i32)], max_cleanup: i32) -> Result<(Vec<(String, i32)>, i32), Vec<(String, i32)>> {
    let mut writes = Vec::new();
    let mut total = 0;
    for (rs, replicas) in old.iter_mut() {
        if total >= max_cleanup {
            break;
        }
        if *replicas == 0 || *replicas == rs.status.available_replicas {
            continue;
        }
        let down = (max_cleanup - total).min(*replicas - rs.status.available_replicas);
        if down < 0 {
            return Err(writes);
        }
        *replicas -= down;
        writes.push((rs.metadata.name.clone(), *replicas));
        total += down;
    }
    Ok((writes, total))
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: with `available` pods over all
/// ReplicaSets, scales old ones (oldest first) down by what exceeds
/// replicas − maxUnavailable.
pub fn scale_down_old_replica_sets_for_rolling_update(available: i32, old: &mut [(&ReplicaSet, i32)], d: &Deployment) -> Vec<(String, i32)> {
    let min_available = d.spec.replicas.unwrap_or(1) - max_unavailable(d);
    let mut writes = Vec::new();
    if available <= min_available {
        return writes;
    }
    let total_down = available - min_available;
    let mut total = 0;
    for (rs, replicas) in old.iter_mut() {
        if total >= total_down {
            break;
        }
        if *replicas == 0 {
            continue;
        }
        let down = (*replicas).min(total_down - total);
        *replicas -= down;
        writes.push((rs.metadata.name.clone(), *replicas));
        total += down;
    }
    writes
}

pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// `MaxSurge`: maxSurge as a pod count (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if d.spec.strategy.type_ == "Recreate" {
        return 0;
    }
    let ru = d.spec.strategy.rolling_update.as_ref();
    resolve_fenceposts(ru.and_then(|r| r.max_surge.as_ref()), ru.and_then(|r| r.max_unavailable.as_ref()), d.spec.replicas.unwrap_or(1)).0
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.get(key).and_then(|v| v.parse().ok())
}

/// `SetReplicasAnnotations`: the Deployment's replicas and replicas + maxSurge
/// as this ReplicaSet last saw them; true if they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, d: &Deployment) -> bool {
    let desired = d.spec.replicas.unwrap_or(1);
    let max = desired + max_surge(d);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS_ANNOTATION, desired), (MAX_REPLICAS_ANNOTATION, max)] {
        if annotation_i32(rs, key) != Some(value) {
            rs.metadata.annotations.insert(key.into(), value.to_string());
            changed = true;
        }
    }
    changed
}

/// `isScalingEvent`: an active ReplicaSet was sized for other replicas than the Deployment's.
pub fn is_scaling_event(d: &Deployment, new_rs: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> bool {
    let desired = d.spec.replicas.unwrap_or(1);
    new_rs.into_iter().chain(old.iter().copied()).filter(|rs| rs.spec.replicas.unwrap_or(0) > 0).any(|rs| annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION).is_some_and(|v| v != desired))
}

/// `IsSaturated`: the new ReplicaSet is at the Deployment's size, sized for it, and all available.
fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let desired = d.spec.replicas.unwrap_or(1);
    rs.spec.replicas == Some(desired) && annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION) == Some(desired) && rs.status.available_replicas == desired
}

/// `getReplicaSetFraction`: how much of the change this ReplicaSet takes, by its share of the size it was made for.
fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let replicas = rs.spec.replicas.unwrap_or(0);
    let desired = d.spec.replicas.unwrap_or(1);
    if desired == 0 {
        return -replicas;
    }
    let max_now = desired + max_surge(d);
    let before = annotation_i32(rs, MAX_REPLICAS_ANNOTATION).unwrap_or(d.status.replicas);
    if before == 0 {
        return 0;
    }
    // integer.RoundToInt32: half away from zero.
    (f64::from(replicas) * f64::from(max_now) / f64::from(before)).round() as i32 - replicas
}

/// `GetReplicaSetProportion`: the fraction, bounded by what is left to add (or remove).
fn replica_set_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs.spec.replicas.unwrap_or(0) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 { fraction.min(allowed) } else { fraction.max(allowed) }
}

/// `scale` (sync.go): the sizes a scaling event gives the ReplicaSets, in
/// write order: the single active (or newest) one to the replicas; old ones
/// to 0 beside a saturated new one; otherwise every active ReplicaSet in
/// proportion to its size, the largest first (newer first when scaling up,
/// older first down), leftovers to the first.
pub fn proportional_scale(d: &Deployment, new_rs: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> Vec<(String, i32)> {
    let desired = d.spec.replicas.unwrap_or(1);
    let active = |rs: &&ReplicaSet| rs.spec.replicas.unwrap_or(0) > 0;
    // FindActiveOrLatest
    let mut newest_first: Vec<&ReplicaSet> = old.to_vec();
    newest_first.sort_by(|a, b| by_creation(b, a));
    let all_active: Vec<&ReplicaSet> = newest_first.iter().copied().chain(new_rs).filter(active).collect();
    let active_or_latest = match all_active.len() {
        0 => new_rs.or(newest_first.first().copied()),
        1 => Some(all_active[0]),
        _ => None,
    };
    if let Some(rs) = active_or_latest {
        return if rs.spec.replicas == Some(desired) { Vec::new() } else { vec![(rs.metadata.name.clone(), desired)] };
    }
    if new_rs.is_some_and(|rs| is_saturated(d, rs)) {
        return old.iter().copied().filter(active).map(|rs| (rs.metadata.name.clone(), 0)).collect();
    }
    if d.spec.strategy.type_ == "Recreate" {
        return Vec::new();
    }
    let mut all: Vec<&ReplicaSet> = old.iter().copied().chain(new_rs).filter(active).collect();
    let total: i32 = all.iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
    let allowed = if desired > 0 { desired + max_surge(d) } else { 0 };
    let to_add = allowed - total;
    let size = |rs: &ReplicaSet| rs.spec.replicas.unwrap_or(0);
    if to_add > 0 {
        // ReplicaSetsBySizeNewer
        all.sort_by(|a, b| size(b).cmp(&size(a)).then_with(|| b.metadata.creation_timestamp.cmp(&a.metadata.creation_timestamp)));
    } else if to_add < 0 {
        // ReplicaSetsBySizeOlder
        all.sort_by(|a, b| size(b).cmp(&size(a)).then_with(|| by_creation(a, b)));
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
    for rs in &all {
        let p = if to_add != 0 { replica_set_proportion(rs, d, to_add, added) } else { 0 };
        sizes.push(size(rs) + p);
        added += p;
    }
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        *first = (*first + to_add - added).max(0);
    }
    all.iter().zip(sizes).map(|(rs, n)| (rs.metadata.name.clone(), n)).collect()
}

/// `DeploymentComplete`: every replica updated and available, the spec observed.
pub fn deployment_complete(d: &Deployment, status: &crate::model::deployment::DeploymentStatus) -> bool {
    let desired = d.spec.replicas.unwrap_or(1);
    status.updated_replicas == desired && status.replicas == desired && status.available_replicas == desired && status.observed_generation >= d.metadata.generation
}

/// A stable hash of the pod template (FNV-1a over its JSON), as a short label value.
pub fn template_hash(d: &Deployment) -> String {
    let json = serde_json::to_string(&d.spec.template).unwrap_or_default();
    let h = crate::seed::stable_hash(&json);
    // upstream renders with SafeEncodeString; a base-36-ish short form is enough here.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut v = h;
    (0..10).map(|_| { let c = ALPHABET[(v % ALPHABET.len() as u64) as usize] as char; v /= ALPHABET.len() as u64; c }).collect()
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.get(REVISION_ANNOTATION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The template without the hash label, to compare with the Deployment's.
fn same_template(rs: &ReplicaSet, d: &Deployment) -> bool {
    let mut t = rs.spec.template.clone();
    t.metadata.labels.remove(HASH_LABEL);
    t == d.spec.template
}

/// `--concurrent-deployment-syncs`.
pub const WORKERS: usize = 5;

pub struct DeploymentController {
    /// ScalingReplicaSet, recorded once a scale write succeeded.
    recorder: EventRecorder,
    /// Per write of the sync being planned: the ScalingReplicaSet message it earns.
    planned: Vec<Option<String>>,
    /// Per Deployment in a sync: its reference and the planned messages, by write.
    announcing: BTreeMap<Key, (crate::model::event::ObjectReference, Vec<Option<String>>)>,
    /// When the Deployment being synced should be looked at again (its progress deadline).
    requeue_after: Option<Duration>,
    /// The sync being planned ends in an error after its writes (upstream returned one).
    failed: bool,
    /// The sync being planned ends with a rate-limited requeue (a progress check due within a second).
    requeue_rate_limited: bool,
}

impl DeploymentController {
    pub fn new() -> Self {
        DeploymentController {
            recorder: EventRecorder::new(NAME, ""),
            planned: Vec::new(),
            announcing: BTreeMap::new(),
            requeue_after: None,
            failed: false,
            requeue_rate_limited: false,
        }
    }

    fn write(&mut self, op: WriteOp, out: &mut Vec<WriteOp>) {
        self.write_announcing(op, None, out);
    }

    fn write_announcing(&mut self, op: WriteOp, scaled: Option<String>, out: &mut Vec<WriteOp>) {
        out.push(op);
        self.planned.push(scaled);
    }

    /// `scaleReplicaSet`: a write if the size or the replicas annotations
    /// (desired-replicas, max-replicas) change; announced only if the size did.
    fn scale(&mut self, d: &Deployment, rs: &ReplicaSet, replicas: i32, out: &mut Vec<WriteOp>) {
        let old = rs.spec.replicas.unwrap_or(0);
        let size_changes = rs.spec.replicas != Some(replicas);
        let mut next = rs.clone();
        let annotations_change = set_replicas_annotations(&mut next, d);
        if !size_changes && !annotations_change {
            return;
        }
        next.spec.replicas = Some(replicas);
        let direction = if old < replicas { "up" } else { "down" };
        let message = size_changes.then(|| format!("Scaled {direction} replica set {} from {old} to {replicas}", rs.metadata.name));
        self.write_announcing(WriteOp::Update(next.into()), message, out);
    }

    fn new_replicaset(&self, d: &Deployment, hash: &str, rev: i64, replicas: i32) -> ReplicaSet {
        let mut template = d.spec.template.clone();
        template.metadata.labels.insert(HASH_LABEL.into(), hash.into());
        let mut selector = d.spec.selector.clone();
        selector.match_labels.insert(HASH_LABEL.into(), hash.into());
        let mut labels = d.spec.template.metadata.labels.clone();
        labels.insert(HASH_LABEL.into(), hash.into());
        ReplicaSet {
            metadata: ObjectMeta {
                name: format!("{}-{hash}", d.metadata.name),
                namespace: d.metadata.namespace.clone(),
                labels,
                annotations: [(REVISION_ANNOTATION.to_string(), rev.to_string())].into(),
                owner_references: vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: d.metadata.name.clone(),
                    uid: d.metadata.uid.clone(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }],
                unmodelled: d.metadata.unmodelled.subtree(&["spec", "template"]).nested(&["spec", "template"]),
                ..Default::default()
            },
            spec: ReplicaSetSpec { replicas: Some(replicas), min_ready_seconds: d.spec.min_ready_seconds, selector, template },
            status: ReplicaSetStatus::default(),
        }
    }

    /// `syncDeployment` for one Deployment: its writes in the order upstream makes them.
    fn sync(&mut self, now: SimTime, key: &Key, view: &Cache, out: &mut Vec<WriteOp>) {
        let Some(d) = view.deployments().get(&key.0, &key.1) else {
            return;
        };
        let owned: Vec<&ReplicaSet> = view.replicasets().controlled_by(&d.metadata.uid).filter(|rs| rs.metadata.namespace == key.0).map(|rs| &**rs).collect();
        let new_rs = owned.iter().copied().find(|rs| same_template(rs, d));
        if d.metadata.is_deleting() {
            // `syncStatusOnly`.
            self.sync_deployment_status(d, new_rs, &owned, now, out);
            return;
        }
        let paused_checked = self.check_paused_conditions(now, d, out);
        let d = paused_checked.as_ref().unwrap_or(d);
        let mut old: Vec<&ReplicaSet> = owned.iter().copied().filter(|rs| !same_template(rs, d)).collect();
        old.sort_by(|a, b| by_creation(a, b));
        let max_rev = owned.iter().map(|rs| revision(rs)).max().unwrap_or(0);
        // `getNewReplicaSet` on an existing one: its revision becomes the highest
        // (a rollback re-uses an old ReplicaSet); the sync goes on with it.
        let old_max_rev = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);
        // getNewReplicaSet on an existing one: its revision above every old
        // one's and its minReadySeconds the Deployment's, written if either
        // changes (and the sync goes on with it); else the Deployment carries
        // its revision (SetDeploymentRevision) and a Progressing condition if
        // it has none (FoundNewReplicaSet), written at once, the sync going on
        // with them in memory (upstream discards that write's answer).
        let synced;
        let mut revision_synced = None;
        let new_rs = match new_rs {
            Some(rs) if revision(rs) <= old_max_rev || rs.spec.min_ready_seconds != d.spec.min_ready_seconds => {
                let mut next = rs.clone();
                if revision(rs) <= old_max_rev {
                    next.metadata.annotations.insert(REVISION_ANNOTATION.into(), (old_max_rev + 1).to_string());
                }
                next.spec.min_ready_seconds = d.spec.min_ready_seconds;
                self.write(WriteOp::Update(next.clone().into()), out);
                synced = next;
                Some(&synced)
            }
            Some(rs) => {
                revision_synced = self.sync_deployment_revision(now, d, rs, revision(rs), out);
                Some(rs)
            }
            None => None,
        };
        let d = revision_synced.as_ref().unwrap_or(d);
        // `dc.sync`: a paused Deployment, or one whose replicas changed
        // (`isScalingEvent`), is only scaled (proportionally across its
        // ReplicaSets), cleaned up if paused, and its status written.
        if d.spec.paused || is_scaling_event(d, new_rs, &old) {
            for (name, to) in proportional_scale(d, new_rs, &old) {
                if let Some(rs) = new_rs.into_iter().chain(old.iter().copied()).find(|rs| rs.metadata.name == name) {
                    self.scale(d, rs, to, out);
                }
            }
            if d.spec.paused {
                self.cleanup(d, &old, out);
            }
            let owned: Vec<&ReplicaSet> = old.iter().copied().chain(new_rs).collect();
            self.sync_deployment_status(d, new_rs, &owned, now, out);
            return;
        }
        if d.spec.strategy.type_ == "Recreate" {
            self.rollout_recreate(now, d, new_rs, &old, max_rev, view, out);
        } else {
            self.rollout_rolling(now, d, new_rs, &old, max_rev, out);
        }
    }

    /// `rolloutRolling`: create the new ReplicaSet if missing (and go on with
    /// it in the same sync), scale it up if possible, else scale old ones
    /// down; after either, only the status. Old ReplicaSets are cleaned up
    /// only once the rollout is complete.
    fn rollout_rolling(&mut self, now: SimTime, d: &Deployment, new_rs: Option<&ReplicaSet>, old: &[&ReplicaSet], max_rev: i64, out: &mut Vec<WriteOp>) {
        let new_rs = self.existing_or_created(now, d, new_rs, old, max_rev, out);
        let new_rs: &ReplicaSet = &new_rs;
        let all: Vec<&ReplicaSet> = old.iter().copied().chain([new_rs]).collect();
        let owned = all.clone();
        if let Some(n) = reconcile_new_replica_set(&all, new_rs, d) {
            self.scale(d, new_rs, n, out);
            self.update_status(now, d, Some(new_rs), &owned, out);
            return;
        }
        let active_old: Vec<&ReplicaSet> = old.iter().copied().filter(|rs| rs.spec.replicas.unwrap_or(0) > 0).collect();
        let scales = match reconcile_old_replica_sets(&all, &active_old, new_rs, d) {
            Ok(scales) => scales,
            Err(before) => {
                self.failed = true;
                before
            }
        };
        if !scales.is_empty() || self.failed {
            // Each write continues from the previous one's result (`oldRSs[i] = updatedOldRS`).
            let mut current: BTreeMap<&str, ReplicaSet> = BTreeMap::new();
            for (name, to) in scales {
                let Some(rs) = active_old.iter().find(|rs| rs.metadata.name == name) else { continue };
                let now_rs = current.remove(rs.metadata.name.as_str()).unwrap_or_else(|| (*rs).clone());
                self.scale(d, &now_rs, to, out);
                let mut next = now_rs;
                next.spec.replicas = Some(to);
                current.insert(&rs.metadata.name, next);
            }
            if !self.failed {
                self.update_status(now, d, Some(new_rs), &owned, out);
            }
            return;
        }
        if deployment_complete(d, &d.status) {
            self.cleanup(d, old, out);
        }
        self.update_status(now, d, Some(new_rs), &owned, out);
    }

    /// `rolloutRecreate`: old ReplicaSets to 0; once none of their pods runs,
    /// the new ReplicaSet (created then, at full size) up to the replicas.
    #[allow(clippy::too_many_arguments)]
    fn rollout_recreate(&mut self, now: SimTime, d: &Deployment, new_rs: Option<&ReplicaSet>, old: &[&ReplicaSet], max_rev: i64, view: &Cache, out: &mut Vec<WriteOp>) {
        let desired = d.spec.replicas.unwrap_or(1);
        let owned: Vec<&ReplicaSet> = old.iter().copied().chain(new_rs).collect();
        let mut scaled_down = false;
        for rs in old.iter().filter(|rs| rs.spec.replicas.unwrap_or(0) > 0) {
            self.scale(d, rs, 0, out);
            scaled_down = true;
        }
        // `oldPodsRunning`: old ReplicaSets still report replicas, or a pod of theirs is not terminal.
        let old_pods_running = || {
            old.iter().map(|rs| rs.status.replicas).sum::<i32>() > 0
                || old.iter().any(|rs| view.pods().controlled_by(&rs.metadata.uid).any(|p| !p.is_terminal()))
        };
        if scaled_down || old_pods_running() {
            self.update_status(now, d, new_rs, &owned, out);
            return;
        }
        let new_rs = self.existing_or_created(now, d, new_rs, old, max_rev, out);
        let new_rs: &ReplicaSet = &new_rs;
        self.scale(d, new_rs, desired, out);
        if deployment_complete(d, &d.status) {
            self.cleanup(d, old, out);
        }
        let owned: Vec<&ReplicaSet> = old.iter().copied().chain([new_rs]).collect();
        self.update_status(now, d, Some(new_rs), &owned, out);
    }

    /// `SetDeploymentRevision` and the FoundNewReplicaSet condition, written if either changes.
    fn sync_deployment_revision(&mut self, now: SimTime, d: &Deployment, new_rs: &ReplicaSet, revision: i64, out: &mut Vec<WriteOp>) -> Option<Deployment> {
        let mut next = d.clone();
        let mut changed = false;
        if next.metadata.annotations.get(REVISION_ANNOTATION).map(String::as_str) != Some(revision.to_string().as_str()) {
            next.metadata.annotations.insert(REVISION_ANNOTATION.into(), revision.to_string());
            changed = true;
        }
        if has_progress_deadline(d) && !next.status.conditions.iter().any(|c| c.type_ == "Progressing") {
            let message = format!("Found new replica set {:?}", new_rs.metadata.name);
            set_deployment_condition(&mut next.status, new_condition("Progressing", "True", "FoundNewReplicaSet", message, now));
            changed = true;
        }
        if !changed {
            return None;
        }
        self.write(WriteOp::UpdateStatus(next.clone().into()), out);
        Some(next)
    }

    /// The new ReplicaSet: the existing one, or one created now (`getNewReplicaSet`).
    fn existing_or_created<'r>(&mut self, now: SimTime, d: &Deployment, new_rs: Option<&'r ReplicaSet>, old: &[&ReplicaSet], max_rev: i64, out: &mut Vec<WriteOp>) -> std::borrow::Cow<'r, ReplicaSet> {
        match new_rs {
            Some(rs) => std::borrow::Cow::Borrowed(rs),
            None => std::borrow::Cow::Owned(self.create_new_replicaset(now, d, old, max_rev, out)),
        }
    }

    /// `getNewReplicaSet` creating one: at `NewRSNewReplicas`, then the
    /// Progressing=NewReplicaSetCreated condition (its answer is not used by
    /// the rest of the sync, as upstream's is discarded). Returns the ReplicaSet as created.
    fn create_new_replicaset(&mut self, now: SimTime, d: &Deployment, old: &[&ReplicaSet], max_rev: i64, out: &mut Vec<WriteOp>) -> ReplicaSet {
        let hash = template_hash(d);
        let mut rs = self.new_replicaset(d, &hash, max_rev + 1, 0);
        let all: Vec<&ReplicaSet> = old.iter().copied().chain([&rs]).collect();
        let replicas = new_rs_new_replicas(d, &all, &rs);
        rs.spec.replicas = Some(replicas);
        set_replicas_annotations(&mut rs, d);
        let message = (replicas > 0).then(|| format!("Scaled up replica set {} from 0 to {replicas}", rs.metadata.name));
        let created = format!("Created new replica set {:?}", rs.metadata.name);
        self.write_announcing(WriteOp::Create(rs.clone().into()), message, out);
        // The Progressing condition starts the deadline's clock.
        let mut next = d.clone();
        next.metadata.annotations.insert(REVISION_ANNOTATION.into(), (max_rev + 1).to_string());
        let ts = Some(Timestamp::from_sim(now));
        let transition = next.status.conditions.iter().find(|c| c.type_ == "Progressing" && c.status == "True").and_then(|c| c.last_transition_time).or(ts);
        next.status.conditions.retain(|c| c.type_ != "Progressing");
        next.status.conditions.push(Condition { type_: "Progressing".into(), status: "True".into(), reason: "NewReplicaSetCreated".into(), message: created, last_update_time: ts, last_transition_time: transition, ..Default::default() });
        self.write(WriteOp::UpdateStatus(Object::Deployment(std::sync::Arc::new(next))), out);
        rs
    }

    /// `cleanupDeployment`: of the old ReplicaSets not being deleted, those
    /// beyond revisionHistoryLimit, lowest revision first, deleted if empty.
    fn cleanup(&mut self, d: &Deployment, old: &[&ReplicaSet], out: &mut Vec<WriteOp>) {
        let Some(limit) = d.spec.revision_history_limit else { return };
        let mut alive: Vec<&&ReplicaSet> = old.iter().filter(|rs| !rs.metadata.is_deleting()).collect();
        let diff = alive.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return;
        }
        alive.sort_by(|a, b| revision(a).cmp(&revision(b)).then_with(|| by_creation(a, b)));
        for rs in alive.into_iter().take(diff as usize) {
            if rs.status.replicas != 0 || rs.spec.replicas.unwrap_or(0) != 0 || rs.metadata.generation > rs.status.observed_generation {
                continue;
            }
            let target = ObjectRef::new(Kind::ReplicaSet, &rs.metadata.namespace, &rs.metadata.name);
            self.write(WriteOp::Delete { target, options: DeleteOptions::default() }, out);
        }
    }

    /// `syncRolloutStatus`: the status with progress judged, written if it
    /// changed; if not, looked at again when the progress deadline is due.
    fn update_status(&mut self, now: SimTime, d: &Deployment, new_rs: Option<&ReplicaSet>, owned: &[&ReplicaSet], out: &mut Vec<WriteOp>) {
        let status = rollout_status(d, owned, new_rs, now);
        if status == d.status {
            match requeue_stuck_deployment(d, &status, now) {
                None => {}
                // Under a second left (or past it): `enqueueRateLimited`.
                Some(after) if after < Duration::from_secs(1) => self.requeue_rate_limited = true,
                // Upstream adds a second against clock skew in AddAfter.
                Some(after) => self.requeue_after = Some(after + Duration::from_secs(1)),
            }
            return;
        }
        let mut next = d.clone();
        next.status = status;
        self.write(WriteOp::UpdateStatus(next.into()), out);
    }

    /// `syncDeploymentStatus`: the status without judging progress (a paused
    /// Deployment, or a scaling event), written if it changed.
    fn sync_deployment_status(&mut self, d: &Deployment, new_rs: Option<&ReplicaSet>, owned: &[&ReplicaSet], now: SimTime, out: &mut Vec<WriteOp>) {
        let status = calculate_status(owned, new_rs, d, now);
        if status != d.status {
            let mut next = d.clone();
            next.status = status;
            self.write(WriteOp::UpdateStatus(next.into()), out);
        }
    }

    /// `checkPausedConditions`: pausing sets Progressing=Unknown/DeploymentPaused,
    /// resuming Unknown/DeploymentResumed, written at once; the sync goes on
    /// with the status as changed in memory (upstream discards the answer, so
    /// the sync's own later status write conflicts and it is retried).
    fn check_paused_conditions(&mut self, now: SimTime, d: &Deployment, out: &mut Vec<WriteOp>) -> Option<Deployment> {
        if !has_progress_deadline(d) {
            return None;
        }
        let paused_cond = d.status.conditions.iter().any(|c| c.type_ == "Progressing" && c.reason == "DeploymentPaused");
        let (reason, message) = match (d.spec.paused, paused_cond) {
            (true, false) => ("DeploymentPaused", "Deployment is paused"),
            (false, true) => ("DeploymentResumed", "Deployment is resumed"),
            _ => return None,
        };
        let mut next = d.clone();
        set_deployment_condition(&mut next.status, new_condition("Progressing", "Unknown", reason, message.into(), now));
        self.write(WriteOp::UpdateStatus(next.clone().into()), out);
        Some(next)
    }
}

/// `NewDeploymentCondition`: both times now.
fn new_condition(type_: &str, status: &str, reason: &str, message: String, now: SimTime) -> Condition {
    let ts = Some(Timestamp::from_sim(now));
    Condition { type_: type_.into(), status: status.into(), reason: reason.into(), message, last_update_time: ts, last_transition_time: ts, ..Default::default() }
}

/// `SetDeploymentCondition`: unchanged if status and reason are the same;
/// the transition time kept if only the reason changes; moved to the end.
pub fn set_deployment_condition(status: &mut crate::model::deployment::DeploymentStatus, mut condition: Condition) {
    if let Some(current) = status.conditions.iter().find(|c| c.type_ == condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time;
        }
    }
    status.conditions.retain(|c| c.type_ != condition.type_);
    status.conditions.push(condition);
}

/// `HasProgressDeadline`: set, and not MaxInt32 (the "infinite" deadline).
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.progress_deadline_seconds.is_some_and(|s| s != i32::MAX)
}

fn progress_deadline(d: &Deployment) -> Duration {
    Duration::from_secs(d.spec.progress_deadline_seconds.unwrap_or(600).max(0) as u64)
}

/// `calculateStatus`: counts from the ReplicaSets (unavailable from their
/// spec sizes), conditions copied, Available by replicas − MaxUnavailable.
pub fn calculate_status(all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>, d: &Deployment, now: SimTime) -> crate::model::deployment::DeploymentStatus {
    let available: i32 = all.iter().map(|rs| rs.status.available_replicas).sum();
    let total: i32 = all.iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
    let mut s = d.status.clone();
    s.observed_generation = d.metadata.generation;
    s.replicas = all.iter().map(|rs| rs.status.replicas).sum();
    s.updated_replicas = new_rs.map_or(0, |rs| rs.status.replicas);
    s.ready_replicas = all.iter().map(|rs| rs.status.ready_replicas).sum();
    s.available_replicas = available;
    s.unavailable_replicas = (total - available).max(0);
    let condition = if available >= d.spec.replicas.unwrap_or(1) - max_unavailable(d) {
        new_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into(), now)
    } else {
        new_condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".into(), now)
    };
    set_deployment_condition(&mut s, condition);
    s
}

/// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones.
pub fn deployment_progressing(d: &Deployment, s: &crate::model::deployment::DeploymentStatus) -> bool {
    let old = &d.status;
    s.updated_replicas > old.updated_replicas || (s.replicas - s.updated_replicas) < (old.replicas - old.updated_replicas) || s.ready_replicas > old.ready_replicas || s.available_replicas > old.available_replicas
}

/// `DeploymentTimedOut`: the Progressing condition's lastUpdateTime + the deadline lies before now (strictly).
pub fn deployment_timed_out(d: &Deployment, s: &crate::model::deployment::DeploymentStatus, now: SimTime) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = s.conditions.iter().find(|c| c.type_ == "Progressing") else { return false };
    match c.reason.as_str() {
        "NewReplicaSetAvailable" => false,
        "ProgressDeadlineExceeded" => true,
        _ => c.last_update_time.is_some_and(|t| t.to_sim() + progress_deadline(d) < now),
    }
}

/// The status `syncRolloutStatus` writes: `calculateStatus`, then (with a
/// progress deadline, unless the rollout already completed) Progressing as
/// complete, progressing (lastUpdateTime moves, the transition time stays
/// while True) or timed out; without a deadline, no Progressing condition.
pub fn rollout_status(d: &Deployment, all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>, now: SimTime) -> crate::model::deployment::DeploymentStatus {
    let mut s = calculate_status(all, new_rs, d, now);
    if !has_progress_deadline(d) {
        s.conditions.retain(|c| c.type_ != "Progressing");
    }
    let current = d.status.conditions.iter().find(|c| c.type_ == "Progressing");
    let is_complete = s.replicas == s.updated_replicas && current.is_some_and(|c| c.reason == "NewReplicaSetAvailable");
    if has_progress_deadline(d) && !is_complete {
        let subject = |what: &str| match new_rs {
            Some(rs) => format!("ReplicaSet {:?} {what}", rs.metadata.name),
            None => format!("Deployment {:?} {what}", d.metadata.name),
        };
        if deployment_complete(d, &s) {
            set_deployment_condition(&mut s, new_condition("Progressing", "True", "NewReplicaSetAvailable", subject("has successfully progressed."), now));
        } else if deployment_progressing(d, &s) {
            let mut condition = new_condition("Progressing", "True", "ReplicaSetUpdated", subject("is progressing."), now);
            if let Some(c) = current {
                if c.status == "True" {
                    condition.last_transition_time = c.last_transition_time;
                }
                s.conditions.retain(|c| c.type_ != "Progressing");
            }
            set_deployment_condition(&mut s, condition);
        } else if deployment_timed_out(d, &s, now) {
            set_deployment_condition(&mut s, new_condition("Progressing", "False", "ProgressDeadlineExceeded", subject("has timed out progressing."), now));
        }
    }
    s
}

/// `requeueStuckDeployment`: when to look again for a rollout that has not
/// progressed (None: no need; zero: now, rate limited).
pub fn requeue_stuck_deployment(d: &Deployment, new_status: &crate::model::deployment::DeploymentStatus, now: SimTime) -> Option<Duration> {
    let current = d.status.conditions.iter().find(|c| c.type_ == "Progressing")?;
    if !has_progress_deadline(d) || deployment_complete(d, new_status) || current.reason == "ProgressDeadlineExceeded" {
        return None;
    }
    let due = current.last_update_time.map_or(SimTime::ZERO, |t| t.to_sim()) + progress_deadline(d);
    let after = if due > now { due.since(now) } else { Duration::ZERO };
    Some(if after < Duration::from_secs(1) { Duration::ZERO } else { after })
}

impl Reconciler for DeploymentController {
    type Key = Key;
    /// A Deployment's sync makes its calls in sequence; it never resumes.
    type Stage = ();

    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Deployment, Kind::ReplicaSet, Kind::Pod]
    }

    fn workers(&self) -> usize {
        WORKERS
    }

    fn restart(&mut self) {
        *self = DeploymentController::new();
    }

    fn recorder(&mut self) -> Option<&mut EventRecorder> {
        Some(&mut self.recorder)
    }

    /// A write of the sync's sequence answered: a successful scale is announced.
    fn sequence_answered(&mut self, now: SimTime, key: &Key, index: usize, result: &Result<Object, ApiError>) {
        if result.is_ok()
            && let Some((about, planned)) = self.announcing.get(key)
            && let Some(Some(message)) = planned.get(index)
        {
            self.recorder.normal(now, about.clone(), "ScalingReplicaSet", message.clone());
        }
    }

    fn on_synced(&mut self, _now: SimTime, view: &Cache, keys: &mut Keys<Key>) {
        for d in view.deployments().iter() {
            keys.add((d.metadata.namespace.clone(), d.metadata.name.clone()));
        }
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, view: &Cache, keys: &mut Keys<Key>) {
        match &ev.object {
            Object::Deployment(d) => keys.add((d.metadata.namespace.clone(), d.metadata.name.clone())),
            Object::ReplicaSet(rs) => {
                if let Some(r) = rs.metadata.controller_ref().filter(|r| r.kind == "Deployment") {
                    keys.add((rs.metadata.namespace.clone(), r.name.clone()));
                }
            }
            // A pod going away can unblock a Recreate rollout.
            Object::Pod(p) if ev.type_ == crate::api::WatchEventType::Deleted => {
                if let Some(rs) = p.metadata.controller_ref().and_then(|r| view.replicasets().get(&p.metadata.namespace, &r.name))
                    && let Some(d) = rs.metadata.controller_ref().filter(|r| r.kind == "Deployment")
                {
                    keys.add((p.metadata.namespace.clone(), d.name.clone()));
                }
            }
            _ => {}
        }
    }

    /// `syncDeployment`: its writes (ReplicaSets first, the Deployment's
    /// status last) go out one after another, each once the previous one
    /// answered; the first failure fails the sync.
    fn reconcile(&mut self, now: SimTime, key: &Key, view: &Cache, _keys: &mut Keys<Key>) -> Step<()> {
        self.requeue_after = None;
        self.failed = false;
        self.requeue_rate_limited = false;
        self.planned.clear();
        let mut ops = Vec::new();
        self.sync(now, key, view, &mut ops);
        let planned = std::mem::take(&mut self.planned);
        match view.deployments().get(&key.0, &key.1) {
            Some(d) if planned.iter().any(Option::is_some) => {
                self.announcing.insert(key.clone(), (reference_to(&**d), planned));
            }
            _ => {
                self.announcing.remove(key);
            }
        }
        let then = if std::mem::take(&mut self.failed) {
            Step::Failed
        } else if std::mem::take(&mut self.requeue_rate_limited) {
            Step::DoneRequeueRateLimited
        } else {
            Step::Done { requeue_after: self.requeue_after.take() }
        };
        Step::Sequence { ops, then: Box::new(then) }
    }

    fn resume(&mut self, _now: SimTime, _key: &Key, _stage: (), _results: Vec<Result<Object, ApiError>>, _view: &Cache, _keys: &mut Keys<Key>) -> Step<()> {
        Step::done()
    }
}

#[cfg(test)]
mod tests;
