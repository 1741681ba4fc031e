//! The node lifecycle controller (pkg/controller/nodelifecycle), v1.34 defaults.
//!
//! Every `nodeMonitorPeriod` (5 s) it checks each node's health. A node's probe
//! time is when *this controller* last saw its Lease renewed or its Ready
//! heartbeat change (upstream uses the observer's clock, not the kubelet's).
//! After `nodeMonitorGracePeriod` (50 s) without one, Ready (and every other
//! condition) becomes Unknown: "Kubelet stopped posting node status."
//!
//! Taints follow the Ready condition: False → `node.kubernetes.io/not-ready`,
//! Unknown → `node.kubernetes.io/unreachable`. NoSchedule taints are set at
//! once; NoExecute taints go through a per-zone token bucket (burst 1):
//! 0.1 nodes/s in a normal zone; in a partially disrupted zone (≥ 55 % not
//! ready and more than 2 not ready) 0.01 nodes/s, or 0 when the zone has
//! ≤ 50 nodes; a fully disrupted zone uses the normal rate — unless every zone
//! is fully disrupted, when all NoExecute tainting stops and existing
//! NoExecute taints are removed. Ready nodes lose these taints at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::control::{Cache, Component, Effect, Input, RequestId, WriteOp};
use crate::model::meta::{Condition, Timestamp};
use crate::model::node::{Node, Taint, TaintEffect};
use crate::model::{Kind, Object};
use crate::time::SimTime;

pub const NAME: &str = "node-lifecycle-controller";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

#[derive(Clone, Debug)]
pub struct NodeLifecycleConfig {
    pub monitor_period: Duration,
    pub grace_period: Duration,
    pub eviction_qps: f64,
    pub secondary_eviction_qps: f64,
    pub large_cluster_threshold: usize,
    pub unhealthy_zone_threshold: f64,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
            eviction_qps: 0.1,
            secondary_eviction_qps: 0.01,
            large_cluster_threshold: 50,
            unhealthy_zone_threshold: 0.55,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// `ComputeZoneState`.
pub fn zone_state(ready: usize, not_ready: usize, threshold: f64) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / (not_ready + ready) as f64 >= threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

#[derive(Default)]
struct Health {
    probe: SimTime,
    lease_renew: Option<Timestamp>,
    heartbeat: Option<Timestamp>,
}

#[derive(Default)]
struct Zone {
    /// Nodes waiting for a NoExecute taint, in arrival order.
    queue: Vec<String>,
    /// When the token bucket next has a token.
    next_token: SimTime,
    state: Option<ZoneState>,
}

pub struct NodeLifecycleController {
    config: NodeLifecycleConfig,
    health: BTreeMap<String, Health>,
    zones: BTreeMap<String, Zone>,
    all_disrupted: bool,
    next_id: RequestId,
    started: bool,
}

fn zone_of(n: &Node) -> String {
    let l = &n.metadata.labels;
    format!("{}:\u{0}:{}", l.get(REGION_LABEL).map_or("", String::as_str), l.get(ZONE_LABEL).map_or("", String::as_str))
}

fn ready_status(n: &Node) -> &str {
    n.status.conditions.iter().find(|c| c.type_ == "Ready").map_or("Unknown", |c| c.status.as_str())
}

fn has_taint(n: &Node, key: &str, effect: TaintEffect) -> bool {
    n.spec.taints.iter().any(|t| t.key == key && t.effect == effect)
}

impl NodeLifecycleController {
    pub fn new(config: NodeLifecycleConfig) -> NodeLifecycleController {
        NodeLifecycleController { config, health: BTreeMap::new(), zones: BTreeMap::new(), all_disrupted: false, next_id: 0, started: false }
    }

    fn write(&mut self, op: WriteOp, out: &mut Vec<Effect>) {
        self.next_id += 1;
        out.push(Effect::Write { id: self.next_id, op });
    }

    fn qps(&self, state: ZoneState, zone_size: usize) -> f64 {
        match state {
            ZoneState::Normal | ZoneState::FullDisruption => self.config.eviction_qps,
            ZoneState::PartialDisruption if zone_size > self.config.large_cluster_threshold => self.config.secondary_eviction_qps,
            ZoneState::PartialDisruption => 0.0,
        }
    }

