//! InterPodAffinity: required pod affinity / anti-affinity (the incoming
//! pod's and existing pods' anti-affinity) filter nodes by topology domain;
//! preferred terms (and existing pods' terms) score them
//! (interpodaffinity/{filtering,scoring}.go, v1.34: namespaceSelector,
//! matchLabelKeys / mismatchLabelKeys merged into the selector).

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::control::scheduler::framework::*;
use crate::model::pod::{Pod, PodAffinityTerm};
use crate::model::selector::{LabelSelectorRequirement, SelectorOperator};
use crate::model::{LabelSelector, Labels};

pub const NAME: &str = "InterPodAffinity";
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterPodAffinityArgs {
    #[serde(default = "one")]
    pub hard_pod_affinity_weight: i64,
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: bool,
}

fn one() -> i64 {
    1
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs { hard_pod_affinity_weight: 1, ignore_preferred_terms_of_existing_pods: false }
    }
}

/// An affinity term resolved against the pod that carries it.
#[derive(Clone, Debug)]
pub struct Term {
    namespaces: BTreeSet<String>,
    namespace_selector: Option<LabelSelector>,
    /// None selects nothing (a term without labelSelector).
    selector: Option<LabelSelector>,
    pub topology_key: String,
    pub weight: i64,
}

impl Term {
    /// `framework.newAffinityTerm`: no namespaces and no selector mean the
    /// owner's namespace; match/mismatchLabelKeys fold into the selector.
    fn new(owner: &Pod, t: &PodAffinityTerm, weight: i64) -> Term {
        let mut namespaces: BTreeSet<String> = t.namespaces.iter().cloned().collect();
        if namespaces.is_empty() && t.namespace_selector.is_none() {
            namespaces.insert(owner.metadata.namespace.clone());
        }
        let mut selector = t.label_selector.clone();
        if let Some(sel) = &mut selector {
            for (keys, op) in [(&t.match_label_keys, SelectorOperator::In), (&t.mismatch_label_keys, SelectorOperator::NotIn)] {
                for key in keys {
                    if let Some(v) = owner.metadata.labels.get(key) {
                        sel.match_expressions.push(LabelSelectorRequirement { key: key.clone(), operator: op.clone(), values: vec![v.clone()] });
                    }
                }
            }
        }
        Term { namespaces, namespace_selector: t.namespace_selector.clone(), selector, topology_key: t.topology_key.clone(), weight }
    }

    /// `AffinityTerm.Matches`: the namespace is listed or selected, and the selector matches.
    fn matches(&self, pod: &Pod, ns_labels: Option<&Labels>) -> bool {
        let ns_ok = self.namespaces.contains(&pod.metadata.namespace)
            || self.namespace_selector.as_ref().is_some_and(|s| ns_labels.is_some_and(|l| s.matches(l)));
        ns_ok && self.selector.as_ref().is_some_and(|s| s.matches(&pod.metadata.labels))
    }

    /// For the incoming pod: namespaceSelector resolved into namespaces now.
    fn merge_namespaces(&mut self, snapshot: &Snapshot) {
        if let Some(sel) = self.namespace_selector.take() {
            for (ns, labels) in &snapshot.namespace_labels {
                if sel.matches(labels) {
                    self.namespaces.insert(ns.clone());
                }
            }
        }
    }
}

fn affinity_terms(p: &Pod, anti: bool) -> (Vec<Term>, Vec<Term>) {
    let a = p.spec.affinity.as_ref().and_then(|a| if anti { a.pod_anti_affinity.as_ref() } else { a.pod_affinity.as_ref() });
    let Some(a) = a else { return (vec![], vec![]) };
    let required = a.required_during_scheduling_ignored_during_execution.iter().map(|t| Term::new(p, t, 0)).collect();
    let preferred = a.preferred_during_scheduling_ignored_during_execution.iter().map(|w| Term::new(p, &w.pod_affinity_term, i64::from(w.weight))).collect();
    (required, preferred)
}

fn has_affinity(p: &Pod) -> bool {
    p.spec.affinity.as_ref().is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
}

type Pair = (String, String);
type Counts = BTreeMap<Pair, i64>;

fn bump(m: &mut Counts, labels: &Labels, key: &str, v: i64) {
    if let Some(val) = labels.get(key) {
        *m.entry((key.to_string(), val.clone())).or_insert(0) += v;
    }
}

struct PreFilterState {
    affinity: Vec<Term>,
    anti_affinity: Vec<Term>,
    existing_anti_counts: Counts,
    affinity_counts: Counts,
    anti_counts: Counts,
}

struct PreScoreState {
    topology_score: BTreeMap<String, BTreeMap<String, i64>>,
}

pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
}

impl InterPodAffinity {
    pub fn new(args: InterPodAffinityArgs) -> Result<InterPodAffinity, String> {
        if !(0..=100).contains(&args.hard_pod_affinity_weight) {
            return Err(format!("hardPodAffinityWeight: Invalid value: {}: not in valid range [0, 100]", args.hard_pod_affinity_weight));
        }
        Ok(InterPodAffinity { args })
    }
}


