//! Informer caches: per kind, the objects a component has seen, kept by the
//! driver from one place only (`apply` and `replace`).
//!
//! Objects are held by namespace, then name, in BTreeMaps, so iteration order
//! is deterministic and a lookup by `(&str, &str)` allocates nothing. Two
//! indexes are kept on every change, as client-go's indexers are: pods by
//! `spec.nodeName`, and every object by its controller's uid (the owner
//! reference with `controller: true`), so components never scan to find a
//! node's pods or a workload's children.
//!
//! Typed access: `view.pods().get(ns, name)`, `view.replicasets().controlled_by(uid)`,
//! `view.of::<Node>().iter()`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::storage::Revision;
use crate::api::{WatchEvent, WatchEventType};
use crate::model::{Kind, Object, Registered};

/// (namespace, name), sharing the strings of the cache's own keys.
type ObjKey = (Arc<str>, Arc<str>);

#[derive(Clone, Debug, Default)]
pub struct KindStore {
    /// namespace ("" when cluster-scoped) → name → object.
    objects: BTreeMap<Arc<str>, BTreeMap<Arc<str>, Object>>,
    len: usize,
    /// Pods by the node they are bound to.
    by_node: BTreeMap<Arc<str>, BTreeMap<ObjKey, Object>>,
    /// Objects by their controller's uid.
    by_controller: BTreeMap<Arc<str>, BTreeMap<ObjKey, Object>>,
    /// The resourceVersion the cache is synced to; watches resume after it.
    pub revision: Revision,
}

/// The node an object is indexed under (bound pods only).
fn node_of(obj: &Object) -> Option<&str> {
    match obj {
        Object::Pod(p) if !p.spec.node_name.is_empty() => Some(&p.spec.node_name),
        _ => None,
    }
}

fn controller_of(obj: &Object) -> Option<&str> {
    obj.meta().controller_ref().map(|r| r.uid.as_str()).filter(|u| !u.is_empty())
}

fn index_insert(index: &mut BTreeMap<Arc<str>, BTreeMap<ObjKey, Object>>, at: &str, key: &ObjKey, obj: &Object) {
    match index.get_mut(at) {
        Some(set) => {
            set.insert(key.clone(), obj.clone());
        }
        None => {
            index.insert(Arc::from(at), BTreeMap::from([(key.clone(), obj.clone())]));
        }
    }
}

fn index_remove(index: &mut BTreeMap<Arc<str>, BTreeMap<ObjKey, Object>>, at: &str, key: &ObjKey) {
    if let Some(set) = index.get_mut(at) {
        set.remove(key);
        if set.is_empty() {
            index.remove(at);
        }
    }
}

impl KindStore {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Object> {
        self.objects.get(namespace)?.get(name)
    }
    /// Every object, by namespace then name.
    pub fn iter(&self) -> impl Iterator<Item = &Object> {
        self.objects.values().flat_map(|m| m.values())
    }
    pub fn in_namespace<'a>(&'a self, ns: &str) -> impl Iterator<Item = &'a Object> + use<'a> {
        self.objects.get(ns).into_iter().flat_map(|m| m.values())
    }
    /// Pods bound to `node`, by namespace then name.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Object> + use<'a> {
        self.by_node.get(node).into_iter().flat_map(|m| m.values())
    }
    /// Objects whose controller has uid `uid`, by namespace then name.
    pub fn controlled_by<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Object> + use<'a> {
        self.by_controller.get(uid).into_iter().flat_map(|m| m.values())
    }

    fn index(&mut self, key: &ObjKey, obj: &Object) {
        if let Some(n) = node_of(obj) {
            index_insert(&mut self.by_node, n, key, obj);
        }
        if let Some(c) = controller_of(obj) {
            index_insert(&mut self.by_controller, c, key, obj);
        }
    }

    fn unindex(&mut self, key: &ObjKey, obj: &Object) {
        if let Some(n) = node_of(obj) {
            index_remove(&mut self.by_node, n, key);
        }
        if let Some(c) = controller_of(obj) {
            index_remove(&mut self.by_controller, c, key);
        }
    }

    /// Inserts or replaces; returns the previous object.
    fn upsert(&mut self, obj: &Object) -> Option<Object> {
        let (ns, name) = (obj.meta().namespace.as_str(), obj.meta().name.as_str());
        let ns_key: Arc<str> = match self.objects.get_key_value(ns) {
            Some((k, _)) => k.clone(),
            None => {
                let k: Arc<str> = Arc::from(ns);
                self.objects.insert(k.clone(), BTreeMap::new());
                k
            }
        };
        let names = self.objects.get_mut(ns).expect("namespace entry");
        let (key, old) = match names.get_key_value(name) {
            Some((k, _)) => {
                let k = k.clone();
                let old = names.insert(k.clone(), obj.clone());
                ((ns_key, k), old)
            }
            None => {
                let k: Arc<str> = Arc::from(name);
                names.insert(k.clone(), obj.clone());
                self.len += 1;
                ((ns_key, k), None)
            }
        };
        if let Some(o) = &old {
            self.unindex(&key, o);
        }
        self.index(&key, obj);
        old
    }

    fn remove(&mut self, ns: &str, name: &str) -> Option<Object> {
        let names = self.objects.get_mut(ns)?;
        let (k, old) = names.remove_entry(name)?;
        let ns_key = self.objects.get_key_value(ns).map(|(k, _)| k.clone()).expect("namespace entry");
        self.len -= 1;
        self.unindex(&(ns_key, k), &old);
        if self.objects.get(ns).is_some_and(BTreeMap::is_empty) {
            self.objects.remove(ns);
        }
        Some(old)
    }
}

