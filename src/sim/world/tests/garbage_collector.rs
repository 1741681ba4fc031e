//! The garbage collector in the simulator, with the ReplicaSet controller.

use super::super::*;
use crate::api::DeleteOptions;
use crate::control::controllers::garbage_collector::GarbageCollector;
use crate::api::Propagation;
use crate::control::controllers::replicaset::ReplicaSetController;
use crate::model::namespace::Namespace;
use crate::model::ObjectMeta;
use crate::scenario::schema::TimingSpec;
use crate::sim::world::World;
use crate::testutil::replicaset;

fn world() -> World {
    let mut w = World::new(1, SimTime::from_secs(3600), TimingSpec::default(), false);
    w.create_now(Namespace { metadata: ObjectMeta { name: "default".into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    w.add_component(Box::new(crate::control::host::Host::new(ReplicaSetController::new())));
    w.add_component(Box::new(crate::control::host::Host::new(GarbageCollector::new())));
    w.create_now(replicaset("web", 3)).unwrap();
    w.advance_to(SimTime::from_secs(10));
    w
}

fn pods(w: &World) -> Vec<Object> {
    w.api().list(Kind::Pod, None).unwrap().0
}

fn delete_rs(w: &mut World, propagation: Propagation) {
    let r = ObjectRef::new(Kind::ReplicaSet, "default", "web");
    let now = w.now();
    w.api_mut().delete(&r, &DeleteOptions { propagation, ..Default::default() }, now).unwrap();
    w.create_now(crate::model::Namespace { metadata: ObjectMeta { name: "tick".into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    w.advance_to(SimTime::from_secs(30));
}

#[test]
fn background_deletion_removes_dependents() {
    let mut w = world();
    assert_eq!(pods(&w).len(), 3);
    delete_rs(&mut w, Propagation::Background);
    assert!(pods(&w).is_empty(), "the collector deleted the orphaned pods");
    assert!(w.api().get(&ObjectRef::new(Kind::ReplicaSet, "default", "web")).is_err());
}

#[test]
fn orphan_deletion_keeps_dependents_without_owner_references() {
    let mut w = world();
    delete_rs(&mut w, Propagation::Orphan);
    let left = pods(&w);
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|p| p.meta().owner_references.is_empty()), "references removed");
    assert!(w.api().get(&ObjectRef::new(Kind::ReplicaSet, "default", "web")).is_err(), "then the owner went");
}

#[test]
fn foreground_deletion_removes_dependents_before_the_owner() {
    let mut w = world();
    delete_rs(&mut w, Propagation::Foreground);
    assert!(pods(&w).is_empty());
    assert!(w.api().get(&ObjectRef::new(Kind::ReplicaSet, "default", "web")).is_err(), "the owner goes once its dependents are gone");
}

