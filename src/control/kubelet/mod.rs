//! The kubelet, one per simulated node. It watches only the pods bound to
//! its node (the `spec.nodeName` field selector real kubelets use) and:
//! - starts each pod after a sampled start latency: phase Running,
//!   startTime, container statuses, and the PodScheduled / Initialized /
//!   ContainersReady / Ready conditions, written through pods/status;
//! - finishes graceful deletion: once a pod carries a deletionTimestamp its
//!   containers stop after a sampled stop time (never past the grace period),
//!   then the kubelet deletes the pod with grace 0, as its status manager does.
//!
//! - heartbeats: renews its Lease in kube-node-lease every 10 s (duration
//!   40 s), and posts node status (Ready=True, lastHeartbeatTime) when it
//!   changes or every 5 minutes (`nodeStatusReportFrequency`).
//!
//! The control-loop issue extends this with a container runtime, probes and
//! restart policies.

use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{DeleteOptions, WatchEventType};
use crate::control::{Cache, Component, Effect, Input, RequestId, WriteOp};
use crate::model::meta::{Condition, Timestamp};
use crate::model::pod::{ContainerStatus, PHASE_RUNNING, Pod};
use crate::model::{Kind, Object, ObjectRef};
use crate::sim::latency::Latency;
use crate::time::SimTime;

type Key = (String, String);

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const LEASE_DURATION_S: i32 = 40;
/// Lease renewal and node status computation (`nodeStatusUpdateFrequency`).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Node status is posted at least this often even when unchanged.
pub const NODE_STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(300);
const HEARTBEAT_TOKEN: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start,
    Remove,
}

pub struct Kubelet {
    node: String,
    name: String,
    rng: ChaCha8Rng,
    start_latency: Latency,
    stop_latency: Latency,
    /// Pending steps: (due, seq) → (pod, step).
    steps: BTreeMap<(SimTime, u64), (Key, Step)>,
    scheduled: BTreeMap<Key, Step>,
    inflight: BTreeMap<RequestId, (Key, Step)>,
    seq: u64,
    next_id: RequestId,
    last_status_post: Option<SimTime>,
    heartbeat_due: Option<SimTime>,
}

impl Kubelet {
    pub fn new(node: &str, rng: ChaCha8Rng, start_latency: Latency, stop_latency: Latency) -> Kubelet {
        Kubelet {
            node: node.to_string(),
            name: format!("kubelet/{node}"),
            rng,
            start_latency,
            stop_latency,
            steps: BTreeMap::new(),
            scheduled: BTreeMap::new(),
            inflight: BTreeMap::new(),
            seq: 0,
            next_id: 0,
            last_status_post: None,
            heartbeat_due: None,
        }
    }

    fn write(&mut self, op: WriteOp, out: &mut Vec<Effect>) {
        self.next_id += 1;
        out.push(Effect::Write { id: self.next_id, op });
    }

