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
