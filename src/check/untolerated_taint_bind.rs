//! `untolerated-taint-bind`: no pod is bound onto a NoSchedule / NoExecute
//! taint it does not tolerate and that was on the node for longer than
//! `TAINT_SLACK` before the bind (a taint added while a bind was in flight is
//! a race real clusters have too).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::meta::Timestamp;
use crate::model::node::{Node, TaintEffect};
use super::spec::tolerates;
use crate::model::Object;

pub const TAINT_SLACK: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct UntoleratedTaintBind {
    nodes: BTreeMap<String, Arc<Node>>,
    /// Uids of pods already seen bound (checked once, at the bind).
    bound: BTreeSet<String>,
    binds: u64,
    /// Binds onto a node that carried a NoSchedule/NoExecute taint at the time.
    binds_onto_tainted: u64,
}

impl Checker for UntoleratedTaintBind {
    fn name(&self) -> &'static str {
        "untolerated-taint-bind"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("untolerated-taint-bind.binds", self.binds), ("untolerated-taint-bind.binds-onto-tainted-nodes", self.binds_onto_tainted)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        match &ev.object {
            Object::Node(n) if ev.type_ == WatchEventType::Deleted => {
                self.nodes.remove(&n.metadata.name);
            }
            Object::Node(n) => {
                self.nodes.insert(n.metadata.name.clone(), n.clone());
            }
            Object::Pod(p) => {
                if ev.type_ == WatchEventType::Deleted || p.is_terminal() {
                    self.bound.remove(&p.metadata.uid);
                    return;
                }
                if !p.is_bound() || !self.bound.insert(p.metadata.uid.clone()) {
                    return;
                }
                let Some(node) = self.nodes.get(&p.spec.node_name) else { return };
                self.binds += 1;
                self.binds_onto_tainted += u64::from(node.spec.taints.iter().any(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)));
                let cutoff = Timestamp::from_sim(at.now - TAINT_SLACK);
                let key = format!("{}/{}", p.metadata.namespace, p.metadata.name);
                for t in &node.spec.taints {
                    let hard = matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute);
                    let old_enough = t.time_added.is_none_or(|a| a <= cutoff);
                    if hard && old_enough && !tolerates(&p.spec.tolerations, t) {
                        out.push(violation(
                            self.name(),
                            at.now,
                            at.index,
                            format!("pod {key} bound to {} despite its taint {}:{:?}", p.spec.node_name, t.key, t.effect),
                            vec![format!("pods/{key}"), format!("nodes/{}", p.spec.node_name)],
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{commit_at, ev, node, pod};

    #[test]
    fn binding_onto_an_old_untolerated_taint_fires_but_a_fresh_one_is_a_race() {
        let mut c = UntoleratedTaintBind::default();
        let mut out = Vec::new();
        c.on_commit(&commit_at(100, 0), &ev(node("[{key: gpu, effect: NoSchedule, timeAdded: '2025-01-01T00:00:10Z'}]")), &mut out);
        c.on_commit(&commit_at(100, 1), &ev(pod("c", "", "100m")), &mut out);
        c.on_commit(&commit_at(100, 2), &ev(pod("c", "n1", "100m")), &mut out);
        assert_eq!(out.len(), 1, "taint added at 10 s, bind at 100 s");
        let mut c = UntoleratedTaintBind::default();
        out.clear();
        c.on_commit(&commit_at(100, 0), &ev(node("[{key: gpu, effect: NoSchedule, timeAdded: '2025-01-01T00:01:39Z'}]")), &mut out);
        c.on_commit(&commit_at(100, 1), &ev(pod("c", "n1", "100m")), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
