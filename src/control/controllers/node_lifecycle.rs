//! The node lifecycle controller (pkg/controller/nodelifecycle), v1.34 defaults.
//!
//! Every `nodeMonitorPeriod` (5 s) it checks each node's health. A node's probe
//! time is when *this controller* last saw its Lease renewed or its Ready
//! heartbeat change (upstream uses the observer's clock, not the kubelet's).
//! After `nodeMonitorGracePeriod` (50 s) without one, Ready (and every other
//! condition) becomes Unknown: "Kubelet stopped posting node status."
//!
//! When a node becomes Unknown, its pods are marked Ready=False
//! (`MarkPodsNotReady`): its kubelet can no longer vouch for them.
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

use crate::api::{ApiError, WatchEvent};
use crate::control::host::{Keys, Reconciler, Step};
use crate::control::{Cache, WriteOp};
use crate::model::meta::{Condition, Timestamp};
use crate::control::events::{EventRecorder, reference_to};
use crate::model::event::ObjectReference;
use crate::model::node::{Node, Taint, TaintEffect};
use crate::model::{Kind, Object};
use crate::time::SimTime;

pub const NAME: &str = "node-lifecycle-controller";
/// What one monitor pass takes. Upstream runs `monitorNodeHealth` under
/// `wait.Until`, which waits the period *after* each pass, and a pass takes
/// real time, so passes are never exactly 5 s apart: the 10th pass after the
/// one that saw a renewal is already past `probe + 50 s` (`now.After`). With
/// passes of zero virtual time the strict comparison would hold one pass later.
pub const MONITOR_PASS_DURATION: Duration = Duration::from_micros(100);
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Nodes with this label do not count toward their zone's state
/// (`labelNodeDisruptionExclusion`).
pub const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";
/// The conditions a silent node's kubelet no longer vouches for (NetworkUnavailable
/// is left alone: the control plane manages it).
const CONDITIONS_SET_UNKNOWN: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

#[derive(Clone, Debug)]
pub struct NodeLifecycleConfig {
    pub monitor_period: Duration,
    pub grace_period: Duration,
    /// `--node-startup-grace-period`: how long a node that never posted a Ready condition may stay silent.
    pub startup_grace_period: Duration,
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
            startup_grace_period: Duration::from_secs(60),
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

/// `ComputeZoneState` (its ratio in float32, as upstream compares it).
pub fn zone_state(ready: usize, not_ready: usize, threshold: f64) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f32 / (not_ready + ready) as f32 >= threshold as f32 {
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
    size: usize,
}

pub struct NodeLifecycleController {
    config: NodeLifecycleConfig,
    health: BTreeMap<String, Health>,
    zones: BTreeMap<String, Zone>,
    all_disrupted: bool,
    /// Nodes with a write in flight (how many).
    busy_nodes: BTreeMap<String, u32>,
    started: bool,
    /// NodeNotReady, on the node and on each pod MarkPodsNotReady touches.
    recorder: EventRecorder,
    /// For the summary and sweep coverage: NoExecute taints added, and
    /// tainting passes that found the zone's token bucket empty (or the rate 0).
    no_execute_taints: u64,
    rate_limited: u64,
}

/// `RecordNodeStatusChange`'s reference: a Node, whose uid is its name.
fn node_ref(name: &str) -> ObjectReference {
    ObjectReference { kind: "Node".into(), name: name.into(), uid: name.into(), ..Default::default() }
}

fn zone_of(n: &Node) -> String {
    let (region, zone) = zone_parts(n);
    format!("{region}:\u{0}:{zone}")
}

/// (region, zone) labels, without allocating (`utilnode.GetZoneKey`'s parts).
fn zone_parts(n: &Node) -> (&str, &str) {
    let l = &n.metadata.labels;
    (l.get(REGION_LABEL).map_or("", String::as_str), l.get(ZONE_LABEL).map_or("", String::as_str))
}

/// `nodeConditionToTaintKeyStatusMap`: the NoSchedule taint a condition in a status calls for.
fn condition_taint(type_: &str, status: &str) -> Option<&'static str> {
    match (type_, status) {
        ("Ready", "False") => Some(TAINT_NOT_READY),
        ("Ready", "Unknown") => Some(TAINT_UNREACHABLE),
        ("MemoryPressure", "True") => Some("node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "True") => Some("node.kubernetes.io/disk-pressure"),
        ("NetworkUnavailable", "True") => Some("node.kubernetes.io/network-unavailable"),
        ("PIDPressure", "True") => Some("node.kubernetes.io/pid-pressure"),
        _ => None,
    }
}

pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// A NoSchedule taint key this controller manages (`taintKeyToNodeConditionMap` and unschedulable).
fn is_no_schedule_key(key: &str) -> bool {
    matches!(
        key,
        TAINT_NOT_READY
            | TAINT_UNREACHABLE
            | TAINT_UNSCHEDULABLE
            | "node.kubernetes.io/memory-pressure"
            | "node.kubernetes.io/disk-pressure"
            | "node.kubernetes.io/network-unavailable"
            | "node.kubernetes.io/pid-pressure"
    )
}

/// `doNoScheduleTaintingPass`: the NoSchedule taints the node's conditions
/// and `spec.unschedulable` call for.
pub fn no_schedule_taints(n: &Node) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = n.status.conditions.iter().filter_map(|c| condition_taint(&c.type_, &c.status)).collect();
    if n.spec.unschedulable {
        keys.push(TAINT_UNSCHEDULABLE);
    }
    keys
}

