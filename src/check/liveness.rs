//! Liveness after faults heal: within a deadline the cluster must be whole
//! again — every node Ready, every ReplicaSet and Deployment at its desired
//! ready/available replicas, every live pod bound, Running and Ready, and no
//! pod stuck terminating past its grace period.

use crate::model::{Kind, Object};
use crate::time::SimTime;

/// What is not whole, one line per object (empty when all is well); each
/// kind says what whole means for it (`model::Resource::liveness_problem`).
pub fn problems<'a>(now: SimTime, objects: impl Iterator<Item = &'a Object>) -> Vec<String> {
    objects.filter_map(|o| o.liveness_problem(now)).collect()
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
}
