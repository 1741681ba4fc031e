//! The component contract. A component (scheduler, controller, kubelet) is a
//! sans-IO state machine driven by `handle(now, input, view, out)`:
//!
//! 1. The driver keeps the component's informer caches (`view`) fresh from
//!    watch events for the kinds it names in `watched_kinds`, and delivers
//!    each event as `Input::Watch` *after* the cache has applied it.
//! 2. After the initial list (and after every relist following 410 Gone) the
//!    component receives `Input::Synced`.
//! 3. The component asks for work through its `Outbox`: `out.write(op)` and
//!    `out.runtime(op)` return the request id the answer (`Input::WriteResult`,
//!    `Input::RuntimeResult`) will carry; `out.wake_at(t, token)` is answered by
//!    `Input::Timer` with the same token. The driver assigns ids and tags
//!    them, and timers, with the process's incarnation: after a crash and
//!    restart nothing addressed to the previous incarnation is delivered.
//!
//! A component never reads a clock, never performs I/O, and draws randomness
//! only from a stream its constructor was handed.

pub mod controllers;
pub mod events;
pub mod host;
pub mod informer;
pub mod kubelet;
pub mod leader_election;
pub mod registry;
pub mod scheduler;
pub mod workqueue;

use crate::api::{ApiError, DeleteOptions, WatchEvent};
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;

pub use informer::Cache;

/// A request's id: the issuing process's incarnation in the high bits, a
/// sequence number below. Assigned by the `Outbox`, never by a component.
pub type RequestId = u64;

const INCARNATION_SHIFT: u32 = 40;

/// The incarnation a request id was issued under.
pub fn incarnation_of(id: RequestId) -> u32 {
    (id >> INCARNATION_SHIFT) as u32
}

#[derive(Clone, Debug)]
pub enum Input {
    /// The caches hold a complete list; sent after the initial list and every relist.
    Synced,
    Watch(WatchEvent),
    WriteResult { id: RequestId, result: Result<Object, ApiError> },
    Timer { token: u64 },
    /// The answer to `Effect::Runtime` with the same id (kubelets only).
    RuntimeResult { id: RequestId, result: Result<crate::runtime::RuntimeReply, crate::runtime::RuntimeError> },
    /// A container on this kubelet's node exited.
    RuntimeEvent(crate::runtime::ContainerExit),
}

#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    Create(Object),
    Update(Object),
    UpdateStatus(Object),
    Delete { target: ObjectRef, options: DeleteOptions },
    Bind { namespace: String, name: String, node: String },
}

impl WriteOp {
    pub fn verb(&self) -> &'static str {
        match self {
            WriteOp::Create(_) => "create",
            WriteOp::Update(_) => "update",
            WriteOp::UpdateStatus(_) => "update-status",
            WriteOp::Delete { .. } => "delete",
            WriteOp::Bind { .. } => "bind",
        }
    }
    pub fn target(&self) -> ObjectRef {
        match self {
            WriteOp::Create(o) | WriteOp::Update(o) | WriteOp::UpdateStatus(o) => ObjectRef::of(o),
            WriteOp::Delete { target, .. } => target.clone(),
            WriteOp::Bind { namespace, name, .. } => ObjectRef::new(Kind::Pod, namespace, name),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Write { id: RequestId, op: WriteOp },
    WakeAt { at: SimTime, token: u64 },
    /// A call to the node's container runtime (kubelets only).
    Runtime { id: RequestId, op: crate::runtime::RuntimeOp },
}

/// Where a component puts its effects during one `handle` call. The driver
/// owns one per component and drains it after each call.
#[derive(Debug, Default)]
pub struct Outbox {
    effects: Vec<Effect>,
    next_seq: u64,
    incarnation: u32,
}

impl Outbox {
    /// An outbox for a process in its `incarnation` (0 for the first).
    pub fn new(incarnation: u32) -> Outbox {
        Outbox { effects: Vec::new(), next_seq: 0, incarnation }
    }
    fn next_id(&mut self) -> RequestId {
        self.next_seq += 1;
        (u64::from(self.incarnation) << INCARNATION_SHIFT) | self.next_seq
    }
    /// Sends an API write; returns the id its answer will carry.
    pub fn write(&mut self, op: WriteOp) -> RequestId {
        let id = self.next_id();
        self.effects.push(Effect::Write { id, op });
        id
    }
    /// Calls the node's container runtime; returns the id its answer will carry.
    pub fn runtime(&mut self, op: crate::runtime::RuntimeOp) -> RequestId {
        let id = self.next_id();
        self.effects.push(Effect::Runtime { id, op });
        id
    }
    /// Asks to be woken at `at` with `token`.
    pub fn wake_at(&mut self, at: SimTime, token: u64) {
        self.effects.push(Effect::WakeAt { at, token });
    }
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }
    /// Effects from index `from` on, for wrappers that re-tag their children's timers.
    pub fn effects_mut_from(&mut self, from: usize) -> &mut [Effect] {
        &mut self.effects[from..]
    }
    pub fn len(&self) -> usize {
        self.effects.len()
    }
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }
    /// Takes the effects pushed so far.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Effect> {
        self.effects.drain(..)
    }
    /// A new process: ids continue, under the next incarnation.
    pub fn next_incarnation(&mut self) {
        self.effects.clear();
        self.incarnation += 1;
    }
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }
    /// Whether `id` was issued by this incarnation.
    pub fn is_current(&self, id: RequestId) -> bool {
        incarnation_of(id) == self.incarnation
    }
}

pub trait Component {
    /// A stable name: it seeds the component's streams and labels the trace.
    fn name(&self) -> &str;
    /// The kinds whose caches the driver keeps for this component.
    fn watched_kinds(&self) -> Vec<Kind>;
    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox);
    /// Work the component is waiting on that no pending event will advance, if
    /// any; a driver with nothing left to run reports it as a stall.
    fn busy(&self) -> Option<String> {
        None
    }
    /// A kubelet's scope: only this node's pods (`spec.nodeName` field
    /// selector), its own Node and its own Lease reach the component's cache.
    fn node_scope(&self) -> Option<&str> {
        None
    }
    /// The node whose container runtime this component drives (a kubelet), if any.
    fn runtime_node(&self) -> Option<&str> {
        None
    }
    /// The process restarts: drop everything not recovered from the API.
    fn restart(&mut self) {}
    /// Counters for the run summary (name, value), e.g. the scheduler's attempts.
    fn stats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
