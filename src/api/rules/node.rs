//! Node defaulting and validation.

use crate::model::Node;

/// Allocatable defaults to capacity (a kubelet with no reservations reports that).
pub fn defaults(node: &mut Node) {
    let missing: Vec<_> = node.status.capacity.iter().filter(|(k, _)| !node.status.allocatable.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
    node.status.allocatable.extend(missing);
}

pub fn validate(node: &Node, errs: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in node.spec.taints.iter().enumerate() {
        let p = format!("spec.taints[{i}]");
        crate::model::selector::validate_label_key(&t.key, &format!("{p}.key"), errs);
        crate::model::selector::validate_label_value(&t.value, &format!("{p}.value"), errs);
        if !seen.insert((t.key.as_str(), t.effect.clone())) {
            errs.push(format!("{p}: Duplicate value: {:?}: taints must be unique by key and effect pair", format!("{}:{:?}", t.key, t.effect)));
        }
    }
    for (field, list) in [("capacity", &node.status.capacity), ("allocatable", &node.status.allocatable)] {
        for (name, q) in list {
            if q.is_negative() {
                errs.push(format!("status.{field}[{name}]: Invalid value: \"{q}\": must be greater than or equal to 0"));
            }
        }
    }
}
