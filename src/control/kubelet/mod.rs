//! The kubelet, one per simulated node. It watches only the pods bound to
//! its node (the `spec.nodeName` field selector real kubelets use) and drives
//! a container runtime through the CRI-shaped `RuntimeOp`s, the way the real
//! kubelet's pod workers do (`syncPod`, one operation batch per pod at a time):
//!
//! - admission: a pod that does not fit (resources, pod count, node selector
//!   or affinity, an untolerated NoExecute taint) is rejected: phase Failed;
//! - start: sandbox, image pull (cached per node), create and start each
//!   container; status through pods/status (phase by upstream `getPhase`,
//!   container states, restart counts, Ready / ContainersReady conditions);
//! - readiness and liveness probes on their schedule (initialDelaySeconds,
//!   periodSeconds, success/failure thresholds); a failed liveness probe
//!   kills the container;
//! - restartPolicy Always / OnFailure / Never, with CrashLoopBackOff;
//! - graceful termination: a pod with a deletionTimestamp has its containers
//!   stopped with its grace period, its sandbox stopped and removed, then the
//!   kubelet deletes it with grace 0, as its status manager does;
//! - after a restart it lists the runtime before anything else and adopts
//!   what belongs to its pods; containers of pods it no longer has are killed
//!   and removed (no duplicates, no orphans);
//! - heartbeats: renews its Lease in kube-node-lease every 10 s (duration
//!   40 s), and posts node status (Ready=True, lastHeartbeatTime) when it
//!   changes or every 5 minutes (`nodeStatusReportFrequency`).

pub mod admission;
pub mod backoff;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::api::{DeleteOptions, WatchEventType};
use crate::control::scheduler::resources::{Resource, pod_requests};
use crate::control::events::EventRecorder;
use crate::model::event::ObjectReference;
use crate::control::{Cache, Component, Input, Outbox, RequestId, WriteOp};
use crate::model::meta::{Condition, Timestamp};
use crate::model::pod::{Container, ContainerStatus, PHASE_RUNNING, Pod, Probe};
use crate::model::{Kind, Object, ObjectRef};
use crate::runtime::{ContainerExit, ContainerInfo, ContainerState, PodIdentity, ProbeKind, RuntimeError, RuntimeOp, RuntimeReply};
use crate::time::SimTime;
use backoff::CrashLoopBackoff;

pub use crate::model::lease::NODE_LEASE_NAMESPACE as LEASE_NAMESPACE;
pub const LEASE_DURATION_S: i32 = 40;
/// Lease renewal and node status computation (`nodeStatusUpdateFrequency`).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Node status is posted at least this often even when unchanged.
pub const NODE_STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(300);
/// The default terminationGracePeriodSeconds.
const DEFAULT_GRACE_S: i64 = 30;
/// How soon a failed write or runtime call is retried.
const RETRY: Duration = Duration::from_secs(1);

pub const PHASE_PENDING: &str = "Pending";
pub const PHASE_SUCCEEDED: &str = "Succeeded";
pub const PHASE_FAILED: &str = "Failed";

#[derive(Clone, Debug)]
enum Wake {
    Heartbeat,
    Sync(String),
    Probe { uid: String, container: String, kind: ProbeKind },
}

enum ApiWrite {
    Heartbeat,
    Status(String),
    ConfirmDelete(String),
}

/// What the kubelet knows of one pod's sandbox and containers.
#[derive(Default)]
struct PodWorker {
    namespace: String,
    name: String,
    uid: String,
    requests: Resource,
    grace_s: i64,
    sandbox: Option<String>,
    sandbox_ready: bool,
    /// The current attempt of each container, by name.
    containers: BTreeMap<String, ContainerInfo>,
    /// The previous attempt's end, by name (status lastState).
    last_terminated: BTreeMap<String, ContainerInfo>,
    restarts: BTreeMap<String, u32>,
    /// Readiness by container id, and consecutive probe results (successes, failures).
    ready: BTreeMap<String, bool>,
    probe_runs: BTreeMap<(String, bool), (i32, i32)>,
    /// Runtime operations in flight for this pod.
    inflight: u32,
    status_inflight: bool,
    delete_sent: bool,
    /// Rejected at admission: (reason, message).
    rejected: Option<(String, String)>,
    /// A sync is already planned for this time.
    sync_at: Option<SimTime>,
    /// Containers whose image was just pulled for them (their "Pulled" is said).
    pulled: BTreeSet<String>,
}

impl PodWorker {
    fn running(&self) -> impl Iterator<Item = &ContainerInfo> {
        self.containers.values().filter(|c| c.state == ContainerState::Running)
    }
}

