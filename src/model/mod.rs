//! The object model. Every kind kubesim knows is listed once, in the
//! `kinds!` invocation below; adding a kind means writing its file (the
//! types) and one line there, plus its API rules in `api::rules`.

pub mod deployment;
pub mod lease;
pub mod meta;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod quantity;
pub mod replicaset;
pub mod selector;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

pub use deployment::Deployment;
pub use lease::Lease;
pub use meta::{Labels, ObjectMeta};
pub use namespace::Namespace;
pub use node::Node;
pub use pod::Pod;
pub use quantity::Quantity;
pub use replicaset::ReplicaSet;
pub use selector::LabelSelector;

/// What each kind's Rust type provides: metadata access and the spec/status
/// split that update vs update-status and generation bumps rely on.
pub trait Resource: Clone + fmt::Debug + Serialize + DeserializeOwned + PartialEq + Send + Sync + 'static {
    const KIND: Kind;
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// True when the desired state (spec, or for spec-less kinds the payload) is equal.
    fn spec_eq(&self, other: &Self) -> bool;
    /// Replaces this object's status with `from`'s (a main-resource update ignores status).
    fn copy_status_from(&mut self, from: &Self);
    /// Replaces this object's spec with `from`'s (a status update ignores spec).
    fn copy_spec_from(&mut self, from: &Self);
    /// This kind's value inside an `Object`, if it is one.
    fn downcast(obj: &Object) -> Option<&Arc<Self>>;
}

macro_rules! kinds {
    ($( $kind:ident => $ty:ty, $api_version:literal, $plural:literal, $etcd:literal, namespaced: $ns:literal; )*) => {
        /// Every kind kubesim models.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($kind),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];
            /// A dense index (0..ALL.len()), for per-kind tables.
            pub fn index(self) -> usize { self as usize }
            pub fn name(self) -> &'static str { match self { $(Kind::$kind => stringify!($kind)),* } }
            pub fn api_version(self) -> &'static str { match self { $(Kind::$kind => $api_version),* } }
            /// The REST resource name (`pods`).
            pub fn plural(self) -> &'static str { match self { $(Kind::$kind => $plural),* } }
            /// The resource segment in kube-apiserver's etcd key layout (nodes are `minions`).
            pub fn etcd_resource(self) -> &'static str { match self { $(Kind::$kind => $etcd),* } }
            pub fn namespaced(self) -> bool { match self { $(Kind::$kind => $ns),* } }
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
            impl Resource for $ty {
                const KIND: Kind = Kind::$kind;
                fn meta(&self) -> &ObjectMeta { &self.metadata }
                fn meta_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
                fn spec_eq(&self, other: &Self) -> bool { self.spec == other.spec }
                fn copy_status_from(&mut self, from: &Self) { self.status = from.status.clone(); }
                fn copy_spec_from(&mut self, from: &Self) { self.spec = from.spec.clone(); }
                fn downcast(obj: &Object) -> Option<&Arc<Self>> { match obj { Object::$kind(o) => Some(o), #[allow(unreachable_patterns)] _ => None } }
            }
        )*

        impl Object {
            pub fn kind(&self) -> Kind { match self { $(Object::$kind(_) => Kind::$kind),* } }
            pub fn meta(&self) -> &ObjectMeta { match self { $(Object::$kind(o) => &o.metadata),* } }
            /// Copy-on-write access to the metadata.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta { match self { $(Object::$kind(o) => &mut Arc::make_mut(o).metadata),* } }
            pub fn spec_eq(&self, other: &Object) -> bool {
                match (self, other) { $((Object::$kind(a), Object::$kind(b)) => a.spec_eq(b),)* _ => false }
            }
            pub fn copy_status_from(&mut self, from: &Object) {
                match (self, from) { $((Object::$kind(a), Object::$kind(b)) => Arc::make_mut(a).copy_status_from(b),)* _ => {} }
            }
            pub fn copy_spec_from(&mut self, from: &Object) {
                match (self, from) { $((Object::$kind(a), Object::$kind(b)) => Arc::make_mut(a).copy_spec_from(b),)* _ => {} }
            }
            /// The object as the Kubernetes API prints it: apiVersion, kind, metadata, spec, status.
            pub fn to_json_value(&self) -> serde_json::Value {
                let mut v = match self { $(Object::$kind(o) => serde_json::to_value(o.as_ref()),)* }
                    .unwrap_or(serde_json::Value::Null);
                if let serde_json::Value::Object(map) = &mut v {
                    map.insert("apiVersion".into(), self.kind().api_version().into());
                    map.insert("kind".into(), self.kind().name().into());
                }
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
            pub fn from_json(kind: Kind, bytes: &[u8]) -> Result<Object, serde_json::Error> {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                Object::deserialize_kind(kind, &mut de, &mut |_| {})
            }
        }
    };
}

kinds! {
    Namespace  => Namespace,  "v1",      "namespaces",  "namespaces",  namespaced: false;
    Node       => Node,       "v1",      "nodes",       "minions",     namespaced: false;
    Pod        => Pod,        "v1",      "pods",        "pods",        namespaced: true;
    ReplicaSet => ReplicaSet, "apps/v1", "replicasets", "replicasets", namespaced: true;
    Deployment => Deployment, "apps/v1", "deployments", "deployments", namespaced: true;
    Lease      => Lease,      "coordination.k8s.io/v1", "leases", "leases", namespaced: true;
}

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

macro_rules! typed_access {
    ($($fn_name:ident => $kind:ident),*) => {
        impl Object {
            $(
                pub fn $fn_name(&self) -> Option<&$kind> {
                    match self { Object::$kind(o) => Some(o), _ => None }
                }
            )*
        }
    };
}
typed_access!(as_pod => Pod, as_node => Node, as_namespace => Namespace, as_replicaset => ReplicaSet, as_deployment => Deployment, as_lease => Lease);
