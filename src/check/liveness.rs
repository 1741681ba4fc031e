//! Liveness after faults heal: within a deadline the cluster must be whole
//! again — every node Ready, every ReplicaSet and Deployment at its desired
//! ready/available replicas, every live pod bound, Running and Ready, and no
//! pod stuck terminating past its grace period.

use crate::model::{Kind, Object};
use crate::time::SimTime;

/// How long past its deletion deadline a pod may still be terminating.
const TERMINATING_SLACK_S: u64 = 60;

/// What is not yet whole, one line per object (empty when all is well).
pub fn problems<'a>(now: SimTime, objects: impl Iterator<Item = &'a Object>) -> Vec<String> {
    let mut out = Vec::new();
    for o in objects {
        match o {
            Object::Node(n) if !n.is_ready() => out.push(format!("node {} is not Ready", n.metadata.name)),
            Object::ReplicaSet(rs) => {
                let want = rs.spec.replicas.unwrap_or(1);
                if rs.metadata.deletion_timestamp.is_none() && (rs.status.ready_replicas != want || rs.status.replicas != want) {
                    out.push(format!("replicaset {}/{} has {}/{} ready (wants {want})", rs.metadata.namespace, rs.metadata.name, rs.status.ready_replicas, rs.status.replicas));
                }
            }
            Object::Deployment(d) => {
                let want = d.spec.replicas.unwrap_or(1);
                let s = &d.status;
                if d.metadata.deletion_timestamp.is_none() && !d.spec.paused && (s.available_replicas != want || s.updated_replicas != want || s.replicas != want) {
                    out.push(format!("deployment {}/{} has {} available, {} updated, {} total (wants {want})", d.metadata.namespace, d.metadata.name, s.available_replicas, s.updated_replicas, s.replicas));
                }
            }
            Object::Pod(p) => {
                let name = format!("{}/{}", p.metadata.namespace, p.metadata.name);
                if let Some(ts) = p.metadata.deletion_timestamp {
                    if now.since(ts.to_sim()).as_secs() > TERMINATING_SLACK_S {
                        out.push(format!("pod {name} is stuck terminating on {:?}", p.spec.node_name));
                    }
                } else if p.is_terminal() {
                } else if !p.is_bound() {
                    out.push(format!("pod {name} is not scheduled"));
                } else if !p.is_ready() {
                    out.push(format!("pod {name} on {} is {} and not Ready", p.spec.node_name, p.status.phase));
                }
            }
            _ => {}
        }
    }
    out
}

/// The kinds `problems` looks at.
pub const KINDS: [Kind; 4] = [Kind::Node, Kind::ReplicaSet, Kind::Deployment, Kind::Pod];

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
