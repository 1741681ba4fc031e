use super::*;
use crate::control::Effect;
use crate::api::WatchEvent;
use crate::testutil::pod;

#[test]
fn a_stale_owner_cache_is_not_taken_for_absence() {
    let mut gc = GarbageCollector::new();
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
    gc.handle(SimTime::ZERO, Input::Watch(ev), &cache, &mut out);
    assert!(!out.effects().iter().any(|e| matches!(e, Effect::Write { .. })), "the ReplicaSet cache (revision 0) is behind the pod (10): no delete");
    assert!(out.effects().iter().any(|e| matches!(e, Effect::WakeAt { .. })), "it checks again later");
}
