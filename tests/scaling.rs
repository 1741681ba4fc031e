//! Cost must grow with the work, never faster (issue 9): events and heap
//! allocations per node of an idle cluster, and per pod of a ReplicaSet
//! brought from empty to all Running, measured at two sizes. A term that grows
//! with the cluster (a scan of every pod per pod event, a relist of every node
//! per kubelet) makes the larger size's per-unit cost grow and fails this test.
//!
//! Allocations are counted by this binary's global allocator; the file holds
//! one test so nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (events, allocations) of one run of the scenario `text`.
fn measure(name: &str, text: &str) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let scenario = kubesim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let outcome = kubesim::run::run_scenario(&scenario, 1, scenario.duration, false, &mut |_| {}).unwrap();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(outcome.ok(), "{name}: {:?} {:?}", outcome.violations, outcome.checks);
    (outcome.events, allocations)
}

fn idle(nodes: u32) -> String {
    format!(
        "kind: Scenario\nname: idle-{nodes}\nduration: 1m\ncluster:\n  zones: [a, b, c]\n  nodePools:\n  - {{name: pool, count: {nodes}, capacity: {{cpu: '64', memory: 256Gi, pods: '110'}}}}\n"
    )
}

fn replicaset(pods: u32, nodes: u32) -> String {
    format!(
        "kind: Scenario\nname: rs-{pods}\nduration: 2m\ncluster:\n  zones: [a, b, c]\n  nodePools:\n  - {{name: pool, count: {nodes}, capacity: {{cpu: '64', memory: 256Gi, pods: '110'}}}}\n\
         objects:\n- manifest:\n    apiVersion: apps/v1\n    kind: ReplicaSet\n    metadata: {{name: web, namespace: default}}\n    spec:\n      replicas: {pods}\n      selector: {{matchLabels: {{app: web}}}}\n\
         \x20     template:\n        metadata: {{labels: {{app: web}}}}\n        spec: {{containers: [{{name: web, image: nginx, resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}}}]}}\n\
         checks:\n- {{name: all-running, at: 30s, until: 2m, count: {{kind: Pod, phase: Running}}, equals: {pods}}}\n"
    )
}

/// Per-unit cost at the larger size over the smaller: must stay flat.
fn growth(small: (u64, u64), small_units: u32, large: (u64, u64), large_units: u32) -> (f64, f64) {
    let per = |(e, a): (u64, u64), n: u32| (e as f64 / f64::from(n), a as f64 / f64::from(n));
    let (es, as_) = per(small, small_units);
    let (el, al) = per(large, large_units);
    (el / es, al / as_)
}

#[test]
fn events_and_allocations_per_node_and_per_pod_do_not_grow_with_size() {
    let idle_small = measure("idle-small", &idle(40));
    let idle_large = measure("idle-large", &idle(320));
    let (events, allocations) = growth(idle_small, 40, idle_large, 320);
    eprintln!("idle: 40 nodes {idle_small:?}, 320 nodes {idle_large:?}: per node x{events:.3} events, x{allocations:.3} allocations");
    assert!(events < 1.1, "events per node grow with the cluster: x{events:.3}");
    assert!(allocations < 1.15, "allocations per node grow with the cluster: x{allocations:.3}");

    // Same shape as the benchmark (30 pods per 64-core node): 8x the pods on 8x the nodes.
    let rs_small = measure("rs-small", &replicaset(60, 2));
    let rs_large = measure("rs-large", &replicaset(480, 16));
    let (events, allocations) = growth(rs_small, 60, rs_large, 480);
    eprintln!("replicaset: 60 pods {rs_small:?}, 480 pods {rs_large:?}: per pod x{events:.3} events, x{allocations:.3} allocations");
    assert!(events < 1.15, "events per pod grow with the workload: x{events:.3}");
    assert!(allocations < 1.2, "allocations per pod grow with the workload: x{allocations:.3}");
}
