//! Informer caches: per kind, the objects a component has seen, kept by the
//! driver from one place only (`apply` and `replace`), keyed by namespace/name
//! in a BTreeMap so iteration order is deterministic.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{WatchEvent, WatchEventType};
use crate::model::{Kind, Object};
use crate::api::storage::Revision;

#[derive(Clone, Debug, Default)]
pub struct KindStore {
    /// (namespace, name) → object.
    objects: BTreeMap<(String, String), Object>,
    /// The resourceVersion the cache is synced to; watches resume after it.
    pub revision: Revision,
}

impl KindStore {
    pub fn len(&self) -> usize {
        self.objects.len()
    }
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }
    pub fn in_namespace<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects.range((ns.to_string(), String::new())..).take_while(move |((n, _), _)| n == ns).map(|(_, o)| o)
    }
}

/// A component's read-only view of the cluster.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    stores: BTreeMap<Kind, KindStore>,
}

fn key_of(obj: &Object) -> (String, String) {
    (obj.meta().namespace.clone(), obj.meta().name.clone())
}

impl Cache {
    pub fn new(kinds: &[Kind]) -> Cache {
        Cache { stores: kinds.iter().map(|k| (*k, KindStore::default())).collect() }
    }

    pub fn store(&self, kind: Kind) -> Option<&KindStore> {
        self.stores.get(&kind)
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Object> {
        self.stores.get(&kind)?.objects.get(&(namespace.to_string(), name.to_string()))
    }

    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.stores.get(&kind).into_iter().flat_map(|s| s.iter())
    }

    pub fn revision(&self, kind: Kind) -> Revision {
        self.stores.get(&kind).map_or(0, |s| s.revision)
    }

    pub fn watches(&self, kind: Kind) -> bool {
        self.stores.contains_key(&kind)
    }

    /// Applies one watch event; returns false for a kind this cache does not hold.
    pub fn apply(&mut self, event: &WatchEvent) -> bool {
        let Some(store) = self.stores.get_mut(&event.object.kind()) else { return false };
        let key = key_of(&event.object);
        match event.type_ {
            WatchEventType::Added | WatchEventType::Modified => {
                store.objects.insert(key, event.object.clone());
            }
            WatchEventType::Deleted => {
                store.objects.remove(&key);
            }
        }
        store.revision = store.revision.max(event.revision);
        true
    }

    /// Replaces a kind's contents with a fresh list (after 410 Gone), returning
    /// the differences as watch events so handlers see what they missed.
    pub fn replace(&mut self, kind: Kind, objects: Vec<Object>, revision: Revision, key_prefix: &str) -> Vec<WatchEvent> {
        let store = self.stores.entry(kind).or_default();
        let mut fresh: BTreeMap<(String, String), Object> = objects.into_iter().map(|o| (key_of(&o), o)).collect();
        let mut events = Vec::new();
        let old = std::mem::take(&mut store.objects);
        for (k, o) in old {
            match fresh.get(&k) {
                None => {
                    let key: Arc<str> = crate::model::ObjectRef::of(&o).etcd_key(key_prefix).into();
                    events.push(WatchEvent { type_: WatchEventType::Deleted, object: o, key, revision });
                }
                Some(n) if n.meta().resource_version != o.meta().resource_version => {
                    let key: Arc<str> = crate::model::ObjectRef::of(n).etcd_key(key_prefix).into();
                    events.push(WatchEvent { type_: WatchEventType::Modified, object: n.clone(), key, revision });
                }
                Some(_) => {}
            }
            if let Some(n) = fresh.remove(&k) {
                store.objects.insert(k, n);
            }
        }
        for (k, o) in fresh {
            let key: Arc<str> = crate::model::ObjectRef::of(&o).etcd_key(key_prefix).into();
            events.push(WatchEvent { type_: WatchEventType::Added, object: o.clone(), key, revision });
            store.objects.insert(k, o);
        }
        store.revision = revision;
        events.sort_by(|a, b| a.key.cmp(&b.key));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Namespace, ObjectMeta};

    fn ns(name: &str, rv: &str) -> Object {
        Namespace { metadata: ObjectMeta { name: name.into(), resource_version: rv.into(), ..Default::default() }, ..Default::default() }.into()
    }

    #[test]
    fn relist_reports_what_was_missed() {
        let mut c = Cache::new(&[Kind::Namespace]);
        for (n, rv) in [("a", "2"), ("b", "3"), ("c", "4")] {
            c.apply(&WatchEvent { type_: WatchEventType::Added, object: ns(n, rv), key: Arc::from(n), revision: rv.parse().unwrap() });
        }
        assert_eq!(c.revision(Kind::Namespace), 4);
        // Meanwhile: a deleted, b modified, d added.
        let diff = c.replace(Kind::Namespace, vec![ns("b", "7"), ns("c", "4"), ns("d", "8")], 9, "/registry");
        let got: Vec<_> = diff.iter().map(|e| (e.type_, e.object.meta().name.as_str())).collect();
        assert_eq!(got, vec![(WatchEventType::Deleted, "a"), (WatchEventType::Modified, "b"), (WatchEventType::Added, "d")]);
        assert_eq!(c.list(Kind::Namespace).count(), 3);
        assert_eq!(c.revision(Kind::Namespace), 9);
        assert!(!c.apply(&WatchEvent { type_: WatchEventType::Added, object: crate::model::Node::default().into(), key: Arc::from("n"), revision: 10 }));
    }
}