crate::extends!(InterPodAffinity, NAME, [pre_filter, filter, pre_score, score]);

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let p = &pod.pod;
        let (mut affinity, _) = affinity_terms(p, false);
        let (mut anti_affinity, _) = affinity_terms(p, true);
        affinity.iter_mut().chain(anti_affinity.iter_mut()).for_each(|t| t.merge_namespaces(snapshot));
        let ns_labels = snapshot.namespace_labels.get(&p.metadata.namespace);
        let mut existing_anti_counts = Counts::new();
        let mut affinity_counts = Counts::new();
        let mut anti_counts = Counts::new();
        let mut any_existing_anti = false;
        let own_terms = !affinity.is_empty() || !anti_affinity.is_empty();
        if !own_terms && snapshot.pods_with_affinity() == 0 {
            return Status::skip();
        }
        for ni in &snapshot.nodes {
            if !own_terms && ni.pods_with_affinity == 0 {
                continue;
            }
            let labels = &ni.node.metadata.labels;
            for e in &ni.pods {
                let ep = &e.pod;
                // Existing pods whose required anti-affinity matches the incoming pod.
                if has_affinity(ep) {
                    let (req_anti, _) = affinity_terms(ep, true);
                    any_existing_anti |= !req_anti.is_empty();
                    for t in req_anti.iter().filter(|t| t.matches(p, ns_labels)) {
                        bump(&mut existing_anti_counts, labels, &t.topology_key, 1);
                    }
                }
                if !affinity.is_empty() && affinity.iter().all(|t| t.matches(ep, None)) {
                    for t in &affinity {
                        bump(&mut affinity_counts, labels, &t.topology_key, 1);
                    }
                }
                for t in anti_affinity.iter().filter(|t| t.matches(ep, None)) {
                    bump(&mut anti_counts, labels, &t.topology_key, 1);
                }
            }
        }
        if affinity.is_empty() && anti_affinity.is_empty() && !any_existing_anti {
            return Status::skip();
        }
        state.write(PreFilterState { affinity, anti_affinity, existing_anti_counts, affinity_counts, anti_counts });
        Status::success()
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else { return Status::success() };
        let labels = &node.node.metadata.labels;
        // Required affinity: every term's domain must hold a matching pod, unless
        // no pod matches anywhere and the pod matches its own terms (the first of a group).
        let mut pods_exist = true;
        for t in &s.affinity {
            match labels.get(&t.topology_key) {
                None => return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_AFFINITY),
                Some(v) => {
                    if s.affinity_counts.get(&(t.topology_key.clone(), v.clone())).copied().unwrap_or(0) <= 0 {
                        pods_exist = false;
                    }
                }
            }
        }
        if !pods_exist {
            let self_match = s.affinity_counts.is_empty() && s.affinity.iter().all(|t| t.matches(&pod.pod, None));
            if !self_match {
                return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_AFFINITY);
            }
        }
        for t in &s.anti_affinity {
            if let Some(v) = labels.get(&t.topology_key)
                && s.anti_counts.get(&(t.topology_key.clone(), v.clone())).copied().unwrap_or(0) > 0
            {
                return Status::new(Code::Unschedulable, ERR_REASON_ANTI_AFFINITY);
            }
        }
        if labels.iter().any(|(k, v)| s.existing_anti_counts.get(&(k.clone(), v.clone())).copied().unwrap_or(0) > 0) {
            return Status::new(Code::Unschedulable, ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

fn add_score(m: &mut BTreeMap<String, BTreeMap<String, i64>>, t: &Term, weight: i64, pod: &Pod, ns_labels: Option<&Labels>, node_labels: &Labels) {
    if t.matches(pod, ns_labels)
        && let Some(v) = node_labels.get(&t.topology_key)
    {
        *m.entry(t.topology_key.clone()).or_default().entry(v.clone()).or_insert(0) += weight;
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let p = &pod.pod;
        let (_, mut pref_aff) = affinity_terms(p, false);
        let (_, mut pref_anti) = affinity_terms(p, true);
        let has_constraints = !pref_aff.is_empty() || !pref_anti.is_empty();
        if (self.args.ignore_preferred_terms_of_existing_pods || snapshot.pods_with_affinity() == 0) && !has_constraints {
            return Status::skip();
        }
        pref_aff.iter_mut().chain(pref_anti.iter_mut()).for_each(|t| t.merge_namespaces(snapshot));
        let ns_labels = snapshot.namespace_labels.get(&p.metadata.namespace);
        let mut topology_score: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for ni in &snapshot.nodes {
            let labels = &ni.node.metadata.labels;
            if labels.is_empty() || (!has_constraints && ni.pods_with_affinity == 0) {
                continue;
            }
            for e in &ni.pods {
                let ep = &e.pod;
                if !has_constraints && !has_affinity(ep) {
                    continue;
                }
                for t in &pref_aff {
                    add_score(&mut topology_score, t, t.weight, ep, None, labels);
                }
                for t in &pref_anti {
                    add_score(&mut topology_score, t, -t.weight, ep, None, labels);
                }
                if !has_affinity(ep) {
                    continue;
                }
                let (req_aff, e_pref_aff) = affinity_terms(ep, false);
                let (_, e_pref_anti) = affinity_terms(ep, true);
                if self.args.hard_pod_affinity_weight > 0 {
                    for t in &req_aff {
                        add_score(&mut topology_score, t, self.args.hard_pod_affinity_weight, p, ns_labels, labels);
                    }
                }
                for t in &e_pref_aff {
                    add_score(&mut topology_score, t, t.weight, p, ns_labels, labels);
                }
                for t in &e_pref_anti {
                    add_score(&mut topology_score, t, -t.weight, p, ns_labels, labels);
                }
            }
        }
        if topology_score.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState { topology_score });
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        let s = state.read::<PreScoreState>().ok_or_else(|| Status::new(Code::Error, "PreScore state missing"))?;
        let labels = &node.node.metadata.labels;
        Ok(s.topology_score.iter().filter_map(|(k, vals)| labels.get(k).and_then(|v| vals.get(v))).sum())
    }

    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [i64]) -> Status {
        if state.read::<PreScoreState>().is_none() {
            return Status::success();
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 { (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64 } else { 0 };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests;
