//! Liveness after faults heal: within a deadline the cluster must be whole
//! again — every node Ready, every ReplicaSet and Deployment at its desired
//! ready/available replicas, every live pod bound, Running and Ready, no
//! pod stuck terminating past its grace period, and no garbage: nothing
//! outlives an owner (by uid) that is gone, as the garbage collector promises.

use crate::model::{Kind, Object};
use crate::time::SimTime;

/// What is not whole, one line per object (empty when all is well); each
/// kind says what whole means for it (`model::Resource::liveness_problem`).
pub fn problems<'a>(now: SimTime, objects: impl Iterator<Item = &'a Object> + Clone) -> Vec<String> {
    let mut out: Vec<String> = objects.clone().filter_map(|o| o.liveness_problem(now)).collect();
    // Garbage: an owner reference (to a kind listed here) whose uid no longer exists.
    let uids: std::collections::BTreeSet<&str> = objects.clone().map(|o| o.meta().uid.as_str()).collect();
    let kinds: std::collections::BTreeSet<&str> = objects.clone().map(|o| o.kind().name()).collect();
    for o in objects {
        let m = o.meta();
        for r in m.owner_references.iter().filter(|r| kinds.contains(r.kind.as_str()) && !uids.contains(r.uid.as_str())) {
            out.push(format!("{} {}/{} outlived its owner {} {} (uid {})", o.kind(), m.namespace, m.name, r.kind, r.name, r.uid));
        }
    }
    out
}

/// The kinds `problems` looks at: those whose file defines liveness.
pub fn kinds() -> impl Iterator<Item = Kind> {
    Kind::ALL.iter().copied().filter(|k| k.has_liveness())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, Pod};

    #[test]
    fn reports_what_is_not_whole() {
        let node: Node = serde_yaml::from_str("metadata: {name: n1}\nstatus: {conditions: [{type: Ready, status: 'False'}]}").unwrap();
        let pending: Pod = serde_yaml::from_str("metadata: {name: p, namespace: default}\nspec: {containers: [{name: c}]}").unwrap();
        let ready: Pod = serde_yaml::from_str("metadata: {name: q, namespace: default}\nspec: {nodeName: n1, containers: [{name: c}]}\nstatus: {phase: Running, conditions: [{type: Ready, status: 'True'}]}").unwrap();
        let objs: Vec<Object> = vec![node.into(), pending.into(), ready.into()];
        let p = problems(SimTime::from_secs(10), objs.iter());
        assert_eq!(p, vec!["node n1 is not Ready".to_string(), "pod default/p is not scheduled".to_string()]);
    }

    /// An owner deleted and created again under the same name is a new owner:
    /// the old one's pods are garbage.
    #[test]
    fn a_dependent_of_a_deleted_owner_is_garbage() {
        let rs: crate::model::ReplicaSet = serde_yaml::from_str("metadata: {name: web, namespace: default, uid: new}\nspec: {replicas: 0, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}}").unwrap();
        let pod: Pod = serde_yaml::from_str("metadata: {name: q, namespace: default, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: old, controller: true}]}\nspec: {nodeName: n1, containers: [{name: c}]}\nstatus: {phase: Running, conditions: [{type: Ready, status: 'True'}]}").unwrap();
        let objs: Vec<Object> = vec![rs.into(), pod.into()];
        let p = problems(SimTime::from_secs(10), objs.iter());
        assert_eq!(p, vec!["Pod default/q outlived its owner ReplicaSet web (uid old)".to_string()], "{p:?}");
    }
}
