//! The garbage collector (pkg/controller/garbagecollector): an owner graph
//! (petgraph, dependent → owner edges, keyed by uid) kept from watch events.
//!
//! - Background: a dependent whose every owner is gone is deleted; one with
//!   some owners gone loses the dangling references.
//! - Orphan: an owner being deleted with the `orphan` finalizer has its
//!   references removed from every dependent, then the finalizer removed.
//! - Foreground: an owner being deleted with `foregroundDeletion` has its
//!   dependents deleted; once none is left, the finalizer is removed and the
//!   owner goes.
//!
//! "Gone" is judged from the caches only when the owner kind's cache has
//! caught up with the dependent's revision: watches of different kinds are
//! not ordered with each other, and deleting a pod because its ReplicaSet's
//! ADDED event is still in flight is the classic bug (upstream guards the same
//! case with a live lookup).

use petgraph::graphmap::DiGraphMap;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::api::server::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::api::{ApiError, DeleteOptions, WatchEvent, WatchEventType};
use crate::control::host::{Keys, Reconciler, Step};
use crate::control::{Cache, WriteOp};
use crate::model::{Kind, Object, ObjectRef};
use crate::time::SimTime;

pub const NAME: &str = "garbage-collector";
const RETRY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct GarbageCollector {
    /// uid → graph handle, and back.
    handles: BTreeMap<String, u32>,
    uids: Vec<String>,
    /// Edges dependent → owner.
    graph: DiGraphMap<u32, ()>,
    /// uid → where the object lives in the caches.
    refs: BTreeMap<String, ObjectRef>,
    /// Uids the graph builder found to look at, handed to the work queue.
    queue: BTreeSet<String>,
    /// Objects with a write of ours in flight.
    inflight: BTreeSet<String>,
    /// Distinct objects this collector deleted.
    deleted: BTreeSet<String>,
}

impl GarbageCollector {
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, uid: &str) -> u32 {
        if let Some(h) = self.handles.get(uid) {
            return *h;
        }
        let h = self.uids.len() as u32;
        self.uids.push(uid.to_string());
        self.handles.insert(uid.to_string(), h);
        self.graph.add_node(h);
        h
    }

    fn observe(&mut self, ev_type: WatchEventType, obj: &Object) {
        let m = obj.meta();
        if m.uid.is_empty() {
            return;
        }
        let h = self.intern(&m.uid);
        let mut old: Vec<u32> = self.graph.neighbors_directed(h, petgraph::Direction::Outgoing).collect();
        for &o in &old {
            // A former owner may be waiting for its dependents to let go.
            self.queue.insert(self.uids[o as usize].clone());
        }
        let mut owners: Vec<u32> = Vec::new();
        if ev_type != WatchEventType::Deleted {
            owners = m.owner_references.iter().map(|r| self.intern(&r.uid)).collect();
        }
        // Edges change only when the references do (upstream's
        // referencesDiffs): removing an edge costs the owner's degree, and an
        // owner of thousands of pods sees an update of one of them per event.
        old.sort_unstable();
        owners.sort_unstable();
        owners.dedup();
        if old != owners {
            for &o in &old {
                self.graph.remove_edge(h, o);
            }
            for &oh in &owners {
                self.graph.add_edge(h, oh, ());
            }
        }
        if ev_type == WatchEventType::Deleted {
            self.refs.remove(&m.uid);
            // Its dependents must be looked at again.
            let deps: Vec<u32> = self.graph.neighbors_directed(h, petgraph::Direction::Incoming).collect();
            for d in deps {
                self.queue.insert(self.uids[d as usize].clone());
            }
            return;
        }
        self.refs.insert(m.uid.clone(), ObjectRef::of(obj));
        if !m.owner_references.is_empty() {
            self.queue.insert(m.uid.clone());
        }
        if m.is_deleting() && (m.finalizers.iter().any(|f| f == FINALIZER_ORPHAN || f == FINALIZER_FOREGROUND)) {
            self.queue.insert(m.uid.clone());
            let deps: Vec<u32> = self.graph.neighbors_directed(h, petgraph::Direction::Incoming).collect();
            for d in deps {
                self.queue.insert(self.uids[d as usize].clone());
            }
        }
    }

    fn write(&mut self, uid: &str, op: WriteOp, out: &mut Vec<(String, WriteOp)>) {
        self.inflight.insert(uid.to_string());
        out.push((uid.to_string(), op));
    }

    fn dependents_of(&self, uid: &str) -> Vec<String> {
        let Some(h) = self.handles.get(uid) else { return vec![] };
        self.graph.neighbors_directed(*h, petgraph::Direction::Incoming).map(|d| self.uids[d as usize].clone()).filter(|d| self.refs.contains_key(d)).collect()
    }

    /// Returns false if the caches are not yet fresh enough to decide.
    fn process(&mut self, uid: &str, view: &Cache, out: &mut Vec<(String, WriteOp)>) -> bool {
        if self.inflight.contains(uid) {
            return true;
        }
        let Some(r) = self.refs.get(uid).cloned() else { return true };
        let Some(obj) = view.get(r.kind, &r.namespace, &r.name).filter(|o| o.meta().uid == uid).cloned() else { return true };
        let m = obj.meta();
        // As an owner being deleted: orphan or foreground.
        if m.is_deleting() {
            let deps = self.dependents_of(uid);
            if m.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
                if deps.is_empty() {
                    let mut next = obj.clone();
                    next.meta_mut().finalizers.retain(|f| f != FINALIZER_ORPHAN);
                    self.write(uid, WriteOp::Update(next), out);
                } else {
                    for d in deps {
                        self.strip_owner(&d, uid, view, out);
                    }
                }
                return true;
            }
            if m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
                if deps.is_empty() {
                    let mut next = obj.clone();
                    next.meta_mut().finalizers.retain(|f| f != FINALIZER_FOREGROUND);
                    self.write(uid, WriteOp::Update(next), out);
                } else {
                    for d in deps {
                        self.delete(&d, view, out);
                    }
                }
                return true;
            }
        }
        // As a dependent: are its owners gone?
        if m.owner_references.is_empty() {
            return true;
        }
        let mut absent = Vec::new();
        for o in &m.owner_references {
            let Some(kind) = Kind::ALL.iter().copied().find(|k| k.name() == o.kind) else { continue };
            if !view.watches(kind) {
                continue; // a kind this collector does not follow: never judged absent
            }
            let live = view.get(kind, &m.namespace, &o.name).is_some_and(|x| x.meta().uid == o.uid || crate::mutants::active("gc-owner-by-name"));
            if live {
                continue;
            }
            if view.revision(kind) < m.revision() {
                return false; // the owner's cache is behind this dependent: wait
            }
            absent.push(o.uid.clone());
        }
        if absent.is_empty() {
            return true;
        }
        if absent.len() == m.owner_references.len() {
            if !m.is_deleting() {
                self.delete(uid, view, out);
            }
        } else {
            let mut next = obj.clone();
            next.meta_mut().owner_references.retain(|o| !absent.contains(&o.uid));
            self.write(uid, WriteOp::Update(next), out);
        }
        true
    }

    fn strip_owner(&mut self, dep: &str, owner: &str, view: &Cache, out: &mut Vec<(String, WriteOp)>) {
        let Some(r) = self.refs.get(dep).cloned() else { return };
        if self.inflight.contains(dep) {
            return;
        }
        if let Some(obj) = view.get(r.kind, &r.namespace, &r.name) {
            let mut next = obj.clone();
            next.meta_mut().owner_references.retain(|o| o.uid != owner);
            self.write(dep, WriteOp::Update(next), out);
        }
    }

    fn delete(&mut self, uid: &str, view: &Cache, out: &mut Vec<(String, WriteOp)>) {
        let Some(r) = self.refs.get(uid).cloned() else { return };
        if self.inflight.contains(uid) || view.get(r.kind, &r.namespace, &r.name).is_some_and(|o| o.meta().is_deleting()) {
            return;
        }
        let options = DeleteOptions { precondition_uid: Some(uid.to_string()), ..Default::default() };
        self.write(uid, WriteOp::Delete { target: r, options }, out);
    }
}