    /// Updates probe times from what the kubelets wrote.
    fn observe(&mut self, now: SimTime, view: &Cache) {
        for n in view.list(Kind::Node).filter_map(Object::as_node) {
            let name = &n.metadata.name;
            let lease = view.get(Kind::Lease, "kube-node-lease", name).and_then(Object::as_lease).and_then(|l| l.spec.renew_time);
            let beat = n.status.conditions.iter().find(|c| c.type_ == "Ready").and_then(|c| c.last_heartbeat_time);
            let h = self.health.entry(name.clone()).or_insert_with(|| Health { probe: now, lease_renew: lease, heartbeat: beat });
            if lease != h.lease_renew || beat != h.heartbeat {
                h.probe = now;
                h.lease_renew = lease;
                h.heartbeat = beat;
            }
        }
        let names: BTreeSet<String> = view.list(Kind::Node).map(|o| o.meta().name.clone()).collect();
        self.health.retain(|k, _| names.contains(k));
    }

    fn monitor(&mut self, now: SimTime, view: &Cache, out: &mut Vec<Effect>) {
        self.observe(now, view);
        let nodes: Vec<Node> = view.list(Kind::Node).filter_map(Object::as_node).cloned().collect();
        // 1. Grace period: mark silent nodes Unknown.
        let mut readiness: BTreeMap<String, String> = BTreeMap::new();
        for n in &nodes {
            let name = n.metadata.name.clone();
            let mut status = ready_status(n).to_string();
            let silent = self.health.get(&name).is_some_and(|h| now.since(h.probe) > self.config.grace_period);
            if silent && status != "Unknown" {
                let mut updated = n.clone();
                let ts = Some(Timestamp::from_sim(now));
                let mut conds = std::mem::take(&mut updated.status.conditions);
                if !conds.iter().any(|c| c.type_ == "Ready") {
                    conds.push(Condition { type_: "Ready".into(), ..Default::default() });
                }
                for c in &mut conds {
                    c.status = "Unknown".into();
                    c.reason = "NodeStatusUnknown".into();
                    c.message = "Kubelet stopped posting node status.".into();
                    c.last_transition_time = ts;
                }
                updated.status.conditions = conds;
                self.write(WriteOp::UpdateStatus(updated.into()), out);
                status = "Unknown".into();
            }
            readiness.insert(name, status);
        }
        // 2. Zone states.
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for n in &nodes {
            let e = counts.entry(zone_of(n)).or_default();
            if readiness[&n.metadata.name] == "True" { e.0 += 1 } else { e.1 += 1 }
        }
        let states: BTreeMap<String, ZoneState> = counts.iter().map(|(z, (r, nr))| (z.clone(), zone_state(*r, *nr, self.config.unhealthy_zone_threshold))).collect();
        let all_disrupted = !states.is_empty() && states.values().all(|s| *s == ZoneState::FullDisruption);
        for (z, s) in &states {
            let zone = self.zones.entry(z.clone()).or_default();
            zone.state = Some(*s);
        }
        // 3. Taints.
        for n in &nodes {
            let status = readiness[&n.metadata.name].as_str();
            let (want_key, other_key) = match status {
                "False" => (Some(TAINT_NOT_READY), TAINT_UNREACHABLE),
                "Unknown" => (Some(TAINT_UNREACHABLE), TAINT_NOT_READY),
                _ => (None, ""),
            };
            let mut next = n.clone();
            let mut changed = false;
            // NoSchedule: at once.
            let before = next.spec.taints.len();
            next.spec.taints.retain(|t| !(t.effect == TaintEffect::NoSchedule && ((want_key.is_none() && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE)) || t.key == other_key)));
            changed |= next.spec.taints.len() != before;
            if let Some(k) = want_key
                && !has_taint(&next, k, TaintEffect::NoSchedule)
            {
                next.spec.taints.push(Taint { key: k.into(), value: String::new(), effect: TaintEffect::NoSchedule, time_added: Some(Timestamp::from_sim(now)) });
                changed = true;
            }
            // NoExecute: removal at once (or when every zone is down); adding waits for the zone's bucket.
            let before = next.spec.taints.len();
            next.spec.taints.retain(|t| {
                !(t.effect == TaintEffect::NoExecute && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE) && (all_disrupted || want_key != Some(t.key.as_str())))
            });
            changed |= next.spec.taints.len() != before;
            let zone = self.zones.entry(zone_of(n)).or_default();
            match want_key {
                Some(k) if !all_disrupted && !has_taint(&next, k, TaintEffect::NoExecute) => {
                    if !zone.queue.contains(&n.metadata.name) {
                        zone.queue.push(n.metadata.name.clone());
                    }
                }
                _ => zone.queue.retain(|x| *x != n.metadata.name),
            }
            if changed {
                self.write(WriteOp::Update(next.into()), out);
            }
        }
        self.all_disrupted = all_disrupted;
        self.taint_pass(now, view, &counts, out);
    }

    /// Applies queued NoExecute taints as each zone's token bucket allows.
    fn taint_pass(&mut self, now: SimTime, view: &Cache, counts: &BTreeMap<String, (usize, usize)>, out: &mut Vec<Effect>) {
        if self.all_disrupted {
            return;
        }
        let zones: Vec<String> = self.zones.keys().cloned().collect();
        for z in zones {
            let size = counts.get(&z).map_or(0, |(r, nr)| r + nr);
            let Some(state) = self.zones[&z].state else { continue };
            let qps = self.qps(state, size);
            loop {
                let zone = &self.zones[&z];
                if zone.queue.is_empty() || qps <= 0.0 || zone.next_token > now {
                    break;
                }
                let name = self.zones.get_mut(&z).map(|zn| zn.queue.remove(0)).unwrap_or_default();
                let Some(n) = view.get(Kind::Node, "", &name).and_then(Object::as_node) else { continue };
                let key = match ready_status(n) {
                    "False" => TAINT_NOT_READY,
                    "Unknown" => TAINT_UNREACHABLE,
                    _ => continue,
                };
                if has_taint(n, key, TaintEffect::NoExecute) {
                    continue;
                }
                let mut next = n.clone();
                next.spec.taints.retain(|t| !(t.effect == TaintEffect::NoExecute && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE)));
                next.spec.taints.push(Taint { key: key.into(), value: String::new(), effect: TaintEffect::NoExecute, time_added: Some(Timestamp::from_sim(now)) });
                self.write(WriteOp::Update(next.into()), out);
                if let Some(zn) = self.zones.get_mut(&z) {
                    zn.next_token = now + Duration::from_secs_f64(1.0 / qps);
                }
            }
        }
        // Wake when a waiting zone gets its next token.
        let due = self.zones.values().filter(|z| !z.queue.is_empty() && z.next_token > now).map(|z| z.next_token).min();
        if let Some(d) = due {
            out.push(Effect::WakeAt { at: d, token: 1 });
        }
    }
}

