//! The live driver: the same components as the simulator, around the same
//! driver core (`driver::Core`), on the wall clock. What differs is only how
//! time passes and how requests travel: API writes go through the API layer
//! onto etcd at once, runtime operations onto a node's runtime; etcd watch
//! streams (relisted after compaction), runtime replies, container exits and
//! timers come back as inputs.
//!
//! One thread runs every component, one input at a time, as the simulator
//! does; etcd streams and runtime calls run on a tokio runtime and reach it
//! through a channel.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::etcd::{EtcdStorage, StreamEvent};
use super::runtime::LiveRuntime;
use crate::api::{ApiError, ApiServer};
use crate::control::{Component, Input, RequestId};
use crate::driver::{Core, REQUEST_TIMEOUT, Sent, SlotId, timeout_error};
use crate::model::meta::SIM_EPOCH_UNIX_S;
use crate::model::{Kind, Object};
use crate::runtime::{ContainerExit, RuntimeError, RuntimeReply};
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

/// An input waiting for the driver thread, in arrival order.
enum Pending {
    Input(SlotId, Input),
    Watch(SlotId, crate::api::WatchEvent),
    Write(SlotId, RequestId, Result<Object, ApiError>),
    Runtime(SlotId, RequestId, Result<RuntimeReply, RuntimeError>),
    Timer(SlotId, u64, u32),
}

/// One line of the live log (also the driver's record of what it did).
pub type LogFn = Box<dyn FnMut(SimTime, &str, &str)>;

pub struct LiveDriver {
    core: Core<EtcdStorage>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// (due, seq, slot, token, incarnation).
    timers: BinaryHeap<Reverse<(SimTime, u64, SlotId, u64, u32)>>,
    seq: u64,
    pending: VecDeque<Pending>,
    runtimes: BTreeMap<String, Box<dyn LiveRuntime>>,
    /// Cut off from etcd at the adapter: writes time out, watch events are lost.
    partitioned: Vec<bool>,
    log: LogFn,
    pub writes: u64,
    pub write_errors: u64,
    /// Answers that arrive later (timeouts of cut-off components):
    /// (due, seq, slot, request).
    deferred: BinaryHeap<Reverse<(SimTime, u64, SlotId, RequestId)>>,
}

impl LiveDriver {
    pub fn new(api: ApiServer<EtcdStorage>, log: LogFn) -> LiveDriver {
        let (tx, rx) = std::sync::mpsc::channel();
        LiveDriver {
            core: Core::new(api),
            tx,
            rx,
            timers: BinaryHeap::new(),
            seq: 0,
            pending: VecDeque::new(),
            runtimes: BTreeMap::new(),
            partitioned: Vec::new(),
            log,
            writes: 0,
            write_errors: 0,
            deferred: BinaryHeap::new(),
        }
    }

    pub fn api(&self) -> &ApiServer<EtcdStorage> {
        &self.core.api
    }
    pub fn api_mut(&mut self) -> &mut ApiServer<EtcdStorage> {
        &mut self.core.api
    }

    /// A sender for other threads (Ctrl-C, runtime event streams).
    pub fn sender(&self) -> Sender<Msg> {
        self.tx.clone()
    }

    /// Registers a component; a kubelet's node gets `runtime`.
    pub fn add(&mut self, comp: Box<dyn Component>, runtime: Option<Box<dyn LiveRuntime>>) {
        if let (Some(node), Some(rt)) = (comp.runtime_node(), runtime) {
            self.runtimes.insert(node.to_string(), rt);
        }
        self.core.add(comp);
        self.partitioned.push(false);
    }

    pub fn component_id(&self, name: &str) -> Option<usize> {
        self.core.find(name)
    }

    /// The component that drives `node`'s runtime (its kubelet).
    pub fn kubelet_of(&self, node: &str) -> Option<usize> {
        self.core.kubelet_of(node)
    }

