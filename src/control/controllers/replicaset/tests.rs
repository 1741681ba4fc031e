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

/// Upstream's test tables, ported case by case with their names
/// (pkg/controller/replicaset/replica_set_test.go, replica_set_utils_test.go).
mod upstream {
    use super::*;
    use crate::model::meta::{Condition, Timestamp};

    /// `newReplicaSet(replicas, selector)`: template labels name=foo, type=production.
    fn new_replica_set(replicas: i32, selector: &[(&str, &str)]) -> ReplicaSet {
        let mut r = rs(replicas);
        r.spec.selector.match_labels = selector.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        r.spec.template.metadata.labels = [("name".to_string(), "foo".to_string()), ("type".to_string(), "production".to_string())].into();
        r
    }

    /// `newPod(name, rs, phase, lastTransitionTime, properlyOwned)`: a Running
    /// pod is Ready=True since `ltt`; its labels are the ReplicaSet's selector.
    fn new_pod(name: &str, r: &ReplicaSet, phase: &str, ltt: Option<SimTime>) -> Pod {
        let mut p = pod_from_template(r);
        p.metadata.name = name.into();
        p.metadata.uid = format!("uid-{name}");
        p.metadata.labels = r.spec.selector.match_labels.clone();
        p.status.phase = phase.into();
        if phase == "Running" {
            p.status.conditions.push(Condition { type_: "Ready".into(), status: "True".into(), last_transition_time: ltt.map(Timestamp::from_sim), ..Default::default() });
        }
        p
    }

    fn listed(r: &ReplicaSet, pods: &[Pod]) -> Listed {
        let mut counts = Counts::default();
        for p in pods {
            counts.add(ReplicaSetController::contribution(p, Some(r)), 1);
        }
        let ready_since = pods.iter().filter(|p| p.is_ready()).map(|p| p.ready_since()).collect();
        Listed { counts, ready_since }
    }

    #[test]
    fn test_calculate_status() {
        let label_map = [("name", "foo")];
        let full_label_map = [("name", "foo"), ("type", "production")];
        let not_fully_labelled_rs = new_replica_set(1, &label_map);
        // The template carries more labels than the selector: pods labelled by the selector alone are not fully labelled.
        let fully_labelled_rs = new_replica_set(2, &full_label_map);
        let mut long_min_ready_seconds_rs = new_replica_set(1, &full_label_map);
        long_min_ready_seconds_rs.spec.min_ready_seconds = 3600;
        let now = SimTime::from_secs(100);
        let cases: Vec<(&str, &ReplicaSet, Vec<Pod>, (i32, i32, i32, i32))> = vec![
            ("1 fully labelled pod", &fully_labelled_rs, vec![new_pod("pod1", &fully_labelled_rs, "Running", None)], (1, 1, 1, 1)),
            ("1 not fully labelled pod", &not_fully_labelled_rs, vec![new_pod("pod1", &not_fully_labelled_rs, "Running", None)], (1, 0, 1, 1)),
            (
                "2 fully labelled pods",
                &fully_labelled_rs,
                vec![new_pod("pod1", &fully_labelled_rs, "Running", None), new_pod("pod2", &fully_labelled_rs, "Running", None)],
                (2, 2, 2, 2),
            ),
            (
                "2 not fully labelled pods",
                &not_fully_labelled_rs,
                vec![new_pod("pod1", &not_fully_labelled_rs, "Running", None), new_pod("pod2", &not_fully_labelled_rs, "Running", None)],
                (2, 0, 2, 2),
            ),
            (
                "1 fully labelled pod, 1 not fully labelled pod",
                &not_fully_labelled_rs,
                vec![new_pod("pod1", &not_fully_labelled_rs, "Running", None), new_pod("pod2", &fully_labelled_rs, "Running", None)],
                (2, 1, 2, 2),
            ),
            ("1 non-ready pod", &fully_labelled_rs, vec![new_pod("pod1", &fully_labelled_rs, "Pending", None)], (1, 1, 0, 0)),
            ("1 ready but non-available pod", &long_min_ready_seconds_rs, vec![new_pod("pod1", &long_min_ready_seconds_rs, "Running", None)], (1, 1, 1, 0)),
        ];
        for (name, r, pods, (replicas, fully_labeled, ready, available)) in cases {
            let s = ReplicaSetController::calculate_status(r, &listed(r, &pods), None, now);
            assert_eq!((s.replicas, s.fully_labeled_replicas, s.ready_replicas, s.available_replicas), (replicas, fully_labeled, ready, available), "{name}");
        }
    }

