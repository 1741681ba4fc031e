//! API layer semantics, case by case (modelled on kube-apiserver's registry tests),
//! over the simulated etcd.

use super::SimStorage;
use crate::api::server::*;
use crate::api::{Storage, WatchEventType};
use crate::model::meta::Timestamp;
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;
use crate::model::{Namespace, ObjectMeta};
use crate::seed::stream;

fn server() -> ApiServer<SimStorage> {
    let mut api = ApiServer::new(SimStorage::new(), "/registry", stream(1, "apiserver"));
    for ns in ["default", "team"] {
        let n = Namespace { metadata: ObjectMeta { name: ns.into(), ..Default::default() }, ..Default::default() };
        api.create(n.into(), SimTime::ZERO).unwrap();
    }
    api.storage.drain_events();
    api
}

use crate::testutil::{pod, replicaset as rs};

fn t(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

#[test]
fn create_sets_server_fields_defaults_and_rv_is_the_mod_revision() {
    let mut api = server();
    let created = api.create(pod("p"), t(5)).unwrap();
    let m = created.meta();
    assert_eq!(m.uid.len(), 36);
    assert_eq!(&m.uid[14..15], "4", "uuid v4 layout");
    assert_eq!(m.generation, 1);
    assert_eq!(m.creation_timestamp, Some(Timestamp::from_sim(t(5))));
    assert_eq!(m.resource_version, api.storage.revision().to_string());
    let p = created.as_pod().unwrap();
    assert_eq!(p.status.phase, "Pending");
    assert_eq!(p.status.qos_class, "BestEffort");
    assert_eq!(p.spec.tolerations.len(), 2, "DefaultTolerationSeconds admission");
    assert_eq!(api.get(&ObjectRef::of(&created)).unwrap(), created);
    let err = api.create(pod("p"), t(6)).unwrap_err();
    assert_eq!(err.to_string(), "pods \"p\" already exists");
    assert_eq!(err.code(), 409);
}

#[test]
fn create_rejects_invalid_objects_missing_namespaces_and_resource_versions() {
    let mut api = server();
    let mut bad = pod("Bad_Name");
    bad.meta_mut().labels.insert("ok".into(), "-x".into());
    let e = api.create(bad, t(0)).unwrap_err();
    assert_eq!(e.code(), 422);
    assert!(e.to_string().starts_with("Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\""), "{e}");
    let mut elsewhere = pod("p");
    elsewhere.meta_mut().namespace = "nowhere".into();
    assert_eq!(api.create(elsewhere, t(0)).unwrap_err().to_string(), "namespaces \"nowhere\" not found");
    let mut with_rv = pod("q");
    with_rv.meta_mut().resource_version = "7".into();
    assert_eq!(api.create(with_rv, t(0)).unwrap_err().to_string(), "resourceVersion should not be set on objects to be created");
}

#[test]
fn generate_name_is_seeded_and_unique() {
    let mut api = server();
    let mut p = pod("");
    p.meta_mut().generate_name = "web-".into();
    let a = api.create(p.clone(), t(0)).unwrap();
    let b = api.create(p, t(0)).unwrap();
    assert!(a.meta().name.starts_with("web-") && a.meta().name.len() == 9);
    assert_ne!(a.meta().name, b.meta().name);
    let mut again = server();
    let mut p2 = pod("");
    p2.meta_mut().generate_name = "web-".into();
    assert_eq!(again.create(p2, t(0)).unwrap().meta().name, a.meta().name, "same seed, same names");
}

#[test]
fn stale_resource_version_conflicts_and_empty_one_is_unconditional() {
    let mut api = server();
    let v1 = api.create(rs("web", 1), t(0)).unwrap();
    let mut a = v1.clone();
    if let Object::ReplicaSet(r) = &mut a {
        std::sync::Arc::make_mut(r).spec.replicas = Some(2);
    }
    let v2 = api.update(a.clone(), t(1)).unwrap();
    assert!(v2.meta().revision() > v1.meta().revision());
    // The same stale copy again: 409.
    let e = api.update(a.clone(), t(2)).unwrap_err();
    assert!(e.is_conflict());
    assert_eq!(e.to_string(), "Operation cannot be fulfilled on replicasets \"web\": the object has been modified; please apply your changes to the latest version and try again");
    // No resourceVersion: unconditional.
    a.meta_mut().resource_version.clear();
    if let Object::ReplicaSet(r) = &mut a {
        std::sync::Arc::make_mut(r).spec.replicas = Some(3);
    }
    assert!(api.update(a, t(3)).is_ok());
}

#[test]
fn generation_moves_with_spec_only_and_no_op_updates_write_nothing() {
    let mut api = server();
    let v1 = api.create(rs("web", 1), t(0)).unwrap();
    let rev = api.storage.revision();
    assert_eq!(api.update(v1.clone(), t(1)).unwrap(), v1, "no-op update");
    assert_eq!(api.storage.revision(), rev, "no-op writes nothing");
    let mut labelled = v1.clone();
    labelled.meta_mut().labels.insert("x".into(), "y".into());
    let v2 = api.update(labelled, t(1)).unwrap();
    assert_eq!(v2.meta().generation, 1, "metadata change keeps generation");
    let mut scaled = v2.clone();
    if let Object::ReplicaSet(r) = &mut scaled {
        std::sync::Arc::make_mut(r).spec.replicas = Some(5);
        std::sync::Arc::make_mut(r).status.replicas = 99;
    }
    let v3 = api.update(scaled, t(2)).unwrap();
    assert_eq!(v3.meta().generation, 2);
    assert_eq!(v3.as_replicaset().unwrap().status.replicas, 0, "update ignores status");
    let mut st = v3.clone();
    if let Object::ReplicaSet(r) = &mut st {
        std::sync::Arc::make_mut(r).status.replicas = 5;
        std::sync::Arc::make_mut(r).spec.replicas = Some(1);
    }
    let v4 = api.update_status(st, t(3)).unwrap();
    let r4 = v4.as_replicaset().unwrap();
    assert_eq!((r4.status.replicas, r4.spec.replicas, v4.meta().generation), (5, Some(5), 2), "status update ignores spec");
}

#[test]
fn immutable_fields_are_enforced_on_update() {
    let mut api = server();
    let v1 = api.create(rs("web", 1), t(0)).unwrap();
    let mut changed = v1.clone();
    if let Object::ReplicaSet(r) = &mut changed {
        let r = std::sync::Arc::make_mut(r);
        r.spec.selector.match_labels.insert("extra".into(), "x".into());
        r.spec.template.metadata.labels.insert("extra".into(), "x".into());
    }
    let e = api.update(changed, t(1)).unwrap_err();
    assert!(e.to_string().contains("spec.selector: Invalid value"), "{e}");
    assert!(e.to_string().contains("field is immutable"), "{e}");
}

#[test]
fn bind_sets_node_name_once() {
    let mut api = server();
    api.create(pod("p"), t(0)).unwrap();
    let bound = api.bind("default", "p", "n1", t(1)).unwrap();
    let p = bound.as_pod().unwrap();
    assert_eq!(p.spec.node_name, "n1");
    assert!(p.status.conditions.iter().any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    let e = api.bind("default", "p", "n2", t(2)).unwrap_err();
    assert_eq!(e.to_string(), "Operation cannot be fulfilled on pods \"p/binding\": pod p is already assigned to node \"n1\"");
    // Nor may a plain update move it.
    let mut moved = bound.clone();
    if let Object::Pod(p) = &mut moved {
        std::sync::Arc::make_mut(p).spec.node_name = "n2".into();
    }
    assert_eq!(api.update(moved, t(3)).unwrap_err().code(), 422);
}

#[test]
fn graceful_pod_deletion_then_kubelet_confirms() {
    let mut api = server();
    api.create(pod("p"), t(0)).unwrap();
    let r = ObjectRef::new(Kind::Pod, "default", "p");
    // Unscheduled pods go at once.
    assert!(matches!(api.delete(&r, &DeleteOptions::default(), t(1)).unwrap(), DeleteOutcome::Deleted(_)));
    api.create(pod("p"), t(2)).unwrap();
    api.bind("default", "p", "n1", t(2)).unwrap();
    let marked = api.delete(&r, &DeleteOptions::default(), t(10)).unwrap();
    let DeleteOutcome::Marked(m) = marked else { panic!("bound pod must be marked") };
    assert_eq!(m.meta().deletion_timestamp, Some(Timestamp::from_sim(t(40))), "30 s default grace");
    assert_eq!(m.meta().deletion_grace_period_seconds, Some(30));
    // A longer grace period cannot extend it; a shorter one shortens it.
    let again = api.delete(&r, &DeleteOptions { grace_period_s: Some(100), ..Default::default() }, t(11)).unwrap();
    assert_eq!(again.object().meta().deletion_timestamp, Some(Timestamp::from_sim(t(40))));
    let gone = api.delete(&r, &DeleteOptions { grace_period_s: Some(0), ..Default::default() }, t(12)).unwrap();
    assert!(matches!(gone, DeleteOutcome::Deleted(_)));
    assert!(api.get(&r).unwrap_err().is_not_found());
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let mut api = server();
    let mut o = rs("web", 1);
    o.meta_mut().finalizers.push("example.com/hold".into());
    api.create(o, t(0)).unwrap();
    let r = ObjectRef::new(Kind::ReplicaSet, "default", "web");
    let marked = api.delete(&r, &DeleteOptions::default(), t(1)).unwrap();
    assert!(matches!(marked, DeleteOutcome::Marked(_)));
    assert_eq!(marked.object().meta().deletion_timestamp, Some(Timestamp::from_sim(t(1))));
    let mut cur = api.get(&r).unwrap();
    cur.meta_mut().finalizers.push("late.example.com/new".into());
    let kept = api.update(cur, t(2)).unwrap();
    assert_eq!(kept.meta().finalizers, vec!["example.com/hold".to_string()], "no new finalizers while deleting");
    let mut cleared = kept.clone();
    cleared.meta_mut().finalizers.clear();
    api.update(cleared, t(3)).unwrap();
    assert!(api.get(&r).unwrap_err().is_not_found(), "removing the last finalizer deletes");
}

#[test]
fn propagation_policies_add_their_finalizers_and_preconditions_hold() {
    let mut api = server();
    api.create(rs("a", 1), t(0)).unwrap();
    api.create(rs("b", 1), t(0)).unwrap();
    let a = ObjectRef::new(Kind::ReplicaSet, "default", "a");
    let out = api.delete(&a, &DeleteOptions { propagation: Propagation::Orphan, ..Default::default() }, t(1)).unwrap();
    assert_eq!(out.object().meta().finalizers, vec![FINALIZER_ORPHAN.to_string()]);
    let b = ObjectRef::new(Kind::ReplicaSet, "default", "b");
    let out = api.delete(&b, &DeleteOptions { propagation: Propagation::Foreground, ..Default::default() }, t(1)).unwrap();
    assert_eq!(out.object().meta().finalizers, vec![FINALIZER_FOREGROUND.to_string()]);
    api.create(rs("c", 1), t(0)).unwrap();
    let c = ObjectRef::new(Kind::ReplicaSet, "default", "c");
    let e = api.delete(&c, &DeleteOptions { precondition_uid: Some("other".into()), ..Default::default() }, t(1)).unwrap_err();
    assert!(e.to_string().contains("Precondition failed: UID in precondition: other"), "{e}");
}

#[test]
fn watch_resumes_in_order_and_compaction_gives_410_gone() {
    let mut api = server();
    let start = api.storage.revision();
    api.create(pod("a"), t(0)).unwrap();
    let b = api.create(pod("b"), t(0)).unwrap();
    api.delete(&ObjectRef::of(&b), &DeleteOptions::default(), t(1)).unwrap();
    let events = api.watch(Kind::Pod, start).unwrap();
    let got: Vec<_> = events.iter().map(|e| (e.type_, e.object.meta().name.clone(), e.revision)).collect();
    assert_eq!(got, vec![
        (WatchEventType::Added, "a".to_string(), start + 1),
        (WatchEventType::Added, "b".to_string(), start + 2),
        (WatchEventType::Deleted, "b".to_string(), start + 3),
    ]);
    assert_eq!(events[2].object.meta().resource_version, (start + 3).to_string(), "deleted object carries the deletion revision");
    assert!(api.watch(Kind::Namespace, start).unwrap().is_empty(), "only the watched kind");
    let rev = api.storage.revision();
    api.storage.etcd.compact(rev).unwrap();
    let e = api.watch(Kind::Pod, start).unwrap_err();
    assert_eq!(e.code(), 410);
    assert_eq!(e.to_string(), format!("too old resource version: {start} ({rev})"));
    assert!(api.watch(Kind::Pod, rev).is_ok());
}

/// Fields kubesim does not model survive create → get and later writes
/// unchanged (what `kubectl apply` relies on), in place in the object.
#[test]
fn unmodelled_fields_survive_create_get_and_updates() {
    let mut api = server();
    let json = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},
        "spec":{"volumes":[{"name":"data","emptyDir":{}}],
                "containers":[{"name":"c","image":"nginx","volumeMounts":[{"name":"data","mountPath":"/data"}],
                               "env":[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]}],
                "dnsPolicy":"ClusterFirst"}}"#;
    let pod = Object::from_json(Kind::Pod, json).unwrap();
    api.create(pod, t(1)).unwrap();
    let got = api.get(&ObjectRef::new(Kind::Pod, "default", "p")).unwrap().to_json_value();
    assert_eq!(got["spec"]["volumes"], serde_json::json!([{"name": "data", "emptyDir": {}}]));
    assert_eq!(got["spec"]["containers"][0]["volumeMounts"], serde_json::json!([{"name": "data", "mountPath": "/data"}]));
    assert_eq!(got["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(got["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(got["spec"]["containers"][0]["image"], "nginx", "modelled fields as they were");
    // A status write (by the kubelet) keeps them; a JSON round trip (etcd, patches) keeps them.
    let stored = api.get(&ObjectRef::new(Kind::Pod, "default", "p")).unwrap();
    let mut with_status = stored.clone();
    if let Object::Pod(p) = &mut with_status {
        std::sync::Arc::make_mut(p).status.phase = "Running".into();
    }
    api.update_status(with_status, t(2)).unwrap();
    let again = api.get(&ObjectRef::new(Kind::Pod, "default", "p")).unwrap();
    let bytes = serde_json::to_vec(&again.to_json_value()).unwrap();
    let decoded = Object::from_json(Kind::Pod, &bytes).unwrap().to_json_value();
    assert_eq!(decoded["spec"]["volumes"], got["spec"]["volumes"]);
    assert_eq!(decoded["status"]["phase"], "Running");
    assert_eq!(decoded, again.to_json_value(), "stable through encode/decode");
}

/// A ReplicaSet's template carries its unmodelled fields into the pods it makes.
#[test]
fn a_template_hands_its_unmodelled_fields_to_the_objects_made_from_it() {
    let json = br#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web","namespace":"default","uid":"u"},
        "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
                "template":{"metadata":{"labels":{"app":"web"}},
                            "spec":{"volumes":[{"name":"cfg","configMap":{"name":"web"}}],"containers":[{"name":"c","image":"nginx"}]}}}}"#;
    let rs = Object::from_json(Kind::ReplicaSet, json).unwrap();
    let pod: Object = crate::control::controllers::replicaset::pod_from_template(rs.as_replicaset().unwrap()).into();
    assert_eq!(pod.to_json_value()["spec"]["volumes"], serde_json::json!([{"name": "cfg", "configMap": {"name": "web"}}]));
}

