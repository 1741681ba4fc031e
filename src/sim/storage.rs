//! The simulated etcd as the API layer's storage: conditional writes as etcd
//! transactions, watch events queued for the simulator to drain and deliver.

use crate::api::storage::{Revision, Storage, StorageError, WatchEvent, WatchEventType, WriteOutcome};
use crate::model::{Kind, Object};
use super::etcd::{Compare, CompareOp, CompareTarget, EtcdError, EventType, LeaseId, SimEtcd, TxnOp};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn bound_node(o: &Object) -> Option<&str> {
    match o {
        Object::Pod(p) if !p.spec.node_name.is_empty() => Some(&p.spec.node_name),
        _ => None,
    }
}

/// The simulated etcd as API storage. Writes also queue their watch events,
/// which the simulator drains and delivers.
#[derive(Debug, Default)]
pub struct SimStorage {
    pub etcd: SimEtcd<Object>,
    leases: crate::api::storage::LeaseReuse,
    pending: Vec<WatchEvent>,
    /// Keys of the pods bound to each node (at the current revision).
    pods_by_node: BTreeMap<String, BTreeSet<Arc<str>>>,
}

impl SimStorage {
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    /// Watch events produced since the last call, in revision order.
    pub fn drain_events(&mut self) -> Vec<WatchEvent> {
        std::mem::take(&mut self.pending)
    }

    fn record(&mut self, events: Vec<super::etcd::Event<Object>>) {
        for e in &events {
            let before = e.prev_kv.as_ref().and_then(|p| bound_node(&p.value));
            let after = match e.kind {
                EventType::Put => bound_node(&e.kv.value),
                EventType::Delete => None,
            };
            if before == after {
                continue;
            }
            if let Some(n) = before
                && let Some(set) = self.pods_by_node.get_mut(n)
            {
                set.remove(&e.kv.key);
                if set.is_empty() {
                    self.pods_by_node.remove(n);
                }
            }
            if let Some(n) = after {
                self.pods_by_node.entry(n.to_string()).or_default().insert(e.kv.key.clone());
            }
        }
        self.pending.extend(events.into_iter().map(to_watch_event));
    }

    fn compacted(e: EtcdError) -> StorageError {
        match e {
            EtcdError::Compacted { requested, compacted } => StorageError::Compacted { requested, compacted },
            other => StorageError::Unavailable(other.to_string()),
        }
    }

    /// Deletes the keys of every lease expired by `now` (their watch events
    /// follow like any others); the next expiry, if any, for a wake-up.
    pub fn expire_leases(&mut self, now: SimTime) -> Option<SimTime> {
        for resp in self.etcd.expire_leases(now) {
            self.record(resp.events);
        }
        self.etcd.next_lease_expiry()
    }

    fn lease(&mut self, ttl: crate::api::storage::Ttl) -> LeaseId {
        let etcd = &mut self.etcd;
        self.leases.lease_for(ttl, |s| Ok::<_, ()>(etcd.lease_grant(s, ttl.now))).unwrap_or(0)
    }

    fn conditional_put(&mut self, key: &str, obj: Object, compare: CompareTarget<Object>) -> Result<WriteOutcome, StorageError> {
        self.conditional_put_leased(key, obj, compare, 0)
    }

    fn conditional_put_leased(&mut self, key: &str, mut obj: Object, compare: CompareTarget<Object>, lease: LeaseId) -> Result<WriteOutcome, StorageError> {
        let next = self.etcd.revision() + 1;
        obj.meta_mut().resource_version = next.to_string();
        let resp = self
            .etcd
            .txn(&[Compare { key: key.into(), op: CompareOp::Equal, target: compare }], &[TxnOp::Put { key: key.into(), value: obj.clone(), lease }], &[])
            .map_err(Self::compacted)?;
        if !resp.succeeded {
            return Ok(WriteOutcome::PreconditionFailed);
        }
        self.record(resp.events);
        Ok(WriteOutcome::Written(obj))
    }
}

