//! PodTopologySpread: hard constraints (DoNotSchedule) filter nodes whose
//! domain would exceed maxSkew; soft ones (ScheduleAnyway) score by matching
//! pods per domain. System default constraints apply to pods owned by a
//! workload (podtopologyspread/{filtering,scoring,common}.go, v1.34:
//! node inclusion policies GA, minDomains GA, matchLabelKeys merged).

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::control::scheduler::framework::*;
use crate::model::node::{Node, TaintEffect};
use crate::model::pod::{Pod, TopologySpreadConstraint, tolerated};
use crate::model::selector::{LabelSelectorRequirement, SelectorOperator};
use crate::model::LabelSelector;
use super::node_affinity::pod_matches_node;

pub const NAME: &str = "PodTopologySpread";
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodTopologySpreadArgs {
    #[serde(default)]
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// "System" (default) or "List".
    #[serde(default = "system")]
    pub defaulting_type: String,
}

fn system() -> String {
    "System".into()
}

impl Default for PodTopologySpreadArgs {
    fn default() -> Self {
        PodTopologySpreadArgs { default_constraints: vec![], defaulting_type: system() }
    }
}

/// The system defaults: 3 per host, 5 per zone, both ScheduleAnyway.
fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let c = |skew, key: &str| TopologySpreadConstraint {
        max_skew: skew,
        topology_key: key.into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        label_selector: None,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: vec![],
    };
    vec![c(3, HOSTNAME_KEY), c(5, "topology.kubernetes.io/zone")]
}

/// A constraint ready to evaluate.
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    key: String,
    /// None selects nothing (a constraint without labelSelector).
    selector: Option<LabelSelector>,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
    /// Names the (namespace, selector) for `NodeInfo::match_counts`.
    memo_key: String,
    memo_hash: u64,
}

impl Constraint {
    fn matches(&self, labels: &crate::model::Labels) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }
    /// `matchNodeInclusionPolicies`.
    fn includes(&self, pod: &Pod, node: &Node) -> bool {
        if self.honor_affinity && !pod_matches_node(pod, node) {
            return false;
        }
        if self.honor_taints {
            let untolerated = node.spec.taints.iter().filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)).any(|t| !tolerated(&pod.spec.tolerations, t));
            if untolerated {
                return false;
            }
        }
        true
    }
}

pub struct PodTopologySpread {
    args: PodTopologySpreadArgs,
    system_defaulted: bool,
}

impl PodTopologySpread {
    pub fn new(args: PodTopologySpreadArgs) -> Result<PodTopologySpread, String> {
        match args.defaulting_type.as_str() {
            "System" if !args.default_constraints.is_empty() => {
                return Err("defaultConstraints: Invalid value: when .defaultingType is \"System\", .defaultConstraints must be empty".into());
            }
            "System" | "List" => {}
            other => return Err(format!("defaultingType: Unsupported value: {other:?}: supported values: \"System\", \"List\"")),
        }
        for (i, c) in args.default_constraints.iter().enumerate() {
            if c.label_selector.is_some() {
                return Err(format!("defaultConstraints[{i}].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"));
            }
            if c.max_skew <= 0 {
                return Err(format!("defaultConstraints[{i}].maxSkew: Invalid value: {}: must be greater than zero", c.max_skew));
            }
        }
        let system_defaulted = args.defaulting_type == "System";
        Ok(PodTopologySpread { args, system_defaulted })
    }

    fn constraints(&self, pod: &Pod, snapshot: &Snapshot, action: &str) -> Vec<Constraint> {
        if !pod.spec.topology_spread_constraints.is_empty() {
            return resolve(&pod.spec.topology_spread_constraints, pod, action, None);
        }
        let defaults = if self.system_defaulted { system_default_constraints() } else { self.args.default_constraints.clone() };
        if defaults.is_empty() {
            return vec![];
        }
        // `helper.DefaultSelector`: the selectors of the workloads that select this pod.
        let mut merged = LabelSelector::default();
        let mut found = false;
        for (ns, sel) in &snapshot.workload_selectors {
            if *ns == pod.metadata.namespace && !sel.is_empty() && sel.matches(&pod.metadata.labels) {
                merged.match_labels.extend(sel.match_labels.clone());
                merged.match_expressions.extend(sel.match_expressions.clone());
                found = true;
            }
        }
        if !found {
            return vec![];
        }
        resolve(&defaults, pod, action, Some(merged))
    }
}

