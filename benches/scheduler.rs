//! Scheduling throughput with the full default profile (every default plugin,
//! kube-scheduler's adaptive percentageOfNodesToScore) at 500, 5,000 and
//! 15,000 nodes in 3 zones, pods of mixed sizes without owners (like
//! scheduler_perf's SchedulingBasic). Each iteration schedules one pod and
//! assumes it onto the chosen node, as the scheduler does before binding;
//! every 2,000 pods the cluster is reset to its initial state (one small pod
//! per node), so every size is measured in the same regime, far from full.
//!
//! Run: cargo bench --bench scheduler -- --noplot

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

use kubesim::control::scheduler::cycle::{CycleOptions, schedule};
use kubesim::control::scheduler::framework::{PodInfo, Snapshot};
use kubesim::control::scheduler::profile::SchedulerConfig;
use kubesim::model::pod::Pod;
use kubesim::model::Node;

fn node(i: usize) -> Arc<Node> {
    let zone = ["zone-a", "zone-b", "zone-c"][i % 3];
    let yaml = format!(
        "metadata: {{name: node-{i}, labels: {{kubernetes.io/hostname: node-{i}, topology.kubernetes.io/zone: {zone}}}}}\nstatus: {{capacity: {{cpu: '32', memory: 128Gi, pods: '110'}}}}"
    );
    let mut n: Node = serde_yaml::from_str(&yaml).expect("node");
    n.status.allocatable = n.status.capacity.clone();
    Arc::new(n)
}

fn pods(count: usize) -> Vec<Arc<Pod>> {
    let sizes = [("100m", "128Mi"), ("250m", "256Mi"), ("500m", "1Gi"), ("1", "2Gi"), ("2", "4Gi")];
    (0..count)
        .map(|i| {
            let (cpu, mem) = sizes[i % sizes.len()];
            let yaml = format!(
                "metadata: {{name: p{i}, namespace: default}}\nspec: {{schedulerName: default-scheduler, priority: 0, containers: [{{name: c, image: app:1, resources: {{requests: {{cpu: '{cpu}', memory: {mem}}}}}}}]}}"
            );
            Arc::new(serde_yaml::from_str::<Pod>(&yaml).expect("pod"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let config = SchedulerConfig::default_config();
    let profile = config.profile("default-scheduler").expect("default profile");
    let mut group = c.benchmark_group("schedule_one");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    for n in [500usize, 5_000, 15_000] {
        let nodes: Vec<Arc<Node>> = (0..n).map(node).collect();
        let existing: Vec<Arc<Pod>> = pods(n)
            .into_iter()
            .zip(&nodes)
            .map(|(p, nd)| {
                let mut p = (*p).clone();
                p.metadata.name = format!("existing-{}", nd.metadata.name);
                p.spec.node_name = nd.metadata.name.clone();
                Arc::new(p)
            })
            .collect();
        let initial = Snapshot::build(nodes, existing);
        let mut snapshot = initial.clone();
        let index: std::collections::BTreeMap<String, usize> = snapshot.nodes.iter().enumerate().map(|(i, x)| (x.name().to_string(), i)).collect();
        let work = pods(4096);
        let mut rng = kubesim::seed::stream(1, "scheduler");
        let mut start = 0usize;
        let mut k = 0usize;
        group.bench_with_input(BenchmarkId::new("default_profile", n), &n, |b, _| {
            b.iter(|| {
                let pod = &work[k % work.len()];
                k += 1;
                if k % 2000 == 0 {
                    snapshot = initial.clone();
                }
                let opts = CycleOptions { start_index: &mut start, rng: &mut rng, explain: false, global_percentage: None };
                let d = schedule(profile, &snapshot, pod, opts);
                // Assume the pod onto its node, as the scheduler does before binding.
                if let Some(sel) = d.selected
                    && let Some(ni) = index.get(&sel).map(|i| &mut snapshot.nodes[*i])
                {
                    let mut placed = (**pod).clone();
                    placed.metadata.name = format!("{}-{k}", placed.metadata.name);
                    placed.spec.node_name = sel;
                    ni.add_pod(PodInfo::new(Arc::new(placed)));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
