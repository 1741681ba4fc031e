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
}
