//! Eviction timing, from the store alone (whoever wrote it, except the
//! scenario's own edits), against upstream's documented rules (`spec`):
//!
//! - `not-ready-before-grace`: a node is found unreachable (Ready=Unknown,
//!   whose lastTransitionTime is the decision's time, then the unreachable
//!   NoExecute taint) no sooner than the grace period (50 s) after the node's
//!   last Lease renewal committed before that decision. A renewal that
//!   commits between the decision and the taint (a slow etcd delays both)
//!   does not make the taint early: upstream's tainting pass reads the Ready
//!   condition, not the Lease;
//! - `early-eviction`: a pod is marked for eviction by the taint manager
//!   (DisruptionTarget, reason DeletionByTaintManager — upstream writes it
//!   before the delete) no sooner than its smallest tolerationSeconds after
//!   the node's NoExecute taint was added (zero for an untolerated taint).
//!
//! One second of slack absorbs write latency between decision and commit: a
//! renewal that commits just before the taint, too late for the controller
//! to have seen it, does not count.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Violation;
use crate::api::{WatchEvent, WatchEventType};
use super::spec::{NODE_MONITOR_GRACE_PERIOD, TAINT_UNREACHABLE, eviction_delay};
use crate::model::node::TaintEffect;
use crate::model::{Node, Object};
use crate::time::SimTime;

const SLACK: Duration = Duration::from_secs(1);
/// Where kubelets' node Leases live.
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The actor of the scenario's own writes (a patch may taint a node by hand).
const SCENARIO: &str = "scenario";
/// The condition and reason the taint manager marks a pod with before deleting it.
const DISRUPTION_TARGET: &str = "DisruptionTarget";
const TAINT_MANAGER_REASON: &str = "DeletionByTaintManager";
/// Renewals remembered per node: enough to reach back past a slow etcd's backlog.
const RENEWALS_KEPT: usize = 32;

#[derive(Default)]
pub struct EvictionTiming {
    nodes: BTreeMap<String, std::sync::Arc<Node>>,
    /// Commit times of each node's recent Lease renewals (oldest first).
    renewals: BTreeMap<String, std::collections::VecDeque<SimTime>>,
    /// Pods (namespace/name#uid) already marked for eviction.
    marked: BTreeMap<String, bool>,
    grace: Duration,
    unreachable_judged: u64,
    evictions_judged: u64,
}

impl EvictionTiming {
    pub fn new() -> EvictionTiming {
        EvictionTiming { grace: NODE_MONITOR_GRACE_PERIOD, ..Default::default() }
    }

    pub fn observe(&mut self, now: SimTime, index: u64, ev: &WatchEvent, actor: &str, out: &mut Vec<Violation>) {
        match &ev.object {
            Object::Lease(l) if l.metadata.namespace == LEASE_NAMESPACE && ev.type_ != WatchEventType::Deleted => {
                let r = self.renewals.entry(l.metadata.name.clone()).or_default();
                r.push_back(now);
                if r.len() > RENEWALS_KEPT {
                    r.pop_front();
                }
            }
            Object::Node(n) => {
                let name = n.metadata.name.clone();
                if ev.type_ == WatchEventType::Deleted {
                    self.nodes.remove(&name);
                    return;
                }
                let had = self.nodes.get(&name).is_some_and(|old| old.spec.taints.iter().any(|t| t.key == TAINT_UNREACHABLE && t.effect == TaintEffect::NoExecute));
                let has = n.spec.taints.iter().any(|t| t.key == TAINT_UNREACHABLE && t.effect == TaintEffect::NoExecute);
                // When the controller decided: its Ready=Unknown's transition time.
                let decided = n
                    .status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == "Ready" && c.status == "Unknown")
                    .and_then(|c| c.last_transition_time)
                    .map_or(now, |t| t.to_sim().min(now));
                if has && !had && actor != SCENARIO
                    && let Some(renewals) = self.renewals.get(&name)
                    // The last renewal it could have seen: committed before the decision, by more than the slack
                    // (one committed within it had not reached the controller yet).
                    && let Some(&renewed) = renewals.iter().rev().find(|&&r| r + SLACK <= decided).or(renewals.front())
                    && {
                        self.unreachable_judged += 1;
                        decided + SLACK < renewed + self.grace
                    }
                {
                    let message = format!("node {name} was found unreachable {:.1}s after its last Lease renewal, before the {}s grace period", decided.since(renewed).as_secs_f64(), self.grace.as_secs());
                    out.push(Violation { check: "not-ready-before-grace".into(), t: now, event_index: index, message, objects: vec![format!("nodes/{name}")] });
                }
                self.nodes.insert(name, n.clone());
            }
            Object::Pod(p) => {
                let key = format!("{}/{}#{}", p.metadata.namespace, p.metadata.name, p.metadata.uid);
                if ev.type_ == WatchEventType::Deleted {
                    self.marked.remove(&key);
                    return;
                }
                let marked = p.status.conditions.iter().any(|c| c.type_ == DISRUPTION_TARGET && c.status == "True" && c.reason == TAINT_MANAGER_REASON);
                let was = self.marked.insert(key, marked).unwrap_or(false);
                if was || !marked || actor == SCENARIO {
                    return;
                }
                let Some(node) = self.nodes.get(&p.spec.node_name) else { return };
                let Some(delay) = eviction_delay(p, &node.spec.taints) else { return };
                let tainted = node.spec.taints.iter().filter(|t| t.effect == TaintEffect::NoExecute).filter_map(|t| t.time_added).map(|ts| ts.to_sim()).min();
                self.evictions_judged += 1;
                if let Some(since) = tainted
                    && now + SLACK < since + delay
                {
                    let message = format!(
                        "pod {}/{} was evicted {:.1}s after {} was tainted, before its {}s toleration",
                        p.metadata.namespace,
                        p.metadata.name,
                        now.since(since).as_secs_f64(),
                        p.spec.node_name,
                        delay.as_secs()
                    );
                    out.push(Violation { check: "early-eviction".into(), t: now, event_index: index, message, objects: vec![format!("pods/{}/{}", p.metadata.namespace, p.metadata.name)] });
                }
            }
            _ => {}
        }
    }
}

