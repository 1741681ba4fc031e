//! The simulation driver. It owns the virtual clock, the event queue, the
//! API server over the simulated etcd, the components and their caches, and
//! every random stream. Components only ever see `handle(now, input, view)`.
//!
//! A write's path: a component's `Effect::Write` at t0 reaches the API server
//! at t0 + api latency + etcd latency, where it commits (or fails); each
//! commit fans out to every watcher of that kind at commit + watch latency,
//! never overtaking an earlier delivery to the same watcher; the answer
//! returns at commit + api latency.

use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::etcd::Revision;
use super::queue::EventQueue;
use crate::seed::stream;
use super::trace::{Trace, TraceKind, TraceRecord};
use crate::api::{ApiError, ApiServer, WatchEvent};
use super::storage::SimStorage;
use crate::check::{CheckOutcome, Violation};
use crate::control::{Cache, Component, Effect, Input, RequestId, WriteOp};
use crate::model::{Kind, Namespace, Object, ObjectMeta, ObjectRef};
use crate::report::observer::Observer;
use crate::scenario::{Action, CountCheck, Scenario, TimedAction, merge_patch};
use crate::scenario::schema::TimingSpec;
use crate::runtime::fake::{FakeRuntime, PlannedExit};
use crate::runtime::model::RuntimeModel;
use crate::runtime::{ContainerExit, RuntimeOp};
use crate::time::SimTime;

pub const ETCD_PREFIX: &str = "/registry";

type CompId = u32;

#[derive(Debug)]
enum Ev {
    Start(CompId),
    Deliver { comp: CompId, event: WatchEvent },
    Request { comp: CompId, id: RequestId, op: WriteOp },
    Response { comp: CompId, id: RequestId, target: Arc<str>, result: Result<Object, ApiError> },
    Timer { comp: CompId, token: u64 },
    Action(usize),
    Check(usize),
    /// kube-apiserver's periodic etcd compaction.
    Compact,
    /// A metrics sample.
    Sample,
    /// A runtime call completes on the caller's node and is answered.
    RuntimeDone { comp: CompId, id: RequestId, op: RuntimeOp },
    /// A container exit the node's runtime planned.
    ContainerExit { node: Arc<str>, planned: PlannedExit },
    /// A timed network or cache fault on a component may be over.
    NetHeal(CompId),
    /// Liveness is evaluated (every second until it holds or the deadline).
    Liveness,
}

impl Ev {
    /// Housekeeping recurs forever; only other events count as pending work.
    fn is_work(&self) -> bool {
        !matches!(self, Ev::Compact | Ev::Sample)
    }
}

struct Slot {
    name: Arc<str>,
    comp: Box<dyn Component>,
    cache: Cache,
    kinds: Vec<Kind>,
    api_rng: ChaCha8Rng,
    watch_rng: ChaCha8Rng,
    /// Latest scheduled delivery: later ones never overtake it (per-watcher FIFO).
    last_delivery: SimTime,
    /// Highest revision delivered per kind, for the watch-order invariant.
    last_revision: Vec<(Kind, Revision)>,
    inflight: BTreeSet<RequestId>,
    /// A kubelet's node scope: only that node's pods, Node and Lease are delivered.
    node_scope: Option<String>,
    /// False while the component is crashed or stopped.
    up: bool,
    net: NetFaults,
}

/// The network and cache faults on one component's link to the API server.
#[derive(Default)]
struct NetFaults {
    /// Cut off from the control plane: until a time, or (None) until healed.
    partition: Option<Option<SimTime>>,
    delay: Option<(crate::latency::Latency, SimTime)>,
    loss: Option<(f64, SimTime)>,
    /// Served by an API server whose cache runs `lag` behind.
    stale: Option<(std::time::Duration, SimTime)>,
}

/// How long a client waits for an answer that never comes.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub use crate::driver::in_scope;

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
    pub api: ApiServer<SimStorage>,
    slots: Vec<Slot>,
    routes: crate::driver::Routes,
    recipients: Vec<usize>,
    timing: TimingSpec,
    etcd_rng: ChaCha8Rng,
    trace: Trace,
    observer: Observer,
    invariants: crate::check::invariants::Invariants,
    violations: Vec<Violation>,
    timeline: Vec<TimedAction>,
    checks: Vec<CountCheck>,
    check_outcomes: Vec<CheckOutcome>,
    compact_target: Revision,
    /// etcd fault windows: a slower latency until a time; unavailable until a time.
    etcd_slow: Option<(crate::latency::Latency, SimTime)>,
    etcd_down_until: Option<SimTime>,
    scenario_actor: Arc<str>,
    empty: Arc<str>,
    /// One simulated container runtime per node, with its random stream.
    runtimes: std::collections::BTreeMap<Arc<str>, (FakeRuntime, ChaCha8Rng)>,
    runtime_model: Arc<RuntimeModel>,
    /// Pods already reported running on two nodes (one violation each).
    double_run_reported: BTreeSet<String>,
    net_rng: ChaCha8Rng,
    /// (time, revision) of every commit: what a lagging cache serves.
    commit_times: Vec<(SimTime, Revision)>,
    liveness_deadline: SimTime,
    /// Whose write is committing now (for invariants that care who acted).
    actor: Arc<str>,
}