/// Converts an etcd event into an API watch event.
pub fn to_watch_event(e: super::etcd::Event<Object>) -> WatchEvent {
    let revision = e.revision();
    match e.kind {
        EventType::Put => WatchEvent {
            type_: if e.prev_kv.is_none() { WatchEventType::Added } else { WatchEventType::Modified },
            object: e.kv.value.clone(),
            key: e.kv.key.clone(),
            revision,
        },
        EventType::Delete => {
            let mut object = e.prev_kv.map(|p| p.value.clone()).unwrap_or_else(|| e.kv.value.clone());
            object.meta_mut().resource_version = revision.to_string();
            WatchEvent { type_: WatchEventType::Deleted, object, key: e.kv.key.clone(), revision }
        }
    }
}

impl Storage for SimStorage {
    fn revision(&self) -> Revision {
        self.etcd.revision()
    }

    fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        Ok(self.etcd.get(key, 0).map_err(Self::compacted)?.map(|kv| kv.value.clone()))
    }

    fn list(&self, prefix: &str) -> Result<(Vec<Object>, Revision), StorageError> {
        let (kvs, rev) = self.etcd.range_prefix(prefix, 0).map_err(Self::compacted)?;
        Ok((kvs.iter().map(|kv| kv.value.clone()).collect(), rev))
    }

    fn list_at(&self, prefix: &str, rev: Revision) -> Result<(Vec<Object>, Revision), StorageError> {
        let (kvs, _) = self.etcd.range_prefix(prefix, rev).map_err(Self::compacted)?;
        Ok((kvs.iter().map(|kv| kv.value.clone()).collect(), rev))
    }

    fn create(&mut self, key: &str, obj: Object) -> Result<WriteOutcome, StorageError> {
        self.conditional_put(key, obj, CompareTarget::Version(0))
    }

    fn update(&mut self, key: &str, obj: Object, expected: Revision) -> Result<WriteOutcome, StorageError> {
        self.conditional_put(key, obj, CompareTarget::ModRevision(expected))
    }

    fn create_with_ttl(&mut self, key: &str, obj: Object, ttl: crate::api::storage::Ttl) -> Result<WriteOutcome, StorageError> {
        let lease = self.lease(ttl);
        self.conditional_put_leased(key, obj, CompareTarget::Version(0), lease)
    }

    fn update_with_ttl(&mut self, key: &str, obj: Object, expected: Revision, ttl: crate::api::storage::Ttl) -> Result<WriteOutcome, StorageError> {
        let lease = self.lease(ttl);
        self.conditional_put_leased(key, obj, CompareTarget::ModRevision(expected), lease)
    }

    fn delete(&mut self, key: &str, expected: Revision) -> Result<WriteOutcome, StorageError> {
        let resp = self
            .etcd
            .txn(
                &[Compare { key: key.into(), op: CompareOp::Equal, target: CompareTarget::ModRevision(expected) }],
                &[TxnOp::Delete { key: key.into() }],
                &[],
            )
            .map_err(Self::compacted)?;
        if !resp.succeeded || resp.events.is_empty() {
            return Ok(WriteOutcome::PreconditionFailed);
        }
        let ev = to_watch_event(resp.events[0].clone());
        self.record(resp.events);
        Ok(WriteOutcome::Written(ev.object))
    }

    fn list_pods_on_node(&self, prefix: &str, node: &str) -> Result<(Vec<Object>, Revision), StorageError> {
        let mut out = Vec::new();
        for key in self.pods_by_node.get(node).into_iter().flatten().filter(|k| k.starts_with(prefix)) {
            if let Some(kv) = self.etcd.get(key, 0).map_err(Self::compacted)? {
                out.push(kv.value.clone());
            }
        }
        Ok((out, self.etcd.revision()))
    }

    fn watch_since(&self, _kind: Kind, prefix: &str, from: Revision) -> Result<Vec<WatchEvent>, StorageError> {
        let events = self.etcd.history_since(prefix, from).map_err(Self::compacted)?;
        Ok(events.into_iter().map(to_watch_event).collect())
    }
}

#[cfg(test)]
mod api_server_tests;
