//! The kubelet's admission check (lifecycle's predicate admit handler): a pod
//! bound to this node is rejected (phase Failed) when the node cannot hold it
//! after all — the scheduler raced, or the node changed since binding.

use crate::control::scheduler::resources::{CPU, MEMORY, Resource, pod_requests};
use crate::model::node::TaintEffect;
use crate::model::{Node, Pod};

/// Why a pod was rejected: (reason, message), as upstream words them.
pub type Rejection = (String, String);

/// `admitted` is the sum of the requests of the pods already running here,
/// `admitted_count` their number.
pub fn admit(pod: &Pod, node: &Node, admitted: &Resource, admitted_count: i64) -> Result<(), Rejection> {
    let list = if node.status.allocatable.is_empty() { &node.status.capacity } else { &node.status.allocatable };
    let alloc = Resource::from_list(list);
    if alloc.allowed_pods > 0 && admitted_count + 1 > alloc.allowed_pods {
        return Err(("OutOfpods".into(), "Node didn't have enough resource: pods".into()));
    }
    let want = pod_requests(pod, false);
    for (name, need, have, used) in [(CPU, want.milli_cpu, alloc.milli_cpu, admitted.milli_cpu), (MEMORY, want.memory, alloc.memory, admitted.memory)] {
        if need > 0 && used + need > have {
            return Err((format!("OutOf{name}"), format!("Node didn't have enough resource: {name}, requested: {need}, used: {used}, capacity: {have}")));
        }
    }
    for (name, need) in &want.scalar {
        let (have, used) = (alloc.scalar.get(name).copied().unwrap_or(0), admitted.scalar.get(name).copied().unwrap_or(0));
        if *need > 0 && used + need > have {
            return Err((format!("OutOf{name}"), format!("Node didn't have enough resource: {name}, requested: {need}, used: {used}, capacity: {have}")));
        }
    }
    let labels = &node.metadata.labels;
    let selector_ok = pod.spec.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = pod
        .spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref())
        .is_none_or(|sel| sel.matches(labels, &node.metadata.name));
    if !selector_ok || !affinity_ok {
        return Err(("NodeAffinity".into(), "Predicate NodeAffinity failed".into()));
    }
    // The kubelet re-checks only NoExecute taints: NoSchedule is the scheduler's business.
    if let Some(t) = node.spec.taints.iter().find(|t| t.effect == TaintEffect::NoExecute && !crate::model::pod::tolerated(&pod.spec.tolerations, t)) {
        return Err(("Taint".into(), format!("Predicate TaintToleration failed: node has an untolerated taint {{{}: {}}}", t.key, t.value)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::Taint;
    use crate::model::pod::Container;
    use crate::model::{ObjectMeta, Quantity};

    fn node(cpu: &str, pods: &str) -> Node {
        let mut n = Node { metadata: ObjectMeta { name: "n1".into(), labels: [("zone".to_string(), "a".to_string())].into(), ..Default::default() }, ..Default::default() };
        n.status.allocatable = [("cpu".to_string(), Quantity::parse(cpu).unwrap()), ("memory".to_string(), Quantity::parse("1Gi").unwrap()), ("pods".to_string(), Quantity::parse(pods).unwrap())].into();
        n
    }

    fn pod(cpu: &str) -> Pod {
        let mut p = Pod::default();
        let mut c = Container { name: "c".into(), ..Default::default() };
        c.resources.requests.insert("cpu".into(), Quantity::parse(cpu).unwrap());
        p.spec.containers.push(c);
        p
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let used = Resource { milli_cpu: 1500, ..Default::default() };
        assert!(admit(&pod("500m"), &node("2", "110"), &used, 3).is_ok());
        let (reason, _) = admit(&pod("501m"), &node("2", "110"), &used, 3).unwrap_err();
        assert_eq!(reason, "OutOfcpu");
        let (reason, _) = admit(&pod("1m"), &node("2", "3"), &used, 3).unwrap_err();
        assert_eq!(reason, "OutOfpods");
    }

    #[test]
    fn rejects_a_selector_mismatch_and_untolerated_no_execute_only() {
        let mut p = pod("1m");
        p.spec.node_selector.insert("zone".into(), "b".into());
        assert_eq!(admit(&p, &node("2", "110"), &Resource::default(), 0).unwrap_err().0, "NodeAffinity");
        let mut n = node("2", "110");
        n.spec.taints.push(Taint { key: "k".into(), value: "v".into(), effect: TaintEffect::NoSchedule, time_added: None });
        assert!(admit(&pod("1m"), &n, &Resource::default(), 0).is_ok(), "NoSchedule is not re-checked");
        n.spec.taints.push(Taint { key: "k".into(), value: "v".into(), effect: TaintEffect::NoExecute, time_added: None });
        assert_eq!(admit(&pod("1m"), &n, &Resource::default(), 0).unwrap_err().0, "Taint");
    }
}