/// What a finished run produced.
pub struct RunOutcome {
    pub seed: u64,
    pub end: SimTime,
    pub events: u64,
    pub trace_sha256: String,
    pub violations: Vec<Violation>,
    pub checks: Vec<CheckOutcome>,
    pub stall: Option<SimError>,
    pub trace: Trace,
    pub observer: Observer,
    /// Nodes and pods in the store when the run ended.
    pub final_nodes: Vec<Object>,
    pub final_pods: Vec<Object>,
    /// Each component's counters, by component name.
    pub component_stats: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
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
            api: ApiServer::new(SimStorage::new(), ETCD_PREFIX, stream(seed, "apiserver")),
            slots: Vec::new(),
            routes: crate::driver::Routes::new(),
            recipients: Vec::new(),
            timing,
            etcd_rng: stream(seed, "etcd"),
            trace: Trace::new(keep_trace),
            observer: Observer::new(),
            invariants: crate::check::invariants::Invariants::new(),
            violations: Vec::new(),
            timeline: Vec::new(),
            checks: Vec::new(),
            check_outcomes: Vec::new(),
            compact_target: 0,
            etcd_slow: None,
            etcd_down_until: None,
            scenario_actor: Arc::from("scenario"),
            empty: Arc::from(""),
            runtimes: std::collections::BTreeMap::new(),
            runtime_model: Arc::new(RuntimeModel::default()),
            double_run_reported: BTreeSet::new(),
            net_rng: stream(seed, "network"),
            commit_times: Vec::new(),
            liveness_deadline: SimTime::ZERO,
            actor: Arc::from("scenario"),
        }
    }

    /// Builds the world a scenario describes: namespaces, nodes and objects
    /// created at time zero, then `components` started, then the timeline.
    pub fn from_scenario(s: &Scenario, seed: u64, until: SimTime, components: Vec<Box<dyn Component>>, keep_trace: bool) -> Result<World, SimError> {
        let mut w = World::new(seed, until, s.timing.clone(), keep_trace);
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
            w.api.create(o.object.clone(), SimTime::ZERO).map_err(|e| SimError::Setup(format!("{}:{}:{}: {r}: {e}", o.file, o.pos.line, o.pos.column)))?;
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

    fn push(&mut self, at: SimTime, ev: Ev) {
        if ev.is_work() {
            self.work_pending += 1;
        }
        self.queue.push(at.max(self.now), ev);
    }

    fn setup_create(&mut self, obj: Object) -> Result<(), SimError> {
        let r = ObjectRef::of(&obj);
        self.api.create(obj, self.now).map_err(|e| SimError::Setup(format!("{r}: {e}")))?;
        self.fan_out();
        Ok(())
    }

    /// Registers a component; it starts (lists its kinds) at the current time.
    pub fn add_component(&mut self, comp: Box<dyn Component>) {
        let name: Arc<str> = Arc::from(comp.name());
        let kinds = comp.watched_kinds();
        let node_scope = comp.node_scope().map(str::to_string);
        if let Some(node) = &node_scope {
            let rt = FakeRuntime::new(node, self.runtime_model.clone(), self.timing.pod_start_latency.clone(), self.timing.pod_stop_latency.clone());
            self.runtimes.insert(Arc::from(node.as_str()), (rt, stream(self.seed, &format!("runtime/{node}"))));
        }
        let id = self.slots.len() as CompId;
        self.routes.add(id as usize, &kinds, node_scope.as_deref());
        self.slots.push(Slot {
            cache: Cache::new(&kinds),
            api_rng: stream(self.seed, &format!("api/{name}")),
            watch_rng: stream(self.seed, &format!("watch/{name}")),
            last_delivery: SimTime::ZERO,
            last_revision: kinds.iter().map(|k| (*k, 0)).collect(),
            inflight: BTreeSet::new(),
            node_scope,
            up: true,
            net: NetFaults::default(),
            name,
            comp,
            kinds,
        });
        self.push(self.now, Ev::Start(id));
    }

    fn rec(&mut self, kind: TraceKind, component: Arc<str>, object: Arc<str>, revision: i64, detail: Arc<str>) {
        self.trace.record(TraceRecord { t: self.now, kind, component, object, revision, detail });
    }

    /// `pods/default/web-1` from an etcd key.
    fn object_name(key: &str) -> Arc<str> {
        Arc::from(key.strip_prefix(ETCD_PREFIX).map_or(key, |k| k.trim_start_matches('/')))
    }

    /// Drains committed changes: trace, observe, and schedule deliveries.
    fn fan_out(&mut self) {
        let events = self.api.storage.drain_events();
        for ev in events {
            let obj = Self::object_name(&ev.key);
            let empty = self.empty.clone();
            self.rec(TraceKind::Commit, empty, obj, ev.revision, Arc::from(ev.type_.as_str()));
            self.observer.observe(self.now, &ev);
            let index = self.trace.len();
            let actor = self.actor.clone();
            self.invariants.observe(self.now, index, &ev, &actor, &mut self.violations);
            if self.commit_times.last().is_none_or(|(_, r)| *r < ev.revision) {
                self.commit_times.push((self.now, ev.revision));
            }
            let mut recipients = std::mem::take(&mut self.recipients);
            self.routes.recipients(&ev.object, &mut recipients);
            for &id in &recipients {
                if !self.slots[id].up || self.partitioned(id) {
                    continue;
                }
                let extra = self.link_extra(id) + self.stale_lag(id);
                let slot = &mut self.slots[id];
                let at = (self.now + self.timing.watch_latency.sample(&mut slot.watch_rng) + extra).max(slot.last_delivery);
                slot.last_delivery = at;
                self.push(at, Ev::Deliver { comp: id as CompId, event: ev.clone() });
            }
            self.recipients = recipients;
        }
    }

    fn call(&mut self, id: CompId, input: Input) {
        if !self.slots[id as usize].up {
            return;
        }
        let mut out = Vec::new();
        let slot = &mut self.slots[id as usize];
        slot.comp.handle(self.now, input, &slot.cache, &mut out);
        for effect in out {
            self.apply_effect(id, effect);
        }
    }

    fn apply_effect(&mut self, id: CompId, effect: Effect) {
        match effect {
            Effect::Write { id: req, op } => {
                if self.partitioned(id as usize) || self.lost(id as usize) {
                    // Never reaches the API server: the client times out.
                    let slot = &mut self.slots[id as usize];
                    slot.inflight.insert(req);
                    let (name, obj): (Arc<str>, Arc<str>) = (slot.name.clone(), Arc::from(op.target().to_string()));
                    self.rec(TraceKind::Request, name, obj.clone(), 0, Arc::from(op.verb()));
                    let result = Err(ApiError::Storage("request timed out: the API server is unreachable".into()));
                    self.push(self.now + REQUEST_TIMEOUT, Ev::Response { comp: id, id: req, target: obj, result });
                    return;
                }
                let extra = self.link_extra(id as usize);
                let slot = &mut self.slots[id as usize];
                slot.inflight.insert(req);
                let etcd = match &self.etcd_slow {
                    Some((lat, until)) if self.now < *until => lat,
                    _ => &self.timing.etcd_latency,
                };
                let delay = self.timing.api_latency.sample(&mut slot.api_rng) + etcd.sample(&mut self.etcd_rng) + extra;
                let (name, obj) = (slot.name.clone(), Arc::from(op.target().to_string()));
                self.rec(TraceKind::Request, name, obj, 0, Arc::from(op.verb()));
                self.push(self.now + delay, Ev::Request { comp: id, id: req, op });
            }
            Effect::WakeAt { at, token } => self.push(at, Ev::Timer { comp: id, token }),
            Effect::Runtime { id: req, op } => {
                let slot = &self.slots[id as usize];
                let Some(node) = slot.node_scope.as_deref() else { return };
                let Some((rt, rng)) = self.runtimes.get_mut(node) else { return };
                let delay = rt.duration(&op, rng);
                let name = slot.name.clone();
                let empty = self.empty.clone();
                self.rec(TraceKind::Runtime, name, empty, 0, Arc::from(op.verb()));
                self.push(self.now + delay, Ev::RuntimeDone { comp: id, id: req, op });
            }
        }
    }

    fn execute(&mut self, op: WriteOp) -> Result<Object, ApiError> {
        execute(&mut self.api, op, self.now)
    }

    fn start(&mut self, id: CompId) {
        let kinds = self.slots[id as usize].kinds.clone();
        let name = self.slots[id as usize].name.clone();
        for kind in kinds {
            self.relist(id, kind, &name, "start");
        }
        self.call(id, Input::Synced);
    }

    /// Lists `kind` into the component's cache and hands it the differences.
    fn relist(&mut self, id: CompId, kind: Kind, name: &Arc<str>, why: &str) {
        let scope = self.slots[id as usize].node_scope.clone();
        let listed = match (self.stale_revision(id as usize, kind), scope.as_deref()) {
            (Some(rev), _) => self.api.list_at(kind, rev).or_else(|_| self.api.list(kind, None)),
            (None, Some(node)) => self.api.list_for_node(kind, node),
            (None, None) => self.api.list(kind, None),
        };
        let (objects, rev) = match listed {
            Ok((objs, rev)) => {
                let scope = self.slots[id as usize].node_scope.clone();
                (objs.into_iter().filter(|o| in_scope(scope.as_deref(), o)).collect::<Vec<_>>(), rev)
            }
            Err(e) => {
                let empty = self.empty.clone();
                self.rec(TraceKind::Relist, name.clone(), empty, 0, Arc::from(format!("{kind} list failed: {e}")));
                return;
            }
        };
        let diff = self.slots[id as usize].cache.replace(kind, objects, rev, ETCD_PREFIX);
        let empty = self.empty.clone();
        self.rec(TraceKind::Relist, name.clone(), empty, rev, Arc::from(format!("{} {why}", kind.plural())));
        if let Some(entry) = self.slots[id as usize].last_revision.iter_mut().find(|(k, _)| *k == kind) {
            entry.1 = rev;
        }
        for ev in diff {
            self.call(id, Input::Watch(ev));
        }
    }

    /// Breaks and resumes a component's watches from its cache's revision, as a
    /// reconnecting reflector does; a compacted revision (410 Gone) relists.
    /// Deliveries already in flight to it are dropped.
    pub fn reconnect_watches(&mut self, id: usize) {
        let name = self.slots[id].name.clone();
        let kinds = self.slots[id].kinds.clone();
        let pending = std::mem::take(&mut self.queue);
        let mut kept = EventQueue::with_capacity(pending.len());
        let mut pending = pending;
        while let Some((t, ev)) = pending.pop() {
            match ev {
                Ev::Deliver { comp, .. } if comp as usize == id => self.work_pending -= 1,
                other => kept.push(t, other),
            }
        }
        self.queue = kept;
        for kind in kinds {
            let from = self.slots[id].cache.revision(kind);
            match self.api.watch(kind, from) {
                Ok(events) => {
                    let empty = self.empty.clone();
                    self.rec(TraceKind::Relist, name.clone(), empty, from, Arc::from(format!("{} resumed", kind.plural())));
                    let scope = self.slots[id].node_scope.clone();
                    for ev in events {
                        if !in_scope(scope.as_deref(), &ev.object) {
                            continue;
                        }
                        let slot = &mut self.slots[id];
                        let at = (self.now + self.timing.watch_latency.sample(&mut slot.watch_rng)).max(slot.last_delivery);
                        slot.last_delivery = at;
                        self.push(at, Ev::Deliver { comp: id as CompId, event: ev });
                    }
                }
                Err(ApiError::Gone { .. }) => {
                    self.relist(id as CompId, kind, &name, "relisted after 410 Gone");
                    self.call(id as CompId, Input::Synced);
                }
                Err(e) => {
                    let empty = self.empty.clone();
                    self.rec(TraceKind::Relist, name.clone(), empty, from, Arc::from(format!("{} watch failed: {e}", kind.plural())));
                }
            }
        }
    }

    fn partitioned(&self, id: usize) -> bool {
        match self.slots[id].net.partition {
            Some(None) => true,
            Some(Some(until)) => self.now < until,
            None => false,
        }
    }

    /// Extra one-way latency on the component's link (link delay).
    fn link_extra(&mut self, id: usize) -> std::time::Duration {
        match &self.slots[id].net.delay {
            Some((lat, until)) if self.now < *until => lat.sample(&mut self.net_rng),
            _ => std::time::Duration::ZERO,
        }
    }

    /// How far behind the component's watch runs (a lagging API server cache).
    fn stale_lag(&self, id: usize) -> std::time::Duration {
        match self.slots[id].net.stale {
            Some((lag, until)) if self.now < until => lag,
            _ => std::time::Duration::ZERO,
        }
    }

    fn lost(&mut self, id: usize) -> bool {
        match self.slots[id].net.loss {
            Some((p, until)) if self.now < until => rand::RngExt::random_bool(&mut self.net_rng, p),
            _ => false,
        }
    }

    /// The revision a lagging cache serves a list at: as of `lag` ago, but
    /// never older than what the component has seen (a reflector relists
    /// from its last resourceVersion, the fix for kubernetes#59848); a fresh
    /// process has seen nothing, so it gets the stale state.
    fn stale_revision(&self, id: usize, kind: Kind) -> Option<Revision> {
        let (lag, until) = self.slots[id].net.stale?;
        if self.now >= until {
            return None;
        }
        let cutoff = self.now - lag;
        let idx = self.commit_times.partition_point(|(t, _)| *t <= cutoff);
        let rev = if idx == 0 { 1 } else { self.commit_times[idx - 1].1 };
        Some(rev.max(self.slots[id].cache.revision(kind)))
    }

    /// Ends a component's expired network faults; a healed partition
    /// reconnects its watches. `all` heals partitions without an end too.
    fn net_heal(&mut self, id: usize, all: bool) {
        let now = self.now;
        let net = &mut self.slots[id].net;
        let healed = match net.partition {
            Some(None) => all,
            Some(Some(until)) => all || now >= until,
            None => false,
        };
        if net.delay.as_ref().is_some_and(|(_, u)| now >= *u) {
            net.delay = None;
        }
        if net.loss.is_some_and(|(_, u)| now >= u) {
            net.loss = None;
        }
        if net.stale.is_some_and(|(_, u)| now >= u) {
            net.stale = None;
        }
        if healed {
            net.partition = None;
            let name = self.slots[id].name.clone();
            let empty = self.empty.clone();
            self.rec(TraceKind::Fault, name, empty, 0, Arc::from("partition healed"));
            if self.slots[id].up {
                self.reconnect_watches(id);
            }
        }
    }

    fn components_named(&self, names: &[String]) -> Result<Vec<usize>, ApiError> {
        names.iter().map(|n| self.component_id(n).ok_or_else(|| ApiError::BadRequest(format!("no component {n:?}")))).collect()
    }

    fn kubelet_of(&self, node: &str) -> Result<usize, ApiError> {
        self.component_id(&format!("kubelet/{node}")).ok_or_else(|| ApiError::BadRequest(format!("node {node:?} has no kubelet")))
    }

    /// Finds a component by name.
    pub fn component_id(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| &*s.name == name)
    }

    /// Crashes a component: it receives nothing more, its timers and in-flight
    /// answers are lost, until `restart_component`.
    pub fn crash_component(&mut self, id: usize) {
        self.crash_component_with(id, false);
    }

    /// Like `crash_component`; with `drop_runtime_calls` (the whole node is
    /// gone) its runtime calls in flight vanish too, otherwise they complete
    /// unanswered, as containerd finishes a call whose kubelet died.
    fn crash_component_with(&mut self, id: usize, drop_runtime_calls: bool) {
        let slot = &mut self.slots[id];
        if !slot.up {
            return;
        }
        slot.up = false;
        slot.inflight.clear();
        let pending = std::mem::take(&mut self.queue);
        let mut kept = EventQueue::with_capacity(pending.len());
        let mut pending = pending;
        while let Some((t, ev)) = pending.pop() {
            let mine = matches!(&ev, Ev::Deliver { comp, .. } | Ev::Timer { comp, .. } | Ev::Response { comp, .. } | Ev::Start(comp) if *comp as usize == id)
                || (drop_runtime_calls && matches!(&ev, Ev::RuntimeDone { comp, .. } if *comp as usize == id));
            if mine {
                self.work_pending -= 1;
            } else {
                kept.push(t, ev);
            }
        }
        self.queue = kept;
    }

    /// Restarts a crashed component: fresh caches, a full relist, then Synced.
    pub fn restart_component(&mut self, id: usize) {
        let slot = &mut self.slots[id];
        if slot.up {
            return;
        }
        slot.up = true;
        slot.comp.restart();
        slot.cache = Cache::new(&slot.kinds);
        slot.last_delivery = self.now;
        for entry in slot.last_revision.iter_mut() {
            entry.1 = 0;
        }
        self.push(self.now, Ev::Start(id as CompId));
    }

    fn deliver(&mut self, id: CompId, event: WatchEvent) {
        if self.partitioned(id as usize) {
            return;
        }
        let slot = &mut self.slots[id as usize];
        let kind = event.object.kind();
        if let Some(entry) = slot.last_revision.iter_mut().find(|(k, _)| *k == kind) {
            if event.revision < entry.1 {
                let v = Violation {
                    check: "watch-order".into(),
                    t: self.now,
                    event_index: self.trace.len(),
                    message: format!("{} saw revision {} after {}", slot.name, event.revision, entry.1),
                    objects: vec![Self::object_name(&event.key).to_string()],
                };
                self.violations.push(v);
            }
            entry.1 = entry.1.max(event.revision);
        }
        slot.cache.apply(&event);
        let name = slot.name.clone();
        let obj = Self::object_name(&event.key);
        self.rec(TraceKind::Deliver, name, obj, event.revision, Arc::from(event.type_.as_str()));
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
        match action {
            Action::Apply(_) | Action::Scale { .. } | Action::Patch { .. } | Action::Delete { .. } | Action::Rollback { .. } => perform_api_action(&mut self.api, action, now)?,
            Action::EtcdSlow { latency, duration } => self.etcd_slow = Some((latency, now + duration)),
            Action::EtcdUnavailable { duration } => self.etcd_down_until = Some(now + duration),
            Action::EtcdCompact => {
                let rev = self.api.storage.etcd.revision();
                if rev > self.api.storage.etcd.compacted_revision() {
                    let _ = self.api.storage.etcd.compact(rev);
                }
            }
            Action::CrashComponent(name) => {
                let id = self.component_id(&name).ok_or_else(|| ApiError::BadRequest(format!("no component {name:?}")))?;
                self.crash_component(id);
            }
            Action::RestartComponent(name) => {
                let id = self.component_id(&name).ok_or_else(|| ApiError::BadRequest(format!("no component {name:?}")))?;
                self.restart_component(id);
            }
            Action::CrashNode(node) => {
                let id = self.kubelet_of(&node)?;
                self.crash_component_with(id, true);
                if let Some((rt, _)) = self.runtimes.get_mut(node.as_str()) {
                    rt.wipe();
                }
            }
            Action::StopKubelet(node) => {
                let id = self.kubelet_of(&node)?;
                self.crash_component(id);
            }
            Action::StartKubelet(node) => {
                let id = self.kubelet_of(&node)?;
                self.restart_component(id);
            }
            Action::Partition { components, duration } => {
                for id in self.components_named(&components)? {
                    self.slots[id].net.partition = Some(duration.map(|d| now + d));
                    if let Some(d) = duration {
                        self.push(now + d, Ev::NetHeal(id as CompId));
                    }
                }
            }
            Action::HealPartitions => {
                for id in 0..self.slots.len() {
                    if self.slots[id].net.partition.is_some() {
                        self.net_heal(id, true);
                    }
                }
            }
            Action::LinkDelay { components, latency, duration } => {
                for id in self.components_named(&components)? {
                    self.slots[id].net.delay = Some((latency.clone(), now + duration));
                    self.push(now + duration, Ev::NetHeal(id as CompId));
                }
            }
            Action::LinkLoss { components, probability, duration } => {
                for id in self.components_named(&components)? {
                    self.slots[id].net.loss = Some((probability, now + duration));
                    self.push(now + duration, Ev::NetHeal(id as CompId));
                }
            }
            Action::StaleCache { component, lag, duration } => {
                for id in self.components_named(&[component])? {
                    self.slots[id].net.stale = Some((lag, now + duration));
                    self.push(now + duration, Ev::NetHeal(id as CompId));
                }
            }
            Action::CrashContainers { namespace, selector, exit_code } => {
                let nodes: Vec<Arc<str>> = self.runtimes.keys().cloned().collect();
                for node in nodes {
                    let crashed = self.runtimes.get_mut(&node).map(|(rt, _)| rt.crash_matching(now, namespace.as_deref(), &selector, exit_code)).unwrap_or_default();
                    for c in crashed {
                        self.container_exited(&node, c);
                    }
                }
            }
            Action::RestartNode(node) => {
                let id = self.kubelet_of(&node)?;
                self.restart_component(id);
            }
        }
        Ok(())
    }

    fn run_check(&mut self, index: usize) {
        let check = self.checks[index].clone();
        let objects = match self.api.list(check.filter.kind, None) {
            Ok((objs, _)) => objs,
            Err(_) => Vec::new(),
        };
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
    }

    fn run_liveness(&mut self) {
        let mut objects = Vec::new();
        for kind in crate::check::liveness::KINDS {
            objects.extend(self.api.list(kind, None).map(|(o, _)| o).unwrap_or_default());
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

    fn compact(&mut self) {
        // Like kube-apiserver's compactor: compact to the revision seen one interval ago.
        let target = self.compact_target;
        let current = self.api.storage.etcd.revision();
        if target > self.api.storage.etcd.compacted_revision() && self.api.storage.etcd.compact(target).is_ok() {
            let actor: Arc<str> = Arc::from("apiserver");
            let empty = self.empty.clone();
            self.rec(TraceKind::Compact, actor, empty, target, empty_detail());
        }
        self.compact_target = current;
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
                && let Some(waiting) = self.waiting()
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
        }
        if stall.is_none() && self.work_pending == 0 && self.queue.is_empty() {
            // Nothing left at all before the end: fine unless someone is waiting.
            if let Some(waiting) = self.waiting() {
                stall = Some(SimError::Stall { t: self.now, waiting });
            }
        }
        let end = if stall.is_some() { self.now } else { self.until };
        progress(end);
        let component_stats = self
            .slots
            .iter()
            .map(|s| (s.name.to_string(), s.comp.stats().into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .filter(|(_, m): &(String, std::collections::BTreeMap<String, u64>)| !m.is_empty())
            .collect();
        let final_nodes = self.api.list(Kind::Node, None).map(|(o, _)| o).unwrap_or_default();
        let final_pods = self.api.list(Kind::Pod, None).map(|(o, _)| o).unwrap_or_default();
        RunOutcome {
            final_nodes,
            final_pods,
            seed: self.seed,
            end,
            events: self.trace.len(),
            trace_sha256: self.trace.sha256(),
            violations: self.violations,
            checks: self.check_outcomes,
            stall,
            trace: self.trace,
            observer: self.observer,
            component_stats,
        }
    }

    /// What some component is waiting on, if any.
    fn waiting(&self) -> Option<String> {
        let mut waits = Vec::new();
        for s in &self.slots {
            if !s.inflight.is_empty() {
                waits.push(format!("{} has {} write(s) unanswered", s.name, s.inflight.len()));
            }
            if let Some(w) = s.comp.busy() {
                waits.push(format!("{}: {w}", s.name));
            }
        }
        (!waits.is_empty()).then(|| waits.join("; "))
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Start(id) => self.start(id),
            Ev::Deliver { comp, event } => self.deliver(comp, event),
            Ev::Request { comp, id, op } => {
                let target: Arc<str> = Arc::from(op.target().to_string());
                let down = self.etcd_down_until.is_some_and(|u| self.now < u);
                let result = if down { Err(ApiError::Storage("etcdserver: request timed out".into())) } else { self.execute(op) };
                self.actor = self.slots[comp as usize].name.clone();
                self.fan_out();
                self.actor = self.scenario_actor.clone();
                let extra = self.link_extra(comp as usize);
                let slot = &mut self.slots[comp as usize];
                let back = self.timing.api_latency.sample(&mut slot.api_rng) + extra;
                self.push(self.now + back, Ev::Response { comp, id, target, result });
            }
            Ev::Response { comp, id, target, mut result } => {
                if !self.slots[comp as usize].up {
                    return;
                }
                if self.partitioned(comp as usize) && result.is_ok() {
                    // Committed, but the answer is lost on the way back.
                    result = Err(ApiError::Storage("request timed out: the API server is unreachable".into()));
                }
                let slot = &mut self.slots[comp as usize];
                slot.inflight.remove(&id);
                let (name, obj) = (slot.name.clone(), target);
                let detail: Arc<str> = match &result {
                    Ok(_) => Arc::from("ok"),
                    Err(e) => Arc::from(format!("{} {}: {e}", e.code(), e.reason())),
                };
                let rev = result.as_ref().map_or(0, |o| o.meta().revision());
                self.rec(TraceKind::Response, name, obj, rev, detail);
                self.call(comp, Input::WriteResult { id, result });
            }
            Ev::Timer { comp, token } => {
                let name = self.slots[comp as usize].name.clone();
                let empty = self.empty.clone();
                self.rec(TraceKind::Timer, name, empty, 0, empty_detail());
                self.call(comp, Input::Timer { token });
            }
            Ev::Action(i) => self.run_action(i),
            Ev::Check(i) => self.run_check(i),
            Ev::Compact => self.compact(),
            Ev::RuntimeDone { comp, id, op } => self.runtime_done(comp, id, op),
            Ev::NetHeal(comp) => self.net_heal(comp as usize, false),
            Ev::Liveness => self.run_liveness(),
            Ev::ContainerExit { node, planned } => {
                let info = self.runtimes.get_mut(&node).and_then(|(rt, _)| rt.exit(self.now, &planned));
                if let Some(info) = info {
                    self.container_exited(&node, info);
                }
            }
            Ev::Sample => {
                self.observer.sample(self.now, self.trace.len());
                self.push(self.now + self.timing.metrics_interval.0, Ev::Sample);
            }
        }
    }

    fn runtime_done(&mut self, comp: CompId, id: RequestId, op: RuntimeOp) {
        let Some(node) = self.slots[comp as usize].node_scope.clone() else { return };
        let node: Arc<str> = Arc::from(node.as_str());
        let Some((rt, rng)) = self.runtimes.get_mut(&node) else { return };
        let verb = op.verb();
        let subject = match &op {
            RuntimeOp::StartContainer { container } | RuntimeOp::StopContainer { container, .. } | RuntimeOp::RemoveContainer { container } | RuntimeOp::Probe { container, .. } => Some(container.clone()),
            RuntimeOp::StopPodSandbox { sandbox } | RuntimeOp::RemovePodSandbox { sandbox } => Some(sandbox.clone()),
            _ => None,
        };
        let started = matches!(op, RuntimeOp::StartContainer { .. });
        // Name the pod before the call (a removal forgets it).
        let mut pod = subject.as_deref().and_then(|id| rt.pod_of(id)).map(|p| format!("pods/{}/{}", p.namespace, p.name));
        let (result, planned) = rt.apply(self.now, op, rng);
        if pod.is_none() {
            pod = match &result {
                Ok(crate::runtime::RuntimeReply::Sandbox(id)) | Ok(crate::runtime::RuntimeReply::Container(id)) => rt.pod_of(id).map(|p| format!("pods/{}/{}", p.namespace, p.name)),
                _ => None,
            };
        }
        let subject = subject.unwrap_or_default();
        let detail: Arc<str> = match &result {
            Ok(_) if subject.is_empty() => Arc::from(format!("{verb} ok")),
            Ok(_) => Arc::from(format!("{verb} ok {subject}")),
            Err(e) => Arc::from(format!("{verb}: {e}")),
        };
        let name = self.slots[comp as usize].name.clone();
        let obj: Arc<str> = Arc::from(pod.unwrap_or_default());
        self.rec(TraceKind::RuntimeDone, name, obj, 0, detail);
        if let Some(p) = planned {
            let at = p.at;
            self.push(at, Ev::ContainerExit { node: node.clone(), planned: p });
        }
        if started && result.is_ok() {
            self.check_runtime_invariants(&node);
        }
        self.call(comp, Input::RuntimeResult { id, result });
    }

    fn container_exited(&mut self, node: &Arc<str>, info: crate::runtime::ContainerInfo) {
        let empty = self.empty.clone();
        let detail = Arc::from(format!("{} exited {} {}", info.id, info.exit_code, info.reason));
        let pod = self.runtimes.get(node).and_then(|(rt, _)| rt.pod_of(&info.id)).map(|p| format!("pods/{}/{}", p.namespace, p.name)).unwrap_or_default();
        self.rec(TraceKind::ContainerExit, node.clone(), Arc::from(pod), 0, detail);
        if let Ok(id) = self.kubelet_of(node) {
            let _ = empty;
            self.call(id as CompId, Input::RuntimeEvent(ContainerExit { container: info }));
        }
    }

    /// After a container starts on `node`: no pod runs on two nodes at once
    /// (by namespace/name, the identity a StatefulSet relies on), and no
    /// container runs twice in one pod.
    fn check_runtime_invariants(&mut self, node: &Arc<str>) {
        let Some((rt, _)) = self.runtimes.get(node) else { return };
        let mut found = Vec::new();
        for (pod_uid, container) in rt.duplicate_containers() {
            found.push(("duplicate-container", format!("container {container} of pod uid {pod_uid} runs twice on {node}"), vec![format!("uid {pod_uid}")]));
        }
        let here: Vec<(String, String)> = rt.running_pods().iter().map(|p| (format!("{}/{}", p.namespace, p.name), p.uid.clone())).collect();
        for (key, uid) in here {
            if self.double_run_reported.contains(&key) {
                continue;
            }
            for (other, (ort, _)) in &self.runtimes {
                if other == node {
                    continue;
                }
                if let Some(p) = ort.running_pods().into_iter().find(|p| format!("{}/{}", p.namespace, p.name) == key) {
                    found.push((
                        "one-running-instance",
                        format!("pod {key} runs on {node} (uid {uid}) and on {other} (uid {})", p.uid),
                        vec![format!("pods/{key}"), format!("nodes/{node}"), format!("nodes/{other}")],
                    ));
                    self.double_run_reported.insert(key.clone());
                    break;
                }
            }
        }
        for (check, message, objects) in found {
            let v = Violation { check: check.into(), t: self.now, event_index: self.trace.len(), message, objects };
            self.violations.push(v);
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
        &self.slots[id].cache
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
        let r = self.api.create(obj, self.now);
        self.fan_out();
        r
    }
}

/// Carries out a component's write through the API layer (simulated or live).
pub fn execute<S: crate::api::Storage>(api: &mut ApiServer<S>, op: WriteOp, now: SimTime) -> Result<Object, ApiError> {
    match op {
        WriteOp::Create(o) => api.create(o, now),
        WriteOp::Update(o) => api.update(o, now),
        WriteOp::UpdateStatus(o) => api.update_status(o, now),
        WriteOp::Delete { target, options } => api.delete(&target, &options, now).map(|d| d.object().clone()),
        WriteOp::Bind { namespace, name, node } => api.bind(&namespace, &name, &node, now),
    }
}

/// The timeline actions that are API calls (apply, scale, patch, delete,
/// rollback), as the scenario's operator would make them; shared with live mode.
pub fn perform_api_action<S: crate::api::Storage>(api: &mut ApiServer<S>, action: Action, now: SimTime) -> Result<(), ApiError> {
    match action {
        Action::Apply(objects) => {
            for obj in objects {
                match api.get(&ObjectRef::of(&with_default_ns(obj.clone()))) {
                    Err(e) if e.is_not_found() => {
                        api.create(obj, now)?;
                    }
                    Err(e) => return Err(e),
                    Ok(current) => {
                        // Like `kubectl apply`, the written spec and metadata replace what is stored.
                        let mut next = with_default_ns(obj);
                        next.meta_mut().resource_version = current.meta().resource_version.clone();
                        api.update(next, now)?;
                    }
                }
            }
        }
        Action::Scale { target, replicas } => {
            let current = api.get(&target)?;
            let scaled: Object = match current {
                Object::ReplicaSet(rs) => {
                    let mut rs = (*rs).clone();
                    rs.spec.replicas = Some(replicas);
                    rs.into()
                }
                Object::Deployment(d) => {
                    let mut d = (*d).clone();
                    d.spec.replicas = Some(replicas);
                    d.into()
                }
                other => return Err(ApiError::BadRequest(format!("{} has no scale subresource", other.kind()))),
            };
            api.update(scaled, now)?;
        }
        Action::Patch { target, merge } => {
            let current = api.get(&target)?;
            let mut json = current.to_json_value();
            merge_patch(&mut json, &merge);
            let bytes = serde_json::to_vec(&json).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let patched = Object::from_json(target.kind, &bytes).map_err(|e| ApiError::BadRequest(format!("patch does not decode: {e}")))?;
            api.update(patched, now)?;
        }
        Action::Delete { target, options } => {
            api.delete(&target, &options, now)?;
        }
        Action::Rollback { target, to_revision } => {
            let current = api.get(&target)?;
            let Some(d) = current.as_deployment() else { return Err(ApiError::BadRequest(format!("{target} is not a Deployment"))) };
            let (rs, _) = api.list(Kind::ReplicaSet, Some(&target.namespace))?;
            let mut owned: Vec<&crate::model::ReplicaSet> =
                rs.iter().filter_map(Object::as_replicaset).filter(|r| r.metadata.controller_ref().is_some_and(|c| c.uid == d.metadata.uid)).collect();
            let rev = |r: &crate::model::ReplicaSet| r.metadata.annotations.get(crate::control::controllers::deployment::REVISION_ANNOTATION).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            owned.sort_by_key(|r| rev(r));
            let chosen = if to_revision == 0 { owned.iter().rev().nth(1) } else { owned.iter().find(|r| rev(r) == to_revision) };
            let Some(from) = chosen else { return Err(ApiError::BadRequest(format!("{target} has no revision {to_revision}"))) };
            let mut next = d.clone();
            next.spec.template = from.spec.template.clone();
            next.spec.template.metadata.labels.remove(crate::control::controllers::deployment::HASH_LABEL);
            api.update(next.into(), now)?;
        }
        _ => return Err(ApiError::BadRequest(format!("`{}` is not an API action", action_name(&action)))),
    }
    Ok(())
}

fn action_name(a: &Action) -> String {
    a.describe()
}

fn empty_detail() -> Arc<str> {
    Arc::from("")
}

fn with_default_ns(mut obj: Object) -> Object {
    if obj.kind().namespaced() && obj.meta().namespace.is_empty() {
        obj.meta_mut().namespace = "default".into();
    }
    obj
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