pub struct Kubelet {
    node: String,
    name: String,
    api_inflight: BTreeMap<RequestId, ApiWrite>,
    /// Runtime calls in flight: id → the pod uid they serve (none for List).
    rt_inflight: BTreeMap<RequestId, (Option<String>, RuntimeOp)>,
    workers: BTreeMap<String, PodWorker>,
    images: BTreeSet<String>,
    runtime_synced: bool,
    list_inflight: bool,
    backoff: CrashLoopBackoff,
    wakes: BTreeMap<u64, Wake>,
    seq: u64,
    last_status_post: Option<SimTime>,
    heartbeat_due: Option<SimTime>,
    restarted: u64,
    rejected: u64,
    orphans_killed: u64,
    /// Pulling/Pulled, Created, Started, Killing, BackOff, Unhealthy, admission rejections.
    recorder: EventRecorder,
    /// Image pulls in flight: (pod uid, image) → (started, the container it is for).
    pulls: BTreeMap<(String, String), (SimTime, String)>,
}

/// A reference to one container of a pod, as kubelet events carry it.
fn container_ref(w: &PodWorker, container: &str) -> ObjectReference {
    ObjectReference {
        kind: "Pod".into(),
        namespace: w.namespace.clone(),
        name: w.name.clone(),
        uid: w.uid.clone(),
        api_version: "v1".into(),
        field_path: format!("spec.containers{{{container}}}"),
        ..Default::default()
    }
}

fn pod_ref(w: &PodWorker) -> ObjectReference {
    ObjectReference { field_path: String::new(), ..container_ref(w, "") }
}

impl Kubelet {
    pub fn new(node: &str) -> Kubelet {
        Kubelet {
            node: node.to_string(),
            name: format!("kubelet/{node}"),
            api_inflight: BTreeMap::new(),
            rt_inflight: BTreeMap::new(),
            workers: BTreeMap::new(),
            images: BTreeSet::new(),
            runtime_synced: false,
            list_inflight: false,
            backoff: CrashLoopBackoff::default(),
            wakes: BTreeMap::new(),
            seq: 0,
            last_status_post: None,
            heartbeat_due: None,
            restarted: 0,
            rejected: 0,
            orphans_killed: 0,
            recorder: EventRecorder::new("kubelet", node),
            pulls: BTreeMap::new(),
        }
    }

    fn api(&mut self, op: WriteOp, what: ApiWrite, out: &mut Outbox) {
        let id = out.write(op);
        self.api_inflight.insert(id, what);
    }

    fn runtime(&mut self, uid: Option<&str>, op: RuntimeOp, out: &mut Outbox) {
        if let Some(w) = uid.and_then(|u| self.workers.get_mut(u)) {
            w.inflight += 1;
        }
        let id = out.runtime(op.clone());
        self.rt_inflight.insert(id, (uid.map(str::to_string), op));
    }

    fn wake(&mut self, at: SimTime, what: Wake, out: &mut Outbox) {
        self.seq += 1;
        self.wakes.insert(self.seq, what);
        out.wake_at(at, self.seq);
    }

    fn sync_later(&mut self, uid: &str, at: SimTime, out: &mut Outbox) {
        let Some(w) = self.workers.get_mut(uid) else { return };
        if w.sync_at.is_some_and(|t| t <= at) {
            return;
        }
        w.sync_at = Some(at);
        self.wake(at, Wake::Sync(uid.to_string()), out);
    }

    /// Renews the Lease and posts node status if it changed or is due.
    fn heartbeat(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        let ts = Some(Timestamp::from_sim(now));
        match view.get(Kind::Lease, LEASE_NAMESPACE, &self.node).and_then(Object::as_lease) {
            Some(l) => {
                let mut renewed = l.clone();
                renewed.spec.renew_time = ts;
                self.api(WriteOp::Update(renewed.into()), ApiWrite::Heartbeat, out);
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
                self.api(WriteOp::Create(lease.into()), ApiWrite::Heartbeat, out);
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
                self.api(WriteOp::UpdateStatus(n.into()), ApiWrite::Heartbeat, out);
            }
        }
        let next = now + HEARTBEAT;
        self.heartbeat_due = Some(next);
        self.wake(next, Wake::Heartbeat, out);
    }

