//! The simulation driver: the virtual clock and the event queue around the
//! driver core (`driver::Core`: the API server over the simulated etcd, the
//! components and their caches). Faults live beside it: the network
//! (`network.rs`), etcd (`etcd_faults.rs`), the container runtimes
//! (`runtimes.rs`); invariants are `check::Checker`s.
//!
//! A write's path: a component's write at t0 reaches the API server at
//! t0 + api latency + etcd latency, where it commits (or fails); each commit
//! fans out to every watcher of that kind at commit + watch latency, never
//! overtaking an earlier delivery to the same watcher; the answer returns at
//! commit + api latency.

use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use super::etcd_faults::EtcdFaults;
use super::network::Network;
use super::queue::EventQueue;
use super::runtimes::SimRuntimes;
use super::storage::SimStorage;
use super::trace::{Trace, TraceKind, TraceRecord};
use crate::api::{ApiError, ApiServer, WatchEvent};
use crate::check::{CheckOutcome, Checker, Commit, ContainerStart, Violation};
use crate::control::{Cache, Component, Input, RequestId, WriteOp};
use crate::driver::{Core, REQUEST_TIMEOUT, Sent, SlotId, timeout_error};
use crate::model::{Kind, Namespace, Object, ObjectMeta, ObjectRef};
use crate::report::observer::Observer;
use crate::runtime::fake::PlannedExit;
use crate::runtime::model::RuntimeModel;
use crate::runtime::{ContainerExit, ContainerInfo, RuntimeOp};
use crate::scenario::schema::TimingSpec;
use crate::scenario::{Action, CountCheck, Scenario, TimedAction};
use crate::seed::stream;
use crate::time::SimTime;

pub use crate::driver::in_scope;
pub use crate::driver::{execute, actions::perform_api_action};

pub const ETCD_PREFIX: &str = "/registry";

type CompId = u32;

#[derive(Debug)]
enum Ev {
    Start { comp: CompId, incarnation: u32 },
    /// `name`: the object's trace name, shared by all deliveries of one commit.
    Deliver { comp: CompId, stream: u32, event: WatchEvent, name: Arc<str> },
    Request { comp: CompId, id: RequestId, op: WriteOp, target: Arc<str> },
    Response { comp: CompId, id: RequestId, target: Arc<str>, result: Result<Object, ApiError> },
    Timer { comp: CompId, token: u64, incarnation: u32 },
    Action(usize),
    Check(usize),
    /// kube-apiserver's periodic etcd compaction.
    Compact,
    /// etcd leases (Events' TTL) run out: their keys are deleted.
    ExpireLeases,
    /// A metrics sample.
    Sample,
    /// A runtime call completes on the caller's node and is answered.
    RuntimeDone { comp: CompId, node: Arc<str>, epoch: u32, id: RequestId, op: RuntimeOp },
    /// A container exit the node's runtime planned.
    ContainerExit { node: Arc<str>, epoch: u32, planned: PlannedExit },
    /// A timed network or cache fault on a component may be over.
    NetHeal(CompId),
    /// Liveness is evaluated (every second until it holds or the deadline).
    Liveness,
}

impl Ev {
    /// Housekeeping recurs forever; only other events count as pending work.
    fn is_work(&self) -> bool {
        !matches!(self, Ev::Compact | Ev::Sample | Ev::ExpireLeases)
    }
}

/// What the simulator keeps per component besides the core's slot: its
/// random streams and when its last watch delivery is due.
struct Wire {
    api_rng: ChaCha8Rng,
    watch_rng: ChaCha8Rng,
    /// Latest scheduled delivery: later ones never overtake it (per-watcher FIFO).
    last_delivery: SimTime,
}

/// Why a run could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("stall at {t}: the scenario is unfinished but nothing is pending; waiting: {waiting}")]
    Stall { t: SimTime, waiting: String },
    #[error("setup failed: {0}")]
    Setup(String),
}

pub struct World {
    now: SimTime,
    seed: u64,
    until: SimTime,
    queue: EventQueue<Ev>,
    work_pending: usize,
    /// When the next lease expiry is scheduled for (Events' TTL).
    lease_wake: Option<SimTime>,
    core: Core<SimStorage>,
    wires: Vec<Wire>,
    net: Network,
    etcd: EtcdFaults,
    runtimes: SimRuntimes,
    runtime_model: Arc<RuntimeModel>,
    timing: TimingSpec,
    etcd_rng: ChaCha8Rng,
    trace: Trace,
    observer: Observer,
    checkers: Vec<Box<dyn Checker>>,
    violations: Vec<Violation>,
    timeline: Vec<TimedAction>,
    checks: Vec<CountCheck>,
    check_outcomes: Vec<CheckOutcome>,
    /// Per scenario check: has it been decided (a result recorded)?
    checks_decided: Vec<bool>,
    scenario_actor: Arc<str>,
    empty: Arc<str>,
    liveness_deadline: SimTime,
    /// Whose write is committing now (for invariants that care who acted).
    actor: Arc<str>,
    /// The fixed words of trace details, allocated once.
    words: Words,
    /// Events and steps this run may take before it counts as a storm.
    budget: crate::scenario::budget::Budget,
}

