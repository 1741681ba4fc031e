use super::*;

/// TestResolveFenceposts (deployment/util), upstream cases.
#[test]
fn fenceposts_follow_upstream_rounding() {
    let p = |s: &str| Some(IntOrString::String(s.into()));
    let i = |v: i32| Some(IntOrString::Int(v));
    assert_eq!(resolve_fenceposts(p("25%").as_ref(), p("25%").as_ref(), 10), (3, 2));
    assert_eq!(resolve_fenceposts(p("0%").as_ref(), p("0%").as_ref(), 10), (0, 1), "both 0: maxUnavailable 1");
    assert_eq!(resolve_fenceposts(i(0).as_ref(), i(0).as_ref(), 10), (0, 1));
    assert_eq!(resolve_fenceposts(p("50%").as_ref(), p("50%").as_ref(), 1), (1, 0));
    assert_eq!(resolve_fenceposts(p("10%").as_ref(), p("10%").as_ref(), 1), (1, 0), "surge rounds up, unavailable down");
    assert_eq!(resolve_fenceposts(i(2).as_ref(), p("34%").as_ref(), 3), (2, 1));
}

mod host {
    use super::*;
    use crate::api::{WatchEvent, WatchEventType};
    use crate::control::host::{Host, Keys, Reconciler, Step};
    use crate::control::workqueue::WorkQueue;
    use crate::control::{Component, Effect, Input, Outbox};
    use std::sync::Arc;

    fn deployment(replicas: i32) -> Deployment {
        let mut d: Deployment = serde_yaml::from_str(
            "metadata: {name: web, namespace: default, uid: d-uid, generation: 2}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: app:1}]}}}",
        )
        .unwrap();
        d.spec.replicas = Some(replicas);
        crate::api::rules::apply_defaults(&mut Object::from(d.clone()));
        // A Deployment already synced once: it carries its revision and a Progressing condition.
        d.metadata.annotations.insert(REVISION_ANNOTATION.into(), "1".into());
        d.status.conditions.push(Condition { type_: "Progressing".into(), status: "True".into(), reason: "ReplicaSetUpdated".into(), ..Default::default() });
        d
    }

    /// The new ReplicaSet as the controller made it, at `replicas`.
    fn current_rs(d: &Deployment, replicas: i32) -> ReplicaSet {
        let c = DeploymentController::new();
        let mut rs = c.new_replicaset(d, &template_hash(d), 1, replicas);
        rs.metadata.uid = "rs-uid".into();
        rs.metadata.resource_version = "5".into();
        rs
    }

    fn view(objects: Vec<Object>) -> Cache {
        let mut c = Cache::new(&[Kind::Deployment, Kind::ReplicaSet, Kind::Pod]);
        for (i, o) in objects.into_iter().enumerate() {
            c.apply(&WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object: o, revision: i as i64 + 1 });
        }
        c
    }

    /// Scaling up the new ReplicaSet comes first; the Deployment's status is
    /// written only after that write answered, so nobody sees the Deployment's
    /// observedGeneration before its ReplicaSet's new size (issue 9).
    #[test]
    fn a_sync_scales_the_replicaset_then_writes_status_one_call_after_the_other() {
        let d = deployment(4);
        let rs = current_rs(&d, 2);
        let cache = view(vec![d.clone().into(), rs.into()]);
        let mut c = DeploymentController::new();
        let mut q = WorkQueue::new();
        let step = c.reconcile(SimTime::ZERO, &("default".into(), "web".into()), &cache, &mut Keys::new(&mut q, SimTime::ZERO));
        let Step::Sequence { ops, .. } = step else { panic!("{step:?}") };
        let kinds: Vec<(&str, Kind)> = ops.iter().map(|o| (o.verb(), o.target().kind)).collect();
        assert_eq!(kinds, [("update", Kind::ReplicaSet), ("update-status", Kind::Deployment)]);
        // Through the host: the status write goes out only after the scale answered.
        let mut host = Host::new(DeploymentController::new());
        let mut out = Outbox::default();
        host.handle(SimTime::ZERO, Input::Synced, &cache, &mut out);
        let sent: Vec<Effect> = out.drain().collect();
        let writes: Vec<&Effect> = sent.iter().filter(|e| matches!(e, Effect::Write { .. })).collect();
        assert_eq!(writes.len(), 1, "one call at a time: {sent:?}");
        let Effect::Write { id, op } = writes[0] else { unreachable!() };
        assert_eq!(op.target().kind, Kind::ReplicaSet);
        host.handle(SimTime::from_millis(5), Input::WriteResult { id: *id, result: Ok(Object::from(current_rs(&d, 4))) }, &cache, &mut out);
        let next: Vec<(&str, Kind)> = out.effects().iter().filter_map(|e| match e {
            Effect::Write { op, .. } => Some((op.verb(), op.target().kind)),
            _ => None,
        }).collect();
        // The scale succeeded, so it is announced (fire-and-forget, beside the sync's calls).
        assert_eq!(next, [("update-status", Kind::Deployment), ("create", Kind::Event)]);
        let announced = out.effects().iter().find_map(|e| match e {
            Effect::Write { op: WriteOp::Create(Object::Event(ev)), .. } => Some(ev.clone()),
            _ => None,
        }).unwrap();
        assert_eq!(announced.reason, "ScalingReplicaSet");
        assert_eq!(announced.message, format!("Scaled up replica set {} from 2 to 4", current_rs(&d, 2).metadata.name));
        assert_eq!((announced.involved_object.kind.as_str(), announced.involved_object.name.as_str()), ("Deployment", "web"));
    }

    /// A failed write ends the sync (the status is not written) and the key
    /// is retried after its backoff (client-go's AddRateLimited: 5 ms first).
    #[test]
    fn a_failed_scale_fails_the_sync_and_retries_after_backoff() {
        let d = deployment(4);
        let cache = view(vec![d.clone().into(), current_rs(&d, 2).into()]);
        let mut host = Host::new(DeploymentController::new());
        let mut out = Outbox::default();
        host.handle(SimTime::ZERO, Input::Synced, &cache, &mut out);
        let id = out.effects().iter().find_map(|e| match e {
            Effect::Write { id, .. } => Some(*id),
            _ => None,
        }).unwrap();
        out.drain();
        let conflict = crate::api::ApiError::Conflict { target: crate::model::ObjectRef::new(Kind::ReplicaSet, "default", "x"), reason: "modified".into() };
        host.handle(SimTime::from_millis(1), Input::WriteResult { id, result: Err(conflict) }, &cache, &mut out);
        let effects: Vec<Effect> = out.drain().collect();
        assert!(!effects.iter().any(|e| matches!(e, Effect::Write { .. })), "no status after a failure: {effects:?}");
        assert!(effects.iter().any(|e| matches!(e, Effect::WakeAt { at, .. } if *at == SimTime::from_millis(6))), "{effects:?}");
        host.handle(SimTime::from_millis(6), Input::Timer { token: 0 }, &cache, &mut out);
        assert!(out.effects().iter().any(|e| matches!(e, Effect::Write { op, .. } if op.target().kind == Kind::ReplicaSet)), "retried");
    }
}