/// A typed view of one kind in a cache: `view.pods()`, `view.of::<Node>()`.
pub struct KindView<'a, T> {
    store: Option<&'a KindStore>,
    _kind: PhantomData<fn() -> T>,
}

impl<'a, T: Registered> KindView<'a, T> {
    fn typed(o: &'a Object) -> &'a Arc<T> {
        T::downcast(o).expect("a cache holds one kind per store")
    }
    pub fn get(&self, namespace: &str, name: &str) -> Option<&'a Arc<T>> {
        self.store?.get(namespace, name).map(Self::typed)
    }
    pub fn iter(&self) -> impl Iterator<Item = &'a Arc<T>> + use<'a, T> {
        self.store.into_iter().flat_map(|s| s.iter()).map(Self::typed)
    }
    pub fn in_namespace(&self, ns: &str) -> impl Iterator<Item = &'a Arc<T>> + use<'a, T> {
        self.store.and_then(|s| s.objects.get(ns)).into_iter().flat_map(|m| m.values()).map(Self::typed)
    }
    /// Pods bound to `node` (empty for other kinds).
    pub fn on_node(&self, node: &str) -> impl Iterator<Item = &'a Arc<T>> + use<'a, T> {
        self.store.and_then(|s| s.by_node.get(node)).into_iter().flat_map(|m| m.values()).map(Self::typed)
    }
    /// Objects controlled by the object with uid `uid`.
    pub fn controlled_by(&self, uid: &str) -> impl Iterator<Item = &'a Arc<T>> + use<'a, T> {
        self.store.and_then(|s| s.by_controller.get(uid)).into_iter().flat_map(|m| m.values()).map(Self::typed)
    }
    pub fn len(&self) -> usize {
        self.store.map_or(0, KindStore::len)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A component's read-only view of the cluster.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    /// By `Kind::index()`; None for kinds the component does not watch.
    stores: Vec<Option<KindStore>>,
}

impl Cache {
    pub fn new(kinds: &[Kind]) -> Cache {
        let mut stores = vec![None; Kind::ALL.len()];
        for k in kinds {
            stores[k.index()] = Some(KindStore::default());
        }
        Cache { stores }
    }

    pub fn store(&self, kind: Kind) -> Option<&KindStore> {
        self.stores.get(kind.index())?.as_ref()
    }

    fn store_mut(&mut self, kind: Kind) -> Option<&mut KindStore> {
        self.stores.get_mut(kind.index())?.as_mut()
    }

    /// The typed view of kind `T`.
    pub fn of<T: Registered>(&self) -> KindView<'_, T> {
        KindView { store: self.store(T::KIND), _kind: PhantomData }
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Object> {
        self.store(kind)?.get(namespace, name)
    }

    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.store(kind).into_iter().flat_map(|s| s.iter())
    }

    pub fn revision(&self, kind: Kind) -> Revision {
        self.store(kind).map_or(0, |s| s.revision)
    }

    pub fn watches(&self, kind: Kind) -> bool {
        self.store(kind).is_some()
    }

    /// Applies one watch event; returns false for a kind this cache does not hold.
    pub fn apply(&mut self, event: &WatchEvent) -> bool {
        let Some(store) = self.store_mut(event.object.kind()) else { return false };
        match event.type_ {
            WatchEventType::Added | WatchEventType::Modified => {
                store.upsert(&event.object);
            }
            WatchEventType::Deleted => {
                let m = event.object.meta();
                store.remove(&m.namespace, &m.name);
            }
        }
        store.revision = store.revision.max(event.revision);
        true
    }

    /// Replaces a kind's contents with a fresh list (after 410 Gone), returning
    /// the differences as watch events, in key order, so handlers see what they missed.
    pub fn replace(&mut self, kind: Kind, objects: Vec<Object>, revision: Revision, key_prefix: &str) -> Vec<WatchEvent> {
        if self.store(kind).is_none() {
            self.stores[kind.index()] = Some(KindStore::default());
        }
        let store = self.store_mut(kind).expect("store");
        let mut fresh: BTreeMap<(String, String), Object> = objects.into_iter().map(|o| ((o.meta().namespace.clone(), o.meta().name.clone()), o)).collect();
        let old = std::mem::take(store);
        let event = |type_, object: Object| {
            let key: Arc<str> = crate::model::ObjectRef::of(&object).etcd_key(key_prefix).into();
            WatchEvent { type_, object, key, revision }
        };
        let mut events = Vec::new();
        for o in old.iter() {
            let k = (o.meta().namespace.clone(), o.meta().name.clone());
            match fresh.get(&k) {
                None => events.push(event(WatchEventType::Deleted, o.clone())),
                Some(n) if n.meta().resource_version != o.meta().resource_version => events.push(event(WatchEventType::Modified, n.clone())),
                Some(_) => {}
            }
            if let Some(n) = fresh.remove(&k) {
                store.upsert(&n);
            }
        }
        for (_, o) in fresh {
            store.upsert(&o);
            events.push(event(WatchEventType::Added, o));
        }
        store.revision = revision;
        events.sort_by(|a, b| a.key.cmp(&b.key));
        events
    }
}