/// Shared strings for the words trace records repeat (event types, verbs,
/// answers), so recording an event allocates nothing for them.
struct Words(std::collections::BTreeMap<&'static str, Arc<str>>);

impl Words {
    fn new() -> Words {
        let all = ["ADDED", "MODIFIED", "DELETED", "ok", "create", "update", "update-status", "delete", "bind"];
        let runtime = ["RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PullImage", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "List", "Probe"];
        Words(all.iter().chain(&runtime).map(|w| (*w, Arc::from(*w))).collect())
    }
    fn get(&self, w: &'static str) -> Arc<str> {
        self.0.get(w).cloned().unwrap_or_else(|| Arc::from(w))
    }
}

/// The checks a budget breach reports under.
pub const BUDGET_EVENTS: &str = "event-budget";
pub const BUDGET_STEPS: &str = "step-budget";

/// What a finished run produced.
pub struct RunOutcome {
    pub seed: u64,
    pub end: SimTime,
    pub events: u64,
    /// Loop steps taken (events popped, watch deliveries included).
    pub steps: u64,
    /// The budgets the run ran under.
    pub budget: crate::scenario::budget::Budget,
    pub trace_sha256: String,
    pub violations: Vec<Violation>,
    pub checks: Vec<CheckOutcome>,
    pub stall: Option<SimError>,
    pub trace: Trace,
    pub observer: Observer,
    /// Nodes and pods in the store when the run ended.
    pub final_nodes: Vec<Object>,
    pub final_pods: Vec<Object>,
    /// Events in the store when the run ended (events.csv).
    pub final_events: Vec<Object>,
    /// Each component's counters, by component name.
    pub component_stats: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// What the run exercised: each checker's rule counts and every
    /// component counter summed by kind of component (see `coverage`).
    pub coverage: std::collections::BTreeMap<String, u64>,
}

impl RunOutcome {
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.stall.is_none() && self.checks.iter().all(|c| c.ok)
    }
}

impl World {
    /// A world with the API server and nothing else; `keep_trace` keeps the
    /// records for events.jsonl (the hash is always computed).
    pub fn new(seed: u64, until: SimTime, timing: TimingSpec, keep_trace: bool) -> World {
        World {
            now: SimTime::ZERO,
            seed,
            until,
            queue: EventQueue::with_capacity(1024),
            work_pending: 0,
            lease_wake: None,
            core: Core::new(ApiServer::new(SimStorage::new(), ETCD_PREFIX, stream(seed, "apiserver"))),
            wires: Vec::new(),
            net: Network::new(stream(seed, "network")),
            etcd: EtcdFaults::default(),
            runtimes: SimRuntimes::default(),
            runtime_model: Arc::new(RuntimeModel::default()),
            timing,
            etcd_rng: stream(seed, "etcd"),
            trace: Trace::new(keep_trace),
            observer: Observer::new(),
            checkers: crate::check::default_checkers(),
            violations: Vec::new(),
            timeline: Vec::new(),
            checks: Vec::new(),
            check_outcomes: Vec::new(),
            checks_decided: Vec::new(),
            scenario_actor: Arc::from("scenario"),
            empty: Arc::from(""),
            liveness_deadline: SimTime::ZERO,
            actor: Arc::from("scenario"),
            words: Words::new(),
            budget: crate::scenario::budget::Budget::UNLIMITED,
        }
    }

    /// Builds the world a scenario describes: namespaces, nodes and objects
    /// created at time zero, then `components` started, then the timeline.
    pub fn from_scenario(s: &Scenario, seed: u64, until: SimTime, components: Vec<Box<dyn Component>>, keep_trace: bool) -> Result<World, SimError> {
        let mut w = World::new(seed, until, s.timing.clone(), keep_trace);
        w.budget = s.budget(until.since(SimTime::ZERO));
        w.runtime_model = s.runtime.clone();
        for ns in &s.namespaces {
            let obj = Namespace { metadata: ObjectMeta { name: ns.clone(), ..Default::default() }, ..Default::default() };
            w.setup_create(obj.into())?;
        }
        for n in &s.nodes {
            w.setup_create(n.clone().into())?;
        }
        for o in &s.objects {
            let r = ObjectRef::of(&o.object);
            w.core.api.create(o.object.clone(), SimTime::ZERO).map_err(|e| SimError::Setup(format!("{}:{}:{}: {r}: {e}", o.file, o.pos.line, o.pos.column)))?;
            w.fan_out();
        }
        for c in components {
            w.add_component(c);
        }
        for (i, a) in s.timeline.iter().enumerate() {
            w.push(a.at, Ev::Action(i));
        }
        w.timeline = s.timeline.clone();
        for (i, c) in s.checks.iter().enumerate() {
            w.push(c.at, Ev::Check(i));
        }
        w.checks = s.checks.clone();
        w.checks_decided = vec![false; s.checks.len()];
        if let Some((at, within)) = s.liveness {
            w.liveness_deadline = (SimTime::ZERO + at + within).min(until);
            w.push(SimTime::ZERO + at, Ev::Liveness);
        }
        w.push(SimTime::ZERO, Ev::Sample);
        w.push(SimTime::ZERO + w.timing.compaction_interval.0, Ev::Compact);
        Ok(w)
    }

    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn api(&self) -> &ApiServer<SimStorage> {
        &self.core.api
    }
    /// Direct API access, as the scenario's operator; call `fan_out` after writing.
    pub fn api_mut(&mut self) -> &mut ApiServer<SimStorage> {
        &mut self.core.api
    }

