//! `eviction-rate`: the node lifecycle controller adds NoExecute
//! not-ready/unreachable taints (the start of taint-based eviction) at most
//! as fast as its zone's token bucket allows (upstream
//! `RateLimitedTimedQueue`, burst 1; `SwapLimiter` on a zone state change
//! carries "no token" over to the new bucket, so a swap never grants an
//! extra token):
//!
//! - two new NoExecute controller taints in one zone are at least 1/0.1 s =
//!   10 s apart (the fastest rate any zone state has), judged by the taints'
//!   `timeAdded` — the controller's own decision time, so write latency
//!   cannot blur it;
//! - no new one while the zone has been partially disrupted (≥ 55 % of at
//!   least 3 nodes not Ready) and is small (≤ 50 nodes), or every zone fully
//!   disrupted, for longer than a monitor pass and its writes take (`STATE_SLACK`).
//!
//! Zone states come from the Ready conditions in the store, computed here
//! (`spec::zone_state`), never from the controller. Nodes labelled
//! `node.kubernetes.io/exclude-disruption` do not count toward a zone's state.
//! A swap between the not-ready and unreachable taints is not a new taint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::spec::{self, EVICTION_QPS, TAINT_NOT_READY, TAINT_UNREACHABLE, ZoneState};
use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::node::{Node, TaintEffect};
use crate::model::Object;
use crate::time::SimTime;

const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";
/// How long a zone state must have held before a taint that contradicts it
/// counts: a monitor pass (5 s) plus the writes that carry its decision.
pub const STATE_SLACK: Duration = Duration::from_secs(10);
/// Rounding of timeAdded (whole seconds in RFC 3339) and of the bucket's arithmetic.
const RATE_SLACK: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Zone {
    /// Node name → Ready (Ready=True) for the nodes that count.
    ready: BTreeMap<String, bool>,
    state: Option<ZoneState>,
    /// When `state` (or all-zones-down) last changed.
    since: SimTime,
    last_taint: Option<SimTime>,
}

#[derive(Default)]
pub struct EvictionRate {
    nodes: BTreeMap<String, Arc<Node>>,
    zones: BTreeMap<String, Zone>,
    all_down: bool,
    all_down_since: SimTime,
    taints_judged: u64,
    /// New taints judged against an earlier one in the same zone (the rate itself).
    taints_after_another: u64,
    partial_disruptions: u64,
}

fn controller_no_execute(n: &Node) -> Option<SimTime> {
    n.spec
        .taints
        .iter()
        .find(|t| t.effect == TaintEffect::NoExecute && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE))
        .map(|t| t.time_added.map_or(SimTime::ZERO, |ts| ts.to_sim()))
}

