//! `node-name-immutable`: a pod's `spec.nodeName` is set at most once and
//! never changes afterwards.

use std::collections::BTreeMap;

use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::Object;

#[derive(Default)]
pub struct NodeNameImmutable {
    /// Pod uid → the node it was bound to.
    bound: BTreeMap<String, String>,
    binds: u64,
}

impl Checker for NodeNameImmutable {
    fn name(&self) -> &'static str {
        "node-name-immutable"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("node-name-immutable.binds", self.binds)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        let Object::Pod(p) = &ev.object else { return };
        if ev.type_ == WatchEventType::Deleted {
            self.bound.remove(&p.metadata.uid);
            return;
        }
        if !p.is_bound() {
            return;
        }
        match self.bound.get(&p.metadata.uid) {
            Some(old) if *old != p.spec.node_name => {
                let key = format!("{}/{}", p.metadata.namespace, p.metadata.name);
                out.push(violation(self.name(), at.now, at.index, format!("pod {key} moved from {old} to {}", p.spec.node_name), vec![format!("pods/{key}")]));
                self.bound.insert(p.metadata.uid.clone(), p.spec.node_name.clone());
            }
            Some(_) => {}
            None => {
                self.binds += 1;
                self.bound.insert(p.metadata.uid.clone(), p.spec.node_name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{commit, ev, pod};

    #[test]
    fn a_pod_moving_nodes_fires() {
        let mut c = NodeNameImmutable::default();
        let mut out = Vec::new();
        c.on_commit(&commit(1), &ev(pod("b", "", "600m")), &mut out);
        c.on_commit(&commit(2), &ev(pod("b", "n1", "600m")), &mut out);
        assert!(out.is_empty(), "set once");
        c.on_commit(&commit(3), &ev(pod("b", "n2", "600m")), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].check, "node-name-immutable");
    }
}