    fn push(&mut self, at: SimTime, ev: Ev) {
        if ev.is_work() {
            self.work_pending += 1;
        }
        self.queue.push(at.max(self.now), ev);
    }

    fn setup_create(&mut self, obj: Object) -> Result<(), SimError> {
        let r = ObjectRef::of(&obj);
        self.core.api.create(obj, self.now).map_err(|e| SimError::Setup(format!("{r}: {e}")))?;
        self.fan_out();
        Ok(())
    }

    /// Registers a component; it starts (lists its kinds) at the current time.
    pub fn add_component(&mut self, comp: Box<dyn Component>) {
        let name = comp.name().to_string();
        if let Some(node) = comp.runtime_node()
            && !self.runtimes.has(node)
        {
            let rng = stream(self.seed, &format!("runtime/{node}"));
            self.runtimes.add_node(node, self.runtime_model.clone(), self.timing.pod_start_latency.clone(), self.timing.pod_stop_latency.clone(), rng);
        }
        let id = self.core.add(comp) as CompId;
        self.wires.push(Wire { api_rng: stream(self.seed, &format!("api/{name}")), watch_rng: stream(self.seed, &format!("watch/{name}")), last_delivery: SimTime::ZERO });
        self.net.add_link();
        self.push(self.now, Ev::Start { comp: id, incarnation: 0 });
    }

    fn rec(&mut self, kind: TraceKind, component: Arc<str>, object: Arc<str>, revision: i64, detail: Arc<str>) {
        self.trace.record(TraceRecord { t: self.now, kind, component, object, revision, detail });
    }

    /// `pods/default/web-1` from an etcd key.
    fn object_name(key: &str) -> Arc<str> {
        Arc::from(key.strip_prefix(ETCD_PREFIX).map_or(key, |k| k.trim_start_matches('/')))
    }

    /// Drains committed changes: trace, observe, check, and schedule deliveries.
    pub fn fan_out(&mut self) {
        let events = self.core.api.storage.drain_events();
        for ev in events {
            let obj = Self::object_name(&ev.key);
            let empty = self.empty.clone();
            let detail = self.words.get(ev.type_.as_str());
            self.rec(TraceKind::Commit, empty, obj.clone(), ev.revision, detail);
            self.observer.observe(self.now, &ev);
            let at = Commit { now: self.now, index: self.trace.len(), actor: &self.actor };
            for c in &mut self.checkers {
                c.on_commit(&at, &ev, &mut self.violations);
            }
            self.net.committed(self.now, ev.revision);
            let recipients = self.core.recipients(&ev.object).to_vec();
            for id in recipients {
                if !self.core.slot(id).up || self.net.partitioned(id, self.now) {
                    continue;
                }
                let extra = self.net.extra(id, self.now) + self.net.stale_lag(id, self.now);
                let wire = &mut self.wires[id];
                let at = (self.now + self.timing.watch_latency.sample(&mut wire.watch_rng) + extra).max(wire.last_delivery);
                wire.last_delivery = at;
                let stream = self.core.slot(id).stream;
                self.push(at, Ev::Deliver { comp: id as CompId, stream, event: ev.clone(), name: obj.clone() });
            }
        }
        // A lease granted by these writes may run out before the one scheduled.
        if let Some(t) = self.core.api.storage.etcd.next_lease_expiry()
            && self.lease_wake.is_none_or(|w| t < w)
        {
            self.lease_wake = Some(t);
            self.push(t, Ev::ExpireLeases);
        }
    }

    fn call(&mut self, id: CompId, input: Input) {
        self.core.call(id as SlotId, self.now, input);
        self.send_all();
    }

    /// Carries what components asked for: writes to the API server (or into
    /// a partition), runtime calls to their node, timers to the queue.
    fn send_all(&mut self) {
        let sent = self.core.take_sent();
        if sent.is_empty() {
            self.core.give_back(sent);
            return;
        }
        let mut sent = sent;
        for s in sent.drain(..) {
            self.send(s);
        }
        self.core.give_back(sent);
    }