    /// A pod bound here that the kubelet has not seen before: admit it or reject it.
    fn adopt(&mut self, now: SimTime, p: &Pod, view: &Cache) {
        let uid = &p.metadata.uid;
        // A finished pod needs nothing, unless it is being deleted (the kubelet confirms that).
        if self.workers.contains_key(uid) || (p.is_terminal() && !p.metadata.is_deleting()) {
            return;
        }
        let mut w = PodWorker {
            namespace: p.metadata.namespace.clone(),
            name: p.metadata.name.clone(),
            uid: uid.clone(),
            requests: pod_requests(p, false),
            grace_s: p.spec.termination_grace_period_seconds.unwrap_or(DEFAULT_GRACE_S),
            ..Default::default()
        };
        if !p.metadata.is_deleting()
            && let Some(node) = view.get(Kind::Node, "", &self.node).and_then(Object::as_node)
        {
            let mut used = Resource::default();
            let mut count = 0;
            for other in self.workers.values().filter(|o| o.rejected.is_none()) {
                used.add(&other.requests);
                count += 1;
            }
            if let Err(r) = admission::admit(p, node, &used, count) {
                self.rejected += 1;
                // rejectPod: a Warning with the admission failure's reason and message.
                self.recorder.warning(now, pod_ref(&w), &r.0, r.1.clone());
                w.rejected = Some(r);
            }
        }
        self.workers.insert(uid.clone(), w);
    }

    /// The kubelet's `syncPod`: one step towards what the pod should be.
    fn sync(&mut self, now: SimTime, uid: &str, view: &Cache, out: &mut Outbox) {
        let Some(w) = self.workers.get_mut(uid) else { return };
        if w.inflight > 0 {
            return;
        }
        w.sync_at = None;
        let pod = view.get(Kind::Pod, &w.namespace, &w.name).and_then(Object::as_pod).filter(|p| p.metadata.uid == uid && p.spec.node_name == self.node).cloned();
        if let Some(p) = &pod {
            w.grace_s = p.metadata.deletion_grace_period_seconds.or(p.spec.termination_grace_period_seconds).unwrap_or(DEFAULT_GRACE_S);
        }
        let stop = match &pod {
            None => true,
            Some(p) => p.metadata.is_deleting() || w.rejected.is_some() || p.is_terminal(),
        };
        if stop {
            return self.sync_stop(now, uid, pod.as_ref(), out);
        }
        let Some(p) = pod else { return };
        let w = self.workers.get_mut(uid).expect("worker");
        let Some(sandbox) = w.sandbox.clone() else {
            let identity = PodIdentity { namespace: p.metadata.namespace.clone(), name: p.metadata.name.clone(), uid: uid.to_string(), labels: p.metadata.labels.clone() };
            return self.runtime(Some(uid), RuntimeOp::RunPodSandbox { pod: identity }, out);
        };
        if !w.sandbox_ready {
            // The sandbox died under the pod: kill what is left and start over.
            if w.running().next().is_none() {
                return self.runtime(Some(uid), RuntimeOp::RemovePodSandbox { sandbox }, out);
            }
        }
        let always = p.spec.restart_policy.is_empty() || p.spec.restart_policy == "Always";
        let on_failure = p.spec.restart_policy == "OnFailure";
        let mut ops: Vec<RuntimeOp> = Vec::new();
        let mut retry_at: Option<SimTime> = None;
        for c in &p.spec.containers {
            match w.containers.get(&c.name) {
                None if !self.images.contains(&c.image) => {
                    let pull_key = (uid.to_string(), c.image.clone());
                    if !ops.iter().any(|o| matches!(o, RuntimeOp::PullImage { image } if *image == c.image)) && !self.pulls.contains_key(&pull_key) {
                        self.recorder.normal(now, container_ref(w, &c.name), "Pulling", format!("Pulling image {:?}", c.image));
                        self.pulls.insert(pull_key, (now, c.name.clone()));
                        ops.push(RuntimeOp::PullImage { image: c.image.clone() });
                    }
                }
                None => {
                    if !w.pulled.remove(&c.name) {
                        self.recorder.normal(now, container_ref(w, &c.name), "Pulled", format!("Container image {:?} already present on machine", c.image));
                    }
                    ops.push(create_op(&sandbox, c, w.restarts.get(&c.name).copied().unwrap_or(0)))
                }
                Some(info) => match info.state {
                    ContainerState::Created => ops.push(RuntimeOp::StartContainer { container: info.id.clone() }),
                    ContainerState::Running => {}
                    ContainerState::Exited => {
                        if always || (on_failure && info.exit_code != 0) {
                            let key = (uid.to_string(), c.name.clone());
                            let finished = info.finished_at.unwrap_or(now);
                            let wait = if crate::mutants::active("crashloop-no-backoff") { None } else { self.backoff.wait_until(&key, now, finished) };
                            match wait {
                                Some(until) => {
                                    let message = format!("Back-off restarting failed container {} in pod {}_{}({})", c.name, w.name, w.namespace, w.uid);
                                    self.recorder.warning(now, container_ref(w, &c.name), "BackOff", message);
                                    retry_at = Some(retry_at.map_or(until, |r: SimTime| r.min(until)))
                                }
                                None => {
                                    self.backoff.next(key, finished, now);
                                    ops.push(RuntimeOp::RemoveContainer { container: info.id.clone() });
                                }
                            }
                        }
                    }
                },
            }
        }
        for op in ops {
            self.runtime(Some(uid), op, out);
        }
        if let Some(at) = retry_at {
            self.sync_later(uid, at, out);
        }
        self.write_status(now, uid, &p, view, out);
    }

