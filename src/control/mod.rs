//! The component contract. A component (scheduler, controller, kubelet) is a
//! sans-IO state machine driven by `handle(now, input, view, out)`:
//!
//! 1. The driver keeps the component's informer caches (`view`) fresh from
//!    watch events for the kinds it names in `watched_kinds`, and delivers
//!    each event as `Input::Watch` *after* the cache has applied it.
//! 2. After the initial list (and after every relist following 410 Gone) the
//!    component receives `Input::Synced`.
//! 3. The component pushes `Effect`s: API writes, each with a request id it
//!    chose, answered later by `Input::WriteResult` with the same id; and
//!    wake-ups, answered by `Input::Timer` with the same token.
//!
//! A component never reads a clock, never performs I/O, and draws randomness
//! only from a stream its constructor was handed.

pub mod controllers;
pub mod informer;
pub mod kubelet;
pub mod leader_election;
pub mod scheduler;
pub mod workqueue;

use crate::api::{ApiError, DeleteOptions, WatchEvent};
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;

pub use informer::Cache;

pub type RequestId = u64;

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

pub trait Component {
    /// A stable name: it seeds the component's streams and labels the trace.
    fn name(&self) -> &str;
    /// The kinds whose caches the driver keeps for this component.
    fn watched_kinds(&self) -> Vec<Kind>;
    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Vec<Effect>);
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
    /// The process restarts: drop everything not recovered from the API.
    fn restart(&mut self) {}
    /// Counters for the run summary (name, value), e.g. the scheduler's attempts.
    fn stats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
