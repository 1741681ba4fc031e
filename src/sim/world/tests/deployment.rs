//! The Deployment controller in the simulator with the ReplicaSet controller,
//! the scheduler and kubelets.

use super::super::*;
use crate::control::controllers::deployment::*;
use crate::control::controllers::replicaset::ReplicaSetController;
use crate::control::kubelet::Kubelet;
use crate::control::scheduler::component::Scheduler;
use crate::control::scheduler::profile::SchedulerConfig;
use crate::model::{Deployment, ReplicaSet};
use crate::latency::Latency;
use crate::seed::stream;
use std::sync::Arc;
use std::time::Duration;

fn world() -> World {
    let timing = TimingSpec { pod_start_latency: Latency::constant(Duration::from_secs(2)), pod_stop_latency: Latency::constant(Duration::from_millis(500)), ..TimingSpec::default() };
    let mut w = World::new(3, SimTime::from_secs(3600), timing, false);
    for ns in ["default", "kube-node-lease"] {
        w.create_now(Namespace { metadata: ObjectMeta { name: ns.into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    }
    for n in ["n0", "n1", "n2"] {
        let node: crate::model::Node = serde_yaml::from_str(&format!("metadata: {{name: {n}, labels: {{kubernetes.io/hostname: {n}}}}}\nstatus: {{capacity: {{cpu: '8', memory: 16Gi, pods: '110'}}, conditions: [{{type: Ready, status: 'True'}}]}}")).unwrap();
        w.create_now(node.into()).unwrap();
        w.add_component(Box::new(Kubelet::new(n)));
    }
    w.add_component(Box::new(Scheduler::new(Arc::new(SchedulerConfig::default_config()), stream(3, "scheduler"))));
    w.add_component(Box::new(crate::control::host::Host::new(ReplicaSetController::new())));
    w.add_component(Box::new(crate::control::host::Host::new(DeploymentController::new())));
    w
}

fn deployment(strategy: &str, image: &str) -> Object {
    serde_yaml::from_str::<Deployment>(&format!(
        "metadata: {{name: web, namespace: default}}\nspec: {{replicas: 4, strategy: {strategy}, selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, spec: {{containers: [{{name: c, image: {image}, resources: {{requests: {{cpu: 100m}}}}}}]}}}}}}"
    ))
    .unwrap()
    .into()
}

fn replicasets(w: &World) -> Vec<ReplicaSet> {
    let mut v: Vec<ReplicaSet> = w.api().list(Kind::ReplicaSet, None).unwrap().0.iter().filter_map(Object::as_replicaset).cloned().collect();
    v.sort_by_key(revision);
    v
}

fn change_image(w: &mut World, image: &str) {
    let d = w.api().get(&ObjectRef::new(Kind::Deployment, "default", "web")).unwrap();
    let mut d = d.as_deployment().unwrap().clone();
    d.spec.template.spec.containers[0].image = image.into();
    let now = w.now();
    w.api_mut().update(d.into(), now).unwrap();
}

/// Running pods (not being deleted) per ReplicaSet name.
fn running(w: &World) -> (i32, i32) {
    let pods = w.api().list(Kind::Pod, None).unwrap().0;
    let live = pods.iter().filter_map(Object::as_pod).filter(|p| !p.metadata.is_deleting());
    let total = live.clone().count() as i32;
    let ready = live.filter(|p| p.is_ready()).count() as i32;
    (total, ready)
}

#[test]
fn rolling_update_keeps_surge_and_unavailability_bounds() {
    let mut w = world();
    w.advance_to(SimTime::from_secs(1));
    w.create_now(deployment("{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}", "app:1")).unwrap();
    w.advance_to(SimTime::from_secs(30));
    assert_eq!(running(&w), (4, 4));
    change_image(&mut w, "app:2");
    // Sample the rollout: ReplicaSet replicas never above 4 + maxSurge 1, never
    // fewer than 4 − maxUnavailable 1 pods ready. (Pod counts may overshoot the
    // surge briefly while the ReplicaSet controller catches up, as upstream.)
    let mut t = w.now();
    for _ in 0..600 {
        t = t + Duration::from_millis(100);
        w.advance_to(t);
        let specs: i32 = replicasets(&w).iter().map(|rs| rs.spec.replicas.unwrap_or(0)).sum();
        assert!(specs <= 5, "surge bound broken at {t}: {specs} replicas");
        let (_, ready) = running(&w);
        assert!(ready >= 3, "availability bound broken at {t}: {ready} ready");
    }
    let rs = replicasets(&w);
    assert_eq!(rs.len(), 2);
    assert_eq!((revision(&rs[0]), rs[0].spec.replicas), (1, Some(0)), "old ReplicaSet scaled to 0");
    assert_eq!((revision(&rs[1]), rs[1].spec.replicas), (2, Some(4)), "new ReplicaSet at 4");
    assert!(rs[1].spec.template.spec.containers[0].image == "app:2" && rs[1].metadata.labels.contains_key(HASH_LABEL));
    let d = w.api().get(&ObjectRef::new(Kind::Deployment, "default", "web")).unwrap();
    let st = &d.as_deployment().unwrap().status;
    assert_eq!((st.replicas, st.updated_replicas, st.available_replicas, st.unavailable_replicas), (4, 4, 4, 0));
    let progressing = st.conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
    assert_eq!(progressing.reason, "NewReplicaSetAvailable");
}

#[test]
fn recreate_stops_old_pods_before_starting_new_ones() {
    let mut w = world();
    w.advance_to(SimTime::from_secs(1));
    w.create_now(deployment("{type: Recreate}", "app:1")).unwrap();
    w.advance_to(SimTime::from_secs(30));
    change_image(&mut w, "app:2");
    let mut t = w.now();
    for _ in 0..600 {
        t = t + Duration::from_millis(100);
        w.advance_to(t);
        let pods = w.api().list(Kind::Pod, None).unwrap().0;
        let images: std::collections::BTreeSet<String> = pods.iter().filter_map(Object::as_pod).map(|p| p.spec.containers[0].image.clone()).collect();
        assert!(images.len() <= 1, "old and new pods at once at {t}: {images:?}");
    }
    assert_eq!(running(&w), (4, 4));
    assert!(w.api().list(Kind::Pod, None).unwrap().0.iter().filter_map(Object::as_pod).all(|p| p.spec.containers[0].image == "app:2"));
}

#[test]
fn rollback_returns_to_an_earlier_template_as_a_new_revision() {
    let mut w = world();
    w.advance_to(SimTime::from_secs(1));
    w.create_now(deployment("{type: RollingUpdate}", "app:1")).unwrap();
    w.advance_to(SimTime::from_secs(30));
    change_image(&mut w, "app:2");
    w.advance_to(SimTime::from_secs(90));
    // What `kubectl rollout undo` does: the template of the previous revision.
    let d = w.api().get(&ObjectRef::new(Kind::Deployment, "default", "web")).unwrap();
    let mut d = d.as_deployment().unwrap().clone();
    let first = replicasets(&w).into_iter().find(|r| revision(r) == 1).unwrap();
    d.spec.template = first.spec.template.clone();
    d.spec.template.metadata.labels.remove(HASH_LABEL);
    let now = w.now();
    w.api_mut().update(d.into(), now).unwrap();
    w.advance_to(SimTime::from_secs(150));
    let rs = replicasets(&w);
    assert_eq!(rs.len(), 2, "the old ReplicaSet is reused, not copied");
    let newest = rs.last().unwrap();
    assert_eq!((revision(newest), newest.spec.template.spec.containers[0].image.as_str(), newest.spec.replicas), (3, "app:1", Some(4)), "revision 1 came back as revision 3");
    assert_eq!(running(&w), (4, 4));
}