    /// Stops a pod's containers (with its grace period), then its sandbox,
    /// then removes them; a deleted pod is then confirmed with grace 0.
    fn sync_stop(&mut self, now: SimTime, uid: &str, pod: Option<&Pod>, out: &mut Outbox) {
        let w = self.workers.get_mut(uid).expect("worker");
        let running: Vec<String> = w.running().map(|c| c.id.clone()).collect();
        let grace = w.grace_s;
        if !running.is_empty() {
            if pod.is_none() {
                self.orphans_killed += 1;
            }
            for id in &running {
                if let Some(c) = w.containers.values().find(|c| c.id == *id) {
                    self.recorder.normal(now, container_ref(w, &c.name), "Killing", format!("Stopping container {}", c.name));
                }
            }
            for id in running {
                self.runtime(Some(uid), RuntimeOp::StopContainer { container: id, timeout_s: grace }, out);
            }
            return;
        }
        if let Some(sb) = w.sandbox.clone() {
            if w.sandbox_ready {
                return self.runtime(Some(uid), RuntimeOp::StopPodSandbox { sandbox: sb }, out);
            }
            // A finished pod keeps its stopped sandbox (and logs) until it is deleted.
            if pod.is_none() || pod.is_some_and(|p| p.metadata.is_deleting()) {
                return self.runtime(Some(uid), RuntimeOp::RemovePodSandbox { sandbox: sb }, out);
            }
        }
        match pod {
            None => {
                self.workers.remove(uid);
                self.backoff.forget_pod(uid);
            }
            Some(p) if p.metadata.is_deleting() => {
                if !w.delete_sent {
                    w.delete_sent = true;
                    let op = WriteOp::Delete {
                        target: ObjectRef::new(Kind::Pod, &p.metadata.namespace, &p.metadata.name),
                        options: DeleteOptions { grace_period_s: Some(0), precondition_uid: Some(uid.to_string()), ..Default::default() },
                    };
                    self.api(op, ApiWrite::ConfirmDelete(uid.to_string()), out);
                }
            }
            Some(p) => {
                let p = p.clone();
                self.write_status_terminal(now, uid, &p, out);
            }
        }
    }

    fn write_status_terminal(&mut self, now: SimTime, uid: &str, p: &Pod, out: &mut Outbox) {
        let w = &self.workers[uid];
        if w.status_inflight || p.is_terminal() {
            return;
        }
        let mut next = p.clone();
        let (reason, message) = w.rejected.clone().unwrap_or_default();
        next.status.phase = PHASE_FAILED.into();
        next.status.reason = reason;
        next.status.message = message;
        set_condition(&mut next.status.conditions, "Ready", false, now);
        self.workers.get_mut(uid).expect("worker").status_inflight = true;
        self.api(WriteOp::UpdateStatus(next.into()), ApiWrite::Status(uid.to_string()), out);
    }

    /// Writes the pod's status if what the runtime shows differs from it.
    fn write_status(&mut self, now: SimTime, uid: &str, p: &Pod, _view: &Cache, out: &mut Outbox) {
        let w = &self.workers[uid];
        if w.status_inflight {
            return;
        }
        let next = pod_status(now, p, w, &self.backoff);
        if next.status == p.status {
            return;
        }
        self.workers.get_mut(uid).expect("worker").status_inflight = true;
        self.api(WriteOp::UpdateStatus(next.into()), ApiWrite::Status(uid.to_string()), out);
    }

