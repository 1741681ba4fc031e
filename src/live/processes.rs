//! The separate live processes: `kubesim live control-plane` (scheduler and
//! controllers), `kubesim live node` (one kubelet on containerd) and
//! `kubesim live apply` (objects through the API layer's admission and
//! validation), each against the same etcd prefix.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use super::driver::{LiveDriver, LogFn, wall_now};
use super::etcd::{EtcdStorage, EtcdTls};
use super::runtime::LiveRuntime;
use crate::api::{ApiError, ApiServer};
use crate::model::meta::Condition;
use crate::model::node::{NodeSpec, NodeStatus, ResourceList};
use crate::model::{Kind, Namespace, Node, Object, ObjectMeta, ObjectRef};
use crate::seed::stream;

pub struct EtcdTarget {
    pub endpoints: Vec<String>,
    pub tls: EtcdTls,
    pub prefix: String,
}

pub fn connect(target: &EtcdTarget, seed: u64) -> Result<(Arc<tokio::runtime::Runtime>, ApiServer<EtcdStorage>), String> {
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?);
    let registry = format!("{}/registry", target.prefix.trim_end_matches('/'));
    let storage = EtcdStorage::connect(rt.clone(), &target.endpoints, &registry, &target.tls)?;
    let mut api = ApiServer::new(storage, &registry, stream(seed, &format!("apiserver/{}", std::process::id())));
    // kube-apiserver's system namespaces.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj = Namespace { metadata: ObjectMeta { name: ns.into(), ..Default::default() }, ..Default::default() };
        match api.create(obj.into(), wall_now()) {
            Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(format!("namespace {ns}: {e}")),
        }
    }
    Ok((rt, api))
}

/// Runs the driver until a stop request arrives.
pub fn serve(driver: &mut LiveDriver, stop: &Receiver<()>) {
    loop {
        if !driver.run_until(wall_now() + Duration::from_millis(500)) || stop.try_recv().is_ok() {
            return;
        }
    }
}

pub fn control_plane(target: &EtcdTarget, replicas: u32, seed: u64, log: LogFn, stop: Receiver<()>) -> Result<(), String> {
    let (_rt, api) = connect(target, seed)?;
    let mut driver = LiveDriver::new(api, log);
    let config = Arc::new(crate::control::scheduler::profile::SchedulerConfig::default_config());
    for c in crate::run::control_plane_components(seed, config, replicas) {
        driver.add(c, None);
    }
    driver.start()?;
    serve(&mut driver, &stop);
    Ok(())
}

/// One kubelet: registers its Node if absent, lists its containerd namespace
/// (adopting what is its own, killing what is not), then serves.
pub fn node(target: &EtcdTarget, name: &str, capacity: ResourceList, runtime: Box<dyn LiveRuntime>, log: LogFn, stop: Receiver<()>, keep: bool) -> Result<(), String> {
    let (_rt, mut api) = connect(target, 1)?;
    match api.get(&ObjectRef::new(Kind::Node, "", name)) {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            let mut labels = std::collections::BTreeMap::new();
            labels.insert("kubernetes.io/hostname".to_string(), name.to_string());
            let node = Node {
                metadata: ObjectMeta { name: name.into(), labels, ..Default::default() },
                spec: NodeSpec::default(),
                status: NodeStatus {
                    capacity: capacity.clone(),
                    allocatable: capacity,
                    conditions: vec![Condition { type_: "Ready".into(), status: "True".into(), reason: "KubeletReady".into(), ..Default::default() }],
                    ..Default::default()
                },
            };
            api.create(node.into(), wall_now()).map_err(|e| format!("registering node {name}: {e}"))?;
        }
        Err(e) => return Err(format!("node {name}: {e}")),
    }
    let mut driver = LiveDriver::new(api, log);
    // The node's components from the registry; the one that drives the runtime gets it.
    let config = Arc::new(crate::control::scheduler::profile::SchedulerConfig::default_config());
    let mut runtime = Some(runtime);
    for c in crate::control::registry::per_node(1, &config, name) {
        let rt = if c.runtime_node().is_some() { runtime.take() } else { None };
        driver.add(c, rt);
    }
    driver.start()?;
    serve(&mut driver, &stop);
    let problems = driver.shutdown(keep);
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// Creates each object, or replaces it if present (as `kubectl apply`).
pub fn apply(target: &EtcdTarget, objects: Vec<Object>) -> Result<Vec<String>, String> {
    let (_rt, mut api) = connect(target, 1)?;
    let mut done = Vec::new();
    for o in objects {
        let r = ObjectRef::of(&o);
        crate::driver::actions::perform_api_action(&mut api, &crate::scenario::actions::Apply { objects: vec![o], ..Default::default() }.into(), wall_now()).map_err(|e| format!("{r}: {e}"))?;
        done.push(r.to_string());
    }
    Ok(done)
}
