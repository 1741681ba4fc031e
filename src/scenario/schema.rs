//! The scenario file format, as written. Every struct denies unknown keys, so
//! a typo is an error naming file:line:column and the keys expected there.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::model::LabelSelector;
use crate::model::node::{ResourceList, Taint};
use crate::latency::Latency;
use crate::time::Dur;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioFile {
    /// Must be `Scenario`: lets `kubesim validate` tell scenarios from manifests.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The default master seed (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// How long to simulate.
    pub duration: Dur,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub objects: Vec<ObjectSource>,
    #[serde(default)]
    pub timeline: Vec<crate::scenario::actions::TimelineEntry>,
    #[serde(default)]
    pub timing: TimingSpec,
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    #[serde(default)]
    pub scheduler: Option<SchedulerSpec>,
    /// Redundant schedulers and controller managers, leader-elected.
    #[serde(default)]
    pub control_plane: ControlPlaneSpec,
    /// How simulated containers behave, by image.
    #[serde(default)]
    pub runtime: crate::runtime::model::RuntimeModel,
    /// From `at` on, within `within`, the cluster must be whole again (see check::liveness).
    #[serde(default)]
    pub liveness: Option<LivenessSpec>,
    /// Instead of (or besides) a fixed timeline: faults drawn per seed.
    #[serde(default)]
    pub swarm: Option<crate::scenario::swarm::SwarmSpec>,
    /// Event and step budgets (derived from the scenario when absent; see scenario::budget).
    #[serde(default)]
    pub budget: Option<crate::scenario::budget::BudgetSpec>,
}

/// Which scheduler configuration the scenario runs with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSpec {
    /// A KubeSchedulerConfiguration file, relative to the scenario.
    pub config: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Zones node pools spread over (round-robin), as `topology.kubernetes.io/zone`.
    #[serde(default)]
    pub zones: Vec<String>,
    /// The region every node is in, as `topology.kubernetes.io/region`.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
    /// Extra namespaces to create at start (default, kube-system, kube-public
    /// and kube-node-lease always exist).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePool {
    pub name: String,
    pub count: u32,
    /// `{pool}`, `{zone}` and `{index}` (0-based within the pool) are replaced.
    /// Default: `{pool}-{index}`.
    #[serde(default)]
    pub name_pattern: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    pub capacity: ResourceList,
    /// Defaults to capacity.
    #[serde(default)]
    pub allocatable: Option<ResourceList>,
    /// Overrides the cluster's zones for this pool.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// The machine type, as `node.kubernetes.io/instance-type` (a cloud
    /// provider sets it; `m5.xlarge`).
    #[serde(default)]
    pub instance_type: Option<String>,
}

/// Objects from a manifest file (relative to the scenario) or written inline
/// (decoded later, in place, so its errors keep their line numbers).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSource {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub manifest: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneSpec {
    /// 1 (default): one scheduler and one of each controller, no election.
    /// 2 or more: that many `scheduler-N` and `controller-manager-N`
    /// processes, each set sharing a Lease in kube-system.
    #[serde(default = "one")]
    pub replicas: u32,
}

fn one() -> u32 {
    1
}

impl Default for ControlPlaneSpec {
    fn default() -> Self {
        ControlPlaneSpec { replicas: 1 }
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    pub at: Dur,
    pub within: Dur,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimingSpec {
    /// One-way latency between a component and the API server.
    #[serde(default = "default_api_latency")]
    pub api_latency: Latency,
    /// From a commit to a watcher's informer.
    #[serde(default = "default_watch_latency")]
    pub watch_latency: Latency,
    /// Time etcd takes to commit a write.
    #[serde(default = "default_etcd_latency")]
    pub etcd_latency: Latency,
    /// Kubelet: from a pod bound to its node to the pod Running and Ready.
    #[serde(default = "default_pod_start_latency")]
    pub pod_start_latency: Latency,
    /// Kubelet: from a deletion request to the containers stopped (capped at the grace period).
    #[serde(default = "default_pod_stop_latency")]
    pub pod_stop_latency: Latency,
    /// How often metrics.csv is sampled.
    #[serde(default = "default_metrics_interval")]
    pub metrics_interval: Dur,
    /// kube-apiserver's etcd compaction interval (5 min upstream).
    #[serde(default = "default_compaction_interval")]
    pub compaction_interval: Dur,
}

fn ms(v: u64) -> Dur {
    Dur(std::time::Duration::from_millis(v))
}
fn default_api_latency() -> Latency {
    Latency::Lognormal { median: ms(1), p99: ms(10) }
}
fn default_watch_latency() -> Latency {
    Latency::Lognormal { median: ms(2), p99: ms(20) }
}
fn default_etcd_latency() -> Latency {
    Latency::Lognormal { median: ms(2), p99: ms(15) }
}
fn default_pod_start_latency() -> Latency {
    Latency::Lognormal { median: ms(1500), p99: ms(5000) }
}
fn default_pod_stop_latency() -> Latency {
    Latency::Lognormal { median: ms(500), p99: ms(3000) }
}
fn default_metrics_interval() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}
fn default_compaction_interval() -> Dur {
    Dur(std::time::Duration::from_secs(300))
}

impl Default for TimingSpec {
    fn default() -> Self {
        TimingSpec {
            api_latency: default_api_latency(),
            watch_latency: default_watch_latency(),
            etcd_latency: default_etcd_latency(),
            pod_start_latency: default_pod_start_latency(),
            pod_stop_latency: default_pod_stop_latency(),
            metrics_interval: default_metrics_interval(),
            compaction_interval: default_compaction_interval(),
        }
    }
}

/// A count over objects, compared with a value at a virtual time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckSpec {
    pub name: String,
    pub at: Dur,
    /// If set, the check passes if the condition holds at any moment from `at`
    /// to `until` (checked every second), and fails only if it never does.
    #[serde(default)]
    pub until: Option<Dur>,
    pub count: CountSpec,
    #[serde(default)]
    pub equals: Option<i64>,
    #[serde(default)]
    pub at_least: Option<i64>,
    #[serde(default)]
    pub at_most: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CountSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// Pods only: the phase to count.
    #[serde(default)]
    pub phase: Option<String>,
    /// Pods only: true counts bound pods, false unbound ones.
    #[serde(default)]
    pub bound: Option<bool>,
    /// Pods only: bound to this node.
    #[serde(default)]
    pub node: Option<String>,
    /// Nodes and pods: whether the Ready condition is True.
    #[serde(default)]
    pub ready: Option<bool>,
    /// Whether the object carries a deletionTimestamp.
    #[serde(default)]
    pub deleting: Option<bool>,
    /// Objects with status.conditions (Pods, Nodes, Deployments, ReplicaSets):
    /// a condition of this type, with this status and reason if given.
    #[serde(default)]
    pub condition: Option<ConditionFilterSpec>,
    /// Events only: the reason (`FailedScheduling`, `SuccessfulCreate`, …).
    #[serde(default)]
    pub reason: Option<String>,
    /// Pods only: whose containers have restarted at least this many times in all.
    #[serde(default)]
    pub min_restarts: Option<i32>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConditionFilterSpec {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}