/// Upstream's rolling-update test tables (pkg/controller/deployment/rolling_test.go),
/// ported case by case, and the write order of `rolloutRolling`.
mod upstream {
    use super::*;
    use crate::model::deployment::RollingUpdateDeployment;

    /// `newDeployment(name, replicas, revisionHistoryLimit, maxSurge, maxUnavailable, selector)`.
    fn new_deployment(replicas: i32, max_surge: i32, max_unavailable: i32) -> Deployment {
        let mut d: Deployment = serde_yaml::from_str(
            "metadata: {name: foo, namespace: default, uid: d-uid, generation: 1}\nspec: {selector: {matchLabels: {foo: bar}}, template: {metadata: {labels: {foo: bar}}, spec: {containers: [{name: c, image: i}]}}}",
        )
        .unwrap();
        d.spec.replicas = Some(replicas);
        d.spec.strategy.type_ = "RollingUpdate".into();
        d.spec.strategy.rolling_update = Some(RollingUpdateDeployment { max_surge: Some(IntOrString::Int(max_surge)), max_unavailable: Some(IntOrString::Int(max_unavailable)) });
        d
    }

    /// `rs(name, replicas, selector, timestamp)` with its available replicas.
    fn rs(name: &str, replicas: i32, available: i32) -> ReplicaSet {
        let mut r: ReplicaSet = serde_yaml::from_str("metadata: {namespace: default}\nspec: {selector: {matchLabels: {foo: bar}}, template: {metadata: {labels: {foo: bar}}, spec: {containers: [{name: c, image: i}]}}}").unwrap();
        r.metadata.name = name.into();
        r.spec.replicas = Some(replicas);
        r.status.available_replicas = available;
        r
    }

    #[test]
    fn test_deployment_controller_reconcile_new_replica_set() {
        // (deploymentReplicas, maxSurge, oldReplicas, newReplicas, scaleExpected, expectedNewReplicas)
        for (i, (replicas, surge, old, new, expected)) in [
            (10, 0, 10, 0, None), // Should not scale up.
            (10, 2, 10, 0, Some(2)),
            (10, 2, 5, 0, Some(7)),
            (10, 2, 10, 2, None),
            (10, 2, 2, 11, Some(10)), // Should scale down.
        ]
        .into_iter()
        .enumerate()
        {
            let new_rs = rs("foo-v2", new, 0);
            let old_rs = rs("foo-v2", old, 0);
            let d = new_deployment(replicas, surge, 0);
            assert_eq!(reconcile_new_replica_set(&[&new_rs, &old_rs], &new_rs, &d), expected, "scenario {i}");
        }
    }