fn is_ready(n: &Node) -> bool {
    n.status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

impl EvictionRate {
    fn recompute(&mut self, now: SimTime, zone: &str) {
        if let Some(z) = self.zones.get_mut(zone) {
            let ready = z.ready.values().filter(|r| **r).count();
            let state = spec::zone_state(ready, z.ready.len() - ready);
            if z.state != Some(state) {
                self.partial_disruptions += u64::from(state == ZoneState::PartialDisruption);
                z.state = Some(state);
                z.since = now;
            }
        }
        let all_down = !self.zones.is_empty() && self.zones.values().filter(|z| !z.ready.is_empty()).all(|z| z.state == Some(ZoneState::FullDisruption));
        if all_down != self.all_down {
            self.all_down = all_down;
            self.all_down_since = now;
        }
    }
}

impl Checker for EvictionRate {
    fn name(&self) -> &'static str {
        "eviction-rate"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("eviction-rate.taints", self.taints_judged), ("eviction-rate.taints-after-another-in-zone", self.taints_after_another), ("eviction-rate.partial-disruptions", self.partial_disruptions)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        let Object::Node(n) = &ev.object else { return };
        let name = n.metadata.name.clone();
        let zone = spec::zone_key(&n.metadata.labels);
        if ev.type_ == WatchEventType::Deleted {
            self.nodes.remove(&name);
            if let Some(z) = self.zones.get_mut(&zone) {
                z.ready.remove(&name);
            }
            self.recompute(at.now, &zone);
            return;
        }
        let before = self.nodes.insert(name.clone(), n.clone());
        let had = before.as_deref().and_then(controller_no_execute);
        let counts = !n.metadata.labels.contains_key(EXCLUDE_DISRUPTION);
        {
            let z = self.zones.entry(zone.clone()).or_default();
            if counts {
                z.ready.insert(name.clone(), is_ready(n));
            } else {
                z.ready.remove(&name);
            }
        }
        let Some(added) = controller_no_execute(n).filter(|_| had.is_none() && at.actor != "scenario") else {
            self.recompute(at.now, &zone);
            return;
        };
        // Judge the new taint against the state before this write.
        let z = self.zones.entry(zone.clone()).or_default();
        let node_ref = vec![format!("nodes/{name}")];
        let min_gap = Duration::from_secs_f64(1.0 / EVICTION_QPS);
        self.taints_judged += 1;
        self.taints_after_another += u64::from(z.last_taint.is_some());
        if let Some(prev) = z.last_taint
            && added + RATE_SLACK < prev + min_gap
        {
            out.push(violation(
                "eviction-rate",
                at.now,
                at.index,
                format!("node {name} was tainted NoExecute {:.1}s after the last node of its zone, faster than one per {}s (node-eviction-rate {EVICTION_QPS})", added.since(prev).as_secs_f64(), min_gap.as_secs()),
                node_ref.clone(),
            ));
        }
        let size = z.ready.len();
        let stopped = z.state == Some(ZoneState::PartialDisruption) && spec::zone_eviction_qps(ZoneState::PartialDisruption, size, false) == 0.0 && z.since + STATE_SLACK <= added;
        if stopped {
            out.push(violation(
                "eviction-rate",
                at.now,
                at.index,
                format!("node {name} was tainted NoExecute while its zone of {size} nodes was partially disrupted (since {}), when upstream stops evicting in zones of at most 50 nodes", z.since),
                node_ref.clone(),
            ));
        }
        z.last_taint = Some(z.last_taint.map_or(added, |p| p.max(added)));
        if self.all_down && self.all_down_since + STATE_SLACK <= added {
            out.push(violation("eviction-rate", at.now, at.index, format!("node {name} was tainted NoExecute while every zone was fully disrupted (since {}), when upstream stops all evictions", self.all_down_since), node_ref));
        }
        self.recompute(at.now, &zone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::ev;

    fn node(name: &str, ready: bool, taint_at: Option<u64>) -> Object {
        let taints = taint_at.map_or(String::new(), |t| format!("{{taints: [{{key: {TAINT_UNREACHABLE}, effect: NoExecute, timeAdded: '{}'}}]}}", crate::model::meta::Timestamp::from_sim(SimTime::from_secs(t))));
        let yaml = format!(
            "metadata: {{name: {name}, labels: {{topology.kubernetes.io/zone: a}}}}\nspec: {}\nstatus: {{conditions: [{{type: Ready, status: '{}'}}]}}",
            if taints.is_empty() { "{}".to_string() } else { taints },
            if ready { "True" } else { "Unknown" }
        );
        serde_yaml::from_str::<Node>(&yaml).unwrap().into()
    }

    fn at(secs: u64, index: u64) -> Commit<'static> {
        Commit { now: SimTime::from_secs(secs), index, actor: "controller-manager-1" }
    }

    /// Ten healthy nodes, then two go down: tainting them 10 s apart is the
    /// bucket's rate; 4 s apart is faster than any zone state allows.
    #[test]
    fn taints_faster_than_the_bucket_fire() {
        for (gap, ok) in [(10, true), (4, false)] {
            let mut c = EvictionRate::default();
            let mut out = Vec::new();
            for i in 0..10 {
                c.on_commit(&at(0, i), &ev(node(&format!("n{i}"), true, None)), &mut out);
            }
            c.on_commit(&at(60, 10), &ev(node("n0", false, None)), &mut out);
            c.on_commit(&at(60, 11), &ev(node("n1", false, None)), &mut out);
            c.on_commit(&at(100, 12), &ev(node("n0", false, Some(100))), &mut out);
            c.on_commit(&at(100 + gap, 13), &ev(node("n1", false, Some(100 + gap))), &mut out);
            assert_eq!(out.is_empty(), ok, "gap {gap}: {out:?}");
        }
    }

    /// Three of five nodes down is a partial disruption: a small zone stops evicting.
    #[test]
    fn tainting_in_a_partially_disrupted_small_zone_fires() {
        let mut c = EvictionRate::default();
        let mut out = Vec::new();
        for i in 0..5 {
            c.on_commit(&at(0, i), &ev(node(&format!("n{i}"), true, None)), &mut out);
        }
        for i in 0..3 {
            c.on_commit(&at(60, 10 + i), &ev(node(&format!("n{i}"), false, None)), &mut out);
        }
        c.on_commit(&at(65, 20), &ev(node("n0", false, Some(65))), &mut out);
        assert!(out.is_empty(), "within the slack of the state change: {out:?}");
        c.on_commit(&at(100, 21), &ev(node("n1", false, Some(100))), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].message.contains("partially disrupted"), "{}", out[0].message);
    }

    /// The scenario's own taints and swaps between not-ready and unreachable are not judged.
    #[test]
    fn a_scenario_taint_is_not_judged() {
        let mut c = EvictionRate::default();
        let mut out = Vec::new();
        c.on_commit(&at(0, 0), &ev(node("n0", true, None)), &mut out);
        c.on_commit(&at(0, 1), &ev(node("n1", true, None)), &mut out);
        c.on_commit(&at(10, 2), &ev(node("n0", false, Some(10))), &mut out);
        let scenario = Commit { now: SimTime::from_secs(11), index: 3, actor: "scenario" };
        c.on_commit(&scenario, &ev(node("n1", false, Some(11))), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
