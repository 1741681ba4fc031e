//! `kubesim schedule`: one decision over a cluster read from manifests,
//! every filter on every node, scores for feasible nodes.

use serde::Serialize;
use std::sync::Arc;

use super::cycle::{CycleOptions, NodeReport, schedule};
use super::framework::{Snapshot, Status};
use super::profile::SchedulerConfig;
use crate::api::manifest::LoadedObject;
use crate::model::pod::Pod;
use crate::model::{Node, Object};

/// The stable JSON answer (documented in the README).
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub pod: String,
    pub selected: Option<String>,
    pub nodes: Vec<NodeReport>,
    /// Why nothing fits (upstream's FitError text), or the gate that holds the pod; null when scheduled.
    pub message: Option<String>,
    /// When preemption would make room: the node and the pods it would evict.
    pub nominated: Option<Nominated>,
}

#[derive(Debug, Serialize)]
pub struct Nominated {
    pub node: String,
    pub victims: Vec<String>,
}

/// API defaulting and admission, as the objects would have been stored.
fn stored(obj: &Object) -> Object {
    let mut o = obj.clone();
    if o.kind().namespaced() && o.meta().namespace.is_empty() {
        o.meta_mut().namespace = "default".into();
    }
    crate::api::rules::apply_defaults(&mut o);
    crate::api::rules::admit_create(&mut o);
    o
}

/// Builds the scheduler's snapshot from loaded cluster objects: nodes, pods
/// bound by nodeName, namespaces (labels) and ReplicaSets (spread defaults).
pub fn snapshot_from(objects: &[LoadedObject]) -> Snapshot {
    let mut nodes: Vec<Arc<Node>> = Vec::new();
    let mut pods: Vec<Arc<Pod>> = Vec::new();
    let mut namespace_labels = std::collections::BTreeMap::new();
    let mut workloads = Vec::new();
    for lo in objects {
        match stored(&lo.object) {
            Object::Node(n) => nodes.push(n),
            Object::Pod(p) if p.is_bound() && !p.is_terminal() => pods.push(p),
            Object::Namespace(ns) => {
                namespace_labels.insert(ns.metadata.name.clone(), ns.metadata.labels.clone());
            }
            Object::ReplicaSet(rs) => workloads.push((rs.metadata.namespace.clone(), rs.spec.selector.clone())),
            _ => {}
        }
    }
    for ns in pods.iter().map(|p| p.metadata.namespace.clone()) {
        namespace_labels.entry(ns.clone()).or_insert_with(|| [("kubernetes.io/metadata.name".to_string(), ns)].into());
    }
    let mut snap = Snapshot::build(nodes, pods);
    snap.namespace_labels = namespace_labels;
    snap.workload_selectors = workloads;
    snap
}

/// Explains where `pod` would go. Errors when no profile serves its schedulerName.
pub fn explain(config: &SchedulerConfig, snapshot: &Snapshot, pod: &Object, seed: u64) -> Result<Explanation, String> {
    let Object::Pod(p) = stored(pod) else { return Err(format!("expected a Pod, got a {}", pod.kind())) };
    let name = format!("{}/{}", p.metadata.namespace, p.metadata.name);
    let profile = config
        .profile(&p.spec.scheduler_name)
        .ok_or_else(|| format!("no profile serves schedulerName {:?}; profiles: {}", p.spec.scheduler_name, config.profiles.iter().map(|q| q.scheduler_name.as_str()).collect::<Vec<_>>().join(", ")))?;
    for gate in &profile.pre_enqueue {
        if let Some(pe) = gate.as_pre_enqueue() {
            let st: Status = pe.pre_enqueue(&p);
            if !st.is_success() {
                return Ok(Explanation { pod: name, selected: None, nodes: vec![], message: Some(st.reasons.join(", ")), nominated: None });
            }
        }
    }
    let mut start = 0usize;
    let mut rng = crate::seed::stream(seed, "scheduler");
    let opts = CycleOptions { start_index: &mut start, rng: &mut rng, explain: true, global_percentage: config.percentage_of_nodes_to_score };
    let d = schedule(profile, snapshot, &p, opts);
    let nominated = d.nominated.map(|n| Nominated { node: n.nominated_node, victims: n.victims.into_iter().map(|(ns, name, _)| format!("{ns}/{name}")).collect() });
    Ok(Explanation { pod: name, selected: d.selected, nodes: d.nodes, message: d.message, nominated })
}

/// A table for people.
pub fn render_table(e: &Explanation) -> String {
    let mut out = format!("pod: {}\nselected: {}\n", e.pod, e.selected.as_deref().unwrap_or("<none>"));
    if let Some(m) = &e.message {
        out.push_str(&format!("message: {m}\n"));
    }
    if let Some(n) = &e.nominated {
        out.push_str(&format!("preemption: nominate {} evicting {}\n", n.node, n.victims.join(", ")));
    }
    for n in &e.nodes {
        let mark = if Some(&n.name) == e.selected.as_ref() { "*" } else { " " };
        out.push_str(&format!("\n{mark} {} — {} — total {}\n", n.name, if n.feasible { "feasible" } else { "infeasible" }, n.total));
        for f in &n.filters {
            if !f.ok {
                out.push_str(&format!("    filter {:<32} FAIL {}\n", f.plugin, f.reasons.join("; ")));
            }
        }
        for s in &n.scores {
            match s {
                super::cycle::ScoreReport::Scored { plugin, raw, normalized, weight, weighted } => {
                    out.push_str(&format!("    score  {plugin:<32} raw {raw:>6}  normalized {normalized:>3} × {weight} = {weighted}\n"))
                }
                super::cycle::ScoreReport::Skipped { plugin, .. } => out.push_str(&format!("    score  {plugin:<32} skipped (PreScore)\n")),
            }
        }
    }
    out
}