    /// Lists every watched kind once, hands every component its part of it
    /// (the differences) and Synced, and opens one etcd watch stream per kind.
    pub fn start(&mut self) -> Result<(), String> {
        let mut kinds: Vec<Kind> = Vec::new();
        for s in self.core.slots() {
            for k in &s.kinds {
                if !kinds.contains(k) {
                    kinds.push(*k);
                }
            }
        }
        let now = wall_now();
        for kind in kinds {
            let rev = self.relist(kind, now)?;
            self.core.api.storage.watch_stream(kind, rev + 1, stream_sender(&self.tx));
        }
        for id in 0..self.core.len() {
            self.pending.push_back(Pending::Input(id, Input::Synced));
        }
        self.drain(now);
        Ok(())
    }

    /// Lists `kind` into every cache that watches it; returns the revision.
    fn relist(&mut self, kind: Kind, now: SimTime) -> Result<i64, String> {
        let (objects, rev) = self.core.api.list(kind, None).map_err(|e| format!("listing {}: {e}", kind.plural()))?;
        for id in 0..self.core.len() {
            if self.core.slot(id).kinds.contains(&kind) && !self.partitioned[id] {
                let mine = self.core.in_scope(id, &objects);
                self.core.relisted(id, now, kind, mine, rev);
            }
        }
        self.carry(now);
        Ok(rev)
    }

    /// Runs queued inputs (and the inputs their effects produce) to quiescence.
    fn drain(&mut self, now: SimTime) {
        while let Some(p) = self.pending.pop_front() {
            match p {
                Pending::Input(id, input) => self.core.call(id, now, input),
                Pending::Watch(id, ev) => {
                    self.core.deliver(id, now, ev);
                }
                Pending::Write(id, req, result) => {
                    self.core.answer_write(id, now, req, result);
                }
                Pending::Runtime(id, req, result) => {
                    self.core.answer_runtime(id, now, req, result);
                }
                Pending::Timer(id, token, incarnation) => {
                    self.core.fire_timer(id, now, token, incarnation);
                }
            }
            self.carry(now);
        }
    }

    /// Carries what components asked for: writes to etcd now (or, cut off,
    /// a timeout later), runtime calls to the node's runtime, timers.
    fn carry(&mut self, now: SimTime) {
        for sent in self.core.take_sent() {
            match sent {
                Sent::Write { slot, id: req, .. } if self.partitioned[slot] => {
                    // Cut off: the request never reaches etcd; the client times out.
                    self.write_errors += 1;
                    self.seq += 1;
                    self.deferred.push(Reverse((now + REQUEST_TIMEOUT, self.seq, slot, req)));
                }
                Sent::Write { slot, id: req, op } => {
                    let verb = op.verb();
                    let target = op.target().to_string();
                    let result = self.core.execute(op, now);
                    self.writes += 1;
                    if let Err(e) = &result {
                        self.write_errors += 1;
                        // Conflicts are optimistic concurrency doing its job; log the rest.
                        if !e.is_conflict() {
                            let name = self.core.slot(slot).name.clone();
                            (self.log)(now, &name, &format!("{verb} {target}: {} {e}", e.code()));
                        }
                    }
                    self.pending.push_back(Pending::Write(slot, req, result));
                }
                Sent::Timer { slot, at, token, incarnation } => {
                    self.seq += 1;
                    self.timers.push(Reverse((at, self.seq, slot, token, incarnation)));
                }
                Sent::Runtime { slot, id: req, op } => {
                    let Some(node) = self.core.slot(slot).scope.clone() else { continue };
                    match self.runtimes.get_mut(&*node) {
                        Some(rt) => rt.call(slot, req, op, self.tx.clone()),
                        None => self.pending.push_back(Pending::Runtime(slot, req, Err(RuntimeError::Unavailable(format!("node {node} has no runtime"))))),
                    }
                }
            }
        }
    }

