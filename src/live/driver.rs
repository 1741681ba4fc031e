//! The live driver: the same components as the simulator (`Box<dyn
//! Component>`, built by `run::default_components`), on the wall clock.
//! Their effects become real calls — API writes through the API layer onto
//! etcd, runtime operations onto a node's runtime — and real events become
//! their inputs: etcd watch streams (relisted after compaction), runtime
//! replies and container exits, timers.
//!
//! One thread runs every component, one input at a time, as the simulator
//! does; etcd streams and runtime calls run on a tokio runtime and reach it
//! through a channel.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::cmp::Reverse;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::etcd::{EtcdStorage, StreamEvent};
use super::runtime::LiveRuntime;
use crate::api::{ApiError, ApiServer};
use crate::control::{Cache, Component, Effect, Input, RequestId};
use crate::model::meta::SIM_EPOCH_UNIX_S;
use crate::model::{Kind, Object};
use crate::runtime::{ContainerExit, RuntimeError, RuntimeReply};
use crate::driver::in_scope;
use crate::sim::world::execute;
use crate::time::SimTime;

/// Wall-clock now as kubesim time: nanoseconds since the simulator's epoch
/// (2025-01-01), so timestamps the components write are real dates.
pub fn wall_now() -> SimTime {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default(); // determinism-ok: live mode runs on the wall clock by design
    SimTime(unix.as_nanos().saturating_sub(SIM_EPOCH_UNIX_S as u128 * 1_000_000_000) as u64)
}

/// What reaches the driver thread.
pub enum Msg {
    Stream(StreamEvent),
    RuntimeDone { slot: usize, id: RequestId, result: Result<RuntimeReply, RuntimeError> },
    ContainerExited { node: String, exit: ContainerExit },
    Stop,
}

struct Slot {
    comp: Box<dyn Component>,
    cache: Cache,
    kinds: Vec<Kind>,
    scope: Option<String>,
    up: bool,
    /// Cut off from etcd at the adapter: writes time out, watch events are lost.
    partitioned: bool,
}

/// One line of the live log (also the driver's record of what it did).
pub type LogFn = Box<dyn FnMut(SimTime, &str, &str)>;

pub struct LiveDriver {
    pub api: ApiServer<EtcdStorage>,
    slots: Vec<Slot>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    timers: BinaryHeap<Reverse<(SimTime, u64, usize, u64)>>,
    seq: u64,
    inputs: VecDeque<(usize, Input)>,
    runtimes: BTreeMap<String, Box<dyn LiveRuntime>>,
    streams: Vec<Kind>,
    log: LogFn,
    pub writes: u64,
    pub write_errors: u64,
    /// Answers that arrive later (timeouts of cut-off components).
    deferred: Vec<Reverse<(SimTime, u64, usize, RequestId, Result<Object, ApiError>)>>,
}

impl LiveDriver {
    pub fn new(api: ApiServer<EtcdStorage>, log: LogFn) -> LiveDriver {
        let (tx, rx) = std::sync::mpsc::channel();
        LiveDriver { api, slots: Vec::new(), tx, rx, timers: BinaryHeap::new(), seq: 0, inputs: VecDeque::new(), runtimes: BTreeMap::new(), streams: Vec::new(), log, writes: 0, write_errors: 0, deferred: Vec::new() }
    }

    /// A sender for other threads (Ctrl-C, runtime event streams).
    pub fn sender(&self) -> Sender<Msg> {
        self.tx.clone()
    }

    /// Registers a component; a kubelet's node gets `runtime`.
    pub fn add(&mut self, comp: Box<dyn Component>, runtime: Option<Box<dyn LiveRuntime>>) {
        let kinds = comp.watched_kinds();
        let scope = comp.node_scope().map(str::to_string);
        if let (Some(node), Some(rt)) = (&scope, runtime) {
            self.runtimes.insert(node.clone(), rt);
        }
        self.slots.push(Slot { cache: Cache::new(&kinds), kinds, scope, up: true, partitioned: false, comp });
    }

