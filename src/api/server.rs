//! The API layer: kube-apiserver's generic registry semantics over a `Storage`.
//! The same code serves the simulator (over `SimStorage`) and live mode.
//!
//! Each write: defaulting → admission (create) → validation → a conditional
//! etcd write keyed on the mod revision. resourceVersion is the mod revision;
//! a stale one fails with 409 Conflict; a no-op update writes nothing.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::error::ApiError;
use super::rules;
use super::storage::{Storage, StorageError, WatchEvent, WriteOutcome};
use crate::model::meta::Timestamp;
use crate::model::{Kind, Object, ObjectRef, etcd_prefix};
use crate::api::storage::Revision;
use crate::time::SimTime;

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Delete dependents first (the `foregroundDeletion` finalizer).
    Foreground,
    /// Leave dependents, removing their owner references (the `orphan` finalizer).
    Orphan,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Overrides the object's own grace period (pods: terminationGracePeriodSeconds).
    pub grace_period_s: Option<i64>,
    pub propagation: Propagation,
    /// Fail with Conflict unless the object is still at this resourceVersion.
    pub precondition_resource_version: Option<String>,
    pub precondition_uid: Option<String>,
}

/// What a delete did: removed the object, or marked it (graceful / finalizers).
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    Deleted(Object),
    Marked(Object),
}

impl DeleteOutcome {
    pub fn object(&self) -> &Object {
        match self {
            DeleteOutcome::Deleted(o) | DeleteOutcome::Marked(o) => o,
        }
    }
}

const CONFLICT_MODIFIED: &str = "the object has been modified; please apply your changes to the latest version and try again";

pub struct ApiServer<S: Storage> {
    pub storage: S,
    prefix: String,
    rng: ChaCha8Rng,
}

/// kube-apiserver's `--event-ttl` default: an Event lives an hour after its last write.
pub const EVENT_TTL_S: i64 = 3600;

/// The time to live a write of `kind` gets (only Events have one).
fn ttl_of(kind: Kind, now: SimTime) -> Option<crate::api::storage::Ttl> {
    (kind == Kind::Event).then_some(crate::api::storage::Ttl { seconds: EVENT_TTL_S, now })
}

fn storage_err(e: StorageError) -> ApiError {
    match e {
        StorageError::Compacted { requested, compacted } => ApiError::Gone { requested, current: compacted },
        StorageError::Unavailable(m) => ApiError::Storage(m),
        StorageError::Unsupported(m) => ApiError::Unsupported(m),
    }
}

impl<S: Storage> ApiServer<S> {
    /// `prefix` is the etcd key prefix (kube-apiserver's default is `/registry`);
    /// `rng` draws uids and generateName suffixes.
    pub fn new(storage: S, prefix: &str, rng: ChaCha8Rng) -> ApiServer<S> {
        ApiServer { storage, prefix: prefix.trim_end_matches('/').to_string(), rng }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, r: &ObjectRef) -> String {
        r.etcd_key(&self.prefix)
    }