fn has_ready(n: &Node) -> bool {
    n.status.conditions.iter().any(|c| c.type_ == "Ready")
}

/// tryUpdateNodeHealth past the grace period: Ready and the pressure
/// conditions become Unknown (their transition time now) unless they already
/// are; those the kubelet never posted are added as never updated.
fn mark_unknown(node: &mut Node, now: SimTime) {
    let ts = Some(Timestamp::from_sim(now));
    for type_ in CONDITIONS_SET_UNKNOWN {
        match node.status.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = "NodeStatusUnknown".into();
                c.message = "Kubelet stopped posting node status.".into();
                c.last_transition_time = ts;
            }
            None => node.status.conditions.push(Condition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: "NodeStatusNeverUpdated".into(),
                message: "Kubelet never posted node status.".into(),
                last_heartbeat_time: node.metadata.creation_timestamp,
                last_transition_time: ts,
                ..Default::default()
            }),
        }
    }
}

fn ready_status(n: &Node) -> &str {
    n.status.conditions.iter().find(|c| c.type_ == "Ready").map_or("Unknown", |c| c.status.as_str())
}

impl NodeLifecycleController {
    pub fn new(config: NodeLifecycleConfig) -> NodeLifecycleController {
        NodeLifecycleController { config, health: BTreeMap::new(), zones: BTreeMap::new(), all_disrupted: false, busy_nodes: BTreeMap::new(), started: false, recorder: EventRecorder::new(NAME, ""), no_execute_taints: 0, rate_limited: 0 }
    }

    /// One write per node at a time: a second write from the same cached
    /// object would only conflict.
    fn write(&mut self, node: &str, op: WriteOp, out: &mut Vec<WriteOp>) {
        out.push(op);
        *self.busy_nodes.entry(node.to_string()).or_default() += 1;
    }

    fn written(&mut self, node: &str) {
        if let Some(n) = self.busy_nodes.get_mut(node) {
            *n -= 1;
            if *n == 0 {
                self.busy_nodes.remove(node);
            }
        }
    }

    fn busy(&self, node: &str) -> bool {
        self.busy_nodes.contains_key(node)
    }

    #[cfg(test)]
    fn qps(&self, state: ZoneState, zone_size: usize) -> f64 {
        qps_for(&self.config, state, zone_size)
    }

    /// Updates probe times from what the kubelets wrote: once per monitor
    /// pass over every node, as upstream's monitorNodeHealth lists them all.
    fn observe(&mut self, now: SimTime, view: &Cache) {
        for n in view.nodes().iter() {
            let name = &n.metadata.name;
            let lease = view.leases().get(crate::model::lease::NODE_LEASE_NAMESPACE, name).and_then(|l| l.spec.renew_time);
            let beat = n.status.conditions.iter().find(|c| c.type_ == "Ready").and_then(|c| c.last_heartbeat_time);
            match self.health.get_mut(name) {
                Some(h) => {
                    // A changed Ready heartbeat, or a Lease renewed *later* than the one seen.
                    if beat != h.heartbeat {
                        h.probe = now;
                        h.heartbeat = beat;
                    }
                    if lease.is_some() && (h.lease_renew.is_none() || h.lease_renew < lease) {
                        h.probe = now;
                        h.lease_renew = lease;
                    }
                }
                None => {
                    // A node that never posted Ready is timed from its creation (tryUpdateNodeHealth's fake condition).
                    let probe = if beat.is_none() && !has_ready(n) { n.metadata.creation_timestamp.map_or(now, |t| t.to_sim().min(now)) } else { now };
                    let probe = if lease.is_some() { now } else { probe };
                    self.health.insert(name.clone(), Health { probe, lease_renew: lease, heartbeat: beat });
                }
            }
        }
        self.health.retain(|k, _| view.nodes().get("", k).is_some());
    }