impl super::Checker for EvictionTiming {
    fn name(&self) -> &'static str {
        "eviction-timing"
    }
    fn on_commit(&mut self, at: &super::Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        self.observe(at.now, at.index, ev, at.actor, out);
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("not-ready-before-grace.nodes-found-unreachable", self.unreachable_judged), ("early-eviction.evictions", self.evictions_judged)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(o: Object) -> WatchEvent {
        WatchEvent { type_: WatchEventType::Modified, key: Arc::from(""), object: o, revision: 1 }
    }

    fn tainted_node(added_s: u64) -> Object {
        let ts = crate::model::meta::Timestamp::from_sim(SimTime::from_secs(added_s));
        let n: Node = serde_yaml::from_str(&format!("metadata: {{name: n1}}\nspec: {{taints: [{{key: {TAINT_UNREACHABLE}, effect: NoExecute, timeAdded: '{ts}'}}]}}")).unwrap();
        n.into()
    }

    fn lease() -> Object {
        let l: crate::model::Lease = serde_yaml::from_str("metadata: {name: n1, namespace: kube-node-lease}").unwrap();
        l.into()
    }

    #[test]
    fn tainting_before_the_grace_period_is_caught() {
        for (taint_at, ok) in [(50, true), (40, false)] {
            let mut e = EvictionTiming::new();
            let mut out = Vec::new();
            e.observe(SimTime::from_secs(0), 0, &ev(lease()), "kubelet/n1", &mut out);
            e.observe(SimTime::from_secs(taint_at), 1, &ev(tainted_node(taint_at)), "controller-manager-1", &mut out);
            assert_eq!(out.is_empty(), ok, "{out:?}");
        }
    }

    /// The swarm found this race: a renewal commits a moment before the
    /// taint the controller decided on without it. Not a violation.
    #[test]
    fn a_renewal_racing_the_taint_does_not_count() {
        let mut e = EvictionTiming::new();
        let mut out = Vec::new();
        e.observe(SimTime::from_secs(0), 0, &ev(lease()), "kubelet/n1", &mut out);
        e.observe(SimTime::from_millis(59_999), 1, &ev(lease()), "kubelet/n1", &mut out);
        e.observe(SimTime::from_secs(60), 2, &ev(tainted_node(60)), "controller-manager-1", &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    /// etcd-slowdown: the controller decided at 55 s (nothing renewed since
    /// 0 s), a delayed renewal committed at 60 s, the taint at 80 s. Upstream
    /// taints on the Ready condition too: not a violation. Deciding at 40 s is.
    #[test]
    fn a_renewal_committed_after_the_decision_does_not_make_the_taint_early() {
        for (decided_s, ok) in [(55, true), (40, false)] {
            let mut e = EvictionTiming::new();
            let mut out = Vec::new();
            e.observe(SimTime::from_secs(0), 0, &ev(lease()), "kubelet/n1", &mut out);
            e.observe(SimTime::from_secs(60), 1, &ev(lease()), "kubelet/n1", &mut out);
            let Object::Node(mut n) = tainted_node(80) else { unreachable!() };
            let ltt = crate::model::meta::Timestamp::from_sim(SimTime::from_secs(decided_s));
            std::sync::Arc::make_mut(&mut n).status.conditions.push(crate::model::meta::Condition { type_: "Ready".into(), status: "Unknown".into(), last_transition_time: Some(ltt), ..Default::default() });
            e.observe(SimTime::from_secs(80), 2, &ev(Object::Node(n)), "controller-manager-1", &mut out);
            assert_eq!(out.is_empty(), ok, "decided at {decided_s}: {out:?}");
        }
    }

    #[test]
    fn evicting_before_the_toleration_is_caught() {
        let pod = |deleting: bool| {
            let p: crate::model::Pod = serde_yaml::from_str(&format!(
                "metadata:\n  name: p\n  namespace: default\n  uid: u1\n{}spec: {{nodeName: n1, containers: [{{name: c}}], tolerations: [{{key: {TAINT_UNREACHABLE}, operator: Exists, effect: NoExecute, tolerationSeconds: 300}}]}}",
                if deleting { "status: {conditions: [{type: DisruptionTarget, status: 'True', reason: DeletionByTaintManager}]}\n" } else { "" }
            ))
            .unwrap();
            Object::from(p)
        };
        for (evict_at, ok) in [(400, true), (399, true), (300, false)] {
            let mut e = EvictionTiming::new();
            let mut out = Vec::new();
            e.observe(SimTime::from_secs(100), 0, &ev(tainted_node(100)), "controller-manager-1", &mut out);
            e.observe(SimTime::from_secs(110), 1, &ev(pod(false)), "scheduler", &mut out);
            e.observe(SimTime::from_secs(evict_at), 2, &ev(pod(true)), "taint-eviction-controller", &mut out);
            assert_eq!(out.is_empty(), ok, "at {evict_at}: {out:?}");
        }
    }
}
