//! The controller host: runs a `Reconciler` as a component, the way
//! kube-controller-manager runs a controller (client-go's workqueue plus
//! `processNextWorkItem`, kube-runtime's `Controller`):
//!
//! - events map to keys (`on_event`, `on_synced`) in a work queue that hands a
//!   key to one worker at a time (added again while processing, it is synced
//!   once more after);
//! - at most `workers()` syncs run at once (upstream's `--concurrent-*-syncs`);
//! - a sync is `reconcile(key) -> Step`: API calls to make, then `resume` with
//!   their answers; a step's calls go out together (upstream's goroutines, as
//!   in slow-start batches) and the next step only after every answer is in,
//!   so within one sync each call follows the previous one's answer, as with
//!   a blocking client;
//! - a sync ends `Done` (the key's backoff is forgotten; requeued after a
//!   delay if asked) or `Failed` (requeued with the per-key backoff, 5 ms
//!   doubling to 1000 s).
//!
//! Request ids come from the driver (tagged with the process's incarnation);
//! a restart starts the reconciler, queue and syncs afresh.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::time::Duration;

use crate::api::{ApiError, WatchEvent};
use crate::control::workqueue::WorkQueue;
use crate::control::{Cache, Component, Input, Outbox, RequestId, WriteOp};
use crate::model::{Kind, Object};
use crate::time::SimTime;

/// What a sync does next.
#[derive(Debug)]
pub enum Step<S> {
    /// Make these API calls together, then `resume` with their answers in the same order.
    Call { ops: Vec<WriteOp>, then: S },
    /// Make these calls one after another, each once the previous one has
    /// answered; the first failure fails the sync; once all succeeded, `then`
    /// (`Done`, or `Failed` when the sync found an error after planning these
    /// calls, as upstream returns one mid-sync).
    Sequence { ops: Vec<WriteOp>, then: Box<Step<S>> },
    /// Finished: forget the key's failures, and look again after a while if asked.
    Done { requeue_after: Option<Duration> },
    /// Finished, and queued again through the rate limiter (upstream's
    /// `enqueueRateLimited` inside a sync that then succeeds: the key's
    /// failures are forgotten, the shared bucket still counts it).
    DoneRequeueRateLimited,
    /// Failed: retry after the key's backoff.
    Failed,
}

impl<S> Step<S> {
    pub fn done() -> Step<S> {
        Step::Done { requeue_after: None }
    }
    pub fn after(d: Duration) -> Step<S> {
        Step::Done { requeue_after: Some(d) }
    }
    /// The calls, in order, each after the previous one answered (done at once if none).
    pub fn sequence(ops: Vec<WriteOp>) -> Step<S> {
        if ops.is_empty() { Step::done() } else { Step::Sequence { ops, then: Box::new(Step::done()) } }
    }
}

/// Where event handlers and syncs queue keys.
pub struct Keys<'a, K: Ord + Clone> {
    queue: &'a mut WorkQueue<K>,
    now: SimTime,
}