/// `filterTopologySpreadConstraints`: keeps those with `action`, merging
/// matchLabelKeys into the selector.
fn resolve(cs: &[TopologySpreadConstraint], pod: &Pod, action: &str, default_selector: Option<LabelSelector>) -> Vec<Constraint> {
    cs.iter()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| {
            let mut selector = c.label_selector.clone().or_else(|| default_selector.clone());
            if let Some(sel) = &mut selector {
                for key in &c.match_label_keys {
                    if let Some(v) = pod.metadata.labels.get(key) {
                        sel.match_expressions.push(LabelSelectorRequirement { key: key.clone(), operator: SelectorOperator::In, values: vec![v.clone()] });
                    }
                }
            }
            let memo_key = format!("{}\u{0}{}", pod.metadata.namespace, serde_json::to_string(&selector).unwrap_or_default());
            Constraint {
                memo_hash: crate::hash::fx_hash(memo_key.as_bytes()),
                memo_key,
                max_skew: i64::from(c.max_skew),
                key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

fn has_all_keys(node: &Node, cs: &[Constraint]) -> bool {
    cs.iter().all(|c| node.metadata.labels.contains_key(&c.key))
}

/// `countPodsMatchSelector`: same namespace, not terminating, selector
/// matches (remembered on the node until its pods change).
fn count_matching(node: &NodeInfo, c: &Constraint, namespace: &str) -> i64 {
    if let Some((_, _, n)) = node.match_counts.borrow().iter().find(|(h, k, _)| *h == c.memo_hash && **k == *c.memo_key) {
        return *n;
    }
    let n = node.pods.iter().filter(|p| p.pod.metadata.namespace == namespace && !p.pod.metadata.is_deleting() && c.matches(&p.pod.metadata.labels)).count() as i64;
    node.match_counts.borrow_mut().push((c.memo_hash, c.memo_key.as_str().into(), n));
    n
}


struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: domain value → matching pods.
    counts: Vec<BTreeMap<String, i64>>,
}

impl PreFilterState {
    fn min_match(&self, i: usize) -> i64 {
        let domains = &self.counts[i];
        if (domains.len() as i64) < self.constraints[i].min_domains {
            return 0;
        }
        domains.values().copied().min().unwrap_or(0)
    }
}

struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Per constraint: domain value → matching pods (hostname counted per node in Score).
    counts: Vec<BTreeMap<String, i64>>,
    weights: Vec<f64>,
    ignored: BTreeSet<String>,
    /// Whether each feasible node (in PreScore order) is ignored.
    ignored_in_order: Vec<bool>,
}

crate::extends!(PodTopologySpread, NAME, [pre_filter, filter, pre_score, score]);

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let p = &pod.pod;
        let constraints = self.constraints(p, snapshot, "DoNotSchedule");
        if constraints.is_empty() {
            return Status::skip();
        }
        let mut counts = vec![BTreeMap::new(); constraints.len()];
        for ni in &snapshot.nodes {
            if !has_all_keys(&ni.node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(p, &ni.node) {
                    continue;
                }
                let value = &ni.node.metadata.labels[&c.key];
                let n = count_matching(ni, c, &p.metadata.namespace);
                match counts[i].get_mut(value) {
                    Some(slot) => *slot += n,
                    None => {
                        counts[i].insert(value.clone(), n);
                    }
                }
            }
        }
        state.write(PreFilterState { constraints, counts });
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else { return Status::success() };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.node.metadata.labels.get(&c.key) else {
                return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.matches(&pod.pod.metadata.labels));
            let matched = s.counts[i].get(value).copied().unwrap_or(0);
            if matched + self_match - s.min_match(i) > c.max_skew {
                return Status::new(Code::Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Status {
        let p = &pod.pod;
        let constraints = self.constraints(p, snapshot, "ScheduleAnyway");
        if constraints.is_empty() || nodes.is_empty() {
            return Status::skip();
        }
        // Only non-system-default rules require every topology key on a node.
        let require_all = !p.spec.topology_spread_constraints.is_empty() || !self.system_defaulted;
        let mut counts: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); constraints.len()];
        let mut ignored = BTreeSet::new();
        let mut ignored_in_order = Vec::with_capacity(nodes.len());
        for ni in nodes {
            let skip = require_all && !has_all_keys(&ni.node, &constraints);
            ignored_in_order.push(skip);
            if skip {
                ignored.insert(ni.name().to_string());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.key == HOSTNAME_KEY {
                    continue;
                }
                if let Some(v) = ni.node.metadata.labels.get(&c.key) {
                    if !counts[i].contains_key(v) {
                        counts[i].insert(v.clone(), 0);
                    }
                }
            }
        }
        let weights = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.key == HOSTNAME_KEY { nodes.len() - ignored.len() } else { counts[i].len() };
                ((size + 2) as f64).ln()
            })
            .collect();
        for ni in &snapshot.nodes {
            if require_all && !has_all_keys(&ni.node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(p, &ni.node) {
                    continue;
                }
                let Some(v) = ni.node.metadata.labels.get(&c.key) else { continue };
                if let Some(slot) = counts[i].get_mut(v) {
                    *slot += count_matching(ni, c, &p.metadata.namespace);
                }
            }
        }
        state.write(PreScoreState { constraints, counts, weights, ignored, ignored_in_order });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        let s = state.read::<PreScoreState>().ok_or_else(|| Status::new(Code::Error, "PreScore state missing"))?;
        if s.ignored.contains(node.name()) {
            return Ok(0);
        }
        let mut score = 0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.node.metadata.labels.get(&c.key) else { continue };
            let cnt = if c.key == HOSTNAME_KEY { count_matching(node, c, &pod.pod.metadata.namespace) } else { s.counts[i].get(v).copied().unwrap_or(0) };
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [i64]) -> Status {
        let Some(s) = state.read::<PreScoreState>() else { return Status::success() };
        let considered = || scores.iter().zip(&s.ignored_in_order).filter(|(_, ig)| !**ig).map(|(v, _)| *v);
        let min = considered().min().unwrap_or(0);
        let max = considered().max().unwrap_or(0);
        for (v, ig) in scores.iter_mut().zip(&s.ignored_in_order) {
            *v = if *ig {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *v) / max
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests;
