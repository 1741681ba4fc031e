//! `node-capacity`: the bound, unfinished pods on a node never request more
//! CPU, memory or pods than the node allocates (requests counted as
//! upstream's PodRequests does, by `spec`, not by the scheduler's code).

const CPU: &str = "cpu";
const MEMORY: &str = "memory";
const PODS: &str = "pods";

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use super::spec::pod_requests;
use crate::model::node::Node;
use crate::model::Object;

#[derive(Default)]
pub struct NodeCapacity {
    nodes: BTreeMap<String, Arc<Node>>,
    /// Pod uid → (node, cpu milli, memory) while it counts against its node.
    placed: BTreeMap<String, (String, i64, i64)>,
    /// Per node: (cpu milli, memory, pods) requested.
    used: BTreeMap<String, (i64, i64, i64)>,
    binds: u64,
    /// Binds that left a node with less than a tenth of its memory free (tight capacity).
    tight_binds: u64,
}

impl NodeCapacity {
    fn check_node(&self, at: &Commit, name: &str, out: &mut Vec<Violation>) {
        let (Some(node), Some((cpu, mem, pods))) = (self.nodes.get(name), self.used.get(name)) else { return };
        let alloc = |k: &str| node.status.allocatable.get(k).map(|q| if k == CPU { q.milli_value() } else { q.value() });
        for (res, used) in [(CPU, *cpu), (MEMORY, *mem), (PODS, *pods)] {
            if let Some(a) = alloc(res)
                && used > a
            {
                out.push(violation("node-capacity", at.now, at.index, format!("node {name} has {used} {res} requested, allocatable {a}"), vec![format!("nodes/{name}")]));
            }
        }
    }
}

impl Checker for NodeCapacity {
    fn name(&self) -> &'static str {
        "node-capacity"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("node-capacity.binds", self.binds), ("node-capacity.binds-into-tight-memory", self.tight_binds)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        match &ev.object {
            Object::Node(n) if ev.type_ == WatchEventType::Deleted => {
                self.nodes.remove(&n.metadata.name);
            }
            Object::Node(n) => {
                self.nodes.insert(n.metadata.name.clone(), n.clone());
                self.check_node(at, &n.metadata.name, out);
            }
            Object::Pod(p) => {
                let uid = &p.metadata.uid;
                let before = self.placed.remove(uid);
                let was_placed = before.is_some();
                if let Some((node, cpu, mem)) = before
                    && let Some(u) = self.used.get_mut(&node)
                {
                    u.0 -= cpu;
                    u.1 -= mem;
                    u.2 -= 1;
                }
                if ev.type_ == WatchEventType::Deleted || !p.is_bound() || p.is_terminal() {
                    return;
                }
                let (cpu, memory) = pod_requests(p);
                let node = p.spec.node_name.clone();
                let u = self.used.entry(node.clone()).or_default();
                u.0 += cpu;
                u.1 += memory;
                u.2 += 1;
                self.placed.insert(uid.clone(), (node.clone(), cpu, memory));
                if !was_placed {
                    self.binds += 1;
                    let mem = self.used.get(&node).map_or(0, |u| u.1);
                    let alloc = self.nodes.get(&node).and_then(|n| n.status.allocatable.get(MEMORY)).map_or(i64::MAX, |q| q.value());
                    self.tight_binds += u64::from(alloc != i64::MAX && (alloc - mem) * 10 < alloc);
                    self.check_node(at, &node, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{commit, ev, node, pod};

    #[test]
    fn overcommitting_a_node_fires() {
        let mut c = NodeCapacity::default();
        let mut out = Vec::new();
        c.on_commit(&commit(0), &ev(node("[]")), &mut out);
        c.on_commit(&commit(1), &ev(pod("a", "n1", "600m")), &mut out);
        assert!(out.is_empty());
        c.on_commit(&commit(2), &ev(pod("b", "n1", "600m")), &mut out);
        assert_eq!(out.len(), 1, "1.2 CPU on a 1 CPU node");
        assert_eq!(out[0].check, "node-capacity");
    }
}