    fn on_runtime_result(&mut self, now: SimTime, id: RequestId, result: Result<RuntimeReply, RuntimeError>, view: &Cache, out: &mut Outbox) {
        let Some((uid, op)) = self.rt_inflight.remove(&id) else { return };
        let Some(uid) = uid else {
            if let (RuntimeOp::List, Ok(RuntimeReply::List { sandboxes, containers })) = (&op, result) {
                self.list_inflight = false;
                let running = self.adopt_runtime(sandboxes, containers, view);
                self.runtime_synced = true;
                // Probe state is not kept across restarts: probe adopted containers afresh.
                for (uid, name, id) in running {
                    self.schedule_probes(now, &uid, &name, &id, view, out);
                }
                self.sync_all(now, view, out);
            } else {
                self.list_inflight = false;
                self.request_list(out);
            }
            return;
        };
        let Some(w) = self.workers.get_mut(&uid) else { return };
        w.inflight = w.inflight.saturating_sub(1);
        let mut failed = false;
        match (op, result) {
            (RuntimeOp::RunPodSandbox { .. }, Ok(RuntimeReply::Sandbox(sb))) => {
                w.sandbox = Some(sb);
                w.sandbox_ready = true;
            }
            (RuntimeOp::StopPodSandbox { .. }, Ok(_)) => {
                w.sandbox_ready = false;
                for c in w.containers.values_mut().filter(|c| c.state == ContainerState::Running) {
                    c.state = ContainerState::Exited;
                    c.finished_at = Some(now);
                    c.exit_code = crate::runtime::fake::EXIT_SIGKILL;
                }
            }
            (RuntimeOp::RemovePodSandbox { .. }, _) => {
                w.sandbox = None;
                w.sandbox_ready = false;
                w.containers.clear();
            }
            (RuntimeOp::PullImage { image }, Ok(_)) => {
                if let Some((started, container)) = self.pulls.remove(&(uid.clone(), image.clone())) {
                    let took = now.since(started);
                    self.recorder.normal(now, container_ref(w, &container), "Pulled", format!("Successfully pulled image {image:?} in {took:?} ({took:?} including waiting)"));
                    w.pulled.insert(container);
                }
                self.images.insert(image);
            }
            (RuntimeOp::CreateContainer { sandbox, name, image, attempt, .. }, Ok(RuntimeReply::Container(cid))) => {
                self.recorder.normal(now, container_ref(w, &name), "Created", format!("Created container: {name}"));
                let info = ContainerInfo::created(cid, sandbox, uid.clone(), name.clone(), image, attempt);
                w.containers.insert(name, info);
            }
            (RuntimeOp::StartContainer { container }, Ok(_)) => {
                if let Some(c) = w.containers.values_mut().find(|c| c.id == container) {
                    c.state = ContainerState::Running;
                    c.started_at = Some(now);
                    let name = c.name.clone();
                    self.recorder.normal(now, container_ref(w, &name), "Started", format!("Started container {name}"));
                    self.schedule_probes(now, &uid, &name, &container, view, out);
                }
            }
            (RuntimeOp::StopContainer { container, .. }, Ok(_)) => {
                if let Some(c) = w.containers.values_mut().find(|c| c.id == container && c.state == ContainerState::Running) {
                    c.state = ContainerState::Exited;
                    c.finished_at = Some(now);
                    c.exit_code = crate::runtime::fake::EXIT_SIGTERM;
                    c.reason = "Error".into();
                }
            }
            (RuntimeOp::RemoveContainer { container }, Ok(_)) => {
                if let Some(name) = w.containers.iter().find(|(_, c)| c.id == container).map(|(n, _)| n.clone()) {
                    let old = w.containers.remove(&name).expect("present");
                    w.ready.remove(&old.id);
                    *w.restarts.entry(name.clone()).or_default() += 1;
                    w.last_terminated.insert(name, old);
                    self.restarted += 1;
                }
            }
            (RuntimeOp::Probe { .. }, _) => {}
            (_, Err(RuntimeError::NotFound(_))) => {
                // The runtime lost it (a node restart): forget and start over.
                failed = true;
                w.sandbox = None;
                w.sandbox_ready = false;
                w.containers.clear();
            }
            (_, _) => failed = true,
        }
        if failed {
            return self.sync_later(&uid, now + RETRY, out);
        }
        self.sync(now, &uid, view, out);
    }