    /// minReadySeconds against the Ready condition's transition time, strictly after (`Before(now)`).
    #[test]
    fn test_calculate_status_min_ready_seconds_boundary() {
        let mut r = new_replica_set(1, &[("name", "foo"), ("type", "production")]);
        r.spec.min_ready_seconds = 10;
        let pods = vec![new_pod("pod1", &r, "Running", Some(SimTime::from_secs(5)))];
        let at = |s: u64| ReplicaSetController::calculate_status(&r, &listed(&r, &pods), None, SimTime::from_secs(s)).available_replicas;
        assert_eq!(at(15), 0, "ready for exactly minReadySeconds: not yet available");
        assert_eq!(SimTime::from_secs(15) + Duration::from_nanos(1) > SimTime::from_secs(15), true);
        assert_eq!(ReplicaSetController::calculate_status(&r, &listed(&r, &pods), None, SimTime::from_secs(15) + Duration::from_nanos(1)).available_replicas, 1);
    }

    #[test]
    fn test_calculate_status_conditions() {
        let label_map = [("name", "foo")];
        let r = new_replica_set(2, &label_map);
        let mut replica_failure_rs = new_replica_set(10, &label_map);
        replica_failure_rs.status.conditions = vec![Condition { type_: REPLICA_FAILURE.into(), status: "True".into(), ..Default::default() }];
        let running = |r: &ReplicaSet, n: usize| (1..=n).map(|i| new_pod(&format!("pod{i}"), r, "Running", None)).collect::<Vec<_>>();
        let fake = Some("fake manageReplicasErr");
        let cases: Vec<(&str, &ReplicaSet, Vec<Pod>, Option<&str>, Vec<(&str, &str)>)> = vec![
            ("manageReplicasErr != nil && failureCond == nil, diff < 0", &r, running(&r, 1), fake, vec![("FailedCreate", "fake manageReplicasErr")]),
            ("manageReplicasErr != nil && failureCond == nil, diff > 0", &r, running(&r, 3), fake, vec![("FailedDelete", "fake manageReplicasErr")]),
            ("manageReplicasErr == nil && failureCond != nil", &replica_failure_rs, running(&replica_failure_rs, 1), None, vec![]),
            ("manageReplicasErr != nil && failureCond != nil", &replica_failure_rs, running(&replica_failure_rs, 1), fake, vec![("", "")]),
            ("manageReplicasErr == nil && failureCond == nil", &r, running(&r, 1), None, vec![]),
        ];
        for (name, r, pods, err, expected) in cases {
            let s = ReplicaSetController::calculate_status(r, &listed(r, &pods), err, SimTime::from_secs(1));
            let got: Vec<(&str, &str)> = s.conditions.iter().map(|c| {
                assert_eq!((c.type_.as_str(), c.status.as_str()), (REPLICA_FAILURE, "True"), "{name}");
                (c.reason.as_str(), c.message.as_str())
            }).collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    /// TestSlowStartBatch, driven through the controller's batches: creates go
    /// out 1, 2, 4, … and stop after the first batch with a failure.
    #[test]
    fn test_slow_start_batch() {
        for (name, count, call_limit, expected_successes, expected_call_cnt) in [
            ("callLimit = 0 (all fail)", 10, 0, 0, 1),
            ("callLimit = count (all succeed)", 10, 10, 10, 10),
            ("callLimit < count (some succeed)", 10, 5, 5, 7),
        ] {
            let view = cache(vec![rs(count).into()]);
            let mut c = fed(&view);
            let (mut calls, mut successes) = (0, 0);
            let mut s = step(&mut c, &view);
            loop {
                let Step::Call { ops, then } = s else { break };
                if matches!(ops[0], WriteOp::UpdateStatus(_)) {
                    s = resume(&mut c, &view, then, ok(1));
                    continue;
                }
                let results = ops
                    .iter()
                    .map(|_| {
                        calls += 1;
                        if calls > call_limit {
                            Err(ApiError::Forbidden { target: ObjectRef::new(Kind::Pod, "default", "x"), reason: "fake error".into() })
                        } else {
                            successes += 1;
                            Ok(Object::from(rs(0)))
                        }
                    })
                    .collect();
                s = resume(&mut c, &view, then, results);
            }
            assert_eq!((successes, calls), (expected_successes, expected_call_cnt), "{name}");
            assert_eq!(matches!(s, Step::Failed), expected_successes < count, "{name}: a failed batch fails the sync");
        }
    }

    /// TestSyncReplicaSetDoesNothing: 2 running pods, 2 replicas, status current: no calls.
    #[test]
    fn test_sync_replica_set_does_nothing() {
        let mut r = rs(2);
        r.status = ReplicaSetStatus { replicas: 2, fully_labeled_replicas: 2, ready_replicas: 2, available_replicas: 2, observed_generation: 1, conditions: vec![] };
        let view = cache(vec![r.into(), owned_pod("pod0", "n1", "Running", true, 1), owned_pod("pod1", "n1", "Running", true, 2)]);
        let mut c = fed(&view);
        assert!(matches!(step(&mut c, &view), Step::Done { requeue_after: None }));
    }

    /// TestDoNotAdoptOrCreateIfBeingDeleted: a ReplicaSet being deleted creates nothing.
    #[test]
    fn test_do_not_adopt_or_create_if_being_deleted() {
        let mut r = rs(2);
        r.metadata.deletion_timestamp = Some(Timestamp(1));
        let view = cache(vec![r.into()]);
        let mut c = fed(&view);
        assert_eq!(creates(&step(&mut c, &view)), 0);
    }

    /// TestDeletionTimestamp: a pod added or updated with a deletionTimestamp
    /// counts as its deletion observed; the later delete event does not count twice.
    #[test]
    fn test_deletion_timestamp() {
        let view = cache(vec![rs(1).into()]);
        let mut c = fed(&view);
        let pod_key: Key = ("default".into(), "pod0".into());
        let expect = |c: &mut ReplicaSetController, pods: &[&Key]| {
            c.expectations.insert(key(), Expectations { add: 0, del: pods.iter().map(|k| (*k).clone()).collect(), set_at: SimTime::ZERO });
        };
        let event = |c: &mut ReplicaSetController, type_: WatchEventType, name: &str, deleting: bool| {
            let Object::Pod(mut p) = owned_pod(name, "", "Pending", false, 1) else { unreachable!() };
            if deleting {
                Arc::make_mut(&mut p).metadata.deletion_timestamp = Some(Timestamp(1));
            }
            let ev = WatchEvent { type_, key: Arc::from(""), object: Object::Pod(p), revision: 3 };
            let mut q = WorkQueue::new();
            c.on_event(SimTime::ZERO, &ev, &view, &mut Keys::new(&mut q, SimTime::ZERO));
            assert_eq!(q.len(), 1, "the ReplicaSet is queued");
        };
        // A pod added with a deletion timestamp should decrement deletions, not creations.
        expect(&mut c, &[&pod_key]);
        event(&mut c, WatchEventType::Added, "pod0", true);
        assert!(c.satisfied(&key(), SimTime::ZERO));
        // An update from no deletion timestamp to having one should be treated as a deletion.
        expect(&mut c, &[&pod_key]);
        event(&mut c, WatchEventType::Modified, "pod0", true);
        assert!(c.satisfied(&key(), SimTime::ZERO));
        // An update to the pod (including to its deletion timestamp) is not a second delete.
        let second: Key = ("default".into(), "secondPod".into());
        expect(&mut c, &[&second]);
        event(&mut c, WatchEventType::Modified, "pod0", true);
        assert!(!c.satisfied(&key(), SimTime::ZERO));
        event(&mut c, WatchEventType::Deleted, "pod0", true);
        assert!(!c.satisfied(&key(), SimTime::ZERO));
        // Deleting the second pod clears the expectations.
        event(&mut c, WatchEventType::Deleted, "secondPod", false);
        assert!(c.satisfied(&key(), SimTime::ZERO));
    }

    #[test]
    fn test_get_pods_to_delete() {
        let r = new_replica_set(1, &[("name", "foo")]);
        let unscheduled_pending_pod = new_pod("unscheduled-pending-pod", &r, "Pending", None);
        let mut scheduled_pending_pod = new_pod("scheduled-pending-pod", &r, "Pending", None);
        scheduled_pending_pod.spec.node_name = "fake-node".into();
        let mut scheduled_running_not_ready_pod = new_pod("scheduled-running-not-ready-pod", &r, "Running", None);
        scheduled_running_not_ready_pod.spec.node_name = "fake-node".into();
        scheduled_running_not_ready_pod.status.conditions = vec![Condition { type_: "Ready".into(), status: "False".into(), ..Default::default() }];
        let mut ready_on_node1 = new_pod("scheduled-running-ready-pod-on-node-1", &r, "Running", None);
        ready_on_node1.spec.node_name = "fake-node-1".into();
        let mut ready_on_node2 = new_pod("scheduled-running-ready-pod-on-node-2", &r, "Running", None);
        ready_on_node2.spec.node_name = "fake-node-2".into();
        let (u, sp, nr, r1, r2) = (&unscheduled_pending_pod, &scheduled_pending_pod, &scheduled_running_not_ready_pod, &ready_on_node1, &ready_on_node2);
        let cases: Vec<(&str, Vec<&Pod>, Option<Vec<&Pod>>, usize, Vec<&Pod>)> = vec![
            ("len(pods) = 0 (i.e., diff = 0 too)", vec![], None, 0, vec![]),
            ("diff = len(pods)", vec![nr, r1], None, 2, vec![nr, r1]),
            ("diff < len(pods)", vec![r1, nr], None, 1, vec![nr]),
            ("various pod phases and conditions, diff = len(pods)", vec![r1, r1, r2, nr, sp, u], None, 6, vec![r1, r1, r2, nr, sp, u]),
            ("various pod phases and conditions, diff = len(pods), relatedPods empty", vec![r1, r1, r2, nr, sp, u], Some(vec![]), 6, vec![r1, r1, r2, nr, sp, u]),
            ("scheduled vs unscheduled, diff < len(pods)", vec![sp, u], None, 1, vec![u]),
            ("ready vs not-ready, diff < len(pods)", vec![r1, nr, nr], None, 2, vec![nr, nr]),
            ("ready and colocated with another ready pod vs not colocated, diff < len(pods)", vec![r1, r2], Some(vec![r1, r2, r2]), 1, vec![r2]),
            ("pending vs running, diff < len(pods)", vec![sp, nr], None, 1, vec![sp]),
            ("various pod phases and conditions, diff < len(pods)", vec![r1, r2, nr, sp, u], None, 3, vec![u, sp, nr]),
        ];
        for (name, pods, related, diff, expected) in cases {
            let related = related.unwrap_or_else(|| pods.clone());
            let got: Vec<&str> = pods_to_delete(pods, &related, diff, SimTime::from_secs(1000)).iter().map(|p| p.metadata.name.as_str()).collect();
            let want: Vec<&str> = expected.iter().map(|p| p.metadata.name.as_str()).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    /// TestSortingActivePodsWithRanks (pkg/controller/controller_utils_test.go),
    /// with PodDeletionCost and LogarithmicScaleDown on, as by default (the
    /// case that turns PodDeletionCost off is not ported: kubesim has no gates).
    #[test]
    fn test_sorting_active_pods_with_ranks() {
        let day = 24 * 3600;
        let now = SimTime::from_secs(40 * day);
        let ago = |s: u64| Some(SimTime::from_secs(40 * day - s));
        let (then_1_month, then_2_hours, then_5_hours, then_8_hours) = (ago(30 * day), ago(2 * 3600), ago(5 * 3600), ago(8 * 3600));
        let pod = |name: &str, node: &str, phase: &str, ready: bool, restarts: i32, ready_since: Option<SimTime>, created: Option<SimTime>, cost: Option<&str>| {
            let mut p = Pod::default();
            p.metadata.name = name.into();
            p.metadata.creation_timestamp = created.map(Timestamp::from_sim);
            if let Some(c) = cost {
                p.metadata.annotations.insert(POD_DELETION_COST.into(), c.into());
            }
            p.spec.node_name = node.into();
            p.status.phase = phase.into();
            if ready {
                p.status.conditions = vec![Condition { type_: "Ready".into(), status: "True".into(), last_transition_time: ready_since.map(Timestamp::from_sim), ..Default::default() }];
                p.status.container_statuses = vec![crate::model::pod::ContainerStatus { restart_count: restarts, ..Default::default() }];
            }
            p
        };
        let n = Some(now);
        let unscheduled_pod = pod("unscheduled", "", "Pending", false, 0, None, None, None);
        let scheduled_pending_pod = pod("pending", "node", "Pending", false, 0, None, None, None);
        let unknown_phase_pod = pod("unknown-phase", "node", "Unknown", false, 0, None, None, None);
        let running_not_ready_pod = pod("not-ready", "node", "Running", false, 0, None, None, None);
        let running_ready_no_last_transition_time_pod = pod("ready-no-last-transition-time", "node", "Running", true, 0, None, None, None);
        let running_ready_now = pod("ready-now", "node", "Running", true, 0, n, n, None);
        let running_ready_then = pod("ready-then", "node", "Running", true, 0, then_1_month, then_1_month, None);
        let running_ready_now_high_restarts = pod("ready-high-restarts", "node", "Running", true, 9001, n, n, None);
        let running_ready_now_created_then = pod("ready-now-created-then", "node", "Running", true, 0, n, then_1_month, None);
        let low_pod_deletion_cost = pod("low-deletion-cost", "node", "Running", true, 0, n, then_1_month, Some("10"));
        let high_pod_deletion_cost = pod("high-deletion-cost", "node", "Running", true, 0, n, then_1_month, Some("100"));
        let unscheduled_5_hours = pod("unscheduled-5-hours", "", "Pending", false, 0, then_5_hours, then_5_hours, None);
        let unscheduled_8_hours = pod("unscheduled-10-hours", "", "Pending", false, 0, then_8_hours, then_8_hours, None);
        let ready_2_hours = pod("ready-2-hours", "", "Running", true, 0, then_2_hours, then_1_month, None);
        let ready_5_hours = pod("ready-5-hours", "", "Running", true, 0, then_5_hours, then_1_month, None);
        let ready_10_hours = pod("ready-10-hours", "", "Running", true, 0, then_8_hours, then_1_month, None);
        let equality: Vec<(&Pod, &Pod)> = vec![
            (&unscheduled_pod, &unscheduled_pod),
            (&scheduled_pending_pod, &scheduled_pending_pod),
            (&unknown_phase_pod, &unknown_phase_pod),
            (&running_not_ready_pod, &running_not_ready_pod),
            (&running_ready_now_created_then, &running_ready_now_created_then),
            (&running_ready_now, &running_ready_now),
            (&running_ready_then, &running_ready_then),
            (&running_ready_now_high_restarts, &running_ready_now_high_restarts),
            (&unscheduled_5_hours, &unscheduled_8_hours),
            (&ready_5_hours, &ready_10_hours),
        ];
        for (i, (p1, p2)) in equality.into_iter().enumerate() {
            assert!(!delete_before(p1, 1, p2, 1, now) && !delete_before(p2, 1, p1, 1, now), "Equality tests {i}: {} ~ {}", p1.metadata.name, p2.metadata.name);
        }
        let inequality: Vec<((&Pod, usize), (&Pod, usize))> = vec![
            ((&unscheduled_pod, 1), (&scheduled_pending_pod, 2)),
            ((&unscheduled_pod, 2), (&scheduled_pending_pod, 1)),
            ((&scheduled_pending_pod, 1), (&unknown_phase_pod, 2)),
            ((&unknown_phase_pod, 1), (&running_not_ready_pod, 2)),
            ((&running_not_ready_pod, 1), (&running_ready_no_last_transition_time_pod, 1)),
            ((&running_ready_no_last_transition_time_pod, 1), (&running_ready_now, 1)),
            ((&running_ready_now, 2), (&running_ready_no_last_transition_time_pod, 1)),
            ((&running_ready_now, 1), (&running_ready_then, 1)),
            ((&running_ready_now, 2), (&running_ready_then, 1)),
            ((&running_ready_now_high_restarts, 1), (&running_ready_now, 1)),
            ((&running_ready_now, 2), (&running_ready_now_high_restarts, 1)),
            ((&running_ready_now, 1), (&running_ready_now_created_then, 1)),
            ((&running_ready_now_created_then, 2), (&running_ready_now, 1)),
            ((&low_pod_deletion_cost, 2), (&high_pod_deletion_cost, 1)),
            ((&ready_2_hours, 1), (&ready_5_hours, 1)),
        ];
        for (i, ((lesser, lr), (greater, gr))) in inequality.into_iter().enumerate() {
            assert!(delete_before(lesser, lr, greater, gr, now), "Inequality tests {i}: {} (rank {lr}) before {} (rank {gr})", lesser.metadata.name, greater.metadata.name);
            assert!(!delete_before(greater, gr, lesser, lr, now), "Inequality tests {i}: not the other way");
        }
    }
}