    /// Renews the Lease and posts node status if it changed or is due.
    fn heartbeat(&mut self, now: SimTime, view: &Cache, out: &mut Vec<Effect>) {
        let ts = Some(Timestamp::from_sim(now));
        match view.get(Kind::Lease, LEASE_NAMESPACE, &self.node).and_then(Object::as_lease) {
            Some(l) => {
                let mut renewed = l.clone();
                renewed.spec.renew_time = ts;
                self.write(WriteOp::Update(renewed.into()), out);
            }
            None => {
                let lease = crate::model::Lease {
                    metadata: crate::model::ObjectMeta { name: self.node.clone(), namespace: LEASE_NAMESPACE.into(), ..Default::default() },
                    spec: crate::model::lease::LeaseSpec {
                        holder_identity: Some(self.node.clone()),
                        lease_duration_seconds: Some(LEASE_DURATION_S),
                        acquire_time: ts,
                        renew_time: ts,
                        lease_transitions: None,
                    },
                    status: Default::default(),
                };
                self.write(WriteOp::Create(lease.into()), out);
            }
        }
        if let Some(node) = view.get(Kind::Node, "", &self.node).and_then(Object::as_node) {
            let ready = node.is_ready();
            let due = self.last_status_post.is_none_or(|t| now.since(t) >= NODE_STATUS_REPORT_FREQUENCY);
            if !ready || due {
                let mut n = node.clone();
                let cond = Condition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_heartbeat_time: ts,
                    last_transition_time: if ready { n.status.conditions.iter().find(|c| c.type_ == "Ready").and_then(|c| c.last_transition_time) } else { ts },
                    reason: "KubeletReady".into(),
                    message: "kubelet is posting ready status".into(),
                    ..Default::default()
                };
                match n.status.conditions.iter_mut().find(|c| c.type_ == "Ready") {
                    Some(c) => *c = cond,
                    None => n.status.conditions.push(cond),
                }
                self.last_status_post = Some(now);
                self.write(WriteOp::UpdateStatus(n.into()), out);
            }
        }
        let next = now + HEARTBEAT;
        self.heartbeat_due = Some(next);
        out.push(Effect::WakeAt { at: next, token: HEARTBEAT_TOKEN });
    }

    fn plan(&mut self, key: Key, step: Step, at: SimTime, out: &mut Vec<Effect>) {
        if self.scheduled.get(&key) == Some(&step) {
            return;
        }
        self.seq += 1;
        self.steps.insert((at, self.seq), (key.clone(), step));
        self.scheduled.insert(key, step);
        out.push(Effect::WakeAt { at, token: self.seq });
    }

    fn consider(&mut self, p: &Pod, now: SimTime, out: &mut Vec<Effect>) {
        let key = (p.metadata.namespace.clone(), p.metadata.name.clone());
        if p.metadata.is_deleting() {
            if self.scheduled.get(&key) != Some(&Step::Remove) {
                let grace = Duration::from_secs(p.metadata.deletion_grace_period_seconds.unwrap_or(0).max(0) as u64);
                let stop = self.stop_latency.sample(&mut self.rng).min(grace);
                self.plan(key, Step::Remove, now + stop, out);
            }
        } else if !p.is_terminal() && p.status.phase != PHASE_RUNNING && !self.scheduled.contains_key(&key) {
            let at = now + self.start_latency.sample(&mut self.rng);
            self.plan(key, Step::Start, at, out);
        }
    }

    fn running(p: &Pod, now: SimTime) -> Pod {
        let mut r = p.clone();
        let ts = Some(Timestamp::from_sim(now));
        r.status.phase = PHASE_RUNNING.into();
        r.status.start_time = r.status.start_time.or(ts);
        r.status.container_statuses = p
            .spec
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                ready: true,
                restart_count: 0,
                image: c.image.clone(),
                started: Some(true),
                state: Some(serde_json::json!({"running": {"startedAt": Timestamp::from_sim(now).to_string()}})),
                ..Default::default()
            })
            .collect();
        for t in ["Initialized", "ContainersReady", "Ready", "PodScheduled"] {
            let cond = Condition { type_: t.into(), status: "True".into(), last_transition_time: ts, ..Default::default() };
            match r.status.conditions.iter_mut().find(|c| c.type_ == t) {
                Some(c) if c.status == "True" => {}
                Some(c) => *c = cond,
                None => r.status.conditions.push(cond),
            }
        }
        r
    }

    fn perform(&mut self, key: Key, step: Step, now: SimTime, view: &Cache, out: &mut Vec<Effect>) {
        self.scheduled.remove(&key);
        let Some(p) = view.get(Kind::Pod, &key.0, &key.1).and_then(Object::as_pod) else { return };
        if p.spec.node_name != self.node {
            return;
        }
        let op = match step {
            Step::Start if p.metadata.is_deleting() => return self.consider(p, now, out),
            Step::Start => WriteOp::UpdateStatus(Self::running(p, now).into()),
            Step::Remove => WriteOp::Delete {
                target: ObjectRef::new(Kind::Pod, &key.0, &key.1),
                options: DeleteOptions { grace_period_s: Some(0), precondition_uid: Some(p.metadata.uid.clone()), ..Default::default() },
            },
        };
        self.next_id += 1;
        self.inflight.insert(self.next_id, (key, step));
        out.push(Effect::Write { id: self.next_id, op });
    }
}

impl Component for Kubelet {
    fn name(&self) -> &str {
        &self.name
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Pod, Kind::Node, Kind::Lease]
    }

    fn node_scope(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn restart(&mut self) {
        self.steps.clear();
        self.scheduled.clear();
        self.inflight.clear();
        self.last_status_post = None;
        self.heartbeat_due = None;
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Vec<Effect>) {
        match input {
            Input::Synced => {
                let pods: Vec<Pod> = view.list(Kind::Pod).filter_map(Object::as_pod).cloned().collect();
                for p in &pods {
                    self.consider(p, now, out);
                }
                if self.heartbeat_due.is_none() {
                    self.heartbeat(now, view, out);
                }
            }
            Input::Watch(ev) => {
                if let Object::Pod(p) = &ev.object {
                    if ev.type_ == WatchEventType::Deleted {
                        self.scheduled.remove(&(p.metadata.namespace.clone(), p.metadata.name.clone()));
                    } else {
                        self.consider(p, now, out);
                    }
                }
            }
            Input::Timer { token } => {
                if token == HEARTBEAT_TOKEN && self.heartbeat_due.is_some_and(|d| d <= now) {
                    self.heartbeat(now, view, out);
                }
                while let Some(entry) = self.steps.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let (key, step) = entry.remove();
                    if self.scheduled.get(&key) == Some(&step) {
                        self.perform(key, step, now, view, out);
                    }
                }
            }
            Input::WriteResult { id, result } => {
                if let Some((key, step)) = self.inflight.remove(&id)
                    && let Err(e) = result
                    && e.is_conflict()
                    && let Some(p) = view.get(Kind::Pod, &key.0, &key.1).and_then(Object::as_pod).cloned()
                {
                    // A stale write: try again from the cache shortly.
                    let _ = step;
                    let at = now + Duration::from_millis(100);
                    self.scheduled.remove(&key);
                    if p.metadata.is_deleting() {
                        self.plan(key, Step::Remove, at, out);
                    } else {
                        self.plan(key, Step::Start, at, out);
                    }
                }
            }
        }
    }
}