/// `--concurrent-gc-syncs`.
pub const WORKERS: usize = 20;

/// A sync's writes, by the uid each one touches and whether it deletes it.
#[derive(Debug)]
pub struct Writes(Vec<(String, bool)>);

impl GarbageCollector {
    /// Hands what the graph builder found to the work queue.
    fn flush(&mut self, keys: &mut Keys<String>) {
        for uid in std::mem::take(&mut self.queue) {
            keys.add(uid);
        }
    }
}

impl Reconciler for GarbageCollector {
    type Key = String;
    type Stage = Writes;

    fn name(&self) -> &str {
        NAME
    }

    /// Every kind that says the collector follows it (`Resource::GARBAGE_COLLECTED`).
    fn watched_kinds(&self) -> Vec<Kind> {
        Kind::ALL.iter().copied().filter(|k| k.garbage_collected()).collect()
    }

    fn workers(&self) -> usize {
        WORKERS
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        vec![("deleted", self.deleted.len() as u64)]
    }

    fn restart(&mut self) {
        *self = GarbageCollector::new();
    }

    fn on_synced(&mut self, _now: SimTime, view: &Cache, keys: &mut Keys<String>) {
        let objs: Vec<Object> = self.watched_kinds().into_iter().flat_map(|k| view.list(k).cloned().collect::<Vec<_>>()).collect();
        for o in &objs {
            self.observe(WatchEventType::Added, o);
        }
        self.flush(keys);
    }

    fn on_event(&mut self, _now: SimTime, ev: &WatchEvent, _view: &Cache, keys: &mut Keys<String>) {
        self.observe(ev.type_, &ev.object);
        self.flush(keys);
    }

    /// `attemptToDeleteItem` / `orphanDependents` for one object: its writes
    /// go out together; an object whose owners' caches lag behind it is
    /// looked at again a second later.
    fn reconcile(&mut self, _now: SimTime, uid: &String, view: &Cache, _keys: &mut Keys<String>) -> Step<Writes> {
        let mut out = Vec::new();
        if !self.process(uid, view, &mut out) {
            return Step::after(RETRY);
        }
        let touched = out.iter().map(|(u, op)| (u.clone(), matches!(op, WriteOp::Delete { .. }))).collect();
        Step::Call { ops: out.into_iter().map(|(_, op)| op).collect(), then: Writes(touched) }
    }

    fn resume(&mut self, _now: SimTime, _uid: &String, writes: Writes, results: Vec<Result<Object, ApiError>>, _view: &Cache, keys: &mut Keys<String>) -> Step<Writes> {
        for ((uid, deleted), result) in writes.0.into_iter().zip(results) {
            if deleted && result.is_ok() {
                self.deleted.insert(uid.clone());
            }
            self.inflight.remove(&uid);
            // Look again: a finalizer to remove, or a write that failed.
            keys.add(uid);
        }
        Step::done()
    }
}

#[cfg(test)]
mod tests;