    /// Fires due timers and handles messages until `until` (wall clock) or Stop.
    /// Returns false when stopped early.
    pub fn run_until(&mut self, until: SimTime) -> bool {
        loop {
            let now = wall_now();
            while let Some(Reverse((at, _, id, token, incarnation))) = self.timers.peek().copied() {
                if at > now {
                    break;
                }
                self.timers.pop();
                self.pending.push_back(Pending::Timer(id, token, incarnation));
            }
            while let Some(Reverse((at, _, id, req))) = self.deferred.peek().copied() {
                if at > now {
                    break;
                }
                self.deferred.pop();
                self.pending.push_back(Pending::Write(id, req, Err(timeout_error())));
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
                let recipients = self.core.recipients(&ev.object).to_vec();
                for id in recipients {
                    if self.core.slot(id).up && !self.partitioned[id] {
                        self.pending.push_back(Pending::Watch(id, ev.clone()));
                    }
                }
            }
            Msg::Stream(StreamEvent::Gone(kind)) => {
                (self.log)(now, "driver", &format!("{} watch compacted: relisting", kind.plural()));
                match self.relist(kind, now) {
                    Ok(rev) => {
                        self.core.api.storage.watch_stream(kind, rev + 1, stream_sender(&self.tx));
                        for id in 0..self.core.len() {
                            if self.core.slot(id).kinds.contains(&kind) {
                                self.pending.push_back(Pending::Input(id, Input::Synced));
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
            Msg::RuntimeDone { slot, id, result } => self.pending.push_back(Pending::Runtime(slot, id, result)),
            Msg::ContainerExited { node, exit } => {
                if let Some(id) = self.core.kubelet_of(&node) {
                    self.pending.push_back(Pending::Input(id, Input::RuntimeEvent(exit)));
                }
            }
            Msg::Stop => {}
        }
    }

    /// A process crash: it gets nothing until `restart_component`.
    pub fn crash_component(&mut self, id: usize) {
        self.core.crash(id);
    }

    /// The process starts again: fresh state and caches, a full relist.
    pub fn restart_component(&mut self, id: usize) -> Result<(), String> {
        self.core.restart(id);
        self.relist_slot(id)
    }

    /// Relists every kind one component watches into its cache, hands it the
    /// differences and Synced.
    fn relist_slot(&mut self, id: usize) -> Result<(), String> {
        let now = wall_now();
        for kind in self.core.slot(id).kinds.clone() {
            let (objects, rev) = self.core.list(id, kind, None).map_err(|e: ApiError| e.to_string())?;
            self.core.relisted(id, now, kind, objects, rev);
        }
        self.pending.push_back(Pending::Input(id, Input::Synced));
        self.carry(now);
        self.drain(now);
        Ok(())
    }

    /// Fault: cuts a component off from etcd at the adapter (its watch breaks).
    pub fn partition(&mut self, id: usize) {
        self.partitioned[id] = true;
    }

    /// Heals a cut: the component's watches resume as the simulator's do
    /// (`Core::resume`); a live etcd replays history only as a stream, so
    /// each kind relists and the component gets Synced.
    pub fn heal(&mut self, id: usize) -> Result<(), String> {
        if !self.partitioned[id] {
            return Ok(());
        }
        self.partitioned[id] = false;
        let now = wall_now();
        let mut relisted = false;
        for (kind, _, resumed) in self.core.resume(id) {
            match resumed {
                Ok(events) => events.into_iter().for_each(|e| self.pending.push_back(Pending::Watch(id, e))),
                Err(ApiError::Gone { .. } | ApiError::Unsupported(_)) => {
                    let (objects, rev) = self.core.list(id, kind, None).map_err(|e| e.to_string())?;
                    self.core.relisted(id, now, kind, objects, rev);
                    relisted = true;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if relisted {
            self.pending.push_back(Pending::Input(id, Input::Synced));
        }
        self.carry(now);
        self.drain(now);
        Ok(())
    }

    pub fn nodes(&self) -> Vec<String> {
        self.runtimes.keys().cloned().collect()
    }

    pub fn partitioned_ids(&self) -> Vec<usize> {
        (0..self.partitioned.len()).filter(|i| self.partitioned[*i]).collect()
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

pub use crate::driver::actions::perform_api_action;

/// Keeps `Arc` in the public surface for runtimes that share state with threads.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;
