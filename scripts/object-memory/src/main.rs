//! Bytes allocated per Pod when 150,000 copies of a typical pod (a
//! ReplicaSet's, bound and Running, with a status) are decoded and held, in
//! kubesim's types and in k8s-openapi's. Each object is decoded separately
//! (as from etcd), so nothing is shared between them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"web-7d4b9c-x2k9p","generateName":"web-7d4b9c-","namespace":"default","uid":"3f2a6c1e-8b1d-4e2a-9c3f-5d6e7f8a9b0c",
   "resourceVersion":"123456","creationTimestamp":"2025-01-01T00:00:01Z","labels":{"app":"web","pod-template-hash":"7d4b9c"},
   "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c","uid":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","controller":true,"blockOwnerDeletion":true}]},
 "spec":{"nodeName":"pool-1234","schedulerName":"default-scheduler","restartPolicy":"Always","terminationGracePeriodSeconds":30,
   "containers":[{"name":"web","image":"nginx:1.27","resources":{"requests":{"cpu":"500m","memory":"1Gi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
   "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
                  {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},
 "status":{"phase":"Running","startTime":"2025-01-01T00:00:03Z",
   "conditions":[{"type":"PodScheduled","status":"True","lastTransitionTime":"2025-01-01T00:00:02Z"},
                 {"type":"Initialized","status":"True","lastTransitionTime":"2025-01-01T00:00:03Z"},
                 {"type":"ContainersReady","status":"True","lastTransitionTime":"2025-01-01T00:00:05Z"},
                 {"type":"Ready","status":"True","lastTransitionTime":"2025-01-01T00:00:05Z"}],
   "containerStatuses":[{"name":"web","image":"nginx:1.27","imageID":"","containerID":"fake://c-1","ready":true,"started":true,"restartCount":0,
                         "state":{"running":{"startedAt":"2025-01-01T00:00:04Z"}}}]}}"#;

const N: usize = 150_000;

fn measure<T>(name: &str, decode: impl Fn(&[u8]) -> T) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let held: Vec<T> = (0..N).map(|_| decode(POD.as_bytes())).collect();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!("| {name} | {} | {:.0} | {:.0} MiB |", std::mem::size_of::<T>(), bytes as f64 / N as f64, bytes as f64 / (1024.0 * 1024.0));
    drop(held);
    bytes
}

fn main() {
    println!("| types | inline bytes | bytes per pod (heap included) | {N} pods |\n|---|---:|---:|---:|");
    let ours = measure("kubesim::model::Pod (in an Object)", |b| kubesim::model::Object::from_json(kubesim::model::Kind::Pod, b).expect("kubesim decodes"));
    let theirs = measure("k8s_openapi::api::core::v1::Pod", |b| serde_json::from_slice::<k8s_openapi::api::core::v1::Pod>(b).expect("k8s-openapi decodes"));
    println!("\nk8s-openapi / kubesim: {:.2}x", theirs as f64 / ours as f64);
    if std::env::args().any(|a| a == "--breakdown") {
        breakdown();
    }
}

/// What each part of the pod costs in kubesim's types (removing it, one at a time).
fn breakdown() {
    let full: serde_json::Value = serde_json::from_str(POD).unwrap();
    let bytes = |v: &serde_json::Value| {
        let b = serde_json::to_vec(v).unwrap();
        let before = LIVE.load(Ordering::Relaxed);
        let held: Vec<_> = (0..10_000).map(|_| kubesim::model::Object::from_json(kubesim::model::Kind::Pod, &b).unwrap()).collect();
        let n = (LIVE.load(Ordering::Relaxed) - before) / 10_000;
        drop(held);
        n
    };
    let all = bytes(&full);
    println!("\nfull: {all}");
    for path in [&["status"][..], &["status", "conditions"], &["status", "containerStatuses"], &["metadata", "labels"], &["metadata", "ownerReferences"], &["spec", "tolerations"], &["spec", "containers"]] {
        let mut v = full.clone();
        let mut cur = &mut v;
        for k in &path[..path.len() - 1] {
            cur = cur.get_mut(*k).unwrap();
        }
        cur.as_object_mut().unwrap().remove(*path.last().unwrap());
        println!("without {}: {} (part: {})", path.join("."), bytes(&v), all - bytes(&v));
    }
}