    /// A monitor pass: silent nodes' status writes into `out`; returns the
    /// nodes whose taints to reconcile next.
    fn monitor(&mut self, now: SimTime, view: &Cache, out: &mut Vec<WriteOp>) -> Vec<String> {
        self.observe(now, view);
        let nodes: Vec<std::sync::Arc<Node>> = view.nodes().iter().cloned().collect();
        // 1. Grace period: mark silent nodes Unknown (taints follow once that is observed).
        // Per node, in `nodes` order: its Ready status after this pass, and whether we wrote it.
        let mut readiness: Vec<(&str, bool)> = Vec::with_capacity(nodes.len());
        for n in &nodes {
            let name = &n.metadata.name;
            let status = ready_status(n);
            let grace = if has_ready(n) { self.config.grace_period } else { self.config.startup_grace_period };
            let grace = if crate::mutants::active("grace-40s") && has_ready(n) { Duration::from_secs(40) } else { grace };
            let silent = self.health.get(name).is_some_and(|h| now.since(h.probe) > grace);
            // The write happens when it changes Ready: a status other than Unknown, or none at all.
            if silent && (status != "Unknown" || !has_ready(n)) && !self.busy(name) {
                let mut updated = (**n).clone();
                mark_unknown(&mut updated, now);
                if status == "True" {
                    self.recorder.normal(now, node_ref(name), "NodeNotReady", format!("Node {name} status is now: NodeNotReady"));
                }
                self.write(name, WriteOp::UpdateStatus(updated.into()), out);
                readiness.push(("Unknown", true));
                continue;
            }
            readiness.push((status, false));
        }
        // 2. Zone states.
        let mut counts: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
        for (n, (status, _)) in nodes.iter().zip(&readiness).filter(|(n, _)| !n.metadata.labels.contains_key(EXCLUDE_DISRUPTION_LABEL)) {
            let e = counts.entry(zone_parts(n)).or_default();
            if *status == "True" { e.0 += 1 } else { e.1 += 1 }
        }
        self.all_disrupted = !counts.is_empty() && counts.values().all(|(r, nr)| zone_state(*r, *nr, self.config.unhealthy_zone_threshold) == ZoneState::FullDisruption);
        for ((region, zone), (r, nr)) in &counts {
            let zone = self.zones.entry(format!("{region}:\u{0}:{zone}")).or_default();
            zone.state = Some(zone_state(*r, *nr, self.config.unhealthy_zone_threshold));
            zone.size = r + nr;
        }
        // 3. Taints follow, node by node, for nodes with no write of ours in flight
        //    whose taints may change: not Ready, carrying one of ours, or waiting
        //    for a token (a Ready node without our taints would be a no-op).
        let queued: BTreeSet<&str> = self.zones.values().flat_map(|z| z.queue.iter().map(String::as_str)).collect();
        let ours = |t: &Taint| t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE;
        nodes
            .iter()
            .zip(&readiness)
            .filter(|(_, (_, written))| !written)
            .filter(|(n, (status, _))| {
                *status != "True"
                    || n.spec.taints.iter().any(ours)
                    || queued.contains(n.metadata.name.as_str())
                    || n.spec.unschedulable
                    || n.spec.taints.iter().any(|t| t.effect == TaintEffect::NoSchedule && is_no_schedule_key(&t.key))
                    || n.status.conditions.iter().any(|c| condition_taint(&c.type_, &c.status).is_some())
            })
            .map(|(n, _)| n.metadata.name.clone())
            .collect()
    }

    /// `MarkPodsNotReady`: the pods of a node that went Unknown lose Ready.
    fn mark_pods_not_ready(&mut self, now: SimTime, node: &str, view: &Cache, out: &mut Vec<WriteOp>) {
        let pods: Vec<crate::model::pod::Pod> = view.pods().on_node(node).filter(|p| p.is_ready()).map(|p| (**p).clone()).collect();
        for mut p in pods {
            let ts = Some(Timestamp::from_sim(now));
            for c in p.status.conditions.iter_mut().filter(|c| c.type_ == "Ready" || c.type_ == "ContainersReady") {
                c.status = "False".into();
                c.last_transition_time = ts;
            }
            for cs in &mut p.status.container_statuses {
                cs.ready = false;
            }
            self.recorder.warning(now, reference_to(&p), "NodeNotReady", "Node is not ready".into());
            out.push(WriteOp::UpdateStatus(p.into()));
        }
    }