impl<'a, K: Ord + Clone> Keys<'a, K> {
    /// Keys into `queue` as of `now` (hosts, and tests driving a reconciler directly).
    pub fn new(queue: &'a mut WorkQueue<K>, now: SimTime) -> Keys<'a, K> {
        Keys { queue, now }
    }
    pub fn add(&mut self, key: K) {
        self.queue.add(key);
    }
    pub fn add_after(&mut self, key: K, after: Duration) {
        self.queue.add_after(key, self.now, after);
    }
}

/// A controller as upstream writes one: what it watches, how an event maps
/// to keys, and how one key is brought to its desired state.
pub trait Reconciler {
    type Key: Clone + Ord + Debug;
    /// Where a sync waiting for answers resumes.
    type Stage;
    fn name(&self) -> &str;
    fn watched_kinds(&self) -> Vec<Kind>;
    /// How many keys are synced at once (upstream's `--concurrent-*-syncs`).
    fn workers(&self) -> usize;
    /// The caches hold a complete list (start, and every relist).
    fn on_synced(&mut self, now: SimTime, view: &Cache, keys: &mut Keys<Self::Key>);
    /// A watch event, after the cache applied it.
    fn on_event(&mut self, now: SimTime, ev: &WatchEvent, view: &Cache, keys: &mut Keys<Self::Key>);
    /// Starts a sync of `key`.
    fn reconcile(&mut self, now: SimTime, key: &Self::Key, view: &Cache, keys: &mut Keys<Self::Key>) -> Step<Self::Stage>;
    /// Continues a sync once every call of its last `Call` step answered.
    fn resume(&mut self, now: SimTime, key: &Self::Key, stage: Self::Stage, results: Vec<Result<Object, ApiError>>, view: &Cache, keys: &mut Keys<Self::Key>) -> Step<Self::Stage>;
    /// A new process: everything not recovered from the API is forgotten.
    fn restart(&mut self);
    fn stats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// One write of a `Step::Sequence` answered (`index` in the sequence),
    /// before the next is sent.
    fn sequence_answered(&mut self, _now: SimTime, _key: &Self::Key, _index: usize, _result: &Result<Object, ApiError>) {}
    /// The controller's event recorder, if it records events; the host
    /// sends what it recorded after each input and takes its answers.
    fn recorder(&mut self) -> Option<&mut crate::control::events::EventRecorder> {
        None
    }
}

enum Running<S> {
    Batch { stage: S, results: Vec<Option<Result<Object, ApiError>>>, pending: usize },
    Sequence { rest: VecDeque<WriteOp>, then: Box<Step<S>>, answered: usize },
}

/// A later spec update of an object this sequence just updated goes on from
/// the version that write returned, as upstream passes the updated object
/// along (`oldRSs[i] = updatedOldRS`). Status writes are not chained: upstream
/// discards the answer of an early status write, so a later one conflicts.
fn chain_versions(rest: &mut VecDeque<WriteOp>, written: &Object) {
    let (kind, meta) = (written.kind(), written.meta());
    for op in rest.iter_mut() {
        if let WriteOp::Update(o) = op
            && o.kind() == kind
            && o.meta().name == meta.name
            && o.meta().namespace == meta.namespace
        {
            o.meta_mut().resource_version = meta.resource_version.clone();
        }
    }
}

/// Runs a `Reconciler` as a component.
pub struct Host<R: Reconciler> {
    r: R,
    queue: WorkQueue<R::Key>,
    running: BTreeMap<R::Key, Running<R::Stage>>,
    /// Request → the sync it belongs to and its place in the step.
    calls: BTreeMap<RequestId, (R::Key, usize)>,
    /// The wake-up already asked for.
    wake: Option<SimTime>,
    syncs: u64,
    /// Every watched kind has been listed since the (re)start: workers may
    /// run. Upstream's controllers `WaitForCacheSync` before starting
    /// workers; a sync that ran on the first kind listed would act on an
    /// empty cache of the others (a ReplicaSet with no pods yet: duplicates).
    synced: bool,
}

impl<R: Reconciler> Host<R> {
    pub fn new(r: R) -> Host<R> {
        Host { r, queue: WorkQueue::new(), running: BTreeMap::new(), calls: BTreeMap::new(), wake: None, syncs: 0, synced: false }
    }

    pub fn reconciler(&self) -> &R {
        &self.r
    }

    fn apply(&mut self, now: SimTime, key: R::Key, step: Step<R::Stage>, view: &Cache, out: &mut Outbox) {
        let mut step = step;
        loop {
            match step {
                Step::Call { ops, then } if ops.is_empty() => {
                    let mut keys = Keys { queue: &mut self.queue, now };
                    step = self.r.resume(now, &key, then, Vec::new(), view, &mut keys);
                }
                Step::Call { ops, then } => {
                    let n = ops.len();
                    for (i, op) in ops.into_iter().enumerate() {
                        let id = out.write(op);
                        self.calls.insert(id, (key.clone(), i));
                    }
                    self.running.insert(key, Running::Batch { stage: then, results: (0..n).map(|_| None).collect(), pending: n });
                    return;
                }
                Step::Sequence { ops, then } => {
                    let mut rest: VecDeque<WriteOp> = ops.into();
                    let Some(first) = rest.pop_front() else {
                        step = *then;
                        continue;
                    };
                    let id = out.write(first);
                    self.calls.insert(id, (key.clone(), 0));
                    self.running.insert(key, Running::Sequence { rest, then, answered: 0 });
                    return;
                }
                Step::Done { requeue_after } => {
                    self.queue.forget(&key);
                    self.queue.done(&key);
                    if let Some(d) = requeue_after {
                        self.queue.add_after(key, now, d);
                    }
                    return;
                }
                Step::Failed => {
                    self.queue.done(&key);
                    self.queue.add_rate_limited(key, now);
                    return;
                }
                Step::DoneRequeueRateLimited => {
                    self.queue.add_rate_limited(key.clone(), now);
                    self.queue.forget(&key);
                    self.queue.done(&key);
                    return;
                }
            }
        }
    }

