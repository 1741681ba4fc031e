//! Who receives a watch event. Control-plane components watch whole kinds;
//! a kubelet's watches carry field selectors (`spec.nodeName=<node>` for pods,
//! `metadata.name=<node>` for its Node and Lease), so an event reaches only
//! the one kubelet it concerns. Routing by an index keeps a commit's cost
//! independent of the number of nodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Kind, Object};

pub type SlotId = usize;

/// Where an object falls with respect to node-scoped watchers.
#[derive(Debug, PartialEq, Eq)]
pub enum NodeScope<'a> {
    /// Only the watchers scoped to this node.
    Node(&'a str),
    /// No node-scoped watcher (an unbound pod, another namespace's Lease).
    Nobody,
    /// A kind node-scoped watchers see whole.
    Everyone,
}

/// The node an object belongs to, as a kubelet's field selectors see it.
pub fn node_scope_of(obj: &Object) -> NodeScope<'_> {
    match obj {
        Object::Pod(p) if p.spec.node_name.is_empty() => NodeScope::Nobody,
        Object::Pod(p) => NodeScope::Node(&p.spec.node_name),
        Object::Node(n) => NodeScope::Node(&n.metadata.name),
        Object::Lease(l) if l.metadata.namespace == crate::model::lease::NODE_LEASE_NAMESPACE => NodeScope::Node(&l.metadata.name),
        Object::Lease(_) => NodeScope::Nobody,
        _ => NodeScope::Everyone,
    }
}

/// Whether `obj` is inside the scope of a watcher (None: unscoped).
pub fn in_scope(scope: Option<&str>, obj: &Object) -> bool {
    let Some(node) = scope else { return true };
    match node_scope_of(obj) {
        NodeScope::Node(n) => n == node,
        NodeScope::Nobody => false,
        NodeScope::Everyone => true,
    }
}

#[derive(Clone, Debug, Default)]
pub struct Routes {
    /// By kind index: unscoped watchers.
    unscoped: Vec<Vec<SlotId>>,
    /// By kind index: node-scoped watchers (for kinds they see whole).
    scoped: Vec<Vec<SlotId>>,
    /// Node → (kind index, watcher) scoped to it.
    by_node: BTreeMap<Arc<str>, Vec<(usize, SlotId)>>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes { unscoped: vec![Vec::new(); Kind::ALL.len()], scoped: vec![Vec::new(); Kind::ALL.len()], by_node: BTreeMap::new() }
    }

    /// Registers slot `id` watching `kinds`, scoped to a node or not.
    pub fn add(&mut self, id: SlotId, kinds: &[Kind], scope: Option<&str>) {
        for k in kinds {
            match scope {
                None => self.unscoped[k.index()].push(id),
                Some(node) => {
                    self.scoped[k.index()].push(id);
                    self.by_node.entry(Arc::from(node)).or_default().push((k.index(), id));
                }
            }
        }
    }

    /// The slots that receive an event about `obj`, in slot order.
    pub fn recipients(&self, obj: &Object, out: &mut Vec<SlotId>) {
        out.clear();
        let k = obj.kind().index();
        out.extend_from_slice(&self.unscoped[k]);
        match node_scope_of(obj) {
            NodeScope::Node(n) => {
                if let Some(list) = self.by_node.get(n) {
                    out.extend(list.iter().filter(|(kind, _)| *kind == k).map(|(_, id)| *id));
                }
            }
            NodeScope::Nobody => {}
            NodeScope::Everyone => out.extend_from_slice(&self.scoped[k]),
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lease, Namespace, Node, ObjectMeta, Pod};

    #[test]
    fn events_reach_the_kubelet_they_concern_and_every_unscoped_watcher() {
        let mut r = Routes::new();
        r.add(0, &[Kind::Pod, Kind::Node, Kind::Namespace], None);
        r.add(1, &[Kind::Pod, Kind::Node, Kind::Lease, Kind::Namespace], Some("n1"));
        r.add(2, &[Kind::Pod, Kind::Node, Kind::Lease], Some("n2"));
        let mut out = Vec::new();
        let mut pod = Pod { metadata: ObjectMeta { name: "p".into(), namespace: "default".into(), ..Default::default() }, ..Default::default() };
        r.recipients(&pod.clone().into(), &mut out);
        assert_eq!(out, [0], "an unbound pod reaches no kubelet");
        pod.spec.node_name = "n2".into();
        r.recipients(&pod.into(), &mut out);
        assert_eq!(out, [0, 2]);
        let node = Node { metadata: ObjectMeta { name: "n1".into(), ..Default::default() }, ..Default::default() };
        r.recipients(&node.into(), &mut out);
        assert_eq!(out, [0, 1]);
        let lease = |ns: &str| Lease { metadata: ObjectMeta { name: "n2".into(), namespace: ns.into(), ..Default::default() }, ..Default::default() };
        r.recipients(&lease("kube-node-lease").into(), &mut out);
        assert_eq!(out, [2], "only kubelets watch leases here");
        r.recipients(&lease("kube-system").into(), &mut out);
        assert!(out.is_empty());
        r.recipients(&Namespace::default().into(), &mut out);
        assert_eq!(out, [0, 1], "a kind a kubelet sees whole");
        assert!(in_scope(Some("n1"), &Namespace::default().into()));
        assert!(!in_scope(Some("n1"), &lease("kube-node-lease").into()));
    }
}