    /// Brings one node's controller taints in line with its conditions, in a
    /// single update: the NoSchedule taints of `no_schedule_taints` at once;
    /// the NoExecute not-ready / unreachable taint when the zone's token
    /// bucket allows (else the node waits in the zone's queue) — except that
    /// one of them already present is swapped for the other at once, as
    /// `processTaintBaseEviction` does.
    fn reconcile_taints(&mut self, now: SimTime, n: &Node, out: &mut Vec<WriteOp>) {
        let name = n.metadata.name.clone();
        if self.busy(&name) {
            return;
        }
        let want = match ready_status(n) {
            "False" => Some(TAINT_NOT_READY),
            "Unknown" => Some(TAINT_UNREACHABLE),
            _ => None,
        };
        let wanted_no_schedule = no_schedule_taints(n);
        let ours = |t: &Taint| t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE;
        let managed = |t: &Taint| t.effect == TaintEffect::NoSchedule && is_no_schedule_key(&t.key);
        let ts = Some(Timestamp::from_sim(now));
        let all_down = self.all_disrupted;
        let no_schedule_current = n.spec.taints.iter().filter(|t| managed(t)).count() == wanted_no_schedule.len()
            && wanted_no_schedule.iter().all(|k| n.spec.taints.iter().any(|t| t.key == *k && t.effect == TaintEffect::NoSchedule));
        if want.is_none() && no_schedule_current && !n.spec.taints.iter().any(|t| t.effect == TaintEffect::NoExecute && ours(t)) {
            // Ready, NoSchedule taints as they should be, no NoExecute of ours: nothing to do (without a clone).
            let zone = self.zones.entry(zone_of(n)).or_default();
            zone.queue.retain(|x| *x != name);
            return;
        }
        let mut taints = n.spec.taints.clone();
        // NoSchedule (doNoScheduleTaintingPass): exactly the wanted set.
        taints.retain(|t| !managed(t) || wanted_no_schedule.contains(&t.key.as_str()));
        let has = |taints: &[Taint], key: &str, effect: TaintEffect| taints.iter().any(|t| t.key == key && t.effect == effect);
        for k in &wanted_no_schedule {
            if !has(&taints, k, TaintEffect::NoSchedule) {
                taints.push(Taint { key: k.to_string(), value: String::new(), effect: TaintEffect::NoSchedule, time_added: ts });
            }
        }
        // NoExecute: one of ours for the other state is swapped at once; else drop stale ones
        // (all, when every zone is down) and add the wanted one if the zone's bucket allows.
        let swap = want.is_some() && !all_down && taints.iter().any(|t| t.effect == TaintEffect::NoExecute && ours(t) && Some(t.key.as_str()) != want);
        taints.retain(|t| !(t.effect == TaintEffect::NoExecute && ours(t) && (all_down || Some(t.key.as_str()) != want)));
        let zone_key = zone_of(n);
        let zone = self.zones.entry(zone_key).or_default();
        zone.queue.retain(|x| *x != name);
        if let Some(k) = want
            && !all_down
            && !has(&taints, k, TaintEffect::NoExecute)
        {
            let qps = zone.state.map_or(0.0, |s| qps_for(&self.config, s, zone.size));
            if swap {
                taints.push(Taint { key: k.into(), value: String::new(), effect: TaintEffect::NoExecute, time_added: ts });
            } else if qps > 0.0 && (zone.next_token <= now || crate::mutants::active("eviction-unlimited")) {
                taints.push(Taint { key: k.into(), value: String::new(), effect: TaintEffect::NoExecute, time_added: ts });
                zone.next_token = now + Duration::from_secs_f64(1.0 / qps);
                self.no_execute_taints += 1;
            } else {
                self.rate_limited += 1;
                zone.queue.push(name.clone());
            }
        }
        if taints != n.spec.taints {
            let mut next = n.clone();
            next.spec.taints = taints;
            self.write(&name, WriteOp::Update(next.into()), out);
        }
    }

    /// When the next token for a zone with queued nodes comes.
    fn next_token(&self, now: SimTime) -> Option<SimTime> {
        self.zones.values().filter(|z| !z.queue.is_empty() && z.next_token > now).map(|z| z.next_token).min()
    }

    fn requeue_tainting(&self, now: SimTime, keys: &mut Keys<Key>) {
        if let Some(due) = self.next_token(now) {
            keys.add_after(Key::Tainting, due.since(now));
        }
    }
}

fn qps_for(c: &NodeLifecycleConfig, state: ZoneState, zone_size: usize) -> f64 {
    match state {
        ZoneState::Normal | ZoneState::FullDisruption => c.eviction_qps,
        ZoneState::PartialDisruption if zone_size > c.large_cluster_threshold => c.secondary_eviction_qps,
        ZoneState::PartialDisruption => 0.0,
    }
}

/// `nodeUpdateWorkerSize`: nodes processed at once.
pub const WORKERS: usize = 8;

/// What the controller syncs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// The periodic health pass (every `monitorPeriod`, from the end of the last one).
    Monitor,
    /// One node's taints.
    Node(String),
    /// `MarkPodsNotReady` for a node that went Unknown (upstream does it on
    /// another path than the tainting, so neither waits for the other).
    PodsNotReady(String),
    /// Nodes waiting for their zone's token bucket.
    Tainting,
}