    fn answered(&mut self, now: SimTime, id: RequestId, result: Result<Object, ApiError>, view: &Cache, out: &mut Outbox) {
        let Some((key, index)) = self.calls.remove(&id) else { return };
        let Some(run) = self.running.get_mut(&key) else { return };
        match run {
            Running::Batch { results, pending, .. } => {
                results[index] = Some(result);
                *pending -= 1;
                if *pending > 0 {
                    return;
                }
                let Some(Running::Batch { stage, results, .. }) = self.running.remove(&key) else { return };
                let results = results.into_iter().map(|r| r.expect("every call answered")).collect();
                let mut keys = Keys { queue: &mut self.queue, now };
                let step = self.r.resume(now, &key, stage, results, view, &mut keys);
                self.apply(now, key, step, view, out);
            }
            Running::Sequence { rest, answered, .. } => {
                self.r.sequence_answered(now, &key, *answered, &result);
                *answered += 1;
                let written = match &result {
                    Ok(o) => o,
                    Err(_) => {
                        self.running.remove(&key);
                        self.apply(now, key, Step::Failed, view, out);
                        return;
                    }
                };
                chain_versions(rest, written);
                match rest.pop_front() {
                    Some(next) => {
                        let id = out.write(next);
                        self.calls.insert(id, (key, 0));
                    }
                    None => {
                        let Some(Running::Sequence { then, .. }) = self.running.remove(&key) else { return };
                        self.apply(now, key, *then, view, out);
                    }
                }
            }
        }
    }

    /// Starts syncs while workers are free and keys are due.
    fn pump(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        while self.synced && self.queue.processing() < self.r.workers() {
            let Some(key) = self.queue.get(now) else { break };
            self.syncs += 1;
            let mut keys = Keys { queue: &mut self.queue, now };
            let step = self.r.reconcile(now, &key, view, &mut keys);
            self.apply(now, key, step, view, out);
        }
        // A key coming due needs a wake-up only if a worker can take it: with
        // every worker busy (or the caches not yet synced), the answer that
        // frees one (or Synced) pumps again. Waking at a due time already
        // past with no free worker would fire again at the same instant forever
        // (swarm-workload seed 692: an event storm that never advanced time).
        let free = self.synced && self.queue.processing() < self.r.workers();
        if free
            && let Some(due) = self.queue.next_due()
            && self.wake.is_none_or(|w| w <= now || due < w)
        {
            self.wake = Some(due);
            out.wake_at(due, 0);
        }
    }
}

impl<R: Reconciler> Component for Host<R> {
    fn name(&self) -> &str {
        self.r.name()
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        self.r.watched_kinds()
    }

    fn restart(&mut self) {
        self.r.restart();
        self.queue = WorkQueue::new();
        self.running.clear();
        self.calls.clear();
        self.wake = None;
        self.synced = false;
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        self.r.stats()
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        if let Input::WriteResult { id, result } = &input
            && let Some(recorder) = self.r.recorder()
            && recorder.answered(*id, result, out)
        {
            return;
        }
        match input {
            Input::Synced => {
                self.synced = true;
                let mut keys = Keys { queue: &mut self.queue, now };
                self.r.on_synced(now, view, &mut keys);
            }
            Input::Watch(ev) => {
                let mut keys = Keys { queue: &mut self.queue, now };
                self.r.on_event(now, &ev, view, &mut keys);
            }
            Input::WriteResult { id, result } => self.answered(now, id, result, view, out),
            Input::Timer { .. } => {
                if self.wake.is_some_and(|w| w <= now) {
                    self.wake = None;
                }
            }
            Input::RuntimeResult { .. } | Input::RuntimeEvent(_) => {}
        }
        self.pump(now, view, out);
        if let Some(recorder) = self.r.recorder() {
            recorder.flush(out);
        }
    }
}