    #[test]
    fn test_deployment_controller_reconcile_old_replica_sets() {
        // (deploymentReplicas, maxUnavailable, oldReplicas, newReplicas, readyPodsFromOldRS, readyPodsFromNewRS, scaleExpected, expectedOldReplicas)
        for (i, (replicas, unavailable, old, new, ready_old, ready_new, expected)) in [
            (10, 0, 10, 0, 10, 0, Some(9)),
            (10, 2, 10, 0, 10, 0, Some(8)),
            (10, 2, 10, 0, 8, 0, Some(8)), // unhealthy replicas from old replica sets cleaned up
            (10, 2, 10, 0, 9, 0, Some(8)), // 1 unhealthy cleaned up, and 1 ready pod scaled down
            (10, 2, 8, 2, 8, 0, None),     // the new RS's unavailable pods do not scale old ones down further
        ]
        .into_iter()
        .enumerate()
        {
            let new_rs = rs("foo-new", new, ready_new);
            let old_rs = rs("foo-old", old, ready_old);
            let d = new_deployment(replicas, 0, unavailable);
            let writes = reconcile_old_replica_sets(&[&old_rs, &new_rs], &[&old_rs], &new_rs, &d).unwrap();
            assert_eq!(writes.last().map(|(_, n)| *n), expected, "scenario {i}: {writes:?}");
        }
        // Scenario 3 writes the same ReplicaSet twice, as upstream: unhealthy first, then available.
        let (new_rs, old_rs) = (rs("foo-new", 0, 0), rs("foo-old", 10, 9));
        let writes = reconcile_old_replica_sets(&[&old_rs, &new_rs], &[&old_rs], &new_rs, &new_deployment(10, 0, 2)).unwrap();
        assert_eq!(writes, [("foo-old".to_string(), 9), ("foo-old".to_string(), 8)]);
        // A lagging status (more available than the spec asks) is not "cleaned up" upwards: the sync fails.
        let (new_rs, old_rs) = (rs("foo-new", 4, 3), rs("foo-old", 3, 4));
        assert_eq!(reconcile_old_replica_sets(&[&old_rs, &new_rs], &[&old_rs], &new_rs, &new_deployment(5, 2, 1)), Err(vec![]));
    }

    #[test]
    fn test_deployment_controller_cleanup_unhealthy_replicas() {
        // (oldReplicas, readyPods, unHealthyPods, maxCleanupCount, cleanupCountExpected)
        for (i, (old, ready, _unhealthy, max_cleanup, expected)) in [(10, 8, 2, 1, 1), (10, 8, 2, 3, 2), (10, 8, 2, 0, 0), (10, 10, 0, 3, 0)].into_iter().enumerate() {
            let old_rs = rs("foo-v2", old, ready);
            let mut sorted = vec![(&old_rs, old)];
            let (_, count) = cleanup_unhealthy_replicas(&mut sorted, max_cleanup).unwrap();
            assert_eq!(count, expected, "scenario {i}");
        }
    }

    #[test]
    fn test_deployment_controller_scale_down_old_replica_sets_for_rolling_update() {
        // (deploymentReplicas, maxUnavailable, readyPods, oldReplicas, scaleExpected, expectedOldReplicas)
        for (i, (replicas, unavailable, ready, old, expected)) in
            [(10, 0, 10, 10, Some(9)), (10, 2, 10, 10, Some(8)), (10, 2, 8, 10, None), (10, 2, 10, 0, None), (10, 2, 1, 10, None)].into_iter().enumerate()
        {
            let old_rs = rs("foo-v2", old, ready);
            let d = new_deployment(replicas, 0, unavailable);
            let mut sorted = vec![(&old_rs, old)];
            let writes = scale_down_old_replica_sets_for_rolling_update(ready, &mut sorted, &d);
            assert!(writes.len() <= 1, "scenario {i}: only one update");
            assert_eq!(writes.first().map(|(_, n)| *n), expected, "scenario {i}");
        }
    }

    /// TestMaxUnavailable (deployment/util): at most the replicas, 0 for Recreate or none.
    #[test]
    fn test_max_unavailable() {
        let with = |replicas: i32, unavailable: IntOrString| {
            let mut d = new_deployment(replicas, 0, 0);
            d.spec.strategy.rolling_update.as_mut().unwrap().max_unavailable = Some(unavailable);
            d.spec.strategy.rolling_update.as_mut().unwrap().max_surge = Some(IntOrString::Int(1));
            d
        };
        assert_eq!(max_unavailable(&with(10, IntOrString::Int(5))), 5, "maxUnavailable less than replicas");
        assert_eq!(max_unavailable(&with(5, IntOrString::Int(5))), 5, "maxUnavailable equal replicas");
        assert_eq!(max_unavailable(&with(5, IntOrString::Int(10))), 5, "maxUnavailable greater than replicas");
        assert_eq!(max_unavailable(&with(5, IntOrString::String("20%".into()))), 1, "maxUnavailable with percents");
        assert_eq!(max_unavailable(&with(5, IntOrString::String("160%".into()))), 5, "maxUnavailable with percents greater than replicas");
        assert_eq!(max_unavailable(&with(0, IntOrString::Int(1))), 0, "maxUnavailable with zero replicas");
        let mut recreate = with(5, IntOrString::Int(1));
        recreate.spec.strategy.type_ = "Recreate".into();
        assert_eq!(max_unavailable(&recreate), 0, "maxUnavailable with Recreate deployment strategy");
    }