/// kube-apiserver's `--event-ttl` (1 h): an Event's key goes with its etcd
/// lease; Events written within the lease manager's reuse minute share one
/// lease of 3,660 s; a later update moves the Event to a newer lease; other
/// kinds never expire.
#[test]
fn events_expire_an_hour_after_their_last_write() {
    let mut api = server();
    let event = |name: &str| {
        let mut e = crate::model::event::Event::default();
        e.metadata.name = name.into();
        e.metadata.namespace = "default".into();
        e.reason = "Scheduled".into();
        e.involved_object = crate::model::event::ObjectReference { kind: "Pod".into(), name: "p".into(), namespace: "default".into(), ..Default::default() };
        Object::from(e)
    };
    api.create(event("a"), t(0)).unwrap();
    api.create(event("b"), t(30)).unwrap();
    let c = api.create(event("c"), t(50)).unwrap();
    api.create(pod("p"), t(0)).unwrap();
    // "c" is written again two minutes later: a new lease from then.
    let mut again = c.clone();
    if let Object::Event(e) = &mut again {
        std::sync::Arc::make_mut(e).count = 2;
    }
    api.update(again, t(120)).unwrap();
    api.storage.drain_events();
    let exists = |api: &ApiServer<SimStorage>, name: &str| api.get(&ObjectRef::new(Kind::Event, "default", name)).is_ok();
    assert_eq!(api.storage.expire_leases(t(3659)), Some(t(3660)), "the first lease runs to 3,600 + 60 s");
    assert!(exists(&api, "a") && exists(&api, "b") && exists(&api, "c"));
    api.storage.expire_leases(t(3660));
    let gone: Vec<String> = api.storage.drain_events().into_iter().filter(|e| e.type_ == WatchEventType::Deleted).map(|e| e.object.meta().name.clone()).collect();
    assert_eq!(gone, ["a", "b"], "the shared lease takes both, watchers see DELETED");
    assert!(exists(&api, "c"), "updated at 120 s: on a later lease");
    api.storage.expire_leases(t(120 + 3660));
    assert!(!exists(&api, "c"));
    assert!(api.get(&ObjectRef::new(Kind::Pod, "default", "p")).is_ok(), "other kinds have no TTL");
}
