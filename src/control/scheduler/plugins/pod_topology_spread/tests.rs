//! Cases from upstream's filtering_test.go (TestSingleConstraint,
//! TestMultipleConstraints) and scoring_test.go (TestPodTopologySpreadScore).

use super::*;
use crate::control::scheduler::plugins::testing::*;
use crate::model::pod::Pod;

fn spread_pod(labels: &[(&str, &str)], constraints: &[(i32, &str, &str, Option<&str>)]) -> Pod {
    let mut p = pod("p", &[]);
    p.metadata.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    p.spec.topology_spread_constraints = constraints
        .iter()
        .map(|(skew, key, when, exists)| TopologySpreadConstraint {
            max_skew: *skew,
            topology_key: key.to_string(),
            when_unsatisfiable: when.to_string(),
            label_selector: exists.map(|k| serde_yaml::from_str(&format!("matchExpressions: [{{key: {k}, operator: Exists}}]")).unwrap()),
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: vec![],
        })
        .collect();
    p
}

fn existing(name: &str, node: &str, ns: &str, label: &str) -> Pod {
    let mut p = on(pod(name, &[]), node);
    p.metadata.namespace = ns.into();
    p.metadata.labels.insert(label.into(), String::new());
    p
}

fn n(name: &str, labels: &[(&str, &str)]) -> crate::model::node::Node {
    with_labels(node(name, &[]), labels)
}

fn four_nodes() -> Vec<crate::model::node::Node> {
    vec![
        n("node-a", &[("zone", "zone1"), ("node", "node-a")]),
        n("node-b", &[("zone", "zone1"), ("node", "node-b")]),
        n("node-x", &[("zone", "zone2"), ("node", "node-x")]),
        n("node-y", &[("zone", "zone2"), ("node", "node-y")]),
    ]
}

/// 2/1/0/3 across node-a, node-b, node-x, node-y.
fn spread_2_1_0_3() -> Vec<Pod> {
    vec![
        existing("p-a1", "node-a", "default", "foo"),
        existing("p-a2", "node-a", "default", "foo"),
        existing("p-b1", "node-b", "default", "foo"),
        existing("p-y1", "node-y", "default", "foo"),
        existing("p-y2", "node-y", "default", "foo"),
        existing("p-y3", "node-y", "default", "foo"),
    ]
}

fn codes(p: &Pod, nodes: Vec<crate::model::node::Node>, pods: Vec<Pod>) -> Vec<Code> {
    let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default()).unwrap();
    let snap = snapshot(nodes, pods);
    (0..snap.nodes.len()).map(|i| run_filter(&plugin, p, &snap, i).code).collect()
}

use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as UU};

#[test]
fn single_constraint_upstream_cases() {
    let zone = spread_pod(&[("foo", "")], &[(1, "zone", "DoNotSchedule", Some("foo"))]);
    assert_eq!(codes(&zone, four_nodes(), vec![]), vec![S, S, S, S], "no existing pods");
    let not_itself = spread_pod(&[("foo", "")], &[(1, "zone", "DoNotSchedule", Some("bar"))]);
    assert_eq!(codes(&not_itself, four_nodes(), vec![]), vec![S, S, S, S], "no existing pods, incoming pod doesn't match itself");
    let other_ns = vec![existing("p-a1", "node-a", "ns1", "foo"), existing("p-b1", "node-a", "ns2", "foo"), existing("p-x1", "node-x", "default", "foo"), existing("p-y1", "node-y", "default", "foo")];
    assert_eq!(codes(&zone, four_nodes(), other_ns), vec![S, S, U, U], "existing pods in a different namespace do not count");
    // 2/1 in zone1 and 0/3 in zone2: 3/3 by zone.
    assert_eq!(codes(&zone, four_nodes(), spread_2_1_0_3()), vec![S, S, S, S], "pods spread across zones as 3/3, all nodes fit");
    let mut typo = four_nodes();
    typo[1] = n("node-b", &[("zon", "zone1"), ("node", "node-b")]);
    let one_each = vec![existing("p-a1", "node-a", "default", "foo"), existing("p-b1", "node-b", "default", "foo"), existing("p-x1", "node-x", "default", "foo"), existing("p-y1", "node-y", "default", "foo")];
    assert_eq!(codes(&zone, typo, one_each), vec![S, UU, U, U], "pods spread across zones as 1/2 due to absence of label 'zone' on node-b");
    let rack = spread_pod(&[("foo", "")], &[(1, "rack", "DoNotSchedule", Some("foo"))]);
    let two = vec![n("node-a", &[("zone", "zone1"), ("node", "node-a")]), n("node-x", &[("zone", "zone2"), ("node", "node-x")])];
    assert_eq!(codes(&rack, two, vec![]), vec![UU, UU], "pod cannot be scheduled as all nodes don't have label 'rack'");
    let per_node = spread_pod(&[("foo", "")], &[(1, "node", "DoNotSchedule", Some("foo"))]);
    assert_eq!(codes(&per_node, four_nodes(), spread_2_1_0_3()), vec![U, U, S, U], "pods spread across nodes as 2/1/0/3, only node-x fits");
    let skew2 = spread_pod(&[("foo", "")], &[(2, "node", "DoNotSchedule", Some("foo"))]);
    assert_eq!(codes(&skew2, four_nodes(), spread_2_1_0_3()), vec![U, S, S, U], "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit");
    let bar = spread_pod(&[("bar", "")], &[(1, "node", "DoNotSchedule", Some("foo"))]);
    assert_eq!(codes(&bar, four_nodes(), spread_2_1_0_3()), vec![U, S, S, U], "pods spread across nodes as 2/1/0/3, but pod doesn't match itself");
    let mut affine = per_node.clone();
    affine.spec.affinity = Some(serde_yaml::from_str("nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: node, operator: In, values: [node-a, node-y]}]}]}}").unwrap());
    assert_eq!(codes(&affine, four_nodes(), spread_2_1_0_3()), vec![S, S, S, U], "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits");
    let mut terminating = existing("p-a", "node-a", "default", "foo");
    terminating.metadata.deletion_timestamp = Some(crate::model::meta::Timestamp(1));
    let ab = vec![n("node-a", &[("node", "node-a")]), n("node-b", &[("node", "node-b")])];
    assert_eq!(codes(&per_node, ab, vec![terminating, existing("p-b", "node-b", "default", "foo")]), vec![S, U], "terminating Pods should be excluded");
}

