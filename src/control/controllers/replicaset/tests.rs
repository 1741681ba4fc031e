//! The ReplicaSet controller driven through `reconcile`/`resume` and through
//! its host with hand-made inputs (cases after upstream's replica_set_test.go).

use super::*;
use crate::api::ApiError;
use crate::control::host::Host;
use crate::control::workqueue::WorkQueue;
use crate::control::{Component, Effect, Input, Outbox, RequestId};
use std::sync::Arc;

fn cache(objects: Vec<Object>) -> Cache {
    let mut c = Cache::new(&[Kind::ReplicaSet, Kind::Pod]);
    for (i, o) in objects.into_iter().enumerate() {
        c.apply(&WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object: o, revision: i as i64 + 1 });
    }
    c
}

fn rs(replicas: i32) -> ReplicaSet {
    let mut r: ReplicaSet = serde_yaml::from_str(
        "metadata: {name: foobar, namespace: default, uid: rs-uid, generation: 1}\nspec: {selector: {matchLabels: {app: foo}}, template: {metadata: {labels: {app: foo}}, spec: {containers: [{name: c, image: i}]}}}",
    )
    .unwrap();
    r.spec.replicas = Some(replicas);
    r
}

fn owned_pod(name: &str, node: &str, phase: &str, ready: bool, created_s: u64) -> Object {
    let mut p = pod_from_template(&rs(1));
    p.metadata.name = name.into();
    p.metadata.uid = format!("uid-{name}");
    p.metadata.creation_timestamp = Some(crate::model::meta::Timestamp::from_sim(SimTime::from_secs(created_s)));
    p.spec.node_name = node.into();
    p.status.phase = phase.into();
    if ready {
        p.status.conditions.push(crate::model::meta::Condition { type_: "Ready".into(), status: "True".into(), ..Default::default() });
    }
    p.into()
}

/// A controller that has seen every object of `view` arrive, as its host hands them over.
fn fed(view: &Cache) -> ReplicaSetController {
    let mut c = ReplicaSetController::new();
    let mut q = WorkQueue::new();
    for o in view.list(Kind::ReplicaSet).chain(view.list(Kind::Pod)) {
        let ev = WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object: o.clone(), revision: 1 };
        c.on_event(SimTime::ZERO, &ev, view, &mut Keys::new(&mut q, SimTime::ZERO));
    }
    c.expectations.clear();
    c
}

fn key() -> Key {
    ("default".into(), "foobar".into())
}

fn step(c: &mut ReplicaSetController, view: &Cache) -> Step<Stage> {
    let mut q = WorkQueue::new();
    let mut keys = Keys::new(&mut q, SimTime::ZERO);
    c.reconcile(SimTime::ZERO, &key(), view, &mut keys)
}

fn resume(c: &mut ReplicaSetController, view: &Cache, stage: Stage, results: Vec<Result<Object, ApiError>>) -> Step<Stage> {
    let mut q = WorkQueue::new();
    let mut keys = Keys::new(&mut q, SimTime::ZERO);
    c.resume(SimTime::ZERO, &key(), stage, results, view, &mut keys)
}

fn ok(n: usize) -> Vec<Result<Object, ApiError>> {
    (0..n).map(|_| Ok(Object::from(rs(0)))).collect()
}

fn creates(s: &Step<Stage>) -> usize {
    match s {
        Step::Call { ops, .. } => ops.iter().filter(|o| matches!(o, WriteOp::Create(_))).count(),
        _ => 0,
    }
}

/// TestSyncReplicaSetCreates, with upstream's slow start: batches of 1, 2, 4, …
#[test]
fn sync_replica_set_creates_in_slow_start_batches() {
    let view = cache(vec![rs(10).into()]);
    let mut c = fed(&view);
    let mut s = step(&mut c, &view);
    let mut batches = Vec::new();
    while let Step::Call { ops, then } = s {
        let n = ops.iter().filter(|o| matches!(o, WriteOp::Create(_))).count();
        if n == 0 {
            assert!(matches!(ops[0], WriteOp::UpdateStatus(_)), "status last");
            s = resume(&mut c, &view, then, ok(1));
            break;
        }
        batches.push(n);
        s = resume(&mut c, &view, then, ok(n));
    }
    assert_eq!(batches, [1, 2, 4, 3]);
    assert!(matches!(s, Step::Done { .. }));
    assert!(!c.satisfied(&key(), SimTime::ZERO), "10 creations expected, none observed yet");
}

