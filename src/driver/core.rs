//! The driver core: everything about running components that does not depend
//! on how time passes or how requests travel, shared by the simulator
//! (`sim::World`) and live mode (`live::LiveDriver`).
//!
//! It owns the API layer and one slot per component: the component, its
//! informer caches, its node scope, whether it is up, and its incarnation.
//! It decides who receives each watch event (routes by kind and node), keeps
//! caches from one place (`deliver`, `relisted`), runs components and
//! collects what they ask for (`take_sent`), and drops whatever is addressed
//! to an earlier incarnation of a process or an earlier watch stream:
//!
//! - a crash bumps the incarnation: answers to its requests and its timers
//!   are dropped, as a new process would never see them;
//! - a new watch stream (start, restart, reconnect) bumps the stream:
//!   deliveries queued for the old connection are dropped.
//!
//! The drivers carry `Sent` requests (with sampled latencies and faults, or
//! to etcd and containerd) and hand the answers back through `answer_write`,
//! `answer_runtime`, `fire_timer`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::routes::{Routes, SlotId, in_scope};
use crate::api::{ApiError, ApiServer, Revision, Storage, WatchEvent};
use crate::control::{Cache, Component, Effect, Input, Outbox, RequestId, WriteOp};
use crate::model::{Kind, Object};
use crate::runtime::{RuntimeError, RuntimeOp, RuntimeReply};
use crate::time::SimTime;

/// How long a client waits for an answer that never comes (client-go's
/// request timeout as kubesim models it), in both drivers.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The error a request that timed out gets.
pub fn timeout_error() -> ApiError {
    ApiError::Storage("request timed out: the API server is unreachable".into())
}

/// What a component asked for, for the driver to carry.
#[derive(Debug)]
pub enum Sent {
    Write { slot: SlotId, id: RequestId, op: WriteOp },
    Runtime { slot: SlotId, id: RequestId, op: RuntimeOp },
    Timer { slot: SlotId, at: SimTime, token: u64, incarnation: u32 },
}

/// A watch event seen out of revision order by one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfOrder {
    pub component: Arc<str>,
    pub revision: Revision,
    pub after: Revision,
}

pub struct Slot {
    pub name: Arc<str>,
    comp: Box<dyn Component>,
    pub cache: Cache,
    pub kinds: Vec<Kind>,
    /// A kubelet's node: only its pods, Node and Lease reach it.
    pub scope: Option<Arc<str>>,
    /// False while the process is crashed or stopped.
    pub up: bool,
    /// The watch connection's generation.
    pub stream: u32,
    outbox: Outbox,
    inflight: BTreeSet<RequestId>,
    /// Highest revision delivered per kind (by kind index).
    delivered: Vec<Revision>,
}

impl Slot {
    pub fn incarnation(&self) -> u32 {
        self.outbox.incarnation()
    }
    pub fn component(&self) -> &dyn Component {
        self.comp.as_ref()
    }
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }
}

pub struct Core<S: Storage> {
    pub api: ApiServer<S>,
    slots: Vec<Slot>,
    routes: Routes,
    recipients: Vec<SlotId>,
    sent: Vec<Sent>,
}

impl<S: Storage> Core<S> {
    pub fn new(api: ApiServer<S>) -> Core<S> {
        Core { api, slots: Vec::new(), routes: Routes::new(), recipients: Vec::new(), sent: Vec::new() }
    }

    /// Registers a component; the driver starts it (`start`).
    pub fn add(&mut self, comp: Box<dyn Component>) -> SlotId {
        let id = self.slots.len();
        let kinds = comp.watched_kinds();
        let scope: Option<Arc<str>> = comp.node_scope().map(Arc::from);
        self.routes.add(id, &kinds, scope.as_deref());
        self.slots.push(Slot {
            name: Arc::from(comp.name()),
            cache: Cache::new(&kinds),
            delivered: vec![0; Kind::ALL.len()],
            kinds,
            scope,
            up: true,
            stream: 0,
            outbox: Outbox::new(0),
            inflight: BTreeSet::new(),
            comp,
        });
        id
    }

    pub fn slot(&self, id: SlotId) -> &Slot {
        &self.slots[id]
    }
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    pub fn find(&self, name: &str) -> Option<SlotId> {
        self.slots.iter().position(|s| &*s.name == name)
    }
    /// The component that drives `node`'s container runtime (its kubelet).
    pub fn kubelet_of(&self, node: &str) -> Option<SlotId> {
        self.slots.iter().position(|s| s.comp.runtime_node() == Some(node))
    }

