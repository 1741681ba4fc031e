//! The object model. Every kind kubesim knows is listed once, in the
//! `with_kinds!` registry below, and answers everything kind-specific in its
//! own file by implementing `Resource`: its API version and REST resource,
//! defaulting, admission, validation, the spec/status split, whether the
//! garbage collector follows it, what liveness means for it, and whether it
//! has a scale subresource. Adding a kind is writing that file and one
//! registry line; the compiler then points at anything left to answer.

pub mod deployment;
pub mod event;
pub mod lease;
pub mod meta;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod quantity;
pub mod replicaset;
pub mod selector;
pub mod validation;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

use crate::time::SimTime;

pub use deployment::Deployment;
pub use lease::Lease;
pub use meta::{Labels, ObjectMeta, Unmodelled};
pub use namespace::Namespace;
pub use node::Node;
pub use pod::Pod;
pub use quantity::Quantity;
pub use replicaset::ReplicaSet;
pub use selector::LabelSelector;

/// The registry: one line per kind — its variant, its typed cache accessor
/// and `Object` accessor, and its type. Other modules expand it with a
/// callback macro (`with_kinds!(my_macro)`), so nothing lists kinds twice.
#[macro_export]
macro_rules! with_kinds {
    ($callback:ident) => {
        $callback! {
            Namespace(namespaces, as_namespace) => $crate::model::namespace::Namespace;
            Node(nodes, as_node) => $crate::model::node::Node;
            Pod(pods, as_pod) => $crate::model::pod::Pod;
            ReplicaSet(replicasets, as_replicaset) => $crate::model::replicaset::ReplicaSet;
            Deployment(deployments, as_deployment) => $crate::model::deployment::Deployment;
            Lease(leases, as_lease) => $crate::model::lease::Lease;
            Event(events, as_event) => $crate::model::event::Event;
        }
    };
}

/// Everything kind-specific, answered in the kind's own file.
pub trait Resource: Clone + Default + fmt::Debug + Serialize + DeserializeOwned + PartialEq + Send + Sync + 'static {
    /// `v1`, `apps/v1`, `coordination.k8s.io/v1`.
    const API_VERSION: &'static str;
    /// The REST resource (`pods`).
    const PLURAL: &'static str;
    /// The resource segment in kube-apiserver's etcd key layout (nodes are `minions`).
    const ETCD_RESOURCE: &'static str = Self::PLURAL;
    const NAMESPACED: bool;
    /// Names are DNS-1123 labels (namespaces) rather than subdomains.
    const NAME_IS_DNS_LABEL: bool = false;
    /// The garbage collector keeps this kind in its owner graph (as owner or
    /// dependent). No default: a kind left out of the graph silently keeps its
    /// dependents when deleted, so each kind says which it is.
    const GARBAGE_COLLECTED: bool;

    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// True when the desired state (spec, or for spec-less kinds the payload) is equal.
    fn spec_eq(&self, other: &Self) -> bool;
    /// Replaces this object's status with `from`'s (a main-resource update ignores status).
    fn copy_status_from(&mut self, from: &Self);
    /// Replaces this object's spec with `from`'s (a status update ignores spec).
    fn copy_spec_from(&mut self, from: &Self);

    /// Defaulting (`SetDefaults_<Kind>`), on every write.
    fn set_defaults(&mut self) {}
    /// What admission adds to a new object (create only).
    fn admit_create(&mut self) {}
    /// What a create resets (status the server owns).
    fn prepare_for_create(&mut self) {}
    /// Field errors beyond the metadata's, with kube-apiserver's messages.
    fn validate(&self, _errs: &mut Vec<String>) {}
    /// Further errors for an update from `old` (immutable fields).
    fn validate_update(&self, _old: &Self, _errs: &mut Vec<String>) {}

    /// Whether `liveness_problem` can say anything (liveness checks list only these kinds).
    const HAS_LIVENESS: bool = false;
    /// What is not whole about this object for liveness checks (None: whole).
    fn liveness_problem(&self, _now: SimTime) -> Option<String> {
        None
    }
    /// `status.conditions`, for kinds that have them.
    fn conditions(&self) -> &[meta::Condition] {
        &[]
    }
    /// The scale subresource's `spec.replicas`, if the kind has one.
    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        None
    }
}

/// A kind's place in the registry (generated from its `with_kinds!` line).
pub trait Registered: Resource {
    const KIND: Kind;
    /// This kind's value inside an `Object`, if it is one.
    fn downcast(obj: &Object) -> Option<&Arc<Self>>;
}

/// `meta`, `meta_mut` and the spec/status split of a kind with `metadata`,
/// `spec` and `status` fields, for use inside `impl Resource`.
#[macro_export]
macro_rules! spec_status_resource {
    () => {
        fn meta(&self) -> &$crate::model::ObjectMeta {
            &self.metadata
        }
        fn meta_mut(&mut self) -> &mut $crate::model::ObjectMeta {
            &mut self.metadata
        }
        fn spec_eq(&self, other: &Self) -> bool {
            self.spec == other.spec
        }
        fn copy_status_from(&mut self, from: &Self) {
            self.status = from.status.clone();
        }
        fn copy_spec_from(&mut self, from: &Self) {
            self.spec = from.spec.clone();
        }
    };
}