    /// `rolloutRolling` through the reconciler: a ReplicaSet written twice in
    /// one sync is written in sequence (the host hands the second write the
    /// version the first returned), and the status comes last.
    #[test]
    fn a_sync_that_cleans_up_then_scales_down_writes_the_old_replicaset_twice() {
        let mut d = new_deployment(10, 0, 2);
        d.metadata.generation = 2;
        d.metadata.annotations.insert(REVISION_ANNOTATION.into(), "2".into());
        let mut old_rs = rs("foo-old", 10, 9);
        old_rs.metadata.uid = "old".into();
        old_rs.spec.template.spec.containers[0].image = "i:previous".into();
        old_rs.metadata.owner_references = vec![OwnerReference { api_version: "apps/v1".into(), kind: "Deployment".into(), name: "foo".into(), uid: "d-uid".into(), controller: Some(true), block_owner_deletion: Some(true) }];
        let mut new_rs = DeploymentController::new().new_replicaset(&d, &template_hash(&d), 2, 0);
        new_rs.metadata.uid = "new".into();
        let mut c = Cache::new(&[Kind::Deployment, Kind::ReplicaSet, Kind::Pod]);
        for (i, o) in [Object::from(d.clone()), old_rs.into(), new_rs.into()].into_iter().enumerate() {
            c.apply(&crate::api::WatchEvent { type_: crate::api::WatchEventType::Added, key: std::sync::Arc::from(""), object: o, revision: i as i64 + 1 });
        }
        let mut q = crate::control::workqueue::WorkQueue::new();
        let mut ctl = DeploymentController::new();
        let step = ctl.reconcile(SimTime::ZERO, &("default".into(), "foo".into()), &c, &mut crate::control::host::Keys::new(&mut q, SimTime::ZERO));
        let crate::control::host::Step::Sequence { ops, .. } = step else { panic!("{step:?}") };
        let got: Vec<(&str, String, Option<i32>)> = ops
            .iter()
            .map(|o| match o {
                WriteOp::Update(Object::ReplicaSet(r)) => ("update", r.metadata.name.clone(), r.spec.replicas),
                other => (other.verb(), other.target().name, None),
            })
            .collect();
        assert_eq!(got, [("update", "foo-old".to_string(), Some(9)), ("update", "foo-old".to_string(), Some(8)), ("update-status", "foo".to_string(), None)]);
        // Through the host, the second write carries the version the first returned.
        let mut host = crate::control::host::Host::new(DeploymentController::new());
        let mut out = crate::control::Outbox::default();
        use crate::control::Component;
        host.handle(SimTime::ZERO, crate::control::Input::Synced, &c, &mut out);
        let (id, first) = out.drain().find_map(|e| match e {
            crate::control::Effect::Write { id, op: WriteOp::Update(o) } => Some((id, o)),
            _ => None,
        }).unwrap();
        let mut answered = first.clone();
        answered.meta_mut().resource_version = "77".into();
        host.handle(SimTime::from_millis(1), crate::control::Input::WriteResult { id, result: Ok(answered) }, &c, &mut out);
        let second = out.drain().find_map(|e| match e {
            crate::control::Effect::Write { op: WriteOp::Update(o), .. } => Some(o),
            _ => None,
        }).unwrap();
        assert_eq!((second.meta().name.as_str(), second.meta().resource_version.as_str()), ("foo-old", "77"));
    }

    /// `rs(name, replicas, selector, timestamp)` created at `t` seconds, sized for `desired` (+ `surge`).
    fn sized(name: &str, replicas: i32, t: i64, desired: i32, surge: i32) -> ReplicaSet {
        let mut r = rs(name, replicas, replicas);
        r.metadata.creation_timestamp = Some(crate::model::meta::Timestamp(t * 1_000_000_000));
        r.metadata.annotations.insert(DESIRED_REPLICAS_ANNOTATION.into(), desired.to_string());
        r.metadata.annotations.insert(MAX_REPLICAS_ANNOTATION.into(), (desired + surge).to_string());
        r
    }