    /// A UUID (version 4 layout) from the server's own stream.
    fn new_uid(&mut self) -> String {
        let a: u128 = self.rng.random();
        let b = (a & !(0xF000u128 << 64) | (0x4000u128 << 64)) & !(0xC000u128 << 48) | (0x8000u128 << 48);
        let h = format!("{b:032x}");
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    fn generate_name_suffix(&mut self) -> String {
        // utilrand.String's alphabet: no vowels, no confusable characters.
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5).map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char).collect()
    }

    pub fn get(&self, r: &ObjectRef) -> Result<Object, ApiError> {
        self.storage.get(&self.key(r)).map_err(storage_err)?.ok_or_else(|| ApiError::NotFound(r.clone()))
    }

    /// Lists `kind` (in `namespace`, if given) at the current revision.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<(Vec<Object>, Revision), ApiError> {
        self.storage.list(&etcd_prefix(&self.prefix, kind, namespace)).map_err(storage_err)
    }

    /// Lists what a kubelet's field selectors select for `node`: its pods
    /// (`spec.nodeName`), its Node and its Lease (`metadata.name`); other
    /// kinds whole.
    pub fn list_for_node(&self, kind: Kind, node: &str) -> Result<(Vec<Object>, Revision), ApiError> {
        let one = |r: ObjectRef| -> Result<(Vec<Object>, Revision), ApiError> {
            let rev = self.storage.revision();
            let found = self.storage.get(&self.key(&r)).map_err(storage_err)?;
            Ok((found.into_iter().collect(), rev))
        };
        match kind {
            Kind::Pod => self.storage.list_pods_on_node(&etcd_prefix(&self.prefix, kind, None), node).map_err(storage_err),
            Kind::Node => one(ObjectRef::new(Kind::Node, "", node)),
            Kind::Lease => one(ObjectRef::new(Kind::Lease, crate::model::lease::NODE_LEASE_NAMESPACE, node)),
            _ => self.list(kind, None),
        }
    }

    /// Lists `kind` as of revision `rev` (an API server whose cache lags).
    pub fn list_at(&self, kind: Kind, rev: Revision) -> Result<(Vec<Object>, Revision), ApiError> {
        self.storage.list_at(&etcd_prefix(&self.prefix, kind, None), rev).map_err(storage_err)
    }

    /// Changes to `kind` after resourceVersion `from_rv`; 410 Gone if compacted.
    pub fn watch(&self, kind: Kind, from_rv: Revision) -> Result<Vec<WatchEvent>, ApiError> {
        self.storage
            .watch_since(kind, &etcd_prefix(&self.prefix, kind, None), from_rv + 1)
            .map_err(|e| match e {
                StorageError::Compacted { compacted, .. } => ApiError::Gone { requested: from_rv, current: compacted },
                other => storage_err(other),
            })
    }

    pub fn create(&mut self, mut obj: Object, now: SimTime) -> Result<Object, ApiError> {
        let kind = obj.kind();
        {
            let meta = obj.meta();
            if !meta.resource_version.is_empty() {
                return Err(ApiError::BadRequest("resourceVersion should not be set on objects to be created".into()));
            }
        }
        if kind.namespaced() && obj.meta().namespace.is_empty() {
            obj.meta_mut().namespace = "default".into();
        }
        if obj.meta().name.is_empty() && !obj.meta().generate_name.is_empty() {
            let name = format!("{}{}", obj.meta().generate_name, self.generate_name_suffix());
            obj.meta_mut().name = name;
        }
        rules::apply_defaults(&mut obj);
        rules::admit_create(&mut obj);
        rules::prepare_for_create(&mut obj);
        let errs = rules::validate_create(&obj);
        if !errs.is_empty() {
            return Err(ApiError::Invalid { kind, name: obj.meta().name.clone(), causes: errs });
        }
        if kind.namespaced() {
            self.check_namespace_open(&ObjectRef::of(&obj))?;
        }
        let uid = self.new_uid();
        let meta = obj.meta_mut();
        meta.uid = uid;
        meta.creation_timestamp = Some(Timestamp::from_sim(now));
        meta.generation = 1;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        let r = ObjectRef::of(&obj);
        let key = self.key(&r);
        let written = match ttl_of(kind, now) {
            Some(ttl) => self.storage.create_with_ttl(&key, obj, ttl),
            None => self.storage.create(&key, obj),
        };
        match written.map_err(storage_err)? {
            WriteOutcome::Written(o) => Ok(o),
            WriteOutcome::PreconditionFailed => Err(ApiError::AlreadyExists(r)),
        }
    }

    /// NamespaceLifecycle admission: no new objects in a missing or terminating namespace.
    fn check_namespace_open(&self, r: &ObjectRef) -> Result<(), ApiError> {
        let ns_ref = ObjectRef::new(Kind::Namespace, "", &r.namespace);
        match self.storage.get(&self.key(&ns_ref)).map_err(storage_err)? {
            None => Err(ApiError::NamespaceNotFound(r.namespace.clone())),
            Some(ns) if ns.meta().is_deleting() => Err(ApiError::Forbidden {
                target: r.clone(),
                reason: format!("unable to create new content in namespace {} because it is being terminated", r.namespace),
            }),
            Some(_) => Ok(()),
        }
    }

    fn current_for_update(&self, obj: &Object) -> Result<(ObjectRef, Object), ApiError> {
        let r = ObjectRef::of(obj);
        let current = self.get(&r)?;
        let rv = &obj.meta().resource_version;
        if !rv.is_empty() && *rv != current.meta().resource_version {
            return Err(ApiError::Conflict { target: r, reason: CONFLICT_MODIFIED.into() });
        }
        Ok((r, current))
    }

    /// Replaces the object (spec and metadata); status changes are ignored.
    /// An empty resourceVersion updates unconditionally.
    pub fn update(&mut self, mut obj: Object, now: SimTime) -> Result<Object, ApiError> {
        let (r, current) = self.current_for_update(&obj)?;
        obj.copy_status_from(&current);
        rules::apply_defaults(&mut obj);
        keep_server_meta(&mut obj, &current);
        let generation = current.meta().generation + i64::from(!obj.spec_eq(&current));
        obj.meta_mut().generation = generation;
        let errs = rules::validate_update(&obj, &current);
        if !errs.is_empty() {
            return Err(ApiError::Invalid { kind: r.kind, name: r.name, causes: errs });
        }
        self.write_update(r, obj, current, now)
    }

    /// Replaces the status only; spec and owner references are kept from storage.
    pub fn update_status(&mut self, mut obj: Object, now: SimTime) -> Result<Object, ApiError> {
        let (r, current) = self.current_for_update(&obj)?;
        obj.copy_spec_from(&current);
        keep_server_meta(&mut obj, &current);
        let meta = obj.meta_mut();
        meta.generation = current.meta().generation;
        meta.owner_references = current.meta().owner_references.clone();
        self.write_update(r, obj, current, now)
    }

    /// The conditional write shared by update, update-status, bind and delete marking.
    /// A no-op writes nothing; an object being deleted whose last finalizer
    /// went away (and whose grace period is over) is removed instead.
    fn write_update(&mut self, r: ObjectRef, mut obj: Object, current: Object, now: SimTime) -> Result<Object, ApiError> {
        obj.meta_mut().resource_version = current.meta().resource_version.clone();
        if obj == current {
            return Ok(current);
        }
        let expected = current.meta().revision();
        let key = self.key(&r);
        let meta = obj.meta();
        if meta.is_deleting() && meta.finalizers.is_empty() && meta.deletion_grace_period_seconds.unwrap_or(0) == 0 {
            return match self.storage.delete(&key, expected).map_err(storage_err)? {
                WriteOutcome::Written(o) => Ok(o),
                WriteOutcome::PreconditionFailed => Err(ApiError::Conflict { target: r, reason: CONFLICT_MODIFIED.into() }),
            };
        }
        let written = match ttl_of(r.kind, now) {
            Some(ttl) => self.storage.update_with_ttl(&key, obj, expected, ttl),
            None => self.storage.update(&key, obj, expected),
        };
        match written.map_err(storage_err)? {
            WriteOutcome::Written(o) => Ok(o),
            WriteOutcome::PreconditionFailed => Err(ApiError::Conflict { target: r, reason: CONFLICT_MODIFIED.into() }),
        }
    }

    /// The pods/binding subresource: sets spec.nodeName once and marks PodScheduled.
    pub fn bind(&mut self, namespace: &str, name: &str, node: &str, now: SimTime) -> Result<Object, ApiError> {
        let r = ObjectRef::new(Kind::Pod, namespace, name);
        let current = self.get(&r)?;
        let Some(pod) = current.as_pod() else { return Err(ApiError::NotFound(r)) };
        if pod.metadata.is_deleting() {
            return Err(ApiError::Conflict { target: r, reason: format!("pod {name} is being deleted, cannot be assigned to a host") });
        }
        if !pod.spec.node_name.is_empty() {
            return Err(ApiError::Conflict {
                target: ObjectRef { name: format!("{name}/binding"), ..r },
                reason: format!("pod {name} is already assigned to node {:?}", pod.spec.node_name),
            });
        }
        let mut bound = pod.clone();
        bound.spec.node_name = node.to_string();
        let conds = &mut bound.status.conditions;
        let scheduled = crate::model::meta::Condition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            last_transition_time: Some(Timestamp::from_sim(now)),
            ..Default::default()
        };
        match conds.iter_mut().find(|c| c.type_ == "PodScheduled") {
            Some(c) => *c = scheduled,
            None => conds.push(scheduled),
        }
        self.write_update(r, bound.into(), current, now)
    }

    /// Deletes gracefully: a bound, running pod gets a deletionTimestamp `grace`
    /// seconds ahead and stays until its kubelet deletes it with grace 0; an
    /// object with finalizers is marked and stays until they are removed.
    pub fn delete(&mut self, r: &ObjectRef, opts: &DeleteOptions, now: SimTime) -> Result<DeleteOutcome, ApiError> {
        let current = self.get(r)?;
        let meta = current.meta();
        if let Some(rv) = &opts.precondition_resource_version
            && *rv != meta.resource_version
        {
            return Err(ApiError::Conflict {
                target: r.clone(),
                reason: format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", meta.resource_version),
            });
        }
        if let Some(uid) = &opts.precondition_uid
            && *uid != meta.uid
        {
            return Err(ApiError::Conflict {
                target: r.clone(),
                reason: format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta.uid),
            });
        }
        let grace = self.grace_period(&current, opts);
        let mut marked = current.clone();
        let m = marked.meta_mut();
        let finalizer = match opts.propagation {
            Propagation::Orphan => Some(FINALIZER_ORPHAN),
            Propagation::Foreground => Some(FINALIZER_FOREGROUND),
            Propagation::Background => None,
        };
        if let Some(f) = finalizer
            && !m.finalizers.iter().any(|x| x == f)
        {
            m.finalizers.push(f.into());
        }
        // A graceful deletion already under way can only be shortened.
        let deadline = Timestamp::from_sim(now + std::time::Duration::from_secs(grace as u64));
        let shorter = m.deletion_timestamp.is_none_or(|t| deadline < t);
        if shorter {
            m.deletion_timestamp = Some(deadline);
            m.deletion_grace_period_seconds = Some(grace);
        }
        if grace == 0 && m.finalizers.is_empty() {
            let key = self.key(r);
            return match self.storage.delete(&key, meta.revision()).map_err(storage_err)? {
                WriteOutcome::Written(o) => Ok(DeleteOutcome::Deleted(o)),
                WriteOutcome::PreconditionFailed => Err(ApiError::Conflict { target: r.clone(), reason: CONFLICT_MODIFIED.into() }),
            };
        }
        let key = self.key(r);
        marked.meta_mut().resource_version = current.meta().resource_version.clone();
        if marked == current {
            return Ok(DeleteOutcome::Marked(current));
        }
        match self.storage.update(&key, marked, current.meta().revision()).map_err(storage_err)? {
            WriteOutcome::Written(o) => Ok(DeleteOutcome::Marked(o)),
            WriteOutcome::PreconditionFailed => Err(ApiError::Conflict { target: r.clone(), reason: CONFLICT_MODIFIED.into() }),
        }
    }

    /// The pod strategy's CheckGracefulDelete: unscheduled or finished pods go at once.
    fn grace_period(&self, obj: &Object, opts: &DeleteOptions) -> i64 {
        let Some(pod) = obj.as_pod() else { return 0 };
        if pod.spec.node_name.is_empty() || pod.is_terminal() {
            return 0;
        }
        let grace = opts.grace_period_s.or(pod.spec.termination_grace_period_seconds).unwrap_or(rules::DEFAULT_TERMINATION_GRACE_PERIOD_S);
        grace.max(0)
    }
}

/// Fields only the server sets: an update cannot change them.
fn keep_server_meta(obj: &mut Object, current: &Object) {
    let cur = current.meta();
    let m = obj.meta_mut();
    m.uid = cur.uid.clone();
    m.creation_timestamp = cur.creation_timestamp;
    m.deletion_timestamp = cur.deletion_timestamp;
    m.deletion_grace_period_seconds = cur.deletion_grace_period_seconds;
    m.generate_name = cur.generate_name.clone();
    // A deleting object may lose finalizers but not gain new ones.
    if cur.is_deleting() {
        let cur_f = cur.finalizers.clone();
        m.finalizers.retain(|f| cur_f.contains(f));
    }
}