    pub fn component_id(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.comp.name() == name)
    }

    /// Lists every watched kind into every cache, hands out the differences
    /// and Synced, and opens one etcd watch stream per kind.
    pub fn start(&mut self) -> Result<(), String> {
        let mut kinds: Vec<Kind> = Vec::new();
        for s in &self.slots {
            for k in &s.kinds {
                if !kinds.contains(k) {
                    kinds.push(*k);
                }
            }
        }
        for kind in kinds {
            let rev = self.relist(kind)?;
            self.api.storage.watch_stream(kind, rev + 1, stream_sender(&self.tx));
            self.streams.push(kind);
        }
        for id in 0..self.slots.len() {
            self.inputs.push_back((id, Input::Synced));
        }
        self.drain(wall_now());
        Ok(())
    }

    /// Lists `kind` into every cache that watches it; returns the revision.
    fn relist(&mut self, kind: Kind) -> Result<i64, String> {
        let (objects, rev) = self.api.list(kind, None).map_err(|e| format!("listing {}: {e}", kind.plural()))?;
        let prefix = self.api.prefix().to_string();
        for (id, s) in self.slots.iter_mut().enumerate() {
            if !s.kinds.contains(&kind) {
                continue;
            }
            let mine: Vec<Object> = objects.iter().filter(|o| in_scope(s.scope.as_deref(), o)).cloned().collect();
            for ev in s.cache.replace(kind, mine, rev, &prefix) {
                self.inputs.push_back((id, Input::Watch(ev)));
            }
        }
        Ok(rev)
    }

    /// Runs queued inputs (and the inputs their effects produce) to quiescence.
    fn drain(&mut self, now: SimTime) {
        while let Some((id, input)) = self.inputs.pop_front() {
            if !self.slots[id].up {
                continue;
            }
            let mut out = Vec::new();
            {
                let s = &mut self.slots[id];
                s.comp.handle(now, input, &s.cache, &mut out);
            }
            for e in out {
                self.apply(id, now, e);
            }
        }
    }

    fn apply(&mut self, id: usize, now: SimTime, effect: Effect) {
        match effect {
            Effect::Write { id: req, op } if self.slots[id].partitioned => {
                // Cut off: the request never reaches etcd; the client times out.
                let _ = op;
                self.write_errors += 1;
                let result = Err(ApiError::Storage("request timed out: etcd is unreachable from this component".into()));
                self.seq += 1;
                self.deferred.push(Reverse((now + Duration::from_secs(5), self.seq, id, req, result)));
            }
            Effect::Write { id: req, op } => {
                let verb = op.verb();
                let target = op.target().to_string();
                let result = execute(&mut self.api, op, now);
                self.writes += 1;
                if let Err(e) = &result {
                    self.write_errors += 1;
                    // Conflicts are optimistic concurrency doing its job; log the rest.
                    if !e.is_conflict() {
                        let name = self.slots[id].comp.name().to_string();
                        (self.log)(now, &name, &format!("{verb} {target}: {} {e}", e.code()));
                    }
                }
                self.inputs.push_back((id, Input::WriteResult { id: req, result }));
            }
            Effect::WakeAt { at, token } => {
                self.seq += 1;
                self.timers.push(Reverse((at, self.seq, id, token)));
            }
            Effect::Runtime { id: req, op } => {
                let Some(node) = self.slots[id].scope.clone() else { return };
                match self.runtimes.get_mut(&node) {
                    Some(rt) => rt.call(id, req, op, self.tx.clone()),
                    None => self.inputs.push_back((id, Input::RuntimeResult { id: req, result: Err(RuntimeError::Unavailable(format!("node {node} has no runtime"))) })),
                }
            }
        }
    }

    /// Fires due timers and handles messages until `until` (wall clock) or Stop.
    /// Returns false when stopped early.
    pub fn run_until(&mut self, until: SimTime) -> bool {
        loop {
            let now = wall_now();
            while let Some(Reverse((at, _, id, token))) = self.timers.peek().copied() {
                if at > now {
                    break;
                }
                self.timers.pop();
                self.inputs.push_back((id, Input::Timer { token }));
            }
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred).into_iter().partition(|Reverse((at, ..))| *at <= now);
            self.deferred = later;
            for Reverse((_, _, id, req, result)) in due {
                self.inputs.push_back((id, Input::WriteResult { id: req, result }));
            }
            self.drain(now);
            if now >= until {
                return true;
            }
            let next_timer = self.timers.peek().map(|Reverse((at, ..))| *at).unwrap_or(until).min(until);
            let wait = Duration::from_nanos(next_timer.0.saturating_sub(now.0)).min(Duration::from_millis(200));
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Stop) => return false,
                Ok(msg) => self.handle_msg(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
            // Take whatever else is waiting before running components again.
            while let Ok(msg) = self.rx.try_recv() {
                if matches!(msg, Msg::Stop) {
                    return false;
                }
                self.handle_msg(msg);
            }
        }
    }

    fn handle_msg(&mut self, msg: Msg) {
        let now = wall_now();
        match msg {
            Msg::Stream(StreamEvent::Event(ev)) => {
                let kind = ev.object.kind();
                for (id, s) in self.slots.iter_mut().enumerate() {
                    if s.up && !s.partitioned && s.kinds.contains(&kind) && in_scope(s.scope.as_deref(), &ev.object) && s.cache.apply(&ev) {
                        self.inputs.push_back((id, Input::Watch(ev.clone())));
                    }
                }
            }
            Msg::Stream(StreamEvent::Gone(kind)) => {
                (self.log)(now, "driver", &format!("{} watch compacted: relisting", kind.plural()));
                match self.relist(kind) {
                    Ok(rev) => {
                        self.api.storage.watch_stream(kind, rev + 1, stream_sender(&self.tx));
                        for id in 0..self.slots.len() {
                            if self.slots[id].kinds.contains(&kind) {
                                self.inputs.push_back((id, Input::Synced));
                            }
                        }
                    }
                    Err(e) => {
                        (self.log)(now, "driver", &format!("relist failed, retrying: {e}"));
                        let tx = self.tx.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(1));
                            let _ = tx.send(Msg::Stream(StreamEvent::Gone(kind)));
                        });
                    }
                }
            }
            Msg::Stream(StreamEvent::Broken(kind, why)) => (self.log)(now, "driver", &format!("{} watch broken ({why}); resuming", kind.plural())),
            Msg::RuntimeDone { slot, id, result } => self.inputs.push_back((slot, Input::RuntimeResult { id, result })),
            Msg::ContainerExited { node, exit } => {
                if let Some(id) = self.slots.iter().position(|s| s.scope.as_deref() == Some(node.as_str())) {
                    self.inputs.push_back((id, Input::RuntimeEvent(exit)));
                }
            }
            Msg::Stop => {}
        }
    }

    /// A process crash: it gets nothing until `restart_component`.
    pub fn crash_component(&mut self, id: usize) {
        self.slots[id].up = false;
        self.timers.retain(|Reverse((_, _, slot, _))| *slot != id);
    }

    /// The process starts again: fresh state and caches, a full relist.
    pub fn restart_component(&mut self, id: usize) -> Result<(), String> {
        let s = &mut self.slots[id];
        s.up = true;
        s.comp.restart();
        s.cache = Cache::new(&s.kinds);
        self.relist_slot(id)
    }

    /// Relists every kind one component watches into its cache, hands it the
    /// differences and Synced.
    fn relist_slot(&mut self, id: usize) -> Result<(), String> {
        let kinds = self.slots[id].kinds.clone();
        let prefix = self.api.prefix().to_string();
        for kind in kinds {
            let (objects, rev) = self.api.list(kind, None).map_err(|e: ApiError| e.to_string())?;
            let s = &mut self.slots[id];
            let mine: Vec<Object> = objects.into_iter().filter(|o| in_scope(s.scope.as_deref(), o)).collect();
            for ev in s.cache.replace(kind, mine, rev, &prefix) {
                self.inputs.push_back((id, Input::Watch(ev)));
            }
        }
        self.inputs.push_back((id, Input::Synced));
        self.drain(wall_now());
        Ok(())
    }

    /// Fault: cuts a component off from etcd at the adapter (its watch breaks).
    pub fn partition(&mut self, id: usize) {
        self.slots[id].partitioned = true;
    }

    /// Heals a cut: the component's caches catch up by a relist, as a
    /// reconnecting reflector whose watch history is gone would.
    pub fn heal(&mut self, id: usize) -> Result<(), String> {
        if !self.slots[id].partitioned {
            return Ok(());
        }
        self.slots[id].partitioned = false;
        self.relist_slot(id)
    }

    pub fn nodes(&self) -> Vec<String> {
        self.runtimes.keys().cloned().collect()
    }

    pub fn partitioned_ids(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|i| self.slots[*i].partitioned).collect()
    }

    pub fn runtime_mut(&mut self, node: &str) -> Option<&mut Box<dyn LiveRuntime>> {
        self.runtimes.get_mut(node)
    }

    /// Stops every runtime's containers (unless `keep`), as `live run` does on exit.
    pub fn shutdown(&mut self, keep: bool) -> Vec<String> {
        let mut problems = Vec::new();
        for (node, rt) in self.runtimes.iter_mut() {
            if !keep && let Err(e) = rt.cleanup() {
                problems.push(format!("{node}: {e}"));
            }
        }
        problems
    }
}

fn stream_sender(tx: &Sender<Msg>) -> Sender<StreamEvent> {
    // Forward stream events into the driver's channel from a small thread.
    let (stx, srx) = std::sync::mpsc::channel::<StreamEvent>();
    let tx = tx.clone();
    std::thread::spawn(move || {
        while let Ok(ev) = srx.recv() {
            if tx.send(Msg::Stream(ev)).is_err() {
                return;
            }
        }
    });
    stx
}

/// For tests and reports: how long since `t0`.
pub fn since(t0: SimTime) -> Duration {
    wall_now().since(t0)
}

pub use crate::sim::world::perform_api_action;

/// Keeps `Arc` in the public surface for runtimes that share state with threads.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;
