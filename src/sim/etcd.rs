//! A simulated etcd v3 store, with the guarantees controllers can observe:
//!
//! - one store revision, raised by exactly one per write or per txn that writes
//!   (a fresh store is at revision 1, as etcd is);
//! - per key: create revision, mod revision, version (reset by delete);
//! - range reads at any revision not yet compacted;
//! - txn: compares on version / create revision / mod revision / value, then
//!   the success or failure ops, all at one revision;
//! - watch history from a revision: every change in order without gaps;
//! - compaction: reads and watches below the compacted revision fail with
//!   `Compacted`, as etcd's "required revision has been compacted";
//! - leases with a TTL: expiry or revoke deletes the attached keys.
//!
//! The store is generic over the value so the simulator can keep shared
//! objects while tests and the live adapter use bytes. It never reads a clock:
//! lease expiry is driven by `expire_leases(now)`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::time::SimTime;

pub use crate::api::storage::Revision;
pub type LeaseId = i64;

#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue<V> {
    pub key: Arc<str>,
    pub value: V,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    /// Number of writes since creation (1 after the create).
    pub version: i64,
    pub lease: LeaseId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event<V> {
    pub kind: EventType,
    /// For a put: the new key-value. For a delete: the key with `mod_revision`
    /// set to the delete's revision and the last value kept (etcd leaves it empty;
    /// watchers here use `prev_kv` for it).
    pub kv: Arc<KeyValue<V>>,
    pub prev_kv: Option<Arc<KeyValue<V>>>,
}

