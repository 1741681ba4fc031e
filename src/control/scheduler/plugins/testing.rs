//! Builders for plugin tests, in the spirit of upstream's `st.MakePod()` /
//! `st.MakeNode()`, and a runner for PreScore → Score → NormalizeScore.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::control::scheduler::framework::*;
use crate::model::meta::ObjectMeta;
use crate::model::node::{Node, NodeStatus, Taint, TaintEffect};
use crate::model::pod::{Container, Pod, ResourceRequirements, Toleration, TolerationOperator};
use crate::model::Quantity;

pub fn node(name: &str, capacity: &[(&str, &str)]) -> Node {
    let list: BTreeMap<String, Quantity> = capacity.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).expect("quantity"))).collect();
    Node {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        status: NodeStatus { capacity: list.clone(), allocatable: list, ..Default::default() },
        ..Default::default()
    }
}

pub fn with_labels(mut n: Node, labels: &[(&str, &str)]) -> Node {
    n.metadata.labels.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    n
}

pub fn with_taints(mut n: Node, taints: &[(&str, &str, TaintEffect)]) -> Node {
    n.spec.taints = taints.iter().map(|(k, v, e)| Taint { key: k.to_string(), value: v.to_string(), effect: e.clone(), time_added: None }).collect();
    n
}

/// A pod with one container per request map (like chained `.Req(...)`).
pub fn pod(name: &str, containers: &[&[(&str, &str)]]) -> Pod {
    let mut p = Pod { metadata: ObjectMeta { name: name.into(), namespace: "default".into(), ..Default::default() }, ..Default::default() };
    for (i, reqs) in containers.iter().enumerate() {
        let requests = reqs.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).expect("quantity"))).collect();
        p.spec.containers.push(Container { name: format!("c{i}"), resources: ResourceRequirements { requests, limits: BTreeMap::new() }, ..Default::default() });
    }
    p
}

pub fn on(mut p: Pod, node: &str) -> Pod {
    p.spec.node_name = node.into();
    p
}

pub fn toleration(key: &str, op: TolerationOperator, value: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration { key: key.into(), operator: Some(op), value: value.into(), effect, toleration_seconds: None }
}

pub fn snapshot(nodes: Vec<Node>, pods: Vec<Pod>) -> Snapshot {
    Snapshot::build(nodes.into_iter().map(Arc::new).collect(), pods.into_iter().map(Arc::new))
}

/// PreScore, Score on every node, NormalizeScore — as upstream's score tests do.
/// Returns None when PreScore skips.
pub fn run_score(plugin: &dyn Plugin, pod: &Pod, snap: &Snapshot) -> Option<Vec<i64>> {
    let pi = PodInfo::new(Arc::new(pod.clone()));
    let mut state = CycleState::default();
    let nodes: Vec<&NodeInfo> = snap.nodes.iter().collect();
    if let Some(pre) = plugin.as_pre_score() {
        let st = pre.pre_score(&mut state, &pi, &nodes, snap);
        if st.is_skip() {
            return None;
        }
        assert!(st.is_success(), "{st:?}");
    }
    let s = plugin.as_score().expect("a score plugin");
    let mut scores: Vec<i64> = nodes.iter().map(|n| s.score(&state, &pi, n, snap).expect("score")).collect();
    assert!(s.normalize(&state, &pi, &mut scores).is_success());
    Some(scores)
}

/// PreFilter then Filter on one node.
pub fn run_filter(plugin: &dyn Plugin, pod: &Pod, snap: &Snapshot, node: usize) -> Status {
    let pi = PodInfo::new(Arc::new(pod.clone()));
    let mut state = CycleState::default();
    if let Some(pre) = plugin.as_pre_filter() {
        let st = pre.pre_filter(&mut state, &pi, snap);
        if st.is_skip() {
            return Status::success();
        }
        if !st.is_success() {
            return st;
        }
    }
    plugin.as_filter().expect("a filter plugin").filter(&state, &pi, &snap.nodes[node])
}