macro_rules! kinds {
    ($( $kind:ident($view:ident, $as_fn:ident) => $ty:ty; )*) => {
        /// Every kind kubesim models.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($kind),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];
            /// A dense index (0..ALL.len()), for per-kind tables.
            pub fn index(self) -> usize { self as usize }
            pub fn name(self) -> &'static str { match self { $(Kind::$kind => stringify!($kind)),* } }
            pub fn api_version(self) -> &'static str { match self { $(Kind::$kind => <$ty as Resource>::API_VERSION),* } }
            /// The REST resource name (`pods`).
            pub fn plural(self) -> &'static str { match self { $(Kind::$kind => <$ty as Resource>::PLURAL),* } }
            /// The resource segment in kube-apiserver's etcd key layout (nodes are `minions`).
            pub fn etcd_resource(self) -> &'static str { match self { $(Kind::$kind => <$ty as Resource>::ETCD_RESOURCE),* } }
            pub fn namespaced(self) -> bool { match self { $(Kind::$kind => <$ty as Resource>::NAMESPACED),* } }
            pub fn name_is_dns_label(self) -> bool { match self { $(Kind::$kind => <$ty as Resource>::NAME_IS_DNS_LABEL),* } }
            /// Whether the kind has the scale subresource (`kubectl scale`).
            pub fn scalable(self) -> bool { match self { $(Kind::$kind => <$ty as Default>::default().replicas_mut().is_some()),* } }
            /// Whether liveness checks look at this kind.
            pub fn has_liveness(self) -> bool { match self { $(Kind::$kind => <$ty as Resource>::HAS_LIVENESS),* } }
            /// Whether the garbage collector follows this kind.
            pub fn garbage_collected(self) -> bool { match self { $(Kind::$kind => <$ty as Resource>::GARBAGE_COLLECTED),* } }
            /// Finds a kind by its name (`Pod`), plural (`pods`) or lower-case name (`pod`).
            pub fn from_name(s: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.name() == s || k.plural() == s || k.name().eq_ignore_ascii_case(s))
            }
            pub fn expected_list() -> String {
                Kind::ALL.iter().map(|k| format!("{} ({})", k.name(), k.api_version())).collect::<Vec<_>>().join(", ")
            }
        }

        /// A stored object of any kind, shared immutably (clone is a reference count).
        #[derive(Clone, Debug, PartialEq)]
        pub enum Object { $($kind(Arc<$ty>)),* }

        $(
            impl From<$ty> for Object {
                fn from(v: $ty) -> Object { Object::$kind(Arc::new(v)) }
            }
            impl Registered for $ty {
                const KIND: Kind = Kind::$kind;
                fn downcast(obj: &Object) -> Option<&Arc<Self>> { match obj { Object::$kind(o) => Some(o), #[allow(unreachable_patterns)] _ => None } }
            }
        )*

        impl Object {
            pub fn kind(&self) -> Kind { match self { $(Object::$kind(_) => Kind::$kind),* } }
            pub fn meta(&self) -> &ObjectMeta { match self { $(Object::$kind(o) => o.meta()),* } }
            /// Copy-on-write access to the metadata.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta { match self { $(Object::$kind(o) => Arc::make_mut(o).meta_mut()),* } }
            pub fn spec_eq(&self, other: &Object) -> bool {
                match (self, other) { $((Object::$kind(a), Object::$kind(b)) => a.spec_eq(b),)* _ => false }
            }
            pub fn copy_status_from(&mut self, from: &Object) {
                match (self, from) { $((Object::$kind(a), Object::$kind(b)) => Arc::make_mut(a).copy_status_from(b),)* _ => {} }
            }
            pub fn copy_spec_from(&mut self, from: &Object) {
                match (self, from) { $((Object::$kind(a), Object::$kind(b)) => Arc::make_mut(a).copy_spec_from(b),)* _ => {} }
            }
            pub fn set_defaults(&mut self) { match self { $(Object::$kind(o) => Arc::make_mut(o).set_defaults()),* } }
            pub fn admit_create(&mut self) { match self { $(Object::$kind(o) => Arc::make_mut(o).admit_create()),* } }
            pub fn prepare_for_create(&mut self) { match self { $(Object::$kind(o) => Arc::make_mut(o).prepare_for_create()),* } }
            pub fn validate(&self, errs: &mut Vec<String>) { match self { $(Object::$kind(o) => o.validate(errs)),* } }
            pub fn validate_update(&self, old: &Object, errs: &mut Vec<String>) {
                match (self, old) { $((Object::$kind(n), Object::$kind(o)) => n.validate_update(o, errs),)* _ => {} }
            }
            pub fn liveness_problem(&self, now: SimTime) -> Option<String> { match self { $(Object::$kind(o) => o.liveness_problem(now)),* } }
            pub fn conditions(&self) -> &[meta::Condition] { match self { $(Object::$kind(o) => o.conditions()),* } }
            /// With the scale subresource: a copy with `spec.replicas` set; None if the kind has none.
            pub fn with_replicas(&self, replicas: i32) -> Option<Object> {
                let mut next = self.clone();
                let slot = match &mut next { $(Object::$kind(o) => Arc::make_mut(o).replicas_mut()),* }?;
                *slot = Some(replicas);
                Some(next)
            }
            /// Whether the kind has the scale subresource.
            pub fn scalable(&self) -> bool { self.with_replicas(0).is_some() }
            /// The scale subresource's `spec.replicas` (defaulted to 1); None if the kind has none.
            pub fn replicas(&self) -> Option<i32> {
                let mut copy = self.clone();
                let slot = match &mut copy { $(Object::$kind(o) => Arc::make_mut(o).replicas_mut()),* }?;
                Some(slot.unwrap_or(1))
            }
            $(
                pub fn $as_fn(&self) -> Option<&$ty> {
                    match self { Object::$kind(o) => Some(o), #[allow(unreachable_patterns)] _ => None }
                }
            )*
            /// The object as the Kubernetes API prints it: apiVersion, kind, metadata, spec, status.
            pub fn to_json_value(&self) -> serde_json::Value {
                let mut v = match self { $(Object::$kind(o) => serde_json::to_value(o.as_ref()),)* }
                    .unwrap_or(serde_json::Value::Null);
                if let serde_json::Value::Object(map) = &mut v {
                    map.insert("apiVersion".into(), self.kind().api_version().into());
                    map.insert("kind".into(), self.kind().name().into());
                }
                // Fields the user wrote that kubesim does not model, back where they were.
                self.meta().unmodelled.merge_into(&mut v);
                v
            }
            /// Decodes a value of a known kind; unknown fields are reported through `on_ignored`.
            pub fn deserialize_kind<'de, D: serde::Deserializer<'de>>(
                kind: Kind, d: D, on_ignored: &mut dyn FnMut(Vec<crate::yamlpos::PathSeg>),
            ) -> Result<Object, D::Error> {
                let mut cb = |path: serde_ignored::Path| {
                    let segs = crate::yamlpos::from_ignored(&path);
                    // apiVersion and kind are read by the loader before typed decoding.
                    let header = matches!(segs.as_slice(), [crate::yamlpos::PathSeg::Key(k)] if k == "apiVersion" || k == "kind");
                    if !header { on_ignored(segs) }
                };
                Ok(match kind {
                    $(Kind::$kind => Object::$kind(Arc::new(serde_ignored::deserialize(d, &mut cb)?)),)*
                })
            }
            /// Decodes JSON of a known kind, keeping the fields kubesim does not model.
            pub fn from_json(kind: Kind, bytes: &[u8]) -> Result<Object, serde_json::Error> {
                let mut ignored = Vec::new();
                let mut de = serde_json::Deserializer::from_slice(bytes);
                let mut obj = Object::deserialize_kind(kind, &mut de, &mut |p| ignored.push(p))?;
                if !ignored.is_empty() {
                    let doc: serde_json::Value = serde_json::from_slice(bytes)?;
                    obj.meta_mut().unmodelled = Unmodelled::capture(&doc, &ignored);
                }
                Ok(obj)
            }

            /// Keeps `doc`'s fields at `ignored` (paths within the object) as its unmodelled part.
            pub fn keep_unmodelled(&mut self, doc: &serde_json::Value, ignored: &[Vec<crate::yamlpos::PathSeg>]) {
                if !ignored.is_empty() {
                    self.meta_mut().unmodelled = Unmodelled::capture(doc, ignored);
                }
            }
        }
    };
}

with_kinds!(kinds);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_value().serialize(s)
    }
}