    fn send(&mut self, sent: Sent) {
        match sent {
            Sent::Write { slot, id: req, op } => {
                let name = self.core.slot(slot).name.clone();
                let obj: Arc<str> = Arc::from(op.target().to_string());
                if self.net.partitioned(slot, self.now) || self.net.lost(slot, self.now) {
                    // Never reaches the API server: the client times out.
                    let verb = self.words.get(op.verb());
                    self.rec(TraceKind::Request, name, obj.clone(), 0, verb);
                    self.push(self.now + REQUEST_TIMEOUT, Ev::Response { comp: slot as CompId, id: req, target: obj, result: Err(timeout_error()) });
                    return;
                }
                let extra = self.net.extra(slot, self.now);
                let etcd = self.etcd.latency(self.now, &self.timing.etcd_latency).clone();
                let delay = self.timing.api_latency.sample(&mut self.wires[slot].api_rng) + etcd.sample(&mut self.etcd_rng) + extra;
                let verb = self.words.get(op.verb());
                self.rec(TraceKind::Request, name, obj.clone(), 0, verb);
                self.push(self.now + delay, Ev::Request { comp: slot as CompId, id: req, op, target: obj });
            }
            Sent::Timer { slot, at, token, incarnation } => self.push(at, Ev::Timer { comp: slot as CompId, token, incarnation }),
            Sent::Runtime { slot, id: req, op } => {
                let Some(node) = self.core.slot(slot).scope.clone() else { return };
                let Some(delay) = self.runtimes.duration(&node, &op) else { return };
                let epoch = self.runtimes.epoch(&node);
                let name = self.core.slot(slot).name.clone();
                let empty = self.empty.clone();
                let verb = self.words.get(op.verb());
                self.rec(TraceKind::Runtime, name, empty, 0, verb);
                self.push(self.now + delay, Ev::RuntimeDone { comp: slot as CompId, node, epoch, id: req, op });
            }
        }
    }

    fn start(&mut self, id: CompId, incarnation: u32) {
        let slot = self.core.slot(id as SlotId);
        if !slot.up || slot.incarnation() != incarnation {
            return;
        }
        let kinds = slot.kinds.clone();
        for kind in kinds {
            self.relist(id, kind, "start");
        }
        self.call(id, Input::Synced);
    }

    /// Lists `kind` into the component's cache and hands it the differences.
    fn relist(&mut self, id: CompId, kind: Kind, why: &str) {
        let sid = id as SlotId;
        let seen = self.core.slot(sid).cache.revision(kind);
        let at = self.net.stale_revision(sid, self.now, seen);
        let name = self.core.slot(sid).name.clone();
        let empty = self.empty.clone();
        match self.core.list(sid, kind, at) {
            Ok((objects, rev)) => {
                self.rec(TraceKind::Relist, name, empty, rev, Arc::from(format!("{} {why}", kind.plural())));
                self.core.relisted(sid, self.now, kind, objects, rev);
                self.send_all();
            }
            Err(e) => self.rec(TraceKind::Relist, name, empty, 0, Arc::from(format!("{kind} list failed: {e}"))),
        }
    }

    /// Breaks and resumes a component's watches from its cache's revision, as
    /// a reconnecting reflector does; a compacted revision (410 Gone) relists,
    /// then the component gets Synced. Deliveries already in flight to it are dropped.
    pub fn reconnect_watches(&mut self, id: usize) {
        let name = self.core.slot(id).name.clone();
        let mut relisted = false;
        for (kind, from, resumed) in self.core.resume(id) {
            let empty = self.empty.clone();
            match resumed {
                Ok(events) => {
                    self.rec(TraceKind::Relist, name.clone(), empty, from, Arc::from(format!("{} resumed", kind.plural())));
                    let stream = self.core.slot(id).stream;
                    for ev in events {
                        let wire = &mut self.wires[id];
                        let at = (self.now + self.timing.watch_latency.sample(&mut wire.watch_rng)).max(wire.last_delivery);
                        wire.last_delivery = at;
                        let name = Self::object_name(&ev.key);
                        self.push(at, Ev::Deliver { comp: id as CompId, stream, event: ev, name });
                    }
                }
                Err(ApiError::Gone { .. } | ApiError::Unsupported(_)) => {
                    self.relist(id as CompId, kind, "relisted after 410 Gone");
                    relisted = true;
                }
                Err(e) => self.rec(TraceKind::Relist, name.clone(), empty, from, Arc::from(format!("{} watch failed: {e}", kind.plural()))),
            }
        }
        if relisted {
            self.call(id as CompId, Input::Synced);
        }
    }

    fn heal(&mut self, id: usize, all: bool) {
        if self.net.heal(id, self.now, all) {
            let name = self.core.slot(id).name.clone();
            let empty = self.empty.clone();
            self.rec(TraceKind::Fault, name, empty, 0, Arc::from("partition healed"));
            if self.core.slot(id).up {
                self.reconnect_watches(id);
            }
        }
    }

