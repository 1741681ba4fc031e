//! The scheduler inside the simulator.

use super::super::*;
use crate::control::scheduler::component::Scheduler;
use crate::control::scheduler::profile::SchedulerConfig;
use crate::model::Pod;
use std::collections::BTreeMap;
use std::time::Duration;
use crate::model::namespace::Namespace;
use crate::model::ObjectMeta;
use crate::scenario::schema::TimingSpec;
use crate::latency::Latency;
use crate::sim::world::World;

fn world(watch_ms: u64) -> World {
    let timing = TimingSpec { watch_latency: Latency::constant(Duration::from_millis(watch_ms)), ..TimingSpec::default() };
    let mut w = World::new(1, SimTime::from_secs(3600), timing, false);
    w.create_now(Namespace { metadata: ObjectMeta { name: "default".into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    w
}

fn node(name: &str, cpu: &str) -> Object {
    serde_yaml::from_str::<crate::model::Node>(&format!("metadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}}}}}\nstatus: {{capacity: {{cpu: '{cpu}', memory: 8Gi, pods: '110'}}}}")).unwrap().into()
}

fn pod(name: &str, cpu: &str, priority: i32) -> Object {
    serde_yaml::from_str::<Pod>(&format!(
        "metadata: {{name: {name}, namespace: default}}\nspec: {{priority: {priority}, containers: [{{name: c, image: i, resources: {{requests: {{cpu: '{cpu}'}}}}}}]}}"
    ))
    .unwrap()
    .into()
}

fn scheduler() -> Box<Scheduler> {
    Box::new(Scheduler::new(Arc::new(SchedulerConfig::default_config()), crate::seed::stream(1, "scheduler")))
}

fn bound(w: &World) -> BTreeMap<String, String> {
    let (pods, _) = w.api().list(Kind::Pod, None).unwrap();
    pods.iter().filter_map(Object::as_pod).map(|p| (p.metadata.name.clone(), p.spec.node_name.clone())).collect()
}

#[test]
fn assumed_pods_count_before_their_binds_are_observed() {
    // A 2 s watch: all six pods are scheduled long before any bind comes back.
    let mut w = world(2000);
    w.create_now(node("n1", "2")).unwrap();
    w.create_now(node("n2", "2")).unwrap();
    w.add_component(scheduler());
    w.advance_to(SimTime::from_secs(5));
    for i in 0..6 {
        w.create_now(pod(&format!("p{i}"), "1", 0)).unwrap();
    }
    w.advance_to(SimTime::from_secs(60));
    let b = bound(&w);
    let per_node = |n: &str| b.values().filter(|v| *v == n).count();
    assert_eq!((per_node("n1"), per_node("n2")), (2, 2), "never over allocatable: {b:?}");
    assert_eq!(b.values().filter(|v| v.is_empty()).count(), 2, "two stay pending");
}

#[test]
fn unschedulable_pods_return_when_a_node_is_added() {
    let mut w = world(5);
    w.create_now(node("small", "1")).unwrap();
    w.add_component(scheduler());
    w.advance_to(SimTime::from_secs(1));
    w.create_now(pod("big", "4", 0)).unwrap();
    w.advance_to(SimTime::from_secs(20));
    assert_eq!(bound(&w)["big"], "", "no node fits yet");
    w.create_now(node("large", "8")).unwrap();
    w.advance_to(SimTime::from_secs(40));
    assert_eq!(bound(&w)["big"], "large", "the node event moved it back to the active queue");
}

#[test]
fn higher_priority_pod_preempts_through_the_api() {
    let mut w = world(5);
    w.create_now(node("n1", "2")).unwrap();
    w.add_component(scheduler());
    w.advance_to(SimTime::from_secs(1));
    w.create_now(pod("low", "2", 0)).unwrap();
    w.advance_to(SimTime::from_secs(5));
    assert_eq!(bound(&w)["low"], "n1");
    w.create_now(pod("urgent", "2", 1000)).unwrap();
    w.advance_to(SimTime::from_secs(120));
    let (pods, _) = w.api().list(Kind::Pod, None).unwrap();
    let low = pods.iter().filter_map(Object::as_pod).find(|p| p.metadata.name == "low").unwrap();
    assert!(low.metadata.is_deleting(), "the victim is being deleted (no kubelet here to finish it)");
    let urgent = pods.iter().filter_map(Object::as_pod).find(|p| p.metadata.name == "urgent").unwrap();
    assert_eq!(urgent.status.nominated_node_name, "n1");
}
