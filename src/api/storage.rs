//! The storage seam under the API layer: what kube-apiserver's `storage.Interface`
//! asks of etcd, synchronously. The simulator provides `sim::storage::SimStorage`
//! (the simulated etcd); live mode one backed by a real etcd. resourceVersion is always the
//! etcd mod revision of the key.

use crate::model::{Kind, Object};

/// An etcd store revision (kube-apiserver's resourceVersion).
pub type Revision = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
        }
    }
}

/// One change as an API watch delivers it. A deleted object carries the
/// deletion's revision as its resourceVersion, as upstream does.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    pub type_: WatchEventType,
    /// The etcd key, shared with the store (cheap to keep in traces).
    pub key: std::sync::Arc<str>,
    pub object: Object,
    pub revision: Revision,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("required revision {requested} has been compacted (compacted at {compacted})")]
    Compacted { requested: Revision, compacted: Revision },
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// Outcome of a conditional write.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOutcome {
    /// Written; the object carries its new resourceVersion.
    Written(Object),
    /// The precondition failed (the key exists on create, or its mod revision moved).
    PreconditionFailed,
}

pub trait Storage {
    fn revision(&self) -> Revision;
    fn get(&self, key: &str) -> Result<Option<Object>, StorageError>;
    /// Every object under `prefix`, in key order, and the revision read at.
    fn list(&self, prefix: &str) -> Result<(Vec<Object>, Revision), StorageError>;
    /// Like `list`, as of an earlier revision (what a lagging cache serves).
    fn list_at(&self, prefix: &str, rev: Revision) -> Result<(Vec<Object>, Revision), StorageError>;
    /// Writes only if the key does not exist.
    fn create(&mut self, key: &str, obj: Object) -> Result<WriteOutcome, StorageError>;
    /// Writes only if the key's mod revision is `expected`.
    fn update(&mut self, key: &str, obj: Object, expected: Revision) -> Result<WriteOutcome, StorageError>;
    /// Deletes only if the key's mod revision is `expected`; returns the last object.
    fn delete(&mut self, key: &str, expected: Revision) -> Result<WriteOutcome, StorageError>;
    /// The pods under `prefix` bound to `node`, in key order, and the revision
    /// read at: what a `spec.nodeName` field selector lists. kube-apiserver's
    /// watch cache serves it from an index; this default filters a full list.
    fn list_pods_on_node(&self, prefix: &str, node: &str) -> Result<(Vec<Object>, Revision), StorageError> {
        let (objects, rev) = self.list(prefix)?;
        Ok((objects.into_iter().filter(|o| matches!(o, Object::Pod(p) if p.spec.node_name == node)).collect(), rev))
    }
    /// Changes under `prefix` at revisions ≥ `from`, in order.
    fn watch_since(&self, kind: Kind, prefix: &str, from: Revision) -> Result<Vec<WatchEvent>, StorageError>;
    /// `create` with a time to live (kube-apiserver's `--event-ttl`): the key
    /// goes with its lease once that expires.
    fn create_with_ttl(&mut self, key: &str, obj: Object, ttl: Ttl) -> Result<WriteOutcome, StorageError>;
    /// `update` with a time to live, from this write on.
    fn update_with_ttl(&mut self, key: &str, obj: Object, expected: Revision, ttl: Ttl) -> Result<WriteOutcome, StorageError>;
}

/// A time to live asked for at `now` (the caller's clock: virtual or wall).
#[derive(Clone, Copy, Debug)]
pub struct Ttl {
    pub seconds: i64,
    pub now: crate::time::SimTime,
}

/// kube-apiserver's lease manager (storage/etcd3/lease_manager.go): keys
/// written with a TTL share one etcd lease for a while instead of one each.
/// A lease is granted for `ttl + reuse` seconds, `reuse` = min(5 % of the
/// TTL, 60 s), and reused while it still covers `ttl` and ends within
/// `ttl + reuse`, for at most 1,000 keys.
#[derive(Debug, Default)]
pub struct LeaseReuse {
    prev: Option<(i64, crate::time::SimTime)>,
    attached: u64,
}

pub const LEASE_REUSE_SECONDS_MAX: i64 = 60;
pub const LEASE_MAX_ATTACHED_OBJECTS: u64 = 1000;

impl LeaseReuse {
    /// The lease to attach a key with `ttl` to; `grant(ttl_s)` makes a new one.
    pub fn lease_for<E>(&mut self, ttl: Ttl, grant: impl FnOnce(i64) -> Result<i64, E>) -> Result<i64, E> {
        let reuse = ((0.05 * ttl.seconds as f64) as i64).min(LEASE_REUSE_SECONDS_MAX);
        let secs = |s: i64| std::time::Duration::from_secs(s.max(0) as u64);
        self.attached += 1;
        if let Some((id, expires)) = self.prev {
            let valid = ttl.now + secs(ttl.seconds) < expires;
            let sufficient = ttl.now + secs(ttl.seconds + reuse) > expires;
            if valid && sufficient && self.attached <= LEASE_MAX_ATTACHED_OBJECTS {
                return Ok(id);
            }
        }
        let id = grant(ttl.seconds + reuse)?;
        self.prev = Some((id, ttl.now + secs(ttl.seconds + reuse)));
        self.attached = 1;
        Ok(id)
    }
}

#[cfg(test)]
mod lease_reuse_tests {
    use super::*;
    use crate::time::SimTime;

    /// TestGetReuseDurationSeconds-style: an hour's TTL reuses a lease for a
    /// minute; a 10 s TTL for half a second; keys past the window get a new one.
    #[test]
    fn leases_are_shared_within_the_reuse_window() {
        let mut l = LeaseReuse::default();
        let mut next = 0;
        let mut grant = |ttl_s: i64| -> Result<i64, ()> {
            next += 1;
            assert!(ttl_s == 3660 || ttl_s == 10, "{ttl_s}");
            Ok(next)
        };
        let at = |s: u64| Ttl { seconds: 3600, now: SimTime::from_secs(s) };
        assert_eq!(l.lease_for(at(0), &mut grant), Ok(1));
        assert_eq!(l.lease_for(at(59), &mut grant), Ok(1), "within the minute: the same lease");
        assert_eq!(l.lease_for(at(60), &mut grant), Ok(2), "no longer covers the whole TTL: a new lease");
        let short = Ttl { seconds: 10, now: SimTime::from_secs(100) };
        assert_eq!(l.lease_for(short, &mut grant), Ok(3), "5 % of 10 s rounds to no reuse: its own lease");
    }
}
