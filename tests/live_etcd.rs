//! The API layer on a real etcd: kube-apiserver's key layout, JSON values,
//! resourceVersion = mod revision, compare-and-swap writes, watch streams,
//! compaction, and a dead etcd answered within 5 s.
#![cfg(feature = "live")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubesim::api::storage::WatchEventType;
use kubesim::api::{ApiError, ApiServer};
use kubesim::live::etcd::{EtcdStorage, EtcdTls, StreamEvent};
use kubesim::model::{Kind, Object, ObjectRef, Pod};
use kubesim::time::SimTime;

fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap())
}

fn pod(name: &str) -> Object {
    let p: Pod = serde_yaml::from_str(&format!("metadata: {{name: {name}, namespace: default}}\nspec: {{containers: [{{name: c, image: busybox}}]}}")).unwrap();
    p.into()
}

fn api(etcd: &common::Etcd, prefix: &str) -> ApiServer<EtcdStorage> {
    let registry = format!("{prefix}/registry");
    let storage = EtcdStorage::connect(runtime(), &[etcd.endpoint.clone()], &registry, &EtcdTls::default()).unwrap();
    let mut api = ApiServer::new(storage, &registry, kubesim::seed::stream(1, "apiserver"));
    let ns: kubesim::model::Namespace = serde_yaml::from_str("metadata: {name: default}").unwrap();
    api.create(ns.into(), SimTime::ZERO).unwrap();
    api
}

#[test]
fn objects_are_json_under_the_apiserver_layout_and_writes_are_compare_and_swap() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let mut api = api(&etcd, "/t1");
    let created = api.create(pod("web-1"), SimTime::ZERO).unwrap();
    let rv: i64 = created.meta().resource_version.parse().unwrap();
    assert!(rv > 0);
    // etcdctl sees JSON at kube-apiserver's key, without a stored resourceVersion.
    let out = etcd.etcdctl(&["get", "--prefix", "/t1/registry/pods"]);
    assert!(out.contains("/t1/registry/pods/default/web-1"), "{out}");
    assert!(out.contains("\"name\":\"web-1\"") && !out.contains("resourceVersion"), "{out}");
    // resourceVersion is the mod revision; a stale update is 409.
    let got = api.get(&ObjectRef::new(Kind::Pod, "default", "web-1")).unwrap();
    assert_eq!(got.meta().resource_version, rv.to_string());
    let mut labelled = got.clone();
    labelled.meta_mut().labels.insert("a".into(), "b".into());
    let updated = api.update(labelled.clone(), SimTime::ZERO).unwrap();
    assert!(updated.meta().revision() > rv);
    assert!(matches!(api.update(labelled, SimTime::ZERO), Err(ApiError::Conflict { .. })));
    assert!(matches!(api.create(pod("web-1"), SimTime::ZERO), Err(ApiError::AlreadyExists(_))));
    let (pods, _) = api.list(Kind::Pod, None).unwrap();
    assert_eq!(pods.len(), 1);
    // An unscheduled pod is deleted at once.
    api.delete(&ObjectRef::new(Kind::Pod, "default", "web-1"), &Default::default(), SimTime::ZERO).unwrap();
    assert!(api.get(&ObjectRef::new(Kind::Pod, "default", "web-1")).unwrap_err().is_not_found());
    assert!(!etcd.etcdctl(&["get", "--prefix", "/t1/registry/pods"]).contains("web-1"));
}

#[test]
fn watch_streams_deliver_changes_and_report_compaction() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let mut api = api(&etcd, "/t2");
    let (_, rev) = api.list(Kind::Pod, None).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    api.storage.watch_stream(Kind::Pod, rev + 1, tx);
    api.create(pod("a"), SimTime::ZERO).unwrap();
    api.delete(&ObjectRef::new(Kind::Pod, "default", "a"), &Default::default(), SimTime::ZERO).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(5)).expect("watch event within 5 s") {
            StreamEvent::Event(e) => seen.push((e.type_, e.object.meta().name.clone())),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, vec![(WatchEventType::Added, "a".to_string()), (WatchEventType::Deleted, "a".to_string())]);
    // A watch from a compacted revision is 410 Gone: the driver relists.
    api.create(pod("b"), SimTime::ZERO).unwrap();
    let now = kubesim::api::storage::Storage::revision(&api.storage);
    api.storage.compact(now).unwrap();
    let (tx2, rx2) = std::sync::mpsc::channel();
    api.storage.watch_stream(Kind::Pod, rev + 1, tx2);
    assert!(matches!(rx2.recv_timeout(Duration::from_secs(5)).unwrap(), StreamEvent::Gone(Kind::Pod)));
}

#[test]
fn an_unreachable_etcd_is_a_clear_error_within_five_seconds() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let port = common::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let err = EtcdStorage::connect(runtime(), &[endpoint.clone()], "/x/registry", &EtcdTls::default()).err().expect("fails");
    assert!(started.elapsed() < Duration::from_secs(7), "took {:?}", started.elapsed());
    assert!(err.contains(&endpoint), "{err}");
}

#[test]
fn tls_with_client_certificates() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let (etcd, [ca, cert, key]) = common::Etcd::start_tls();
    let tls = EtcdTls { ca: Some(ca.clone()), cert: Some(cert), key: Some(key) };
    let storage = EtcdStorage::connect(runtime(), &[etcd.endpoint.clone()], "/tls/registry", &tls).unwrap_or_else(|e| panic!("{e}"));
    let mut api = ApiServer::new(storage, "/tls/registry", kubesim::seed::stream(1, "apiserver"));
    let ns: kubesim::model::Namespace = serde_yaml::from_str("metadata: {name: default}").unwrap();
    api.create(ns.into(), SimTime::ZERO).unwrap();
    api.create(pod("secure"), SimTime::ZERO).unwrap();
    assert_eq!(api.get(&ObjectRef::new(Kind::Pod, "default", "secure")).unwrap().meta().name, "secure");
    // Without a client certificate the server refuses; the error names the endpoint.
    let no_cert = EtcdTls { ca: Some(ca), cert: None, key: None };
    let err = EtcdStorage::connect(runtime(), &[etcd.endpoint.clone()], "/tls/registry", &no_cert).err().expect("refused");
    assert!(err.contains(&etcd.endpoint), "{err}");
}
