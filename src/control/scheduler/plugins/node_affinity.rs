//! NodeAffinity: Filter enforces `nodeSelector`, required node affinity and
//! the profile's `addedAffinity`; Score sums the weights of matching
//! preferred terms, normalised to 0..100 (nodeaffinity/node_affinity.go).

use serde::Deserialize;

use crate::control::scheduler::framework::*;
use crate::model::pod::{NodeAffinity as NodeAffinitySpec, PreferredSchedulingTerm};

pub const NAME: &str = "NodeAffinity";
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeAffinityArgs {
    #[serde(default)]
    pub added_affinity: Option<NodeAffinitySpec>,
}

pub struct NodeAffinity {
    added: Option<NodeAffinitySpec>,
}

impl NodeAffinity {
    pub fn new(args: NodeAffinityArgs) -> Result<NodeAffinity, String> {
        Ok(NodeAffinity { added: args.added_affinity })
    }

    fn preferred<'a>(&'a self, pod: &'a PodInfo) -> impl Iterator<Item = &'a PreferredSchedulingTerm> {
        let own = pod.pod.spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()).map(|n| n.preferred_during_scheduling_ignored_during_execution.as_slice()).unwrap_or(&[]);
        let added = self.added.as_ref().map(|a| a.preferred_during_scheduling_ignored_during_execution.as_slice()).unwrap_or(&[]);
        own.iter().chain(added.iter()).filter(|t| t.weight != 0)
    }
}

/// The pod's own node constraints: nodeSelector labels and required affinity.
pub fn pod_matches_node(pod: &crate::model::pod::Pod, node: &crate::model::node::Node) -> bool {
    let labels = &node.metadata.labels;
    if !pod.spec.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    let required = pod.spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()).and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    required.is_none_or(|r| r.matches(labels, &node.metadata.name))
}