/// TestSyncReplicaSetCreateFailures: a failed batch skips the rest, and the
/// skipped and failed creations are no longer expected; the sync fails.
#[test]
fn sync_replica_set_create_failures_skip_the_remaining_batches() {
    let view = cache(vec![rs(3).into()]);
    let mut c = fed(&view);
    let s = step(&mut c, &view);
    let Step::Call { then, .. } = s else { panic!("creates") };
    let quota = ApiError::Forbidden { target: ObjectRef::new(Kind::Pod, "default", "foobar-x"), reason: "exceeded quota".into() };
    let s = resume(&mut c, &view, then, vec![Err(quota)]);
    assert_eq!(creates(&s), 0, "no more batches after a failure");
    let Step::Call { ops, then } = s else { panic!("status") };
    assert!(matches!(ops[..], [WriteOp::UpdateStatus(_)]));
    assert!(c.satisfied(&key(), SimTime::ZERO), "nothing left expected");
    assert!(matches!(resume(&mut c, &view, then, ok(1)), Step::Failed), "requeued with backoff");
}

/// TestSyncReplicaSetDeletes and upstream's deletion ranking: all deletes at once.
#[test]
fn sync_replica_set_deletes_unassigned_pending_and_unready_pods_first() {
    let view = cache(vec![
        rs(1).into(),
        owned_pod("running-ready", "n1", "Running", true, 1),
        owned_pod("running-unready", "n1", "Running", false, 2),
        owned_pod("pending-bound", "n2", "Pending", false, 3),
        owned_pod("unbound", "", "Pending", false, 4),
    ]);
    let mut c = fed(&view);
    let Step::Call { ops, then } = step(&mut c, &view) else { panic!("deletes") };
    let names: Vec<String> = ops
        .iter()
        .map(|o| match o {
            WriteOp::Delete { target, .. } => target.name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["unbound", "pending-bound", "running-unready"]);
    assert!(!c.satisfied(&key(), SimTime::ZERO));
    // The deletions are observed as soon as the pods carry a deletionTimestamp.
    let mut q = WorkQueue::new();
    for n in &names {
        let mut p = view.pods().get("default", n).unwrap().as_ref().clone();
        p.metadata.deletion_timestamp = Some(crate::model::meta::Timestamp(1));
        let ev = WatchEvent { type_: WatchEventType::Modified, key: Arc::from(""), object: p.into(), revision: 9 };
        c.on_event(SimTime::ZERO, &ev, &view, &mut Keys::new(&mut q, SimTime::ZERO));
    }
    assert!(c.satisfied(&key(), SimTime::ZERO));
    assert!(matches!(resume(&mut c, &view, then, ok(3)), Step::Call { .. }), "then the status");
}

/// TestSyncReplicaSetDormancy: with creations expected and not yet observed,
/// a second sync creates nothing more (only the status).
#[test]
fn sync_replica_set_dormancy_until_expectations_are_met() {
    let view = cache(vec![rs(2).into()]);
    let mut c = fed(&view);
    assert_eq!(creates(&step(&mut c, &view)), 1);
    let s = step(&mut c, &view);
    assert_eq!(creates(&s), 0, "expectations not satisfied: no new creates");
    // Once both creations are observed, it manages again.
    for name in ["foobar-a", "foobar-b"] {
        let ev = WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object: owned_pod(name, "", "Pending", false, 1), revision: 5 };
        c.on_event(SimTime::ZERO, &ev, &view, &mut Keys::new(&mut WorkQueue::new(), SimTime::ZERO));
    }
    assert!(c.satisfied(&key(), SimTime::ZERO));
    // Expectations also expire after 5 minutes (TestControllerExpectations' TTL).
    let mut c2 = fed(&view);
    step(&mut c2, &view);
    assert!(!c2.satisfied(&key(), SimTime::from_secs(300)));
    assert!(c2.satisfied(&key(), SimTime::from_secs(301)));
}