    /// Every component scoped to `node` (its kubelet and any other per-node component).
    pub fn on_node(&self, node: &str) -> Vec<SlotId> {
        (0..self.slots.len()).filter(|&i| self.slots[i].scope.as_deref() == Some(node)).collect()
    }

    /// The slots an event about `obj` reaches (up or not), in slot order.
    pub fn recipients(&mut self, obj: &Object) -> &[SlotId] {
        self.routes.recipients(obj, &mut self.recipients);
        &self.recipients
    }

    /// Runs the component on one input and collects what it asked for.
    pub fn call(&mut self, id: SlotId, now: SimTime, input: Input) {
        let slot = &mut self.slots[id];
        if !slot.up {
            return;
        }
        slot.comp.handle(now, input, &slot.cache, &mut slot.outbox);
        let incarnation = slot.outbox.incarnation();
        for effect in slot.outbox.drain() {
            self.sent.push(match effect {
                Effect::Write { id: req, op } => {
                    slot.inflight.insert(req);
                    Sent::Write { slot: id, id: req, op }
                }
                Effect::Runtime { id: req, op } => Sent::Runtime { slot: id, id: req, op },
                Effect::WakeAt { at, token } => Sent::Timer { slot: id, at, token, incarnation },
            });
        }
    }

    /// What components asked for since the last call, in order.
    pub fn take_sent(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sent)
    }
    /// Returns the (emptied) buffer, so it is reused.
    pub fn give_back(&mut self, mut buf: Vec<Sent>) {
        buf.clear();
        if self.sent.is_empty() {
            self.sent = buf;
        }
    }

    /// What `id` lists of `kind`: its scope only; as of `at` when its API
    /// server's cache lags (falling back to now if that revision is gone).
    pub fn list(&self, id: SlotId, kind: Kind, at: Option<Revision>) -> Result<(Vec<Object>, Revision), ApiError> {
        let scope = self.slots[id].scope.as_deref();
        match (at, scope) {
            (Some(rev), _) => {
                let (objects, rev) = self.api.list_at(kind, rev).or_else(|_| self.api.list(kind, None))?;
                Ok((objects.into_iter().filter(|o| in_scope(scope, o)).collect(), rev))
            }
            (None, Some(node)) => self.api.list_for_node(kind, node),
            (None, None) => self.api.list(kind, None),
        }
    }

    /// Keeps only what `id` may see of a full list.
    pub fn in_scope(&self, id: SlotId, objects: &[Object]) -> Vec<Object> {
        let scope = self.slots[id].scope.as_deref();
        objects.iter().filter(|o| in_scope(scope, o)).cloned().collect()
    }

    /// A (re)list of `kind` for `id`: the cache takes it and the component is
    /// handed the differences as watch events.
    pub fn relisted(&mut self, id: SlotId, now: SimTime, kind: Kind, objects: Vec<Object>, revision: Revision) {
        let prefix = self.api.prefix().to_string();
        let slot = &mut self.slots[id];
        let diff = slot.cache.replace(kind, objects, revision, &prefix);
        slot.delivered[kind.index()] = revision;
        for ev in diff {
            self.call(id, now, Input::Watch(ev));
        }
    }

    /// A watch event reaches `id`'s cache (before the component sees it). An
    /// event older than one already delivered of its kind is reported.
    pub fn apply_watch(&mut self, id: SlotId, event: &WatchEvent) -> Option<OutOfOrder> {
        let slot = &mut self.slots[id];
        let k = event.object.kind().index();
        let seen = slot.delivered[k];
        let out_of_order = (event.revision < seen).then(|| OutOfOrder { component: slot.name.clone(), revision: event.revision, after: seen });
        slot.delivered[k] = seen.max(event.revision);
        slot.cache.apply(event);
        out_of_order
    }

    /// A watch event reaches `id`: the cache applies it, then the component sees it.
    pub fn deliver(&mut self, id: SlotId, now: SimTime, event: WatchEvent) -> Option<OutOfOrder> {
        if !self.slots[id].up {
            return None;
        }
        let out_of_order = self.apply_watch(id, &event);
        self.call(id, now, Input::Watch(event));
        out_of_order
    }

    /// The answer to a write. False if it was dropped: the process that asked
    /// is down or is a later incarnation.
    pub fn answer_write(&mut self, id: SlotId, now: SimTime, req: RequestId, result: Result<Object, ApiError>) -> bool {
        let slot = &mut self.slots[id];
        if !slot.up || !slot.outbox.is_current(req) {
            return false;
        }
        slot.inflight.remove(&req);
        self.call(id, now, Input::WriteResult { id: req, result });
        true
    }

    /// Whether an answer to `req` would still be delivered to `id`.
    pub fn expects(&self, id: SlotId, req: RequestId) -> bool {
        let slot = &self.slots[id];
        slot.up && slot.outbox.is_current(req)
    }

    pub fn answer_runtime(&mut self, id: SlotId, now: SimTime, req: RequestId, result: Result<RuntimeReply, RuntimeError>) -> bool {
        if !self.expects(id, req) {
            return false;
        }
        self.call(id, now, Input::RuntimeResult { id: req, result });
        true
    }

    /// A timer fires; dropped if it belongs to an earlier incarnation.
    pub fn fire_timer(&mut self, id: SlotId, now: SimTime, token: u64, incarnation: u32) -> bool {
        let slot = &self.slots[id];
        if !slot.up || slot.incarnation() != incarnation {
            return false;
        }
        self.call(id, now, Input::Timer { token });
        true
    }

    /// The process crashes (or stops): nothing reaches it until `restart`;
    /// answers, timers and deliveries addressed to it are dropped.
    pub fn crash(&mut self, id: SlotId) -> bool {
        let slot = &mut self.slots[id];
        if !slot.up {
            return false;
        }
        slot.up = false;
        slot.inflight.clear();
        slot.outbox.next_incarnation();
        slot.stream += 1;
        true
    }

    /// The process starts again with fresh state and empty caches; the
    /// driver then lists (`start`).
    pub fn restart(&mut self, id: SlotId) -> bool {
        let slot = &mut self.slots[id];
        if slot.up {
            return false;
        }
        slot.up = true;
        slot.comp.restart();
        slot.cache = Cache::new(&slot.kinds);
        slot.delivered.iter_mut().for_each(|r| *r = 0);
        slot.stream += 1;
        true
    }

    /// Deliveries queued for `id`'s current watch connection are now stale.
    pub fn break_stream(&mut self, id: SlotId) {
        self.slots[id].stream += 1;
    }

    /// Resumes `id`'s watches after a break, as a reconnecting reflector
    /// does: deliveries of the old connection become stale, and each kind is
    /// watched again from its last resourceVersion. Per kind: the revision it
    /// resumes from and the events missed since (in `id`'s scope), or the
    /// error — 410 Gone (compacted) and Unsupported (a store that replays
    /// history only as streams) mean the driver relists that kind and then
    /// hands the component Synced.
    pub fn resume(&mut self, id: SlotId) -> Vec<(Kind, Revision, Result<Vec<WatchEvent>, ApiError>)> {
        self.break_stream(id);
        let slot = &self.slots[id];
        let scope = slot.scope.as_deref();
        slot.kinds
            .iter()
            .map(|&kind| {
                let from = slot.cache.revision(kind);
                let events = self.api.watch(kind, from).map(|evs| evs.into_iter().filter(|e| in_scope(scope, &e.object)).collect());
                (kind, from, events)
            })
            .collect()
    }

    /// What some component is waiting on, if any (for stall reports).
    pub fn waiting(&self) -> Option<String> {
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

    /// Each component's counters, by component name (empty ones left out).
    pub fn stats(&self) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
        self.slots
            .iter()
            .map(|s| (s.name.to_string(), s.comp.stats().into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .filter(|(_, m): &(String, std::collections::BTreeMap<String, u64>)| !m.is_empty())
            .collect()
    }

    /// Carries out a component's write through the API layer.
    pub fn execute(&mut self, op: WriteOp, now: SimTime) -> Result<Object, ApiError> {
        execute(&mut self.api, op, now)
    }
}

/// Carries out a write through the API layer (simulated or live storage).
pub fn execute<S: Storage>(api: &mut ApiServer<S>, op: WriteOp, now: SimTime) -> Result<Object, ApiError> {
    match op {
        WriteOp::Create(o) => api.create(o, now),
        WriteOp::Update(o) => api.update(o, now),
        WriteOp::UpdateStatus(o) => api.update_status(o, now),
        WriteOp::Delete { target, options } => api.delete(&target, &options, now).map(|d| d.object().clone()),
        WriteOp::Bind { namespace, name, node } => api.bind(&namespace, &name, &node, now),
    }
}