crate::extends!(NodeAffinity, NAME, [filter, pre_score, score]);

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let n = &node.node;
        if let Some(req) = self.added.as_ref().and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
            && !req.matches(&n.metadata.labels, &n.metadata.name)
        {
            return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_ENFORCED);
        }
        if pod_matches_node(&pod.pod, n) { Status::success() } else { Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_POD) }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[&NodeInfo], _: &Snapshot) -> Status {
        if self.preferred(pod).next().is_none() { Status::skip() } else { Status::success() }
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        let n = &node.node;
        Ok(self.preferred(pod).filter(|t| t.preference.matches(&n.metadata.labels, &n.metadata.name)).map(|t| i64::from(t.weight)).sum())
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) -> Status {
        default_normalize(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;

    fn pod_yaml(spec: &str) -> crate::model::pod::Pod {
        serde_yaml::from_str(&format!("metadata: {{name: p}}\nspec: {spec}")).unwrap()
    }

    fn plugin() -> NodeAffinity {
        NodeAffinity::new(NodeAffinityArgs::default()).unwrap()
    }

    fn filter_ok(p: &crate::model::pod::Pod, labels: &[(&str, &str)]) -> bool {
        run_filter(&plugin(), p, &snapshot(vec![with_labels(node("node1", &[]), labels)], vec![]), 0).is_success()
    }

    /// TestNodeAffinity (Filter), upstream cases by name.
    #[test]
    fn filter_upstream_cases() {
        let req = |exprs: &str| pod_yaml(&format!("{{affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{exprs}]}}}}}}}}"));
        assert!(filter_ok(&pod_yaml("{}"), &[]), "no selector");
        assert!(!filter_ok(&pod_yaml("{nodeSelector: {foo: bar}}"), &[]), "missing labels");
        assert!(filter_ok(&pod_yaml("{nodeSelector: {foo: bar}}"), &[("foo", "bar")]), "same labels");
        assert!(filter_ok(&pod_yaml("{nodeSelector: {foo: bar}}"), &[("foo", "bar"), ("baz", "blah")]), "node labels are superset");
        assert!(!filter_ok(&pod_yaml("{nodeSelector: {foo: bar, baz: blah}}"), &[("foo", "bar")]), "node labels are subset");
        assert!(filter_ok(&req("{matchExpressions: [{key: foo, operator: In, values: [bar, value2]}]}"), &[("foo", "bar")]), "Pod with matchExpressions using In operator that matches the existing node");
        assert!(filter_ok(&req("{matchExpressions: [{key: kernel-version, operator: Gt, values: ['0204']}]}"), &[("kernel-version", "0206")]), "Pod with matchExpressions using Gt operator that matches the existing node");
        assert!(filter_ok(&req("{matchExpressions: [{key: mem-type, operator: NotIn, values: [DDR, DDR2]}]}"), &[("mem-type", "DDR3")]), "Pod with matchExpressions using NotIn operator that matches the existing node");
        assert!(filter_ok(&req("{matchExpressions: [{key: GPU, operator: Exists}]}"), &[("GPU", "NVIDIA-GRID-K1")]), "Pod with matchExpressions using Exists operator that matches the existing node");
        assert!(!filter_ok(&req("{matchExpressions: [{key: foo, operator: In, values: [value1, value2]}]}"), &[("foo", "bar")]), "Pod with affinity that don't match node's labels won't schedule onto the node");
        assert!(!filter_ok(&req(""), &[("foo", "bar")]), "Pod with an empty []NodeSelectorTerm in affinity, can't match the node's labels and won't schedule onto the node");
        assert!(!filter_ok(&req("{}"), &[("foo", "bar")]), "Pod with empty MatchExpressions is not a valid value will match no objects and won't schedule onto the node");
        assert!(filter_ok(&req("{matchExpressions: [{key: foo, operator: In, values: [bar]}]}, {matchExpressions: [{key: diffkey, operator: In, values: [wrong]}]}"), &[("foo", "bar")]), "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto the node");
        assert!(!filter_ok(&req("{matchExpressions: [{key: foo, operator: Exists}, {key: GPU, operator: NotIn, values: [AMD]}]}"), &[("foo", "bar"), ("GPU", "AMD")]), "Pod with multiple matchExpressions ANDed that doesn't match the existing node");
        assert!(filter_ok(&req("{matchFields: [{key: metadata.name, operator: In, values: [node1]}]}"), &[]), "Pod with matchFields using In operator that matches the existing node");
        assert!(!filter_ok(&req("{matchFields: [{key: metadata.name, operator: In, values: [node2]}]}"), &[]), "Pod with matchFields using In operator that does not match the existing node");
        let st = run_filter(&plugin(), &pod_yaml("{nodeSelector: {foo: bar}}"), &snapshot(vec![node("node1", &[])], vec![]), 0);
        assert_eq!((st.code, st.reasons), (Code::UnschedulableAndUnresolvable, vec![ERR_REASON_POD.to_string()]));
        // addedAffinity
        let added: NodeAffinitySpec = serde_yaml::from_str("requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [foo]}]}]}").unwrap();
        let with_added = NodeAffinity::new(NodeAffinityArgs { added_affinity: Some(added) }).unwrap();
        let st = run_filter(&with_added, &pod_yaml("{}"), &snapshot(vec![with_labels(node("node1", &[]), &[("zone", "bar")])], vec![]), 0);
        assert_eq!(st.reasons, vec![ERR_REASON_ENFORCED.to_string()], "Matches added affinity and Pod's node affinity (negative)");
        assert!(run_filter(&with_added, &pod_yaml("{}"), &snapshot(vec![with_labels(node("node1", &[]), &[("zone", "foo")])], vec![]), 0).is_success());
    }

    /// TestNodeAffinityPriority, upstream cases by name.
    #[test]
    fn score_upstream_cases() {
        let label1 = [("foo", "bar")];
        let label2 = [("key", "value")];
        let label3 = [("az", "az1")];
        let label5 = [("foo", "bar"), ("key", "value"), ("az", "az1")];
        let nodes = || vec![with_labels(node("node1", &[]), &label1), with_labels(node("node2", &[]), &label2), with_labels(node("node3", &[]), &label3)];
        let affinity1 = pod_yaml("{affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}]}}}");
        let affinity2 = pod_yaml("{affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}, {weight: 4, preference: {matchExpressions: [{key: key, operator: In, values: [value]}]}}, {weight: 5, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}, {key: key, operator: In, values: [value]}, {key: az, operator: In, values: [az1]}]}}]}}}");
        assert_eq!(run_score(&plugin(), &pod_yaml("{}"), &snapshot(nodes(), vec![])), None, "all nodes are same priority as NodeAffinity is nil (PreScore skips)");
        let no_match = pod_yaml("{affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}]}}}");
        let other_nodes = vec![with_labels(node("node1", &[]), &[("x", "y")]), with_labels(node("node2", &[]), &label2), with_labels(node("node3", &[]), &label3)];
        assert_eq!(run_score(&plugin(), &no_match, &snapshot(other_nodes, vec![])), Some(vec![0, 0, 0]), "no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' priority is zero");
        assert_eq!(run_score(&plugin(), &affinity1, &snapshot(nodes(), vec![])), Some(vec![100, 0, 0]), "only node1 matches the preferred scheduling requirements of pod");
        let nodes5 = vec![with_labels(node("node1", &[]), &label1), with_labels(node("node5", &[]), &label5), with_labels(node("node2", &[]), &label2)];
        assert_eq!(run_score(&plugin(), &affinity2, &snapshot(nodes5, vec![])), Some(vec![18, 100, 36]), "all nodes matches the preferred scheduling requirements of pod but with different priorities");
    }
}