    fn components_named(&self, names: &[String]) -> Result<Vec<usize>, ApiError> {
        names.iter().map(|n| self.core.find(n).ok_or_else(|| ApiError::BadRequest(format!("no component {n:?}")))).collect()
    }

    fn kubelet_of(&self, node: &str) -> Result<usize, ApiError> {
        self.core.kubelet_of(node).ok_or_else(|| ApiError::BadRequest(format!("node {node:?} has no kubelet")))
    }

    /// Finds a component by name.
    pub fn component_id(&self, name: &str) -> Option<usize> {
        self.core.find(name)
    }

    /// Crashes a component: it receives nothing more, its timers and in-flight
    /// answers are lost, until `restart_component`.
    pub fn crash_component(&mut self, id: usize) {
        self.core.crash(id);
    }

    /// Restarts a crashed component: fresh caches, a full relist, then Synced.
    pub fn restart_component(&mut self, id: usize) {
        if self.core.restart(id) {
            self.wires[id].last_delivery = self.now;
            let incarnation = self.core.slot(id).incarnation();
            self.push(self.now, Ev::Start { comp: id as CompId, incarnation });
        }
    }

    fn deliver(&mut self, id: CompId, stream: u32, event: WatchEvent, obj: Arc<str>) {
        let sid = id as SlotId;
        let slot = self.core.slot(sid);
        if !slot.up || slot.stream != stream || self.net.partitioned(sid, self.now) {
            return;
        }
        let name = slot.name.clone();
        if let Some(o) = self.core.apply_watch(sid, &event) {
            let v = Violation {
                check: "watch-order".into(),
                t: self.now,
                event_index: self.trace.len(),
                message: format!("{} saw revision {} after {}", o.component, o.revision, o.after),
                objects: vec![obj.to_string()],
            };
            self.violations.push(v);
        }
        let detail = self.words.get(event.type_.as_str());
        self.rec(TraceKind::Deliver, name, obj, event.revision, detail);
        self.call(id, Input::Watch(event));
    }

    fn run_action(&mut self, index: usize) {
        let action = self.timeline[index].action.clone();
        let actor = self.scenario_actor.clone();
        let label: Arc<str> = Arc::from(action.describe());
        let empty = self.empty.clone();
        self.rec(TraceKind::Action, actor, empty, 0, label.clone());
        if let Err(e) = self.perform(action) {
            let v = Violation {
                check: "action-failed".into(),
                t: self.now,
                event_index: self.trace.len(),
                message: format!("timeline action `{label}` failed: {e}"),
                objects: vec![],
            };
            self.violations.push(v);
        }
        self.fan_out();
    }

    fn perform(&mut self, action: Action) -> Result<(), ApiError> {
        let now = self.now;
        match &action {
            Action::Apply(_) | Action::Scale(_) | Action::Patch(_) | Action::Delete(_) | Action::Rollback(_) => perform_api_action(&mut self.core.api, &action, now)?,
            Action::EtcdSlow(a) => self.etcd.slow_until(a.latency.clone(), now + a.duration.0),
            Action::EtcdUnavailable(a) => self.etcd.unavailable_until(now + a.duration.0),
            Action::EtcdCompact(_) => EtcdFaults::compact_now(&mut self.core.api.storage.etcd),
            Action::CrashComponent(a) => {
                let id = self.core.find(&a.name).ok_or_else(|| ApiError::BadRequest(format!("no component {:?}", a.name)))?;
                self.crash_component(id);
            }
            Action::RestartComponent(a) => {
                let id = self.core.find(&a.name).ok_or_else(|| ApiError::BadRequest(format!("no component {:?}", a.name)))?;
                self.restart_component(id);
            }
            Action::CrashNode(a) => {
                let ids = self.core.on_node(&a.node);
                if ids.is_empty() {
                    return Err(ApiError::BadRequest(format!("node {:?} has no components", a.node)));
                }
                for id in ids {
                    self.crash_component(id);
                }
                self.runtimes.wipe(&a.node);
            }
            Action::RestartNode(a) => {
                for id in self.core.on_node(&a.node) {
                    self.restart_component(id);
                }
            }
            Action::StopKubelet(a) => {
                let id = self.kubelet_of(&a.node)?;
                self.crash_component(id);
            }
            Action::StartKubelet(a) => {
                let id = self.kubelet_of(&a.node)?;
                self.restart_component(id);
            }
            Action::Partition(a) => {
                let until = a.duration.map(|d| now + d.0);
                for id in self.components_named(&a.resolved)? {
                    self.net.partition(id, until);
                    if let Some(at) = until {
                        self.push(at, Ev::NetHeal(id as CompId));
                    }
                }
            }
            Action::HealPartitions(_) => {
                for id in 0..self.core.len() {
                    if self.net.is_partitioned_at_all(id) {
                        self.heal(id, true);
                    }
                }
            }
            Action::LinkDelay(a) => {
                for id in self.components_named(&a.resolved)? {
                    self.net.delay(id, a.latency.clone(), now + a.duration.0);
                    self.push(now + a.duration.0, Ev::NetHeal(id as CompId));
                }
            }
            Action::LinkLoss(a) => {
                for id in self.components_named(&a.resolved)? {
                    self.net.loss(id, a.probability, now + a.duration.0);
                    self.push(now + a.duration.0, Ev::NetHeal(id as CompId));
                }
            }
            Action::StaleCache(a) => {
                for id in self.components_named(std::slice::from_ref(&a.component))? {
                    self.net.stale(id, a.lag.0, now + a.duration.0);
                    self.push(now + a.duration.0, Ev::NetHeal(id as CompId));
                }
            }
            Action::CrashContainers(a) => {
                for (node, c, pod) in self.runtimes.crash_matching(now, a.namespace.as_deref(), &a.selector, a.exit_code()) {
                    self.container_exited(&node, c, pod);
                }
            }
        }
        Ok(())
    }

