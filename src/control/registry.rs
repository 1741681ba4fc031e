//! Every component kubesim runs, registered once: its name, its scope and how
//! to build it. The run wiring (both drivers), the scenario's crash/restart
//! and fault targets, and node faults all read this list, so a new
//! controller is its file plus one entry here.
//!
//! - Control-plane components run in a process: the scheduler in
//!   kube-scheduler, controllers in kube-controller-manager. With
//!   `controlPlane.replicas` above 1 each process runs that many times,
//!   leader-elected (`scheduler-N`, `controller-manager-N`).
//! - Per-node components run on every node, named `<name>/<node>`, and see
//!   only that node's objects; one that drives the container runtime gets
//!   the node's runtime. A node crash takes all of them down.

use std::sync::Arc;

use super::Component;
use super::controllers::deployment::DeploymentController;
use super::controllers::garbage_collector::GarbageCollector;
use super::controllers::node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use super::controllers::replicaset::ReplicaSetController;
use super::controllers::taint_eviction::TaintEvictionController;
use super::host::Host;
use super::kubelet::Kubelet;
use super::leader_election::LeaderElected;
use super::scheduler::component::Scheduler;
use super::scheduler::profile::SchedulerConfig;
use crate::seed::stream;

/// The control-plane process a component runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Scheduler,
    ControllerManager,
}

impl Process {
    /// The replica name prefix and the Lease its replicas share.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Process::Scheduler => ("scheduler", "kube-scheduler"),
            Process::ControllerManager => ("controller-manager", "kube-controller-manager"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    ControlPlane(Process),
    /// One per node; `runtime`: it drives the node's container runtime.
    PerNode { runtime: bool },
}

/// What a constructor may use.
pub struct Build<'a> {
    pub seed: u64,
    pub scheduler: &'a Arc<SchedulerConfig>,
    /// The instance's name (`scheduler`, `scheduler-2`, `kubelet/n1`): it names its random streams.
    pub instance: &'a str,
    /// The node, for per-node components.
    pub node: &'a str,
}

pub struct ComponentSpec {
    pub name: &'static str,
    pub scope: Scope,
    pub build: fn(&Build) -> Box<dyn Component>,
}

/// The registry.
pub const COMPONENTS: &[ComponentSpec] = &[
    ComponentSpec { name: super::scheduler::component::NAME, scope: Scope::ControlPlane(Process::Scheduler), build: |b| Box::new(Scheduler::new(b.scheduler.clone(), stream(b.seed, b.instance))) },
    ComponentSpec { name: super::controllers::replicaset::NAME, scope: Scope::ControlPlane(Process::ControllerManager), build: |_| Box::new(Host::new(ReplicaSetController::new())) },
    ComponentSpec { name: super::controllers::deployment::NAME, scope: Scope::ControlPlane(Process::ControllerManager), build: |_| Box::new(Host::new(DeploymentController::new())) },
    ComponentSpec {
        name: super::controllers::node_lifecycle::NAME,
        scope: Scope::ControlPlane(Process::ControllerManager),
        build: |_| Box::new(Host::new(NodeLifecycleController::new(NodeLifecycleConfig::default()))),
    },
    ComponentSpec { name: super::controllers::taint_eviction::NAME, scope: Scope::ControlPlane(Process::ControllerManager), build: |_| Box::new(Host::new(TaintEvictionController::new())) },
    ComponentSpec { name: super::controllers::garbage_collector::NAME, scope: Scope::ControlPlane(Process::ControllerManager), build: |_| Box::new(Host::new(GarbageCollector::new())) },
    ComponentSpec { name: "kubelet", scope: Scope::PerNode { runtime: true }, build: |b| Box::new(Kubelet::new(b.node)) },
];

fn in_process(p: Process) -> impl Iterator<Item = &'static ComponentSpec> {
    COMPONENTS.iter().filter(move |c| c.scope == Scope::ControlPlane(p))
}

/// The control plane: each component on its own, or with `replicas` above 1
/// that many leader-elected replicas of each process.
pub fn control_plane(seed: u64, scheduler: &Arc<SchedulerConfig>, replicas: u32) -> Vec<Box<dyn Component>> {
    let mut out: Vec<Box<dyn Component>> = Vec::new();
    for process in [Process::Scheduler, Process::ControllerManager] {
        if replicas <= 1 {
            for c in in_process(process) {
                out.push((c.build)(&Build { seed, scheduler, instance: c.name, node: "" }));
            }
            continue;
        }
        let (prefix, lease) = process.names();
        for r in 1..=replicas {
            let replica = format!("{prefix}-{r}");
            // A one-component process names its streams after the replica (scheduler-2).
            let single = in_process(process).count() == 1;
            let children = in_process(process).map(|c| (c.build)(&Build { seed, scheduler, instance: if single { &replica } else { c.name }, node: "" })).collect();
            out.push(Box::new(LeaderElected::new(&replica, lease, children)));
        }
    }
    out
}

/// The per-node components of `node`.
pub fn per_node(seed: u64, scheduler: &Arc<SchedulerConfig>, node: &str) -> Vec<Box<dyn Component>> {
    COMPONENTS
        .iter()
        .filter(|c| matches!(c.scope, Scope::PerNode { .. }))
        .map(|c| {
            let instance = format!("{}/{node}", c.name);
            (c.build)(&Build { seed, scheduler, instance: &instance, node })
        })
        .collect()
}

/// The control-plane components a scenario may crash, restart or partition by name.
pub fn control_plane_names(replicas: u32) -> Vec<String> {
    if replicas <= 1 {
        return COMPONENTS.iter().filter(|c| matches!(c.scope, Scope::ControlPlane(_))).map(|c| c.name.to_string()).collect();
    }
    let mut out = Vec::new();
    for process in [Process::Scheduler, Process::ControllerManager] {
        let (prefix, _) = process.names();
        out.extend((1..=replicas).map(|r| format!("{prefix}-{r}")));
    }
    out
}

/// The per-node component names (`kubelet`): targets are `<name>/<node>`.
pub fn per_node_names() -> Vec<&'static str> {
    COMPONENTS.iter().filter(|c| matches!(c.scope, Scope::PerNode { .. })).map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<SchedulerConfig> {
        Arc::new(SchedulerConfig::default_config())
    }

    #[test]
    fn the_control_plane_is_built_from_the_registry_alone_or_leader_elected() {
        let single: Vec<String> = control_plane(1, &config(), 1).iter().map(|c| c.name().to_string()).collect();
        assert_eq!(single, control_plane_names(1));
        assert_eq!(single[0], "scheduler");
        let replicated: Vec<String> = control_plane(1, &config(), 2).iter().map(|c| c.name().to_string()).collect();
        assert_eq!(replicated, ["scheduler-1", "scheduler-2", "controller-manager-1", "controller-manager-2"]);
        assert_eq!(replicated, control_plane_names(2));
    }

    #[test]
    fn per_node_components_are_scoped_to_their_node_and_say_whether_they_drive_its_runtime() {
        for c in per_node(1, &config(), "n1") {
            assert_eq!(c.node_scope(), Some("n1"), "{}", c.name());
            let spec = COMPONENTS.iter().find(|s| c.name() == format!("{}/n1", s.name)).expect("registered");
            let Scope::PerNode { runtime } = spec.scope else { panic!("per node") };
            assert_eq!(c.runtime_node().is_some(), runtime, "{}", c.name());
        }
        assert_eq!(per_node_names(), ["kubelet"]);
    }
}