    /// After a restart: take over what the runtime holds for pods this node has.
    fn adopt_runtime(&mut self, sandboxes: Vec<crate::runtime::SandboxInfo>, containers: Vec<ContainerInfo>, view: &Cache) -> Vec<(String, String, String)> {
        let mut running = Vec::new();
        for sb in sandboxes {
            let uid = sb.pod.uid.clone();
            if !self.workers.contains_key(&uid) {
                let pod = view.get(Kind::Pod, &sb.pod.namespace, &sb.pod.name).and_then(Object::as_pod).filter(|p| p.metadata.uid == uid);
                let w = PodWorker {
                    namespace: sb.pod.namespace.clone(),
                    name: sb.pod.name.clone(),
                    uid: uid.clone(),
                    requests: pod.map(|p| pod_requests(p, false)).unwrap_or_default(),
                    grace_s: pod.and_then(|p| p.spec.termination_grace_period_seconds).unwrap_or(DEFAULT_GRACE_S),
                    ..Default::default()
                };
                self.workers.insert(uid.clone(), w);
            }
            let w = self.workers.get_mut(&uid).expect("worker");
            // Keep the newest sandbox; an older one of the same pod is stopped by a later sync.
            w.sandbox = Some(sb.id.clone());
            w.sandbox_ready = sb.ready;
        }
        let mut ordered = containers;
        ordered.sort_by_key(|c| c.attempt);
        for c in ordered {
            if c.state == ContainerState::Running && crate::mutants::active("kubelet-no-adopt") {
                continue;
            }
            if let Some(w) = self.workers.get_mut(&c.pod_uid) {
                self.images.insert(c.image.clone());
                w.restarts.insert(c.name.clone(), c.attempt);
                if c.state == ContainerState::Running {
                    running.push((c.pod_uid.clone(), c.name.clone(), c.id.clone()));
                }
                if let Some(prev) = w.containers.insert(c.name.clone(), c)
                    && prev.state != ContainerState::Running
                {
                    w.last_terminated.insert(prev.name.clone(), prev);
                }
            }
        }
        running
    }

    fn schedule_probes(&mut self, now: SimTime, uid: &str, name: &str, container: &str, view: &Cache, out: &mut Outbox) {
        let Some(w) = self.workers.get(uid) else { return };
        let Some(spec) = container_spec(view, w, name) else { return };
        for (probe, kind) in [(&spec.readiness_probe, ProbeKind::Readiness), (&spec.liveness_probe, ProbeKind::Liveness)] {
            if let Some(p) = probe {
                let at = now + Duration::from_secs(p.initial_delay_seconds.max(0) as u64);
                self.wake(at, Wake::Probe { uid: uid.to_string(), container: container.to_string(), kind }, out);
            }
        }
    }

    fn run_probe(&mut self, uid: &str, container: &str, kind: ProbeKind, out: &mut Outbox) {
        let Some(w) = self.workers.get(uid) else { return };
        if !w.running().any(|c| c.id == container) {
            return;
        }
        let op = RuntimeOp::Probe { container: container.to_string(), kind };
        let id = out.runtime(op.clone());
        self.rt_inflight.insert(id, (None, op));
    }

    fn on_probe(&mut self, now: SimTime, container: String, kind: ProbeKind, ok: bool, view: &Cache, out: &mut Outbox) {
        let Some((uid, name)) = self.workers.iter().find_map(|(u, w)| w.running().find(|c| c.id == container).map(|c| (u.clone(), c.name.clone()))) else { return };
        let Some(spec) = container_spec(view, &self.workers[&uid], &name) else { return };
        let readiness = kind == ProbeKind::Readiness;
        let Some(probe) = (if readiness { spec.readiness_probe.clone() } else { spec.liveness_probe.clone() }) else { return };
        let w = self.workers.get_mut(&uid).expect("worker");
        let runs = w.probe_runs.entry((container.clone(), readiness)).or_default();
        if ok {
            *runs = (runs.0 + 1, 0);
        } else {
            *runs = (0, runs.1 + 1);
        }
        let (succ, fail) = *runs;
        if !ok {
            let probe_type = if readiness { "Readiness" } else { "Liveness" };
            self.recorder.warning(now, container_ref(w, &name), "Unhealthy", format!("{probe_type} probe failed: the simulated probe failed"));
        }
        let mut kill = false;
        if readiness {
            let was = w.ready.get(&container).copied().unwrap_or(false);
            let now_ready = if was { fail < probe.failure_threshold } else { succ >= probe.success_threshold };
            w.ready.insert(container.clone(), now_ready);
        } else if fail >= probe.failure_threshold {
            kill = true;
        }
        if kill {
            // Liveness failed: the container is killed and restarted per its policy.
            self.recorder.normal(now, container_ref(w, &name), "Killing", format!("Container {name} failed liveness probe, will be restarted"));
            let grace = w.grace_s;
            self.runtime(Some(&uid), RuntimeOp::StopContainer { container, timeout_s: grace }, out);
            return;
        }
        let period = Duration::from_secs(probe.period_seconds.max(1) as u64);
        self.wake(now + period, Wake::Probe { uid: uid.clone(), container, kind }, out);
        self.sync(now, &uid, view, out);
    }