/// Names one object: kind, namespace ("" for cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: Kind, namespace: &str, name: &str) -> ObjectRef {
        let namespace = if kind.namespaced() { namespace.to_string() } else { String::new() };
        ObjectRef { kind, namespace, name: name.to_string() }
    }
    pub fn of(obj: &Object) -> ObjectRef {
        ObjectRef::new(obj.kind(), &obj.meta().namespace, &obj.meta().name)
    }
    /// The etcd key under kube-apiserver's layout, below `prefix` (default `/registry`).
    pub fn etcd_key(&self, prefix: &str) -> String {
        if self.kind.namespaced() {
            format!("{prefix}/{}/{}/{}", self.kind.etcd_resource(), self.namespace, self.name)
        } else {
            format!("{prefix}/{}/{}", self.kind.etcd_resource(), self.name)
        }
    }
}

/// The etcd key prefix that holds every object of `kind` (in `namespace`, if given).
pub fn etcd_prefix(prefix: &str, kind: Kind, namespace: Option<&str>) -> String {
    match namespace.filter(|_| kind.namespaced()) {
        Some(ns) => format!("{prefix}/{}/{ns}/", kind.etcd_resource()),
        None => format!("{prefix}/{}/", kind.etcd_resource()),
    }
}

impl fmt::Display for ObjectRef {
    /// `pods/default/web-1`, `nodes/worker-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.plural(), self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind.plural(), self.namespace, self.name)
        }
    }
}