    fn run_check(&mut self, index: usize) {
        let check = self.checks[index].clone();
        let objects = self.core.api.list(check.filter.kind, None).map(|(o, _)| o).unwrap_or_default();
        let mut outcome = crate::check::count::evaluate(&check, objects.iter());
        if let Some(until) = check.until {
            // "Eventually": keep looking every second until it holds or time is up.
            if !outcome.ok && self.now + std::time::Duration::from_secs(1) <= until {
                self.push(self.now + std::time::Duration::from_secs(1), Ev::Check(index));
                return;
            }
            outcome.at = self.now;
        }
        let actor = self.scenario_actor.clone();
        let detail = format!("{} {} (observed {}, expected {})", check.name, if outcome.ok { "ok" } else { "FAILED" }, outcome.observed, outcome.expected);
        let empty = self.empty.clone();
        self.rec(TraceKind::Check, actor, empty, 0, Arc::from(detail));
        if !outcome.ok {
            let v = Violation {
                check: check.name.clone(),
                t: self.now,
                event_index: self.trace.len(),
                message: format!("expected {} {} {}, observed {}", check.filter.kind.plural(), describe_filter(&check), outcome.expected, outcome.observed),
                objects: vec![],
            };
            self.violations.push(v);
        }
        self.check_outcomes.push(outcome);
        self.checks_decided[index] = true;
    }

