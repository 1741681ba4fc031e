//! Cases in the shape of upstream's filtering_test.go (TestRequiredAffinitySingleNode)
//! and scoring_test.go (TestPreferredAffinity).

use super::*;
use crate::control::scheduler::plugins::testing::*;

fn with(p: Pod, labels: &[(&str, &str)], affinity: &str) -> Pod {
    let mut p = p;
    p.metadata.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if !affinity.is_empty() {
        p.spec.affinity = Some(serde_yaml::from_str(affinity).unwrap());
    }
    p
}

fn filter(p: &Pod, nodes: Vec<crate::model::node::Node>, pods: Vec<Pod>) -> Vec<Status> {
    let plugin = InterPodAffinity::new(InterPodAffinityArgs::default()).unwrap();
    let snap = snapshot(nodes, pods);
    (0..snap.nodes.len()).map(|i| run_filter(&plugin, p, &snap, i)).collect()
}

fn node1() -> crate::model::node::Node {
    with_labels(node("node1", &[]), &[("region", "r1"), ("zone", "z11")])
}

const AFFINITY_IN: &str = "podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchExpressions: [{key: service, operator: In, values: [securityscan, value2]}]}, topologyKey: region}]}";

#[test]
fn required_affinity_upstream_cases() {
    let existing = with(on(pod("e", &[]), "node1"), &[("service", "securityscan")], "");
    let st = filter(&pod("p", &[]), vec![node1()], vec![]);
    assert!(st[0].is_success(), "A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods");
    let st = filter(&with(pod("p", &[]), &[], AFFINITY_IN), vec![node1()], vec![existing.clone()]);
    assert!(st[0].is_success(), "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator that matches the existing pod");
    let other_ns = AFFINITY_IN.replace("topologyKey: region", "topologyKey: region, namespaces: [DiffNameSpace]");
    let st = filter(&with(pod("p", &[]), &[], &other_ns), vec![node1()], vec![existing.clone()]);
    assert_eq!((st[0].code, st[0].reasons.clone()), (Code::UnschedulableAndUnresolvable, vec![ERR_REASON_AFFINITY.to_string()]), "Does not satisfy the PodAffinity with labelSelector because of diff Namespace");
    let unmatching = AFFINITY_IN.replace("securityscan, value2", "antivirusscan, value2");
    let st = filter(&with(pod("p", &[]), &[], &unmatching), vec![node1()], vec![existing.clone()]);
    assert_eq!(st[0].code, Code::UnschedulableAndUnresolvable, "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod");
    let rack = AFFINITY_IN.replace("topologyKey: region", "topologyKey: rack");
    let st = filter(&with(pod("p", &[]), &[], &rack), vec![node1()], vec![existing.clone()]);
    assert_eq!(st[0].code, Code::UnschedulableAndUnresolvable, "the node lacks the topology key");
    // The first pod of a group with affinity to itself may go anywhere that has the key.
    let own = with(pod("p", &[]), &[("service", "securityscan")], AFFINITY_IN);
    assert!(filter(&own, vec![node1()], vec![])[0].is_success(), "verify that PodAffinity works correctly with a pod that matches its own terms and no other pod exists");
    let selected = "podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {service: securityscan}}, topologyKey: region, namespaceSelector: {matchLabels: {team: a}}}]}";
    let mut existing_a = existing.clone();
    existing_a.metadata.namespace = "team-a".into();
    let plugin = InterPodAffinity::new(InterPodAffinityArgs::default()).unwrap();
    let mut snap = snapshot(vec![node1()], vec![existing_a]);
    snap.namespace_labels.insert("team-a".into(), [("team".to_string(), "a".to_string())].into());
    assert!(run_filter(&plugin, &with(pod("p", &[]), &[], selected), &snap, 0).is_success(), "namespaceSelector selects the existing pod's namespace");
}

#[test]
fn required_anti_affinity_both_ways() {
    let anti = "podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {service: securityscan}}, topologyKey: zone}]}";
    let existing = with(on(pod("e", &[]), "node1"), &[("service", "securityscan")], "");
    let node2 = with_labels(node("node2", &[]), &[("region", "r1"), ("zone", "z22")]);
    let st = filter(&with(pod("p", &[]), &[], anti), vec![node1(), node2.clone()], vec![existing]);
    assert_eq!((st[0].code, st[0].reasons.clone()), (Code::Unschedulable, vec![ERR_REASON_ANTI_AFFINITY.to_string()]), "the incoming pod's anti-affinity rejects the existing pod's zone");
    assert!(st[1].is_success(), "another zone is fine");
    // Symmetry: an existing pod's anti-affinity keeps matching pods out of its zone.
    let guard = with(on(pod("g", &[]), "node1"), &[], anti);
    let st = filter(&with(pod("p", &[]), &[("service", "securityscan")], ""), vec![node1(), node2], vec![guard]);
    assert_eq!((st[0].code, st[0].reasons.clone()), (Code::Unschedulable, vec![ERR_REASON_EXISTING_ANTI_AFFINITY.to_string()]), "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with incoming pod");
    assert!(st[1].is_success());
}

#[test]
fn preferred_affinity_upstream_cases() {
    let nodes = || {
        vec![
            with_labels(node("node1", &[]), &[("region", "China")]),
            with_labels(node("node2", &[]), &[("region", "India")]),
            with_labels(node("node3", &[]), &[("az", "az1")]),
        ]
    };
    let pods = || vec![with(on(pod("a", &[]), "node1"), &[("security", "S1")], ""), with(on(pod("b", &[]), "node2"), &[("security", "S2")], "")];
    let plugin = InterPodAffinity::new(InterPodAffinityArgs::default()).unwrap();
    let aff = "podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 5, podAffinityTerm: {labelSelector: {matchExpressions: [{key: security, operator: In, values: [S1]}]}, topologyKey: region}}]}";
    assert_eq!(
        run_score(&plugin, &with(pod("p", &[]), &[], aff), &snapshot(nodes(), pods())),
        Some(vec![100, 0, 0]),
        "Affinity: pod that matches topology key & pods in nodes will get high score comparing to others which doesn't match either pods in nodes or in topology key"
    );
    let anti = aff.replace("podAffinity: ", "podAntiAffinity: ");
    assert_eq!(run_score(&plugin, &with(pod("p", &[]), &[], &anti), &snapshot(nodes(), pods())), Some(vec![0, 100, 100]), "Anti Affinity: pod that does not match existing pods in node will get high score");
    assert_eq!(run_score(&plugin, &pod("p", &[]), &snapshot(nodes(), pods())), None, "all nodes are same priority as Affinity is nil (PreScore skips)");
    // An existing pod's hard affinity attracts a matching incoming pod (hardPodAffinityWeight 1).
    let hard = "podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {security: S1}}, topologyKey: region}]}";
    let mut ps = pods();
    ps[1] = with(on(pod("b", &[]), "node2"), &[("security", "S2")], hard);
    assert_eq!(run_score(&plugin, &with(pod("p", &[]), &[("security", "S1")], ""), &snapshot(nodes(), ps)), Some(vec![0, 100, 0]), "Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry");
}
