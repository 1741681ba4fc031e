//! TaintToleration: Filter rejects nodes with a NoSchedule/NoExecute taint
//! the pod does not tolerate; Score counts intolerable PreferNoSchedule
//! taints, normalised in reverse (tainttoleration/taint_toleration.go).
//! The alpha Gt/Lt toleration operators (feature-gated, off by default) are
//! not modelled.

use crate::control::scheduler::framework::*;
use crate::model::node::TaintEffect;
use crate::model::pod::{Toleration, tolerated};

pub const NAME: &str = "TaintToleration";
pub const ERR_REASON_UNTOLERATED: &str = "node(s) had untolerated taint(s)";

pub struct TaintToleration;


crate::extends!(TaintToleration, NAME, [filter, pre_score, score]);

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let untolerated = node
            .node
            .spec
            .taints
            .iter()
            .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
            .filter(|t| !(t.effect == TaintEffect::NoSchedule && crate::mutants::active("taint-filter-noexecute-only")))
            .any(|t| !tolerated(&pod.pod.spec.tolerations, t));
        if untolerated { Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_UNTOLERATED) } else { Status::success() }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[&NodeInfo], _: &Snapshot) -> Status {
        // Tolerations that can tolerate PreferNoSchedule: that effect, or any.
        let prefer: Vec<Toleration> = pod.pod.spec.tolerations.iter().filter(|t| t.effect.is_none() || t.effect == Some(TaintEffect::PreferNoSchedule)).cloned().collect();
        state.write(prefer);
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        let tolerations: &Vec<Toleration> = state.read().ok_or_else(|| Status::new(Code::Error, "PreScore state missing"))?;
        Ok(node.node.spec.taints.iter().filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(tolerations, t)).count() as i64)
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) -> Status {
        default_normalize(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;
    use crate::model::pod::TolerationOperator::{Equal, Exists};
    use TaintEffect::{NoSchedule, PreferNoSchedule};

    fn tolerating(tols: Vec<crate::model::pod::Toleration>) -> crate::model::pod::Pod {
        let mut p = pod("pod1", &[]);
        p.spec.tolerations = tols;
        p
    }

    fn tainted(name: &str, taints: &[(&str, &str, TaintEffect)]) -> crate::model::node::Node {
        with_taints(node(name, &[]), taints)
    }

    /// TestTaintTolerationScore, upstream cases by name.
    #[test]
    fn score_upstream_cases() {
        let cases = vec![
            (
                "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints",
                tolerating(vec![toleration("foo", Equal, "bar", Some(PreferNoSchedule))]),
                vec![tainted("nodeA", &[("foo", "bar", PreferNoSchedule)]), tainted("nodeB", &[("foo", "blah", PreferNoSchedule)])],
                vec![100, 0],
            ),
            (
                "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many tolerable taints a node has",
                tolerating(vec![toleration("cpu-type", Equal, "arm64", Some(PreferNoSchedule)), toleration("disk-type", Equal, "ssd", Some(PreferNoSchedule))]),
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)]), tainted("nodeC", &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)])],
                vec![100, 100, 100],
            ),
            (
                "the more intolerable taints a node has, the lower score it gets.",
                tolerating(vec![toleration("foo", Equal, "bar", Some(PreferNoSchedule))]),
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)]), tainted("nodeC", &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)])],
                vec![100, 50, 0],
            ),
            (
                "only taints and tolerations that have effect PreferNoSchedule are checked by taints-tolerations priority function",
                tolerating(vec![toleration("cpu-type", Equal, "arm64", Some(NoSchedule)), toleration("disk-type", Equal, "ssd", Some(NoSchedule))]),
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("cpu-type", "arm64", NoSchedule)]), tainted("nodeC", &[("cpu-type", "arm64", PreferNoSchedule), ("disk-type", "ssd", PreferNoSchedule)])],
                vec![100, 100, 0],
            ),
            (
                "Default behaviour No taints and tolerations, lands on node with no taints",
                tolerating(vec![]),
                vec![tainted("nodeA", &[]), tainted("nodeB", &[("cpu-type", "arm64", PreferNoSchedule)])],
                vec![100, 0],
            ),
        ];
        for (name, p, nodes, want) in cases {
            assert_eq!(run_score(&TaintToleration, &p, &snapshot(nodes, vec![])), Some(want), "{name}");
        }
    }

    /// TestTaintTolerationFilter, upstream cases by name.
    #[test]
    fn filter_upstream_cases() {
        let cases = vec![
            ("A pod having no tolerations can't be scheduled onto a node with nonempty taints", vec![], vec![("dedicated", "user1", NoSchedule)], false),
            ("A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule", vec![toleration("dedicated", Equal, "user1", Some(NoSchedule))], vec![("dedicated", "user1", NoSchedule)], true),
            ("A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule", vec![toleration("dedicated", Equal, "user2", Some(NoSchedule))], vec![("dedicated", "user1", NoSchedule)], false),
            ("A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node", vec![toleration("foo", Exists, "", Some(NoSchedule))], vec![("foo", "bar", NoSchedule)], true),
            (
                "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, pod can be scheduled onto the node",
                vec![toleration("dedicated", Equal, "user2", Some(NoSchedule)), toleration("foo", Exists, "", Some(NoSchedule))],
                vec![("dedicated", "user2", NoSchedule), ("foo", "bar", NoSchedule)],
                true,
            ),
            (
                "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match, can't be scheduled onto the node",
                vec![toleration("foo", Equal, "bar", Some(PreferNoSchedule))],
                vec![("foo", "bar", NoSchedule)],
                false,
            ),
            (
                "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled onto the node",
                vec![toleration("foo", Equal, "bar", None)],
                vec![("foo", "bar", NoSchedule)],
                true,
            ),
            (
                "The pod has a toleration that key and value don't match the taint on the node, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
                vec![toleration("dedicated", Equal, "user2", Some(NoSchedule))],
                vec![("dedicated", "user1", PreferNoSchedule)],
                true,
            ),
            ("The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node", vec![], vec![("dedicated", "user1", PreferNoSchedule)], true),
        ];
        for (name, tols, taints, ok) in cases {
            let st = run_filter(&TaintToleration, &tolerating(tols), &snapshot(vec![tainted("nodeA", &taints)], vec![]), 0);
            assert_eq!(st.is_success(), ok, "{name}");
            if !ok {
                assert_eq!((st.code, st.reasons.as_slice()), (Code::UnschedulableAndUnresolvable, [ERR_REASON_UNTOLERATED.to_string()].as_slice()), "{name}");
            }
        }
    }
}