    fn on_exit(&mut self, now: SimTime, exit: ContainerExit, view: &Cache, out: &mut Outbox) {
        let c = exit.container;
        let uid = c.pod_uid.clone();
        let Some(w) = self.workers.get_mut(&uid) else { return };
        if let Some(known) = w.containers.get_mut(&c.name)
            && known.id == c.id
        {
            w.ready.remove(&c.id);
            *known = c;
        }
        self.sync(now, &uid, view, out);
    }

    fn request_list(&mut self, out: &mut Outbox) {
        if self.list_inflight {
            return;
        }
        self.list_inflight = true;
        let id = out.runtime(RuntimeOp::List);
        self.rt_inflight.insert(id, (None, RuntimeOp::List));
    }

    fn sync_all(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        let pods: Vec<Pod> = view.pods().on_node(&self.node).map(|p| (**p).clone()).collect();
        for p in &pods {
            self.adopt(now, p, view);
        }
        let uids: Vec<String> = self.workers.keys().cloned().collect();
        for uid in uids {
            self.sync(now, &uid, view, out);
        }
    }
}

fn container_spec<'a>(view: &'a Cache, w: &PodWorker, name: &str) -> Option<&'a Container> {
    let p = view.get(Kind::Pod, &w.namespace, &w.name).and_then(Object::as_pod).filter(|p| p.metadata.uid == w.uid)?;
    p.spec.containers.iter().find(|c| c.name == name)
}

fn create_op(sandbox: &str, c: &Container, attempt: u32) -> RuntimeOp {
    let mut command = c.command.clone();
    command.extend(c.args.iter().cloned());
    RuntimeOp::CreateContainer {
        sandbox: sandbox.to_string(),
        name: c.name.clone(),
        image: c.image.clone(),
        command,
        memory_limit_bytes: c.resources.limits.get("memory").map(|q| q.value()),
        attempt,
    }
}

fn set_condition(conds: &mut Vec<Condition>, type_: &str, status: bool, now: SimTime) {
    let s = if status { "True" } else { "False" };
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == s => {}
        Some(c) => {
            c.status = s.into();
            c.last_transition_time = Some(Timestamp::from_sim(now));
        }
        None => conds.push(Condition { type_: type_.into(), status: s.into(), last_transition_time: Some(Timestamp::from_sim(now)), ..Default::default() }),
    }
}

fn ts(t: Option<SimTime>) -> String {
    t.map(|t| Timestamp::from_sim(t).to_string()).unwrap_or_default()
}

fn terminated_json(c: &ContainerInfo) -> serde_json::Value {
    serde_json::json!({"terminated": {"exitCode": c.exit_code, "reason": c.reason, "startedAt": ts(c.started_at), "finishedAt": ts(c.finished_at), "containerID": c.id}})
}

fn probe_ready(probe: Option<&Probe>, w: &PodWorker, id: &str) -> bool {
    probe.is_none() || w.ready.get(id).copied().unwrap_or(false)
}