impl<V> Event<V> {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    #[error("mvcc: required revision has been compacted (requested {requested}, compacted at {compacted})")]
    Compacted { requested: Revision, compacted: Revision },
    #[error("mvcc: required revision is a future revision (requested {requested}, current {current})")]
    FutureRevision { requested: Revision, current: Revision },
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: request is too large")]
    TooManyOps,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CompareTarget<V> {
    Version(i64),
    CreateRevision(Revision),
    ModRevision(Revision),
    Value(V),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Greater,
    Less,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Compare<V> {
    pub key: String,
    pub op: CompareOp,
    pub target: CompareTarget<V>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TxnOp<V> {
    Put { key: String, value: V, lease: LeaseId },
    Delete { key: String },
    DeletePrefix { prefix: String },
    Get { key: String },
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpResponse<V> {
    Put { prev: Option<Arc<KeyValue<V>>> },
    Delete { deleted: Vec<Arc<KeyValue<V>>> },
    Get { kv: Option<Arc<KeyValue<V>>> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TxnResponse<V> {
    pub succeeded: bool,
    /// The store revision after the txn (unchanged if it wrote nothing).
    pub revision: Revision,
    pub responses: Vec<OpResponse<V>>,
    /// The changes the txn made, in order; all share one revision.
    pub events: Vec<Event<V>>,
}

#[derive(Clone, Debug)]
struct Lease {
    ttl_s: i64,
    expires_at: SimTime,
    keys: std::collections::BTreeSet<Arc<str>>,
}

/// One key's versions, oldest first; `None` is a deletion (tombstone).
type History<V> = Vec<(Revision, Option<Arc<KeyValue<V>>>)>;

#[derive(Debug)]
pub struct SimEtcd<V> {
    revision: Revision,
    compacted: Revision,
    /// Every key's history (point lookups, by a fixed hash).
    // determinism-ok: only point lookups, plus `retain` (compaction) and a count, where each key is handled on its own; range reads and watches go through `ordered` and `log`.
    keys: crate::hash::FxHashMap<Arc<str>, History<V>>,
    /// The keys in order, for range reads.
    ordered: std::collections::BTreeSet<Arc<str>>,
    /// Every event after the compacted revision, in revision order (a deque:
    /// compaction drops its front without moving the rest).
    log: std::collections::VecDeque<Event<V>>,
    leases: BTreeMap<LeaseId, Lease>,
    next_lease: LeaseId,
}

impl<V: Clone + PartialEq> Default for SimEtcd<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + PartialEq> SimEtcd<V> {
    pub fn new() -> Self {
        SimEtcd { revision: 1, compacted: 0, keys: Default::default(), ordered: Default::default(), log: Default::default(), leases: BTreeMap::new(), next_lease: 1 }
    }

    pub fn revision(&self) -> Revision {
        self.revision
    }
    pub fn compacted_revision(&self) -> Revision {
        self.compacted
    }
    /// Number of live keys at the current revision.
    pub fn len(&self) -> usize {
        self.keys.values().filter(|h| matches!(h.last(), Some((_, Some(_))))).count()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_rev(&self, rev: Revision) -> Result<Revision, EtcdError> {
        let rev = if rev <= 0 { self.revision } else { rev };
        if rev > self.revision {
            return Err(EtcdError::FutureRevision { requested: rev, current: self.revision });
        }
        if rev < self.compacted {
            return Err(EtcdError::Compacted { requested: rev, compacted: self.compacted });
        }
        Ok(rev)
    }

    fn at(history: &History<V>, rev: Revision) -> Option<&Arc<KeyValue<V>>> {
        let idx = history.partition_point(|(r, _)| *r <= rev);
        if idx == 0 { None } else { history[idx - 1].1.as_ref() }
    }

    fn current(&self, key: &str) -> Option<&Arc<KeyValue<V>>> {
        self.keys.get(key).and_then(|h| h.last()).and_then(|(_, kv)| kv.as_ref())
    }

    /// Reads one key at `rev` (0 = current).
    pub fn get(&self, key: &str, rev: Revision) -> Result<Option<Arc<KeyValue<V>>>, EtcdError> {
        let rev = self.check_rev(rev)?;
        Ok(self.keys.get(key).and_then(|h| Self::at(h, rev)).cloned())
    }

    /// Reads every key starting with `prefix` at `rev` (0 = current), in key order.
    /// Returns the key-values and the revision read at.
    pub fn range_prefix(&self, prefix: &str, rev: Revision) -> Result<(Vec<Arc<KeyValue<V>>>, Revision), EtcdError> {
        let rev = self.check_rev(rev)?;
        let out = self
            .ordered
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|k| k.starts_with(prefix))
            .filter_map(|k| self.keys.get(k).and_then(|h| Self::at(h, rev)).cloned())
            .collect();
        Ok((out, rev))
    }

    /// Every change to keys under `prefix` at revisions ≥ `from`, in order.
    /// Fails with `Compacted` if `from` is below the compacted revision.
    pub fn history_since(&self, prefix: &str, from: Revision) -> Result<Vec<Event<V>>, EtcdError> {
        if from < self.compacted {
            return Err(EtcdError::Compacted { requested: from, compacted: self.compacted });
        }
        let start = self.log.partition_point(|e| e.revision() < from);
        Ok(self.log.range(start..).filter(|e| e.kv.key.starts_with(prefix)).cloned().collect())
    }

    pub fn put(&mut self, key: &str, value: V, lease: LeaseId) -> Result<TxnResponse<V>, EtcdError> {
        self.txn(&[], &[TxnOp::Put { key: key.to_string(), value, lease }], &[])
    }

    pub fn delete(&mut self, key: &str) -> Result<TxnResponse<V>, EtcdError> {
        self.txn(&[], &[TxnOp::Delete { key: key.to_string() }], &[])
    }

    fn compare_holds(&self, c: &Compare<V>) -> bool {
        let kv = self.current(&c.key);
        let ord = |a: i64, b: i64| match c.op {
            CompareOp::Equal => a == b,
            CompareOp::NotEqual => a != b,
            CompareOp::Greater => a > b,
            CompareOp::Less => a < b,
        };
        match &c.target {
            // A missing key has version, create and mod revision 0, as in etcd.
            CompareTarget::Version(v) => ord(kv.map_or(0, |k| k.version), *v),
            CompareTarget::CreateRevision(r) => ord(kv.map_or(0, |k| k.create_revision), *r),
            CompareTarget::ModRevision(r) => ord(kv.map_or(0, |k| k.mod_revision), *r),
            // etcd: a value compare against a missing key is false.
            CompareTarget::Value(v) => match (kv, c.op) {
                (None, _) => false,
                (Some(k), CompareOp::Equal) => k.value == *v,
                (Some(k), CompareOp::NotEqual) => k.value != *v,
                _ => false, // ordering on opaque values is not modelled
            },
        }
    }

    /// Runs a transaction: if every compare holds, `success`, else `failure`.
    /// The revision rises by one if and only if the chosen ops changed a key.
    pub fn txn(&mut self, compares: &[Compare<V>], success: &[TxnOp<V>], failure: &[TxnOp<V>]) -> Result<TxnResponse<V>, EtcdError> {
        let succeeded = compares.iter().all(|c| self.compare_holds(c));
        let ops = if succeeded { success } else { failure };
        if ops.len() > 128 {
            return Err(EtcdError::TooManyOps);
        }
        let mut put_keys = std::collections::BTreeSet::new();
        for op in ops {
            if let TxnOp::Put { key, lease, .. } = op {
                if !put_keys.insert(key.as_str()) {
                    return Err(EtcdError::DuplicateKey);
                }
                if *lease != 0 && !self.leases.contains_key(lease) {
                    return Err(EtcdError::LeaseNotFound);
                }
            }
        }
        let rev = self.revision + 1;
        let mut responses = Vec::with_capacity(ops.len());
        let mut events = Vec::new();
        for op in ops {
            let resp = match op {
                TxnOp::Get { key } => OpResponse::Get { kv: self.current(key).cloned() },
                TxnOp::Put { key, value, lease } => {
                    let prev = self.current(key).cloned();
                    self.apply_put(key, value.clone(), *lease, rev, prev.clone(), &mut events);
                    OpResponse::Put { prev }
                }
                TxnOp::Delete { key } => {
                    let deleted: Vec<_> = self.current(key).cloned().into_iter().collect();
                    for kv in &deleted {
                        self.apply_delete(kv.clone(), rev, &mut events);
                    }
                    OpResponse::Delete { deleted }
                }
                TxnOp::DeletePrefix { prefix } => {
                    let (deleted, _) = self.range_prefix(prefix, 0)?;
                    for kv in &deleted {
                        self.apply_delete(kv.clone(), rev, &mut events);
                    }
                    OpResponse::Delete { deleted }
                }
            };
            responses.push(resp);
        }
        if !events.is_empty() {
            self.revision = rev;
            self.log.extend(events.iter().cloned());
        }
        Ok(TxnResponse { succeeded, revision: self.revision, responses, events })
    }

    fn apply_put(&mut self, key: &str, value: V, lease: LeaseId, rev: Revision, prev: Option<Arc<KeyValue<V>>>, events: &mut Vec<Event<V>>) {
        let key_arc: Arc<str> = prev.as_ref().map_or_else(|| Arc::from(key), |p| p.key.clone());
        if let Some(p) = &prev
            && p.lease != 0
            && p.lease != lease
            && let Some(l) = self.leases.get_mut(&p.lease)
        {
            l.keys.remove(&p.key);
        }
        if lease != 0
            && let Some(l) = self.leases.get_mut(&lease)
        {
            l.keys.insert(key_arc.clone());
        }
        let kv = Arc::new(KeyValue {
            key: key_arc.clone(),
            value,
            create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease,
        });
        match self.keys.get_mut(&key_arc) {
            Some(h) => h.push((rev, Some(kv.clone()))),
            None => {
                self.ordered.insert(key_arc.clone());
                self.keys.insert(key_arc, vec![(rev, Some(kv.clone()))]);
            }
        }
        events.push(Event { kind: EventType::Put, kv, prev_kv: prev });
    }

    fn apply_delete(&mut self, prev: Arc<KeyValue<V>>, rev: Revision, events: &mut Vec<Event<V>>) {
        if prev.lease != 0
            && let Some(l) = self.leases.get_mut(&prev.lease)
        {
            l.keys.remove(&prev.key);
        }
        if let Some(h) = self.keys.get_mut(&prev.key) {
            h.push((rev, None));
        }
        let tomb = Arc::new(KeyValue {
            key: prev.key.clone(),
            value: prev.value.clone(),
            create_revision: 0,
            mod_revision: rev,
            version: 0,
            lease: 0,
        });
        events.push(Event { kind: EventType::Delete, kv: tomb, prev_kv: Some(prev) });
    }

    /// Discards history below `rev`. Reads and watches below it then fail.
    pub fn compact(&mut self, rev: Revision) -> Result<(), EtcdError> {
        if rev <= self.compacted {
            return Err(EtcdError::Compacted { requested: rev, compacted: self.compacted });
        }
        if rev > self.revision {
            return Err(EtcdError::FutureRevision { requested: rev, current: self.revision });
        }
        self.compacted = rev;
        let ordered = &mut self.ordered;
        self.keys.retain(|k, h| {
            // Keep the newest version at or below `rev` (unless it is a tombstone) and all later ones.
            let idx = h.partition_point(|(r, _)| *r <= rev);
            let keep_from = match idx {
                0 => 0,
                i if h[i - 1].1.is_some() => i - 1,
                i => i,
            };
            h.drain(..keep_from);
            if h.is_empty() {
                ordered.remove(k);
            }
            !h.is_empty()
        });
        let cut = self.log.partition_point(|e| e.revision() < rev);
        self.log.drain(..cut);
        Ok(())
    }

    pub fn lease_grant(&mut self, ttl_s: i64, now: SimTime) -> LeaseId {
        let id = self.next_lease;
        self.next_lease += 1;
        let ttl_s = ttl_s.max(1);
        self.leases.insert(id, Lease { ttl_s, expires_at: now + std::time::Duration::from_secs(ttl_s as u64), keys: Default::default() });
        id
    }

    /// Refreshes a lease to its full TTL; returns the TTL.
    pub fn lease_keep_alive(&mut self, id: LeaseId, now: SimTime) -> Result<i64, EtcdError> {
        let l = self.leases.get_mut(&id).ok_or(EtcdError::LeaseNotFound)?;
        l.expires_at = now + std::time::Duration::from_secs(l.ttl_s as u64);
        Ok(l.ttl_s)
    }

    /// Revokes a lease, deleting its keys at one revision.
    pub fn lease_revoke(&mut self, id: LeaseId) -> Result<TxnResponse<V>, EtcdError> {
        let lease = self.leases.remove(&id).ok_or(EtcdError::LeaseNotFound)?;
        let ops: Vec<TxnOp<V>> = lease.keys.iter().map(|k| TxnOp::Delete { key: k.to_string() }).collect();
        self.txn(&[], &ops, &[])
    }

    /// The earliest lease expiry, for the driver to schedule a wake-up.
    pub fn next_lease_expiry(&self) -> Option<SimTime> {
        self.leases.values().map(|l| l.expires_at).min()
    }

    /// Revokes every lease whose TTL ran out by `now`, in lease-id order.
    pub fn expire_leases(&mut self, now: SimTime) -> Vec<TxnResponse<V>> {
        let expired: Vec<LeaseId> = self.leases.iter().filter(|(_, l)| l.expires_at <= now).map(|(id, _)| *id).collect();
        expired.into_iter().filter_map(|id| self.lease_revoke(id).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Store = SimEtcd<Vec<u8>>;

    fn put(s: &mut Store, k: &str, v: &str) -> Revision {
        s.put(k, v.as_bytes().to_vec(), 0).unwrap().revision
    }

    #[test]
    fn revisions_versions_and_history() {
        let mut s = Store::new();
        assert_eq!(s.revision(), 1);
        assert_eq!(put(&mut s, "/a", "1"), 2);
        assert_eq!(put(&mut s, "/a", "2"), 3);
        let kv = s.get("/a", 0).unwrap().unwrap();
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
        assert_eq!(s.get("/a", 2).unwrap().unwrap().value, b"1");
        assert_eq!(s.delete("/a").unwrap().revision, 4);
        assert!(s.get("/a", 0).unwrap().is_none());
        // Deleting a missing key does not raise the revision.
        assert_eq!(s.delete("/a").unwrap().revision, 4);
        assert_eq!(put(&mut s, "/a", "3"), 5);
        let kv = s.get("/a", 0).unwrap().unwrap();
        assert_eq!((kv.create_revision, kv.version), (5, 1), "version restarts after delete");
    }

    #[test]
    fn txn_compare_and_swap() {
        let mut s = Store::new();
        put(&mut s, "/k", "a");
        let cas = |s: &mut Store, rev| {
            s.txn(
                &[Compare { key: "/k".into(), op: CompareOp::Equal, target: CompareTarget::ModRevision(rev) }],
                &[TxnOp::Put { key: "/k".into(), value: b"b".to_vec(), lease: 0 }],
                &[TxnOp::Get { key: "/k".into() }],
            )
            .unwrap()
        };
        let ok = cas(&mut s, 2);
        assert!(ok.succeeded);
        assert_eq!(ok.revision, 3);
        let stale = cas(&mut s, 2);
        assert!(!stale.succeeded);
        assert_eq!(stale.revision, 3, "a failed txn that only reads writes nothing");
        match &stale.responses[0] {
            OpResponse::Get { kv: Some(kv) } => assert_eq!(kv.mod_revision, 3),
            other => panic!("{other:?}"),
        }
        // Create-if-absent: version == 0.
        let create = s.txn(
            &[Compare { key: "/new".into(), op: CompareOp::Equal, target: CompareTarget::Version(0) }],
            &[TxnOp::Put { key: "/new".into(), value: vec![1], lease: 0 }, TxnOp::Put { key: "/new2".into(), value: vec![2], lease: 0 }],
            &[],
        );
        let create = create.unwrap();
        assert!(create.succeeded);
        assert_eq!(create.events.len(), 2);
        assert!(create.events.iter().all(|e| e.revision() == 4), "one revision per txn");
        let value_cmp = s.txn(&[Compare { key: "/k".into(), op: CompareOp::Equal, target: CompareTarget::Value(b"b".to_vec()) }], &[], &[]).unwrap();
        assert!(value_cmp.succeeded);
        let dup = s.txn(&[], &[TxnOp::Put { key: "/x".into(), value: vec![], lease: 0 }, TxnOp::Put { key: "/x".into(), value: vec![], lease: 0 }], &[]);
        assert_eq!(dup.unwrap_err(), EtcdError::DuplicateKey);
    }

    #[test]
    fn compaction_fails_old_reads_and_watches() {
        let mut s = Store::new();
        for i in 0..5 {
            put(&mut s, "/p/a", &i.to_string()); // revisions 2..=6
        }
        put(&mut s, "/p/b", "x"); // 7
        s.delete("/p/b").unwrap(); // 8
        s.compact(6).unwrap();
        assert!(matches!(s.get("/p/a", 5), Err(EtcdError::Compacted { requested: 5, compacted: 6 })));
        assert_eq!(s.get("/p/a", 6).unwrap().unwrap().value, b"4");
        assert!(matches!(s.history_since("/p/", 3), Err(EtcdError::Compacted { .. })));
        let hist = s.history_since("/p/", 6).unwrap();
        assert_eq!(hist.iter().map(|e| e.revision()).collect::<Vec<_>>(), vec![6, 7, 8]);
        assert!(s.compact(6).is_err());
        assert!(matches!(s.get("/p/a", 99), Err(EtcdError::FutureRevision { .. })));
    }

    #[test]
    fn lease_expiry_deletes_attached_keys() {
        let mut s = Store::new();
        let lease = s.lease_grant(40, SimTime::ZERO);
        s.put("/leased", b"v".to_vec(), lease).unwrap();
        s.put("/plain", b"v".to_vec(), 0).unwrap();
        assert!(s.expire_leases(SimTime::from_secs(39)).is_empty());
        s.lease_keep_alive(lease, SimTime::from_secs(30)).unwrap();
        assert!(s.expire_leases(SimTime::from_secs(69)).is_empty());
        assert_eq!(s.next_lease_expiry(), Some(SimTime::from_secs(70)));
        let revoked = s.expire_leases(SimTime::from_secs(70));
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].events[0].kind, EventType::Delete);
        assert!(s.get("/leased", 0).unwrap().is_none());
        assert!(s.get("/plain", 0).unwrap().is_some());
        assert_eq!(s.put("/x", vec![], lease).unwrap_err(), EtcdError::LeaseNotFound);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put(u8, u8),
        Delete(u8),
        Cas(u8, u8, i64),
        Compact,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
            2 => (0u8..6).prop_map(Op::Delete),
            2 => (0u8..6, any::<u8>(), 0i64..30).prop_map(|(k, v, r)| Op::Cas(k, v, r)),
            1 => Just(Op::Compact),
        ]
    }

    proptest! {
        /// Revision +1 per write; history from any uncompacted revision replays the
        /// store exactly; watches see every change in order without gaps; range reads
        /// at old revisions equal the state that was current then.
        #[test]
        fn mvcc_guarantees_hold(ops in proptest::collection::vec(op(), 1..80)) {
            let mut s = Store::new();
            let mut snapshots: BTreeMap<Revision, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
            let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            snapshots.insert(1, model.clone());
            let mut all_events: Vec<Event<Vec<u8>>> = vec![];
            for o in ops {
                let before = s.revision();
                let resp = match o {
                    Op::Put(k, v) => { model.insert(format!("/k{k}"), vec![v]); Some(s.put(&format!("/k{k}"), vec![v], 0).unwrap()) }
                    Op::Delete(k) => { model.remove(&format!("/k{k}")); Some(s.delete(&format!("/k{k}")).unwrap()) }
                    Op::Cas(k, v, r) => {
                        let key = format!("/k{k}");
                        let resp = s.txn(&[Compare { key: key.clone(), op: CompareOp::Equal, target: CompareTarget::ModRevision(r) }],
                            &[TxnOp::Put { key: key.clone(), value: vec![v], lease: 0 }], &[]).unwrap();
                        if resp.succeeded { model.insert(key, vec![v]); }
                        Some(resp)
                    }
                    Op::Compact => { let _ = s.compact(s.revision()); None }
                };
                if let Some(resp) = resp {
                    let wrote = !resp.events.is_empty();
                    prop_assert_eq!(s.revision(), before + i64::from(wrote));
                    all_events.extend(resp.events);
                }
                snapshots.insert(s.revision(), model.clone());
            }
            // Every event revision is consecutive: no gaps, no reordering.
            for w in all_events.windows(2) {
                prop_assert!(w[1].revision() == w[0].revision() || w[1].revision() == w[0].revision() + 1);
            }
            // History since the compacted revision equals the tail of all events.
            let from = s.compacted_revision().max(1);
            let hist = s.history_since("/", from).unwrap();
            let tail: Vec<_> = all_events.iter().filter(|e| e.revision() >= from).cloned().collect();
            prop_assert_eq!(hist, tail);
            // Range reads at each retained revision equal the model at that time.
            for (rev, snap) in &snapshots {
                let read = s.range_prefix("/", *rev);
                if *rev < s.compacted_revision() {
                    prop_assert!(matches!(read, Err(EtcdError::Compacted { .. })), "expected compacted error");
                } else {
                    let (kvs, _) = read.unwrap();
                    let got: BTreeMap<String, Vec<u8>> = kvs.iter().map(|kv| (kv.key.to_string(), kv.value.clone())).collect();
                    prop_assert_eq!(&got, snap);
                }
            }
        }
    }
}