    /// TestScale (sync.go's `scale`: proportional scaling), upstream cases by name.
    #[test]
    fn test_scale() {
        let (newer, old, older) = (7200, 3600, 0);
        // (name, deployment (replicas, maxSurge), old deployment (replicas, maxSurge), new RS, old RSs, expected new, expected old)
        type Case<'a> = (&'a str, (i32, i32), (i32, i32), Option<(&'a str, i32)>, Vec<(&'a str, i32, i64)>, Option<i32>, Vec<i32>);
        let cases: Vec<Case> = vec![
            ("normal scaling event: 10 -> 12", (12, 0), (10, 0), Some(("foo-v1", 10)), vec![], Some(12), vec![]),
            ("normal scaling event: 10 -> 5", (5, 0), (10, 0), Some(("foo-v1", 10)), vec![], Some(5), vec![]),
            ("proportional scaling: 5 -> 10", (10, 0), (5, 0), Some(("foo-v2", 2)), vec![("foo-v1", 3, old)], Some(4), vec![6]),
            ("proportional scaling: 5 -> 3", (3, 0), (5, 0), Some(("foo-v2", 2)), vec![("foo-v1", 3, old)], Some(1), vec![2]),
            ("proportional scaling: 9 -> 4", (4, 0), (9, 0), Some(("foo-v2", 8)), vec![("foo-v1", 1, old)], Some(4), vec![0]),
            ("proportional scaling: 7 -> 10", (10, 0), (7, 0), Some(("foo-v3", 2)), vec![("foo-v2", 3, old), ("foo-v1", 2, older)], Some(3), vec![4, 3]),
            ("proportional scaling: 13 -> 8", (8, 0), (13, 0), Some(("foo-v3", 2)), vec![("foo-v2", 8, old), ("foo-v1", 3, older)], Some(1), vec![5, 2]),
            ("leftover distribution: 3 -> 4", (4, 0), (3, 0), Some(("foo-v3", 1)), vec![("foo-v2", 1, old), ("foo-v1", 1, older)], Some(2), vec![1, 1]),
            ("leftover distribution: 3 -> 2", (2, 0), (3, 0), Some(("foo-v3", 1)), vec![("foo-v2", 1, old), ("foo-v1", 1, older)], Some(1), vec![1, 0]),
            ("proportional scaling (no new rs): 4 -> 5", (5, 0), (4, 0), None, vec![("foo-v2", 2, old), ("foo-v1", 2, older)], None, vec![3, 2]),
            ("proportional scaling: 6 -> 0", (0, 0), (6, 0), Some(("foo-v3", 3)), vec![("foo-v2", 2, old), ("foo-v1", 1, older)], Some(0), vec![0, 0]),
            ("proportional scaling: 0 -> 6", (6, 0), (6, 0), Some(("foo-v3", 0)), vec![("foo-v2", 0, old), ("foo-v1", 0, older)], Some(6), vec![0, 0]),
            ("deployment with surge pods", (20, 2), (10, 2), Some(("foo-v2", 6)), vec![("foo-v1", 6, old)], Some(11), vec![11]),
            ("change both surge and size", (50, 6), (10, 3), Some(("foo-v2", 5)), vec![("foo-v1", 8, old)], Some(22), vec![34]),
            ("change both size and template", (14, 0), (10, 0), None, vec![("foo-v2", 7, newer), ("foo-v1", 3, old)], None, vec![10, 4]),
        ];
        for (name, (replicas, surge), (old_replicas, old_surge), new, olds, expected_new, expected_old) in cases {
            let d = new_deployment(replicas, surge, 0);
            let new_rs = new.map(|(n, r)| sized(n, r, newer, old_replicas, old_surge));
            let old_rss: Vec<ReplicaSet> = olds.iter().map(|(n, r, t)| sized(n, *r, *t, old_replicas, old_surge)).collect();
            let old_refs: Vec<&ReplicaSet> = old_rss.iter().collect();
            let writes = proportional_scale(&d, new_rs.as_ref(), &old_refs);
            let size = |rs: &ReplicaSet| writes.iter().rev().find(|(n, _)| *n == rs.metadata.name).map_or(rs.spec.replicas.unwrap(), |(_, s)| *s);
            assert_eq!(new_rs.as_ref().map(size), expected_new, "{name}: new");
            assert_eq!(old_rss.iter().map(size).collect::<Vec<_>>(), expected_old, "{name}: old");
        }
        // "failed rs update": foo-v2 was sized for 3, the others for 5; scaled to 5, only foo-v2 grows.
        let d = new_deployment(5, 0, 0);
        let new_rs = sized("foo-v3", 2, newer, 5, 0);
        let (v2, v1) = (sized("foo-v2", 1, old, 3, 0), sized("foo-v1", 1, older, 5, 0));
        let writes = proportional_scale(&d, Some(&new_rs), &[&v2, &v1]);
        assert!(writes.contains(&("foo-v2".to_string(), 2)) && writes.contains(&("foo-v3".to_string(), 2)) && writes.contains(&("foo-v1".to_string(), 1)), "failed rs update: {writes:?}");
        // "saturated but broken new replica set does not affect old pods"
        let d = new_deployment(2, 1, 1);
        let mut broken = sized("foo-v2", 2, newer, 2, 1);
        broken.status.available_replicas = 0;
        let v1 = sized("foo-v1", 1, old, 2, 1);
        let writes = proportional_scale(&d, Some(&broken), &[&v1]);
        assert!(writes.iter().all(|(n, s)| (n == "foo-v2" && *s == 2) || (n == "foo-v1" && *s == 1)), "saturated but broken: {writes:?}");
    }

    /// TestDeploymentController_cleanupDeployment: (spec replicas, status replicas) of old
    /// ReplicaSets, revisionHistoryLimit, deletions expected.
    #[test]
    fn test_deployment_controller_cleanup_deployment() {
        let with_status = |name: &str, spec: i32, status: i32| {
            let mut r = rs(name, spec, 0);
            r.status.replicas = status;
            r
        };
        let mut already_deleted = with_status("foo-1", 0, 0);
        already_deleted.metadata.deletion_timestamp = Some(crate::model::meta::Timestamp(1));
        let cases: Vec<(Vec<ReplicaSet>, i32, usize)> = vec![
            (vec![with_status("foo-1", 0, 0), with_status("foo-2", 0, 0), with_status("foo-3", 0, 0)], 1, 2),
            // Only delete the replica set with Spec.Replicas = Status.Replicas = 0.
            (vec![with_status("foo-1", 0, 0), with_status("foo-2", 0, 1), with_status("foo-3", 1, 0), with_status("foo-4", 1, 1)], 0, 1),
            (vec![with_status("foo-1", 0, 0), with_status("foo-2", 0, 0)], 0, 2),
            (vec![with_status("foo-1", 1, 1), with_status("foo-2", 1, 1)], 0, 0),
            (vec![already_deleted], 0, 0),
            // with unlimited revisionHistoryLimit
            (vec![with_status("foo-1", 0, 0), with_status("foo-2", 0, 0), with_status("foo-3", 0, 0)], i32::MAX, 0),
        ];
        for (i, (olds, limit, expected)) in cases.into_iter().enumerate() {
            let mut d = new_deployment(1, 0, 0);
            d.spec.revision_history_limit = Some(limit);
            let refs: Vec<&ReplicaSet> = olds.iter().collect();
            let mut out = Vec::new();
            DeploymentController::new().cleanup(&d, &refs, &mut out);
            assert_eq!(out.iter().filter(|o| matches!(o, WriteOp::Delete { .. })).count(), expected, "scenario {i}");
        }
    }

    /// `currentDeployment(pds, replicas, statusReplicas, updatedReplicas, availableReplicas, conditions)`: Recreate, observed.
    fn current_deployment(pds: Option<i32>, replicas: i32, status: (i32, i32, i32), conditions: Vec<Condition>) -> Deployment {
        let mut d = new_deployment(replicas, 0, 0);
        d.metadata.name = "progress-test".into();
        d.spec.strategy.type_ = "Recreate".into();
        d.spec.strategy.rolling_update = None;
        d.spec.progress_deadline_seconds = pds;
        d.status.replicas = status.0;
        d.status.updated_replicas = status.1;
        d.status.available_replicas = status.2;
        d.status.observed_generation = d.metadata.generation;
        d.status.conditions = conditions;
        d
    }

    fn progressing(status: &str, reason: &str, last_update: Option<SimTime>) -> Condition {
        let t = last_update.map(crate::model::meta::Timestamp::from_sim);
        Condition { type_: "Progressing".into(), status: status.into(), reason: reason.into(), last_update_time: t, last_transition_time: t, ..Default::default() }
    }

    /// TestRequeueStuckDeployment: when a stuck rollout is looked at again.
    #[test]
    fn test_requeue_stuck_deployment() {
        let last = SimTime::from_secs(1000);
        let (pds, infinite) = (Some(60), Some(i32::MAX));
        let failed = vec![progressing("False", "ProgressDeadlineExceeded", None)];
        let stuck = vec![progressing("True", "", Some(last))];
        let status = |r, u, a| {
            let mut s = crate::model::deployment::DeploymentStatus::default();
            (s.replicas, s.updated_replicas, s.available_replicas, s.observed_generation) = (r, u, a, 1);
            s
        };
        let secs = |s: u64| last + Duration::from_secs(s);
        let cases: Vec<(&str, Deployment, crate::model::deployment::DeploymentStatus, SimTime, Option<Duration>)> = vec![
            ("nil progressDeadlineSeconds specified", current_deployment(None, 4, (3, 3, 2), vec![]), status(3, 3, 2), last, None),
            ("infinite progressDeadlineSeconds specified", current_deployment(infinite, 4, (3, 3, 2), vec![]), status(3, 3, 2), last, None),
            ("no progressing condition found", current_deployment(pds, 4, (3, 3, 2), vec![]), status(3, 3, 2), last, None),
            ("complete deployment does not need to be requeued", current_deployment(pds, 3, (3, 3, 3), vec![]), status(3, 3, 3), last, None),
            ("already failed deployment does not need to be requeued", current_deployment(pds, 3, (3, 3, 0), failed.clone()), status(3, 3, 0), last, None),
            ("stuck deployment - 30s", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(30), Some(Duration::from_secs(30))),
            ("stuck deployment - 1s", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(59), Some(Duration::from_secs(1))),
            ("failed deployment - less than a second => now", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(59) + Duration::from_nanos(1), Some(Duration::ZERO)),
            ("failed deployment - now", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(60), Some(Duration::ZERO)),
            ("failed deployment - 1s after deadline", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(61), Some(Duration::ZERO)),
            ("failed deployment - 60s after deadline", current_deployment(pds, 3, (3, 3, 1), stuck.clone()), status(3, 3, 1), secs(120), Some(Duration::ZERO)),
        ];
        for (name, d, status, now, expected) in cases {
            assert_eq!(requeue_stuck_deployment(&d, &status, now), expected, "{name}");
        }
    }

    /// TestSyncRolloutStatus: the Progressing condition syncRolloutStatus writes.
    #[test]
    fn test_sync_rollout_status() {
        let test_time = SimTime::from_secs(1000);
        let now = test_time + Duration::from_secs(3600);
        let pds = Some(60);
        let failed_timed_out = progressing("False", "ProgressDeadlineExceeded", None);
        let new_rs_available = progressing("True", "NewReplicaSetAvailable", Some(test_time));
        let replica_set_updated = progressing("True", "ReplicaSetUpdated", Some(test_time));
        let with_available = |name: &str, spec: i32, status: i32, available: i32| {
            let mut r = rs(name, spec, available);
            r.status.replicas = status;
            r
        };
        let t = Some(crate::model::meta::Timestamp::from_sim(test_time));
        // (name, deployment, other RSs, new RS, expected (status, reason) or None, lastUpdate kept, lastTransition kept)
        type Case<'a> = (&'a str, Deployment, Vec<ReplicaSet>, Option<ReplicaSet>, Option<(&'a str, &'a str)>, bool, bool);
        let cases: Vec<Case> = vec![
            ("General: remove Progressing condition and do not estimate progress if deployment has no Progress Deadline", current_deployment(None, 3, (2, 2, 2), vec![replica_set_updated.clone()]), vec![with_available("bar", 0, 1, 1)], Some(with_available("foo", 3, 2, 2)), None, false, false),
            ("General: do not estimate progress of deployment with only one active ReplicaSet", current_deployment(pds, 3, (3, 3, 3), vec![new_rs_available.clone()]), vec![with_available("bar", 3, 3, 3)], None, Some(("True", "NewReplicaSetAvailable")), true, true),
            ("DeploymentProgressing: dont update lastTransitionTime if deployment already has Progressing=True", current_deployment(pds, 3, (2, 2, 2), vec![replica_set_updated.clone()]), vec![with_available("bar", 0, 1, 1)], Some(with_available("foo", 3, 2, 2)), Some(("True", "ReplicaSetUpdated")), false, true),
            ("DeploymentProgressing: update everything if deployment has Progressing=False", current_deployment(pds, 3, (2, 2, 2), vec![failed_timed_out.clone()]), vec![with_available("bar", 0, 1, 1)], Some(with_available("foo", 3, 2, 2)), Some(("True", "ReplicaSetUpdated")), false, false),
            ("DeploymentProgressing: create Progressing condition if it does not exist", current_deployment(pds, 3, (2, 2, 2), vec![]), vec![with_available("bar", 0, 1, 1)], Some(with_available("foo", 3, 2, 2)), Some(("True", "ReplicaSetUpdated")), false, false),
            ("DeploymentComplete: dont update lastTransitionTime if deployment already has Progressing=True", current_deployment(pds, 3, (3, 3, 3), vec![replica_set_updated.clone()]), vec![], Some(with_available("foo", 3, 3, 3)), Some(("True", "NewReplicaSetAvailable")), false, true),
            ("DeploymentComplete: update everything if deployment has Progressing=False", current_deployment(pds, 3, (3, 3, 3), vec![failed_timed_out.clone()]), vec![], Some(with_available("foo", 3, 3, 3)), Some(("True", "NewReplicaSetAvailable")), false, false),
            ("DeploymentComplete: create Progressing condition if it does not exist", current_deployment(pds, 3, (3, 3, 3), vec![]), vec![], Some(with_available("foo", 3, 3, 3)), Some(("True", "NewReplicaSetAvailable")), false, false),
            ("DeploymentComplete: defend against NPE when newRS=nil", current_deployment(pds, 0, (3, 3, 3), vec![replica_set_updated.clone()]), vec![with_available("foo", 0, 0, 0)], None, Some(("True", "NewReplicaSetAvailable")), false, false),
            ("DeploymentTimedOut: update status if rollout exceeds Progress Deadline", current_deployment(pds, 3, (2, 2, 2), vec![replica_set_updated.clone()]), vec![], Some(with_available("foo", 3, 2, 2)), Some(("False", "ProgressDeadlineExceeded")), false, false),
            ("DeploymentTimedOut: do not update status if deployment has existing timedOut condition", current_deployment(pds, 3, (2, 2, 2), vec![progressing("False", "ProgressDeadlineExceeded", Some(test_time))]), vec![], Some(with_available("foo", 3, 2, 2)), Some(("False", "ProgressDeadlineExceeded")), true, true),
        ];
        for (name, d, others, new_rs, expected, update_kept, transition_kept) in cases {
            let mut all: Vec<&ReplicaSet> = others.iter().collect();
            if let Some(n) = &new_rs {
                all.push(n);
            }
            let s = rollout_status(&d, &all, new_rs.as_ref(), now);
            let cond = s.conditions.iter().find(|c| c.type_ == "Progressing");
            match (cond, expected) {
                (None, None) => {}
                (Some(c), Some((status, reason))) => {
                    assert_eq!((c.status.as_str(), c.reason.as_str()), (status, reason), "{name}");
                    if update_kept {
                        assert_eq!(c.last_update_time, t, "{name}: lastUpdateTime kept");
                    }
                    let before = d.status.conditions.iter().find(|c| c.type_ == "Progressing").map(|c| c.status.clone());
                    if transition_kept {
                        assert_eq!(c.last_transition_time, t, "{name}: lastTransitionTime kept");
                    } else if before.as_deref() != Some(status) {
                        assert_eq!(c.last_transition_time, Some(crate::model::meta::Timestamp::from_sim(now)), "{name}: everything updated");
                    }
                }
                (c, e) => panic!("{name}: Progressing {c:?}, expected {e:?}"),
            }
        }
    }

    /// TestDeploymentComplete / TestDeploymentProgressing / TestDeploymentTimedOut (deployment/util).
    #[test]
    fn test_deployment_complete_progressing_timed_out() {
        let status = |r: i32, u: i32, a: i32, og: i64| {
            let mut s = crate::model::deployment::DeploymentStatus::default();
            (s.replicas, s.updated_replicas, s.available_replicas, s.observed_generation) = (r, u, a, og);
            s
        };
        let mut d = new_deployment(5, 1, 0);
        d.metadata.generation = 1;
        // TestDeploymentComplete
        for (name, s, want) in [
            ("not complete: min but not all pods become available", status(5, 5, 4, 1), false),
            ("not complete: min availability is not honored", status(5, 5, 3, 1), false),
            ("complete", status(5, 5, 5, 1), true),
            ("not complete: all pods are available but not updated", status(5, 4, 5, 1), false),
            ("not complete: still running old pods", status(6, 5, 5, 1), false),
            ("not complete: one replica deployment never comes up", status(5, 5, 4, 0), false),
        ] {
            assert_eq!(deployment_complete(&d, &s), want, "{name}");
        }
        // TestDeploymentProgressing
        let with_status = |r: i32, u: i32, ready: i32, a: i32| {
            let mut d = new_deployment(10, 0, 0);
            (d.status.replicas, d.status.updated_replicas, d.status.ready_replicas, d.status.available_replicas) = (r, u, ready, a);
            d
        };
        let st = |r: i32, u: i32, ready: i32, a: i32| {
            let mut s = crate::model::deployment::DeploymentStatus::default();
            (s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas) = (r, u, ready, a);
            s
        };
        for (name, d, s, want) in [
            ("progressing: updated pods", with_status(10, 4, 4, 4), st(10, 5, 4, 4), true),
            ("not progressing", with_status(10, 4, 4, 4), st(10, 4, 4, 4), false),
            ("progressing: old pods removed", with_status(10, 4, 6, 6), st(8, 4, 6, 6), true),
            ("not progressing: less new pods", with_status(10, 7, 3, 3), st(10, 6, 3, 3), false),
            ("progressing: less overall but more new pods", with_status(10, 4, 7, 7), st(8, 6, 7, 7), true),
            ("progressing: more ready pods", with_status(10, 10, 4, 4), st(10, 10, 5, 4), true),
            ("progressing: more available pods", with_status(10, 10, 4, 4), st(10, 10, 4, 5), true),
        ] {
            assert_eq!(deployment_progressing(&d, &s), want, "{name}");
        }
        // TestDeploymentTimedOut: lastUpdateTime + progressDeadlineSeconds before now, strictly.
        let last = SimTime::from_secs(1000);
        let timed = |pds: Option<i32>, now: SimTime| {
            let mut d = new_deployment(1, 0, 0);
            d.spec.progress_deadline_seconds = pds;
            let mut s = d.status.clone();
            s.conditions = vec![progressing("True", "ReplicaSetUpdated", Some(last))];
            deployment_timed_out(&d, &s, now)
        };
        assert!(!timed(None, last + Duration::from_secs(3600)), "nil progressDeadlineSeconds specified - no timeout");
        assert!(!timed(Some(i32::MAX), last + Duration::from_secs(3600)), "infinite progressDeadlineSeconds specified - no timeout");
        assert!(!timed(Some(10), last + Duration::from_secs(9)), "no timeout");
        assert!(!timed(Some(10), last + Duration::from_secs(10)), "at the deadline: not yet (Before is strict)");
        assert!(timed(Some(10), last + Duration::from_secs(11)), "timeout");
    }

    /// getNewReplicaSet on an existing ReplicaSet: a Deployment without its
    /// revision gets the ReplicaSet's (SetDeploymentRevision) and, with a
    /// deadline and no Progressing condition, FoundNewReplicaSet — one status
    /// write before anything else; a changed minReadySeconds is carried to the
    /// ReplicaSet instead, and the Deployment's revision waits for the next sync.
    #[test]
    fn an_existing_new_replicaset_syncs_the_deployment_revision_first() {
        let mut d = new_deployment(2, 1, 0);
        d.spec.progress_deadline_seconds = Some(600);
        let mut new_rs = DeploymentController::new().new_replicaset(&d, &template_hash(&d), 3, 2);
        new_rs.metadata.uid = "new".into();
        let view = |d: &Deployment, rs: &ReplicaSet| {
            let mut c = Cache::new(&[Kind::Deployment, Kind::ReplicaSet, Kind::Pod]);
            for (i, o) in [Object::from(d.clone()), rs.clone().into()].into_iter().enumerate() {
                c.apply(&crate::api::WatchEvent { type_: crate::api::WatchEventType::Added, key: std::sync::Arc::from(""), object: o, revision: i as i64 + 1 });
            }
            c
        };
        let sync = |d: &Deployment, rs: &ReplicaSet| {
            let mut q = crate::control::workqueue::WorkQueue::new();
            let step = DeploymentController::new().reconcile(SimTime::ZERO, &("default".into(), "foo".into()), &view(d, rs), &mut crate::control::host::Keys::new(&mut q, SimTime::ZERO));
            let crate::control::host::Step::Sequence { ops, .. } = step else { panic!("{step:?}") };
            ops
        };
        let ops = sync(&d, &new_rs);
        let WriteOp::UpdateStatus(Object::Deployment(first)) = &ops[0] else { panic!("{ops:?}") };
        assert_eq!(first.metadata.annotations.get(REVISION_ANNOTATION).map(String::as_str), Some("3"), "the ReplicaSet's revision");
        let p = first.status.conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
        assert_eq!((p.reason.as_str(), p.message.as_str()), ("FoundNewReplicaSet", format!("Found new replica set {:?}", new_rs.metadata.name).as_str()));
        d.spec.min_ready_seconds = 10;
        let ops = sync(&d, &new_rs);
        let WriteOp::Update(Object::ReplicaSet(rs)) = &ops[0] else { panic!("{ops:?}") };
        assert_eq!(rs.spec.min_ready_seconds, 10);
        assert!(!ops.iter().any(|o| matches!(o, WriteOp::UpdateStatus(Object::Deployment(x)) if x.metadata.annotations.contains_key(REVISION_ANNOTATION))), "the revision waits: {ops:?}");
    }
}