    fn run_liveness(&mut self) {
        let mut objects = Vec::new();
        for kind in crate::check::liveness::kinds() {
            objects.extend(self.core.api.list(kind, None).map(|(o, _)| o).unwrap_or_default());
        }
        let problems = crate::check::liveness::problems(self.now, objects.iter());
        let next = self.now + std::time::Duration::from_secs(1);
        if !problems.is_empty() && next <= self.liveness_deadline {
            self.push(next, Ev::Liveness);
            return;
        }
        let actor = self.scenario_actor.clone();
        let empty = self.empty.clone();
        let detail = if problems.is_empty() { "liveness ok".to_string() } else { format!("liveness FAILED: {}", problems.join("; ")) };
        self.rec(TraceKind::Check, actor, empty, 0, Arc::from(detail));
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(5).cloned().collect();
            let more = if problems.len() > 5 { format!(" (and {} more)", problems.len() - 5) } else { String::new() };
            let v = Violation {
                check: "liveness".into(),
                t: self.now,
                event_index: self.trace.len(),
                message: format!("the cluster is not whole by the liveness deadline: {}{more}", shown.join("; ")),
                objects: vec![],
            };
            self.violations.push(v);
        }
    }

    /// A violation if the run has gone past its events or steps budget.
    fn over_budget(&self, steps: u64) -> Option<Violation> {
        let events = self.trace.len();
        let (check, used, limit, what) = if events > self.budget.events {
            (BUDGET_EVENTS, events, self.budget.events, "events")
        } else if steps > self.budget.steps {
            (BUDGET_STEPS, steps, self.budget.steps, "steps")
        } else {
            return None;
        };
        let message = format!("the run took {used} {what} by {}, over its budget of {limit} (an event storm?); the run stopped here; {}", self.now, self.budget.how_to_raise());
        Some(Violation { check: check.into(), t: self.now, event_index: events, message, objects: vec![] })
    }

    fn compact(&mut self) {
        if let Some(target) = self.etcd.periodic_compaction(&mut self.core.api.storage.etcd) {
            let actor: Arc<str> = Arc::from("apiserver");
            let empty = self.empty.clone();
            self.rec(TraceKind::Compact, actor, empty, target, empty_detail());
        }
        self.push(self.now + self.timing.compaction_interval.0, Ev::Compact);
    }

    /// Runs until virtual time `until`. `progress` is called now and then with
    /// the current time. A stall (unfinished, nothing pending, someone waiting)
    /// ends the run early and is reported in the outcome.
    pub fn run(mut self, progress: &mut dyn FnMut(SimTime)) -> RunOutcome {
        let mut stall = None;
        let mut processed: u64 = 0;
        while let Some(t) = self.queue.peek_time() {
            if t > self.until {
                break;
            }
            if self.work_pending == 0
                && let Some(waiting) = self.core.waiting()
            {
                stall = Some(SimError::Stall { t: self.now, waiting });
                break;
            }
            let Some((t, ev)) = self.queue.pop() else { break };
            if ev.is_work() {
                self.work_pending -= 1;
            }
            self.now = t;
            self.step(ev);
            processed += 1;
            if processed.is_multiple_of(4096) {
                progress(self.now);
            }
            if let Some(v) = self.over_budget(processed) {
                self.violations.push(v);
                break;
            }
        }
        if stall.is_none() && self.work_pending == 0 && self.queue.is_empty() {
            // Nothing left at all before the end: fine unless someone is waiting.
            if let Some(waiting) = self.core.waiting() {
                stall = Some(SimError::Stall { t: self.now, waiting });
            }
        }
        let stopped_early = self.violations.iter().any(|v| v.check == BUDGET_EVENTS || v.check == BUDGET_STEPS);
        let end = if stall.is_some() || stopped_early { self.now } else { self.until };
        progress(end);
        let mut checks = self.check_outcomes;
        for (check, _) in self.checks.iter().zip(&self.checks_decided).filter(|(_, decided)| !**decided) {
            checks.push(crate::check::count::not_evaluated(check, end, stall.is_some()));
        }
        let component_stats = self.core.stats();
        let coverage = coverage(&self.checkers, &component_stats);
        let final_nodes = self.core.api.list(Kind::Node, None).map(|(o, _)| o).unwrap_or_default();
        let final_pods = self.core.api.list(Kind::Pod, None).map(|(o, _)| o).unwrap_or_default();
        let final_events = self.core.api.list(Kind::Event, None).map(|(o, _)| o).unwrap_or_default();
        RunOutcome {
            final_events,
            final_nodes,
            final_pods,
            seed: self.seed,
            end,
            events: self.trace.len(),
            steps: processed,
            budget: self.budget,
            trace_sha256: self.trace.sha256(),
            violations: self.violations,
            checks,
            stall,
            trace: self.trace,
            observer: self.observer,
            component_stats,
            coverage,
        }
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Start { comp, incarnation } => self.start(comp, incarnation),
            Ev::Deliver { comp, stream, event, name } => self.deliver(comp, stream, event, name),
            Ev::Request { comp, id, op, target } => {
                let result = if self.etcd.down(self.now) { Err(ApiError::Storage("etcdserver: request timed out".into())) } else { self.core.execute(op, self.now) };
                self.actor = self.core.slot(comp as SlotId).name.clone();
                self.fan_out();
                self.actor = self.scenario_actor.clone();
                let extra = self.net.extra(comp as SlotId, self.now);
                let back = self.timing.api_latency.sample(&mut self.wires[comp as usize].api_rng) + extra;
                self.push(self.now + back, Ev::Response { comp, id, target, result });
            }
            Ev::Response { comp, id, target, mut result } => {
                let sid = comp as SlotId;
                if !self.core.expects(sid, id) {
                    return;
                }
                if self.net.partitioned(sid, self.now) && result.is_ok() {
                    // Committed, but the answer is lost on the way back.
                    result = Err(timeout_error());
                }
                let name = self.core.slot(sid).name.clone();
                let detail: Arc<str> = match &result {
                    Ok(_) => self.words.get("ok"),
                    Err(e) => Arc::from(format!("{} {}: {e}", e.code(), e.reason())),
                };
                let rev = result.as_ref().map_or(0, |o| o.meta().revision());
                self.rec(TraceKind::Response, name, target, rev, detail);
                self.core.answer_write(sid, self.now, id, result);
                self.send_all();
            }
            Ev::Timer { comp, token, incarnation } => {
                let slot = self.core.slot(comp as SlotId);
                if !slot.up || slot.incarnation() != incarnation {
                    return;
                }
                let name = slot.name.clone();
                let empty = self.empty.clone();
                self.rec(TraceKind::Timer, name, empty, 0, empty_detail());
                self.core.fire_timer(comp as SlotId, self.now, token, incarnation);
                self.send_all();
            }
            Ev::Action(i) => self.run_action(i),
            Ev::Check(i) => self.run_check(i),
            Ev::Compact => self.compact(),
            Ev::ExpireLeases => {
                self.lease_wake = None;
                self.core.api.storage.expire_leases(self.now);
                self.fan_out();
                self.send_all();
            }
            Ev::RuntimeDone { comp, node, epoch, id, op } => self.runtime_done(comp, &node, epoch, id, op),
            Ev::NetHeal(comp) => self.heal(comp as usize, false),
            Ev::Liveness => self.run_liveness(),
            Ev::ContainerExit { node, epoch, planned } => {
                if let Some((info, pod)) = self.runtimes.exit(&node, epoch, self.now, &planned) {
                    self.container_exited(&node, info, pod);
                }
            }
            Ev::Sample => {
                self.observer.sample(self.now, self.trace.len());
                self.push(self.now + self.timing.metrics_interval.0, Ev::Sample);
            }
        }
    }

    fn runtime_done(&mut self, comp: CompId, node: &Arc<str>, epoch: u32, id: RequestId, op: RuntimeOp) {
        let Some(done) = self.runtimes.complete(node, epoch, self.now, op) else { return };
        let name = self.core.slot(comp as SlotId).name.clone();
        let obj: Arc<str> = Arc::from(done.pod.unwrap_or_default());
        self.rec(TraceKind::RuntimeDone, name, obj, 0, Arc::from(done.detail));
        if let Some(p) = done.planned {
            let at = p.at;
            self.push(at, Ev::ContainerExit { node: node.clone(), epoch, planned: p });
        }
        if let Some((pod, container)) = &done.started {
            let at = ContainerStart { now: self.now, index: self.trace.len(), node, pod, container };
            for c in &mut self.checkers {
                c.on_container_start(&at, &self.runtimes, &mut self.violations);
            }
        }
        self.core.answer_runtime(comp as SlotId, self.now, id, done.result);
        self.send_all();
    }

    fn container_exited(&mut self, node: &Arc<str>, info: ContainerInfo, pod: String) {
        let detail = Arc::from(format!("{} exited {} {}", info.id, info.exit_code, info.reason));
        self.rec(TraceKind::ContainerExit, node.clone(), Arc::from(pod), 0, detail);
        if let Ok(id) = self.kubelet_of(node) {
            self.call(id as CompId, Input::RuntimeEvent(ContainerExit { container: info }));
        }
    }

    /// Runs until the queue holds nothing but housekeeping (or `until`), for tests.
    pub fn settle(&mut self) {
        while self.work_pending > 0 {
            let Some((t, ev)) = self.queue.pop() else { break };
            if t > self.until {
                self.queue.push(t, ev);
                break;
            }
            if ev.is_work() {
                self.work_pending -= 1;
            }
            self.now = t;
            self.step(ev);
        }
    }

    /// A component's cache, for tests and reports.
    pub fn cache(&self, id: usize) -> &Cache {
        &self.core.slot(id).cache
    }

    /// Adds a checker beside the always-on ones (tests and tools that watch a run).
    pub fn add_checker(&mut self, c: Box<dyn Checker>) {
        self.checkers.push(c);
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Runs until at least `t`, for tests.
    pub fn advance_to(&mut self, t: SimTime) {
        while let Some(next) = self.queue.peek_time() {
            if next > t {
                break;
            }
            let Some((at, ev)) = self.queue.pop() else { break };
            if ev.is_work() {
                self.work_pending -= 1;
            }
            self.now = at;
            self.step(ev);
        }
        self.now = self.now.max(t);
    }

    /// Creates an object directly, as the scenario would, and delivers its events.
    pub fn create_now(&mut self, obj: Object) -> Result<Object, ApiError> {
        let r = self.core.api.create(obj, self.now);
        self.fan_out();
        r
    }
}

