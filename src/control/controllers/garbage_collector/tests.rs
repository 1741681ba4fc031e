use super::*;
use crate::api::WatchEvent;
use crate::control::host::Host;
use crate::control::{Component, Effect, Input, Outbox};
use crate::testutil::pod;

#[test]
fn a_stale_owner_cache_is_not_taken_for_absence() {
    let mut gc = Host::new(GarbageCollector::new());
    let mut cache = Cache::new(&gc.watched_kinds());
    let mut p = pod("p");
    let m = p.meta_mut();
    m.uid = "pod-uid".into();
    m.resource_version = "10".into();
    m.owner_references.push(crate::model::meta::OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web".into(),
        uid: "rs-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    let ev = WatchEvent { type_: WatchEventType::Added, object: p, key: std::sync::Arc::from("/registry/pods/default/p"), revision: 10 };
    cache.apply(&ev);
    let mut out = Outbox::default();
    gc.handle(SimTime::ZERO, Input::Synced, &cache, &mut out);
    gc.handle(SimTime::ZERO, Input::Watch(ev), &cache, &mut out);
    assert!(!out.effects().iter().any(|e| matches!(e, Effect::Write { .. })), "the ReplicaSet cache (revision 0) is behind the pod (10): no delete");
    assert!(out.effects().iter().any(|e| matches!(e, Effect::WakeAt { .. })), "it checks again later");
}

/// Once the owner's cache has caught up past the dependent and the owner is
/// absent, the dependent is deleted (with a uid precondition).
#[test]
fn a_dependent_whose_owner_is_gone_is_deleted_once_the_cache_caught_up() {
    let mut gc = GarbageCollector::new();
    let mut cache = Cache::new(&gc.watched_kinds());
    let mut p = pod("p");
    let m = p.meta_mut();
    m.uid = "pod-uid".into();
    m.resource_version = "10".into();
    m.owner_references.push(crate::model::meta::OwnerReference { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: "web".into(), uid: "rs-uid".into(), controller: Some(true), ..Default::default() });
    let ev = WatchEvent { type_: WatchEventType::Added, object: p, key: std::sync::Arc::from("/registry/pods/default/p"), revision: 10 };
    cache.apply(&ev);
    // The ReplicaSet cache has caught up to revision 12 without the owner.
    cache.replace(Kind::ReplicaSet, vec![], 12, "/registry");
    let mut q = crate::control::workqueue::WorkQueue::new();
    let mut keys = Keys::new(&mut q, SimTime::ZERO);
    gc.on_event(SimTime::ZERO, &ev, &cache, &mut keys);
    match gc.reconcile(SimTime::ZERO, &"pod-uid".to_string(), &cache, &mut keys) {
        Step::Call { ops, .. } => match &ops[..] {
            [WriteOp::Delete { target, options }] => {
                assert_eq!(target.name, "p");
                assert_eq!(options.precondition_uid.as_deref(), Some("pod-uid"));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