/// TestStatusUpdatesWithoutReplicasChange: the status reflects the pods even
/// when no replica changes, and an unchanged status writes nothing.
#[test]
fn status_updates_without_replicas_change() {
    let view = cache(vec![rs(2).into(), owned_pod("a", "n1", "Running", true, 1), owned_pod("b", "n1", "Running", false, 2)]);
    let mut c = fed(&view);
    let Step::Call { ops, then } = step(&mut c, &view) else { panic!("status write") };
    let WriteOp::UpdateStatus(o) = &ops[0] else { panic!("{ops:?}") };
    let s = &o.as_replicaset().unwrap().status;
    assert_eq!((s.replicas, s.ready_replicas, s.available_replicas, s.observed_generation), (2, 1, 1, 1));
    assert!(matches!(resume(&mut c, &view, then, ok(1)), Step::Done { .. }));
    let mut synced = rs(2);
    synced.status = s.clone();
    let view = cache(vec![synced.into(), owned_pod("a", "n1", "Running", true, 1), owned_pod("b", "n1", "Running", false, 2)]);
    let mut c = fed(&view);
    assert!(matches!(step(&mut c, &view), Step::Done { .. }), "nothing to write");
}

/// TestControllerUpdateStatusWithFailure: a failed status write fails the sync.
#[test]
fn controller_update_status_with_failure_requeues() {
    let view = cache(vec![rs(0).into()]);
    let mut c = fed(&view);
    let Step::Call { then, .. } = step(&mut c, &view) else { panic!("status write") };
    let conflict = ApiError::Conflict { target: ObjectRef::new(Kind::ReplicaSet, "default", "foobar"), reason: "modified".into() };
    assert!(matches!(resume(&mut c, &view, then, vec![Err(conflict)]), Step::Failed));
}

/// The host: at most `--concurrent-replicaset-syncs` (5) syncs at once, and a
/// sync's next step only after every call of the step answered.
#[test]
fn the_host_runs_five_syncs_at_once_and_one_step_after_another() {
    let mut host = Host::new(ReplicaSetController::new());
    let mut objects: Vec<Object> = Vec::new();
    for i in 0..8 {
        let mut r = rs(2);
        r.metadata.name = format!("rs-{i}");
        r.metadata.uid = format!("uid-{i}");
        objects.push(r.into());
    }
    let view = cache(objects);
    let mut out = Outbox::default();
    host.handle(SimTime::ZERO, Input::Synced, &view, &mut out);
    let first: Vec<(RequestId, String)> = out
        .drain()
        .filter_map(|e| match e {
            Effect::Write { id, op: WriteOp::Create(o) } => Some((id, o.meta().generate_name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(first.len(), 5, "five syncs, one create each (slow start): {first:?}");
    // Nothing more until an answer arrives.
    host.handle(SimTime::ZERO, Input::Timer { token: 0 }, &view, &mut out);
    assert!(out.is_empty());
    // Answering rs-0's create lets its sync make its next batch (1 left).
    let (id, _) = first[0].clone();
    host.handle(SimTime::ZERO, Input::WriteResult { id, result: Ok(pod_from_template(&rs(1)).into()) }, &view, &mut out);
    let sent: Vec<Effect> = out.drain().collect();
    let next: Vec<String> = sent
        .iter()
        .filter_map(|e| match e {
            Effect::Write { op: WriteOp::Create(o @ Object::Pod(_)), .. } => Some(o.meta().generate_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(next, ["rs-0-"]);
    // The answered create is announced: SuccessfulCreate on the ReplicaSet (pod_control.go).
    let events: Vec<(String, String)> = sent
        .iter()
        .filter_map(|e| match e {
            Effect::Write { op: WriteOp::Create(Object::Event(ev)), .. } => Some((ev.reason.clone(), ev.involved_object.kind.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(events, [("SuccessfulCreate".to_string(), "ReplicaSet".to_string())]);
}