/// Checker rule counts, plus component counters summed over instances:
/// `kubelet/worker-1` and `kubelet/worker-2` add up under `kubelet.<counter>`,
/// `scheduler-1` and `scheduler-2` under `scheduler.<counter>`.
fn coverage(checkers: &[Box<dyn Checker>], stats: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for c in checkers {
        for (k, v) in c.coverage() {
            *out.entry(k.to_string()).or_insert(0) += v;
        }
    }
    for (component, counters) in stats {
        let base = component.split('/').next().unwrap_or(component);
        let base = match base.rsplit_once('-') {
            Some((prefix, n)) if n.parse::<u32>().is_ok() => prefix,
            _ => base,
        };
        for (k, v) in counters {
            *out.entry(format!("{base}.{k}")).or_insert(0) += v;
        }
    }
    out
}

fn empty_detail() -> Arc<str> {
    Arc::from("")
}

fn describe_filter(c: &CountCheck) -> String {
    let mut parts = Vec::new();
    if let Some(ns) = &c.filter.namespace {
        parts.push(format!("in {ns}"));
    }
    if let Some(s) = &c.filter.selector {
        parts.push(format!("matching {:?}", s.match_labels));
    }
    if let Some(p) = &c.filter.phase {
        parts.push(format!("in phase {p}"));
    }
    if let Some(b) = c.filter.bound {
        parts.push(if b { "bound".into() } else { "unbound".into() });
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests;
