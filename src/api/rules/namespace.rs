//! Namespace defaulting.

use crate::model::Namespace;

pub fn defaults(ns: &mut Namespace) {
    if ns.status.phase.is_empty() {
        ns.status.phase = "Active".into();
    }
    // NamespaceDefaultLabelName: every namespace carries its own name as a label.
    let name = ns.metadata.name.clone();
    if !name.is_empty() {
        ns.metadata.labels.insert("kubernetes.io/metadata.name".into(), name);
    }
}