#[test]
fn multiple_constraints_upstream_case() {
    let both = spread_pod(&[("foo", "")], &[(1, "zone", "DoNotSchedule", Some("foo")), (1, "node", "DoNotSchedule", Some("foo"))]);
    assert_eq!(codes(&both, four_nodes(), spread_2_1_0_3()), vec![U, U, S, U], "two Constraints on zone and node, spreads = [3/3, 2/1/0/3]");
    let mut four = spread_2_1_0_3();
    four.push(existing("p-y4", "node-y", "default", "foo"));
    assert_eq!(codes(&both, four_nodes(), four), vec![U, U, U, U], "two Constraints on zone and node, spreads = [3/4, 2/1/0/4]");
}

#[test]
fn min_domains_zero_the_global_minimum() {
    // Two zones exist but minDomains is 3: the global minimum counts as 0.
    let mut p = spread_pod(&[("foo", "")], &[(1, "zone", "DoNotSchedule", Some("foo"))]);
    p.spec.topology_spread_constraints[0].min_domains = Some(3);
    let pods = vec![existing("p-a1", "node-a", "default", "foo"), existing("p-x1", "node-x", "default", "foo")];
    assert_eq!(codes(&p, four_nodes(), pods), vec![U, U, U, U]);
}

fn host_nodes(names: &[&str]) -> Vec<crate::model::node::Node> {
    names.iter().map(|nm| n(nm, &[(HOSTNAME_KEY, nm)])).collect()
}

fn scores(p: &Pod, nodes: Vec<crate::model::node::Node>, pods: Vec<Pod>) -> Option<Vec<i64>> {
    let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default()).unwrap();
    run_score(&plugin, p, &snapshot(nodes, pods))
}

fn host_pods(counts: &[(&str, usize)]) -> Vec<Pod> {
    counts.iter().flat_map(|(node, c)| (0..*c).map(move |i| existing(&format!("p-{node}{i}"), node, "default", "foo"))).collect()
}

#[test]
fn score_upstream_cases() {
    let soft = |skew| spread_pod(&[("foo", "")], &[(skew, HOSTNAME_KEY, "ScheduleAnyway", Some("foo"))]);
    let abcd = ["node-a", "node-b", "node-c", "node-d"];
    assert_eq!(scores(&soft(1), host_nodes(&["node-a", "node-b"]), vec![]), Some(vec![100, 100]), "one constraint on node, no existing pods");
    assert_eq!(scores(&soft(1), host_nodes(&["node-a", "node-b"]), host_pods(&[("node-a", 1), ("node-b", 1)])), Some(vec![100, 100]), "one constraint on node, all nodes have the same number of matching pods");
    let spread = host_pods(&[("node-a", 2), ("node-b", 1), ("node-d", 3)]);
    assert_eq!(scores(&soft(1), host_nodes(&abcd), spread.clone()), Some(vec![20, 60, 100, 0]), "one constraint on node, all 4 nodes are candidates");
    let null = spread_pod(&[("foo", "")], &[(1, HOSTNAME_KEY, "ScheduleAnyway", None)]);
    assert_eq!(scores(&null, host_nodes(&abcd), spread.clone()), Some(vec![100, 100, 100, 100]), "one constraint on node, null selector");
    assert_eq!(scores(&soft(2), host_nodes(&abcd), spread), Some(vec![33, 66, 100, 16]), "one constraint on node, all 4 nodes are candidates, maxSkew=2");
    let spread = host_pods(&[("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]);
    assert_eq!(scores(&soft(3), host_nodes(&abcd), spread), Some(vec![44, 66, 77, 100]), "one constraint on node, all 4 nodes are candidates, maxSkew=3");
    let hard_only = spread_pod(&[("foo", "")], &[(1, "zone", "DoNotSchedule", Some("foo"))]);
    assert_eq!(scores(&hard_only, host_nodes(&abcd), vec![]), None, "PreScore skips a pod without soft constraints");
}

#[test]
fn system_defaults_need_an_owning_workload() {
    let plugin = PodTopologySpread::new(PodTopologySpreadArgs::default()).unwrap();
    let mut p = pod("p", &[]);
    p.metadata.labels.insert("app".into(), "web".into());
    let mut snap = snapshot(host_nodes(&["node-a", "node-b"]), vec![]);
    assert_eq!(run_score(&plugin, &p, &snap), None, "no workload selects the pod: no default constraints");
    snap.workload_selectors.push(("default".into(), LabelSelector::from_labels(&[("app", "web")])));
    let mut web = on(pod("w1", &[]), "node-a");
    web.metadata.labels.insert("app".into(), "web".into());
    snap.nodes[0].add_pod(PodInfo::new(std::sync::Arc::new(web)));
    // Zone is missing on these nodes; system defaults still spread by hostname.
    let got = run_score(&plugin, &p, &snap).unwrap();
    assert!(got[1] > got[0], "spreads away from node-a: {got:?}");
    assert!(PodTopologySpread::new(PodTopologySpreadArgs { defaulting_type: "Sometimes".into(), ..Default::default() }).is_err());
}