/// Where a sync resumes: the nodes whose writes are in flight (released when
/// the sync ends), and the calls still to make one after another.
#[derive(Debug)]
pub struct Written {
    nodes: Vec<String>,
    rest: std::collections::VecDeque<WriteOp>,
}

impl Reconciler for NodeLifecycleController {
    type Key = Key;
    type Stage = Written;

    fn name(&self) -> &str {
        NAME
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Node, Kind::Lease, Kind::Pod]
    }

    fn workers(&self) -> usize {
        WORKERS
    }

    fn restart(&mut self) {
        self.health.clear();
        self.zones.clear();
        self.busy_nodes.clear();
        self.started = false;
        self.recorder = EventRecorder::new(NAME, "");
    }

    fn recorder(&mut self) -> Option<&mut EventRecorder> {
        Some(&mut self.recorder)
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        vec![("no_execute_taints", self.no_execute_taints), ("taints_rate_limited", self.rate_limited)]
    }

    fn on_synced(&mut self, now: SimTime, view: &Cache, keys: &mut Keys<Key>) {
        if !self.started {
            self.started = true;
            self.observe(now, view);
            keys.add_after(Key::Monitor, self.config.monitor_period);
        }
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, _view: &Cache, keys: &mut Keys<Key>) {
        // The probe clock is not moved here: upstream's tryUpdateNodeHealth
        // moves it at the monitor pass that sees a renewal.
        // A status change (ours or the kubelet's) moves the taints right away.
        if let Object::Node(n) = &ev.object
            && self.started
            && ev.type_ != crate::api::WatchEventType::Deleted
        {
            if ready_status(n) == "Unknown" {
                keys.add(Key::PodsNotReady(n.metadata.name.clone()));
            }
            keys.add(Key::Node(n.metadata.name.clone()));
        }
    }

    fn reconcile(&mut self, now: SimTime, key: &Key, view: &Cache, keys: &mut Keys<Key>) -> Step<Written> {
        match key {
            Key::Monitor => {
                let mut ops = Vec::new();
                let next = self.monitor(now, view, &mut ops);
                for name in next {
                    keys.add(Key::Node(name));
                }
                self.requeue_tainting(now, keys);
                let nodes = ops.iter().map(|o| o.target().name).collect();
                // Upstream updates the nodes' health in parallel (ParallelizeUntil).
                Step::Call { ops, then: Written { nodes, rest: Default::default() } }
            }
            Key::Node(name) => {
                let Some(current) = view.nodes().get("", name).cloned() else { return Step::done() };
                if self.busy(name) {
                    return Step::done();
                }
                let mut ops = Vec::new();
                self.reconcile_taints(now, &current, &mut ops);
                self.requeue_tainting(now, keys);
                if ops.is_empty() {
                    return Step::done();
                }
                // The node stays busy (one write per node at a time) until it answers.
                Step::Call { ops, then: Written { nodes: vec![name.clone()], rest: Default::default() } }
            }
            Key::PodsNotReady(name) => {
                let Some(current) = view.nodes().get("", name) else { return Step::done() };
                if ready_status(current) != "Unknown" {
                    return Step::done();
                }
                // One pod after another, as upstream's MarkPodsNotReady loop.
                let mut ops = Vec::new();
                self.mark_pods_not_ready(now, name, view, &mut ops);
                Step::sequence(ops)
            }
            Key::Tainting => {
                let queued: Vec<String> = self.zones.values().flat_map(|z| z.queue.iter().cloned()).collect();
                for name in queued {
                    keys.add(Key::Node(name));
                }
                self.requeue_tainting(now, keys);
                Step::done()
            }
        }
    }

    fn resume(&mut self, _now: SimTime, key: &Key, written: Written, results: Vec<Result<Object, ApiError>>, _view: &Cache, keys: &mut Keys<Key>) -> Step<Written> {
        let Written { nodes, mut rest } = written;
        let failed = results.iter().any(Result::is_err);
        if !failed && let Some(next) = rest.pop_front() {
            return Step::Call { ops: vec![next], then: Written { nodes, rest } };
        }
        for name in &nodes {
            self.written(name);
            // processTaintBaseEviction follows the pass's status write of the
            // node (its watch event may have arrived while the write was in flight).
            if *key == Key::Monitor {
                keys.add(Key::Node(name.clone()));
            }
        }
        match key {
            Key::Monitor => Step::after(self.config.monitor_period + MONITOR_PASS_DURATION),
            _ if failed => Step::Failed,
            _ => Step::done(),
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

    /// TestMonitorNodeHealth (node_lifecycle_controller_test.go), upstream
    /// cases by name: zone states after a monitor pass at fakeNow, and after
    /// the nodes' statuses change and an hour passes.
    mod monitor_node_health {
        use super::super::*;
        use crate::api::{WatchEvent, WatchEventType};
        use std::sync::Arc;

        #[derive(Clone, Copy)]
        enum St {
            /// Ready True / Unknown with heartbeat and transition at `t` seconds.
            True(u64),
            Unknown(u64),
            /// No conditions at all.
            Empty,
        }

        fn node(name: &str, region: &str, zone: &str, st: St, extra: &[(&str, &str)]) -> Node {
            let mut n = Node::default();
            n.metadata.name = name.into();
            n.metadata.creation_timestamp = Some(Timestamp::from_sim(FAKE_NOW));
            if !region.is_empty() {
                n.metadata.labels.insert(REGION_LABEL.into(), region.into());
                n.metadata.labels.insert(ZONE_LABEL.into(), zone.into());
            }
            for (k, v) in extra {
                n.metadata.labels.insert(k.to_string(), v.to_string());
            }
            set(&mut n, st);
            n
        }

        fn set(n: &mut Node, st: St) {
            let cond = |status: &str, t: u64| Condition {
                type_: "Ready".into(),
                status: status.into(),
                last_heartbeat_time: Some(Timestamp::from_sim(SimTime::from_secs(t))),
                last_transition_time: Some(Timestamp::from_sim(FAKE_NOW)),
                ..Default::default()
            };
            n.status.conditions = match st {
                St::True(t) => vec![cond("True", t)],
                St::Unknown(t) => vec![cond("Unknown", t)],
                St::Empty => vec![],
            };
        }

        /// fakeNow: 2015-01-01 12:00 in upstream; any fixed instant here.
        const FAKE_NOW: SimTime = SimTime(1_000_000_000_000);
        const TIME_TO_PASS_S: u64 = 3600;

        fn view(nodes: &[Node]) -> Cache {
            let mut c = Cache::new(&[Kind::Node, Kind::Lease, Kind::Pod]);
            for (i, n) in nodes.iter().enumerate() {
                c.apply(&WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object: n.clone().into(), revision: i as i64 + 1 });
            }
            c
        }

        fn states(c: &NodeLifecycleController) -> Vec<(String, ZoneState)> {
            c.zones.iter().filter_map(|(k, z)| z.state.map(|s| (k.replace("\u{0}", "\\0"), s))).collect()
        }

        fn zone(region: &str, zone: &str) -> String {
            format!("{region}:\\0:{zone}")
        }

        #[test]
        fn test_monitor_node_health() {
            use St::*;
            use ZoneState::*;
            let now_s = FAKE_NOW.as_nanos() as u64 / 1_000_000_000;
            let healthy = True(now_s + TIME_TO_PASS_S);
            let unhealthy = Unknown(now_s);
            let at = Unknown(now_s);
            let up = True(now_s);
            let excluded = [(EXCLUDE_DISRUPTION_LABEL, "")];
            type Case<'a> = (&'a str, Vec<Node>, Vec<St>, Vec<(String, ZoneState)>, Vec<(String, ZoneState)>);
            let cases: Vec<Case> = vec![
                (
                    "No Disruption: Node created recently without failure domain labels (happens only at cluster startup)",
                    vec![node("node0", "", "", up, &[])],
                    vec![healthy],
                    vec![(zone("", ""), Normal)],
                    vec![(zone("", ""), Normal)],
                ),
                (
                    "No Disruption: Initially both zones down, one comes back",
                    vec![node("node0", "region1", "zone1", at, &[]), node("node1", "region1", "zone2", at, &[])],
                    vec![unhealthy, healthy],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region1", "zone2"), FullDisruption)],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region1", "zone2"), Normal)],
                ),
                (
                    "Partial Disruption: Nodes created recently without status conditions (happens only at cluster startup)",
                    (0..4).map(|i| node(&format!("node{i}"), "region1", "zone1", Empty, &[])).collect(),
                    vec![unhealthy, unhealthy, unhealthy, healthy],
                    vec![(zone("region1", "zone1"), FullDisruption)],
                    vec![(zone("region1", "zone1"), PartialDisruption)],
                ),
                (
                    "Partial Disruption: one Node failed leading to the number of healthy Nodes to exceed the configured threshold",
                    vec![
                        node("node0", "region1", "zone1", at, &[]),
                        node("node1", "region1", "zone1", at, &[]),
                        node("node2", "region1", "zone1", up, &[]),
                        node("node3", "region1", "zone1", up, &[]),
                        node("node4", "region1", "zone1", up, &[]),
                    ],
                    vec![unhealthy, unhealthy, unhealthy, healthy, healthy],
                    vec![(zone("region1", "zone1"), Normal)],
                    vec![(zone("region1", "zone1"), PartialDisruption)],
                ),
                (
                    "Full Disruption: the zone has less than 2 Nodes down, the last healthy Node has failed",
                    vec![node("node0", "region1", "zone1", at, &[]), node("node1", "region1", "zone1", at, &[]), node("node2", "region1", "zone1", up, &[])],
                    vec![unhealthy, unhealthy, unhealthy],
                    vec![(zone("region1", "zone1"), Normal)],
                    vec![(zone("region1", "zone1"), FullDisruption)],
                ),
                (
                    "Full Disruption: all the Nodes in one zone are down",
                    vec![node("node0", "region1", "zone1", at, &[]), node("node1", "region1", "zone2", up, &[])],
                    vec![unhealthy, healthy],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region1", "zone2"), Normal)],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region1", "zone2"), Normal)],
                ),
                (
                    "Full Disruption: all the Nodes in both the zones are down",
                    vec![node("node0", "region1", "zone1", at, &[]), node("node1", "region2", "zone2", at, &[])],
                    vec![unhealthy, unhealthy],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region2", "zone2"), FullDisruption)],
                    vec![(zone("region1", "zone1"), FullDisruption), (zone("region2", "zone2"), FullDisruption)],
                ),
                (
                    "Full Disruption: Ready condition removed from the Node",
                    vec![node("node0", "region1", "zone1", up, &[])],
                    vec![Empty],
                    vec![(zone("region1", "zone1"), Normal)],
                    vec![(zone("region1", "zone1"), FullDisruption)],
                ),
                (
                    "Full Disruption: the only available Node has the node.kubernetes.io/exclude-disruption label",
                    vec![node("node0", "region1", "zone1", at, &[]), node("node-master", "region1", "zone1", up, &excluded)],
                    vec![unhealthy, healthy],
                    vec![(zone("region1", "zone1"), FullDisruption)],
                    vec![(zone("region1", "zone1"), FullDisruption)],
                ),
            ];
            for (name, mut nodes, updated, initial, following) in cases {
                let mut c = NodeLifecycleController::new(NodeLifecycleConfig::default());
                c.monitor(FAKE_NOW, &view(&nodes), &mut Vec::new());
                assert_eq!(states(&c), initial, "{name}: initial zone states");
                for (n, st) in nodes.iter_mut().zip(updated) {
                    set(n, st);
                }
                c.monitor(FAKE_NOW + Duration::from_secs(TIME_TO_PASS_S), &view(&nodes), &mut Vec::new());
                assert_eq!(states(&c), following, "{name}: following zone states");
            }
        }

        /// tryUpdateNodeHealth past the grace period: only Ready and the
        /// pressure conditions turn Unknown (NetworkUnavailable is the control
        /// plane's), those never posted are added; a node that never posted
        /// Ready is timed from its creation with the startup grace period (60 s).
        #[test]
        fn silent_nodes_are_marked_as_upstream_marks_them() {
            let mut n = node("node0", "region1", "zone1", St::True(0), &[]);
            n.status.conditions.push(Condition { type_: "NetworkUnavailable".into(), status: "False".into(), ..Default::default() });
            n.status.conditions.push(Condition { type_: "MemoryPressure".into(), status: "False".into(), ..Default::default() });
            let mut c = NodeLifecycleController::new(NodeLifecycleConfig::default());
            c.monitor(FAKE_NOW, &view(std::slice::from_ref(&n)), &mut Vec::new());
            let mut out = Vec::new();
            c.monitor(FAKE_NOW + Duration::from_secs(51), &view(&[n]), &mut out);
            let WriteOp::UpdateStatus(Object::Node(written)) = &out[0] else { panic!("{out:?}") };
            let status = |t: &str| written.status.conditions.iter().find(|c| c.type_ == t).map(|c| (c.status.as_str(), c.reason.as_str()));
            assert_eq!(status("Ready"), Some(("Unknown", "NodeStatusUnknown")));
            assert_eq!(status("MemoryPressure"), Some(("Unknown", "NodeStatusUnknown")));
            assert_eq!(status("NetworkUnavailable"), Some(("False", "")), "left to the control plane");
            assert_eq!(status("DiskPressure"), Some(("Unknown", "NodeStatusNeverUpdated")));
            assert_eq!(status("PIDPressure"), Some(("Unknown", "NodeStatusNeverUpdated")));
            // Never posted Ready: 60 s from creation, strictly after.
            let fresh = node("node1", "region1", "zone1", St::Empty, &[]);
            let mut c = NodeLifecycleController::new(NodeLifecycleConfig::default());
            let mut out = Vec::new();
            c.monitor(FAKE_NOW + Duration::from_secs(60), &view(std::slice::from_ref(&fresh)), &mut out);
            assert!(out.is_empty(), "at exactly the startup grace period: nothing yet");
            c.monitor(FAKE_NOW + Duration::from_secs(60) + MONITOR_PASS_DURATION, &view(&[fresh]), &mut out);
            let WriteOp::UpdateStatus(Object::Node(written)) = &out[0] else { panic!("{out:?}") };
            assert_eq!(written.status.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.reason.as_str()), Some("NodeStatusNeverUpdated"));
        }

        fn taint_keys(n: &Node, effect: TaintEffect) -> Vec<&str> {
            let mut v: Vec<&str> = n.spec.taints.iter().filter(|t| t.effect == effect).map(|t| t.key.as_str()).collect();
            v.sort();
            v
        }

        /// TestTaintsNodeByCondition: the NoSchedule taints follow the node's
        /// conditions and spec.unschedulable (doNoScheduleTaintingPass).
        #[test]
        fn test_taints_node_by_condition() {
            let cond = |t: &str, s: &str| Condition { type_: t.into(), status: s.into(), ..Default::default() };
            let ready = cond("Ready", "True");
            let cases: Vec<(&str, Vec<Condition>, bool, Vec<&str>)> = vec![
                ("NetworkUnavailable is true", vec![ready.clone(), cond("NetworkUnavailable", "True")], false, vec!["node.kubernetes.io/network-unavailable"]),
                (
                    "NetworkUnavailable is true, MemoryPressure and DiskPressure are true",
                    vec![ready.clone(), cond("NetworkUnavailable", "True"), cond("MemoryPressure", "True"), cond("DiskPressure", "True")],
                    false,
                    vec!["node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure", "node.kubernetes.io/network-unavailable"],
                ),
                ("NetworkUnavailable is true, PIDPressure is unknown", vec![ready.clone(), cond("NetworkUnavailable", "True"), cond("PIDPressure", "Unknown")], false, vec!["node.kubernetes.io/network-unavailable"]),
                ("NetworkUnavailable is false", vec![ready.clone(), cond("NetworkUnavailable", "False")], false, vec![]),
                ("Ready is false", vec![cond("Ready", "False")], false, vec![TAINT_NOT_READY]),
                ("Ready is unknown", vec![cond("Ready", "Unknown")], false, vec![TAINT_UNREACHABLE]),
                ("Unschedulable is true", vec![ready.clone()], true, vec![TAINT_UNSCHEDULABLE]),
            ];
            for (name, conditions, unschedulable, expected) in cases {
                let mut n = node("node0", "region1", "zone1", St::True(0), &[]);
                n.status.conditions = conditions;
                n.spec.unschedulable = unschedulable;
                // A stale condition taint from before is removed.
                n.spec.taints.push(Taint { key: "node.kubernetes.io/pid-pressure".into(), value: String::new(), effect: TaintEffect::NoSchedule, time_added: None });
                let mut c = NodeLifecycleController::new(NodeLifecycleConfig::default());
                let mut out = Vec::new();
                c.reconcile_taints(FAKE_NOW, &n, &mut out);
                let after = match out.first() {
                    Some(WriteOp::Update(Object::Node(w))) => (**w).clone(),
                    _ => n.clone(),
                };
                let mut want = expected.clone();
                want.sort();
                assert_eq!(taint_keys(&after, TaintEffect::NoSchedule), want, "{name}");
            }
        }

        /// TestSwapUnreachableNotReadyTaints: a node tainted unreachable
        /// (NoExecute) whose Ready turns False gets not-ready in its place at
        /// once, without waiting for its zone's next token.
        #[test]
        fn test_swap_unreachable_not_ready_taints() {
            let node0 = node("node0", "region1", "zone1", St::Unknown(0), &[]);
            let node1 = node("node1", "region1", "zone1", St::True(0), &[]);
            let mut c = NodeLifecycleController::new(NodeLifecycleConfig::default());
            c.monitor(FAKE_NOW, &view(&[node0.clone(), node1.clone()]), &mut Vec::new());
            let mut out = Vec::new();
            c.reconcile_taints(FAKE_NOW, &node0, &mut out);
            let Some(WriteOp::Update(Object::Node(tainted))) = out.first() else { panic!("{out:?}") };
            assert_eq!(taint_keys(tainted, TaintEffect::NoExecute), [TAINT_UNREACHABLE]);
            c.written("node0");
            let mut not_ready = (**tainted).clone();
            set(&mut not_ready, St::Unknown(0));
            not_ready.status.conditions[0].status = "False".into();
            let mut out = Vec::new();
            // One second later: the zone's bucket (0.1/s) has no token yet, but a swap needs none.
            c.reconcile_taints(FAKE_NOW + Duration::from_secs(1), &not_ready, &mut out);
            let Some(WriteOp::Update(Object::Node(swapped))) = out.first() else { panic!("swapped at once: {out:?}") };
            assert_eq!(taint_keys(swapped, TaintEffect::NoExecute), [TAINT_NOT_READY]);
            assert_eq!(taint_keys(swapped, TaintEffect::NoSchedule), [TAINT_NOT_READY]);
        }
    }
}