/// The pod as its status should now read, from what the runtime shows.
fn pod_status(now: SimTime, p: &Pod, w: &PodWorker, backoff: &CrashLoopBackoff) -> Pod {
    let mut next = p.clone();
    let s = &mut next.status;
    let always = p.spec.restart_policy.is_empty() || p.spec.restart_policy == "Always";
    let on_failure = p.spec.restart_policy == "OnFailure";
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    let mut statuses = Vec::new();
    for c in &p.spec.containers {
        let restarts = w.restarts.get(&c.name).copied().unwrap_or(0) as i32;
        let last = w.last_terminated.get(&c.name);
        let mut cs = ContainerStatus { name: c.name.clone(), image: c.image.clone(), restart_count: restarts, last_state: last.map(terminated_json), ..Default::default() };
        match w.containers.get(&c.name) {
            Some(info) if info.state == ContainerState::Running => {
                running += 1;
                cs.container_id = info.id.clone();
                cs.started = Some(true);
                cs.ready = probe_ready(c.readiness_probe.as_ref(), w, &info.id);
                cs.state = Some(serde_json::json!({"running": {"startedAt": ts(info.started_at)}}));
            }
            Some(info) if info.state == ContainerState::Exited => {
                let restarting = always || (on_failure && info.exit_code != 0);
                cs.container_id = info.id.clone();
                cs.started = Some(false);
                stopped += 1;
                if restarting {
                    // Upstream shows a container awaiting restart as waiting, its exit as lastState.
                    let key = (w.uid.clone(), c.name.clone());
                    let reason = if backoff.wait_until(&key, now, info.finished_at.unwrap_or(now)).is_some() { "CrashLoopBackOff" } else { "ContainerCreating" };
                    cs.state = Some(serde_json::json!({"waiting": {"reason": reason}}));
                    cs.last_state = Some(terminated_json(info));
                } else {
                    if info.exit_code == 0 {
                        succeeded += 1;
                    }
                    cs.state = Some(terminated_json(info));
                }
            }
            _ => {
                cs.started = Some(false);
                cs.state = Some(serde_json::json!({"waiting": {"reason": "ContainerCreating"}}));
                if last.is_some() { stopped += 1 } else { waiting += 1 }
            }
        }
        statuses.push(cs);
    }
    // kubelet_pods.go getPhase.
    let phase = if waiting > 0 {
        PHASE_PENDING
    } else if running > 0 {
        PHASE_RUNNING
    } else if stopped > 0 {
        if always {
            PHASE_RUNNING
        } else if stopped == succeeded {
            PHASE_SUCCEEDED
        } else if p.spec.restart_policy == "Never" {
            PHASE_FAILED
        } else {
            PHASE_RUNNING
        }
    } else {
        PHASE_PENDING
    };
    let all_ready = !statuses.is_empty() && statuses.iter().all(|c| c.ready);
    s.phase = phase.into();
    s.container_statuses = statuses;
    if s.start_time.is_none() {
        s.start_time = Some(Timestamp::from_sim(now));
    }
    set_condition(&mut s.conditions, "PodScheduled", true, now);
    set_condition(&mut s.conditions, "Initialized", true, now);
    set_condition(&mut s.conditions, "ContainersReady", all_ready, now);
    set_condition(&mut s.conditions, "Ready", all_ready && phase == PHASE_RUNNING, now);
    next
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

    fn runtime_node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn restart(&mut self) {
        let node = self.node.clone();
        *self = Kubelet::new(&node);
    }

    /// Only what is unusual, so a 100-node summary stays short.
    fn stats(&self) -> Vec<(&'static str, u64)> {
        vec![("container_restarts", self.restarted), ("pods_rejected", self.rejected), ("orphans_killed", self.orphans_killed)]
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        if let Input::WriteResult { id, result } = &input
            && self.recorder.answered(*id, result, out)
        {
            return;
        }
        self.handle_input(now, input, view, out);
        self.recorder.flush(out);
    }
}

impl Kubelet {
    fn handle_input(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        match input {
            Input::Synced => {
                if self.runtime_synced {
                    self.sync_all(now, view, out);
                } else {
                    self.request_list(out);
                }
                if self.heartbeat_due.is_none() {
                    self.heartbeat(now, view, out);
                }
            }
            Input::Watch(ev) => {
                let Object::Pod(p) = &ev.object else { return };
                if !self.runtime_synced {
                    return;
                }
                let uid = p.metadata.uid.clone();
                if ev.type_ != WatchEventType::Deleted && p.spec.node_name == self.node {
                    self.adopt(now, p, view);
                }
                self.sync(now, &uid, view, out);
            }
            Input::Timer { token } => match self.wakes.remove(&token) {
                Some(Wake::Heartbeat) if self.heartbeat_due.is_some_and(|d| d <= now) => self.heartbeat(now, view, out),
                Some(Wake::Sync(uid)) => {
                    if self.workers.get(&uid).is_some_and(|w| w.sync_at.is_some_and(|t| t <= now)) {
                        self.sync(now, &uid, view, out);
                    }
                }
                Some(Wake::Probe { uid, container, kind }) => self.run_probe(&uid, &container, kind, out),
                _ => {}
            },
            Input::WriteResult { id, result } => match self.api_inflight.remove(&id) {
                Some(ApiWrite::Status(uid)) => {
                    if let Some(w) = self.workers.get_mut(&uid) {
                        w.status_inflight = false;
                        if result.is_err() {
                            self.sync_later(&uid, now + RETRY, out);
                        } else {
                            self.sync(now, &uid, view, out);
                        }
                    }
                }
                Some(ApiWrite::ConfirmDelete(uid)) => {
                    if let Err(e) = result
                        && !e.is_not_found()
                        && let Some(w) = self.workers.get_mut(&uid)
                    {
                        w.delete_sent = false;
                        self.sync_later(&uid, now + RETRY, out);
                    }
                }
                _ => {}
            },
            Input::RuntimeResult { id, result } => {
                if let Some((None, RuntimeOp::Probe { container, kind })) = self.rt_inflight.get(&id).cloned() {
                    self.rt_inflight.remove(&id);
                    let ok = matches!(result, Ok(RuntimeReply::Probe(true)));
                    return self.on_probe(now, container, kind, ok, view, out);
                }
                self.on_runtime_result(now, id, result, view, out);
            }
            Input::RuntimeEvent(exit) => {
                if self.runtime_synced {
                    self.on_exit(now, exit, view, out);
                }
            }
        }
    }
}