macro_rules! typed_views {
    ($( $kind:ident($view:ident, $as_fn:ident) => $ty:ty; )*) => {
        impl Cache {
            $(
                #[doc = concat!("The typed view of ", stringify!($kind), " objects.")]
                pub fn $view(&self) -> KindView<'_, $ty> {
                    self.of::<$ty>()
                }
            )*
        }
    };
}
crate::with_kinds!(typed_views);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::meta::OwnerReference;
    use crate::model::{Namespace, ObjectMeta, Pod};

    fn ns(name: &str, rv: &str) -> Object {
        Namespace { metadata: ObjectMeta { name: name.into(), resource_version: rv.into(), ..Default::default() }, ..Default::default() }.into()
    }

    fn pod(name: &str, node: &str, owner: &str) -> Object {
        let mut p = Pod { metadata: ObjectMeta { name: name.into(), namespace: "default".into(), resource_version: "1".into(), ..Default::default() }, ..Default::default() };
        p.spec.node_name = node.into();
        if !owner.is_empty() {
            p.metadata.owner_references.push(OwnerReference { kind: "ReplicaSet".into(), name: "rs".into(), uid: owner.into(), controller: Some(true), ..Default::default() });
        }
        p.into()
    }

    fn ev(type_: WatchEventType, object: Object, revision: Revision) -> WatchEvent {
        WatchEvent { type_, object, key: Arc::from(""), revision }
    }

    #[test]
    fn relist_reports_what_was_missed() {
        let mut c = Cache::new(&[Kind::Namespace]);
        for (n, rv) in [("a", "2"), ("b", "3"), ("c", "4")] {
            c.apply(&ev(WatchEventType::Added, ns(n, rv), rv.parse().unwrap()));
        }
        assert_eq!(c.revision(Kind::Namespace), 4);
        // Meanwhile: a deleted, b modified, d added.
        let diff = c.replace(Kind::Namespace, vec![ns("b", "7"), ns("c", "4"), ns("d", "8")], 9, "/registry");
        let got: Vec<_> = diff.iter().map(|e| (e.type_, e.object.meta().name.as_str())).collect();
        assert_eq!(got, vec![(WatchEventType::Deleted, "a"), (WatchEventType::Modified, "b"), (WatchEventType::Added, "d")]);
        assert_eq!(c.list(Kind::Namespace).count(), 3);
        assert_eq!(c.namespaces().len(), 3);
        assert_eq!(c.revision(Kind::Namespace), 9);
        assert!(!c.apply(&ev(WatchEventType::Added, crate::model::Node::default().into(), 10)));
    }

    #[test]
    fn indexes_follow_every_change() {
        let mut c = Cache::new(&[Kind::Pod]);
        c.apply(&ev(WatchEventType::Added, pod("a", "", "rs-1"), 1));
        c.apply(&ev(WatchEventType::Added, pod("b", "n1", "rs-1"), 2));
        c.apply(&ev(WatchEventType::Added, pod("c", "n2", ""), 3));
        let names = |it: &mut dyn Iterator<Item = &Arc<Pod>>| it.map(|p| p.metadata.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&mut c.pods().on_node("n1")), ["b"]);
        assert_eq!(names(&mut c.pods().controlled_by("rs-1")), ["a", "b"]);
        // a is bound to n1; c loses its node; b is deleted.
        c.apply(&ev(WatchEventType::Modified, pod("a", "n1", "rs-1"), 4));
        c.apply(&ev(WatchEventType::Deleted, pod("b", "n1", "rs-1"), 5));
        assert_eq!(names(&mut c.pods().on_node("n1")), ["a"]);
        assert_eq!(names(&mut c.pods().on_node("n2")), ["c"]);
        assert_eq!(names(&mut c.pods().controlled_by("rs-1")), ["a"]);
        assert_eq!(c.pods().get("default", "a").map(|p| p.spec.node_name.as_str()), Some("n1"));
        assert!(c.pods().get("default", "b").is_none());
        assert_eq!(c.pods().len(), 2);
        // A relist rebuilds the indexes from what is listed.
        c.replace(Kind::Pod, vec![pod("d", "n2", "rs-2")], 9, "/registry");
        assert_eq!(names(&mut c.pods().on_node("n2")), ["d"]);
        assert_eq!(c.pods().on_node("n1").count(), 0);
        assert_eq!(names(&mut c.pods().controlled_by("rs-2")), ["d"]);
        assert_eq!(c.pods().controlled_by("rs-1").count(), 0);
    }
}