impl Component for NodeLifecycleController {
    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Node, Kind::Lease]
    }

    fn restart(&mut self) {
        self.health.clear();
        self.zones.clear();
        self.started = false;
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Vec<Effect>) {
        match input {
            Input::Synced if !self.started => {
                self.started = true;
                self.observe(now, view);
                out.push(Effect::WakeAt { at: now + self.config.monitor_period, token: 0 });
            }
            Input::Timer { token: 0 } => {
                self.monitor(now, view, out);
                out.push(Effect::WakeAt { at: now + self.config.monitor_period, token: 0 });
            }
            Input::Timer { .. } => {
                let nodes: Vec<&Node> = view.list(Kind::Node).filter_map(Object::as_node).collect();
                let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
                for n in nodes {
                    let e = counts.entry(zone_of(n)).or_default();
                    if ready_status(n) == "True" { e.0 += 1 } else { e.1 += 1 }
                }
                self.taint_pass(now, view, &counts, out);
            }
            Input::Watch(_) => self.observe(now, view),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TestComputeZoneState-style table.
    #[test]
    fn zone_states_follow_upstream_thresholds() {
        assert_eq!(zone_state(3, 0, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(0, 1, 0.55), ZoneState::FullDisruption);
        assert_eq!(zone_state(2, 2, 0.55), ZoneState::Normal, "needs more than 2 not ready");
        assert_eq!(zone_state(2, 3, 0.55), ZoneState::PartialDisruption, "3/5 = 60 %");
        assert_eq!(zone_state(3, 3, 0.55), ZoneState::Normal, "3/6 = 50 %");
        assert_eq!(zone_state(0, 0, 0.55), ZoneState::Normal);
    }

    #[test]
    fn eviction_rates_by_zone_state_and_size() {
        let c = NodeLifecycleController::new(NodeLifecycleConfig::default());
        assert_eq!(c.qps(ZoneState::Normal, 10), 0.1);
        assert_eq!(c.qps(ZoneState::PartialDisruption, 50), 0.0, "≤ 50 nodes: stop");
        assert_eq!(c.qps(ZoneState::PartialDisruption, 51), 0.01);
        assert_eq!(c.qps(ZoneState::FullDisruption, 10), 0.1);
    }
}
