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
    pub timeline: Vec<TimelineEntry>,
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
}

/// The apiVersion and kind of an inline manifest; the rest is decoded later,
/// in place, so its errors keep their line numbers.
#[derive(Debug, Deserialize)]
pub struct ManifestHeader {
    #[serde(default, rename = "apiVersion")]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// Objects from a manifest file (relative to the scenario) or written inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSource {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub manifest: Option<ManifestHeader>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    pub replicas: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    /// A JSON merge patch (RFC 7386), as `kubectl patch --type merge`.
    pub merge: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeleteSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
    /// Background (default), Foreground or Orphan.
    #[serde(default)]
    pub propagation_policy: Option<String>,
}

/// One timeline entry: a time and exactly one action. Fault actions (crash,
/// partition, slow, …) are further optional fields of this same struct.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimelineEntry {
    pub at: Dur,
    #[serde(default)]
    pub apply: Option<ObjectSource>,
    #[serde(default)]
    pub scale: Option<ScaleSpec>,
    #[serde(default)]
    pub patch: Option<PatchSpec>,
    #[serde(default)]
    pub delete: Option<DeleteSpec>,
    /// `kubectl rollout undo`: a Deployment back to an earlier revision's template.
    #[serde(default)]
    pub rollback: Option<RollbackSpec>,
    /// Fault: the node's kubelet and containers are gone until `restartNode`.
    #[serde(default)]
    pub crash_node: Option<NodeRef>,
    /// The node (its kubelet) comes back and re-syncs from the API.
    #[serde(default)]
    pub restart_node: Option<NodeRef>,
    /// Fault: etcd commits slowly (a latency distribution) for a while.
    #[serde(default)]
    pub etcd_slow: Option<EtcdSlowSpec>,
    /// Fault: etcd answers nothing (writes fail with 503) for a while.
    #[serde(default)]
    pub etcd_unavailable: Option<ForSpec>,
    /// kube-apiserver's compaction, now, to the current revision.
    #[serde(default)]
    pub etcd_compact: Option<EmptySpec>,
    /// Fault: a control-plane component (scheduler, a controller) crashes.
    #[serde(default)]
    pub crash_component: Option<ComponentRef>,
    /// The component restarts: fresh state, full relist.
    #[serde(default)]
    pub restart_component: Option<ComponentRef>,
    /// Fault: the node's kubelet stops; its containers keep running.
    #[serde(default)]
    pub stop_kubelet: Option<NodeRef>,
    /// The kubelet starts again and reconciles with its runtime.
    #[serde(default)]
    pub start_kubelet: Option<NodeRef>,
    /// Fault: the running containers of pods matching a selector crash.
    #[serde(default)]
    pub crash_containers: Option<CrashContainersSpec>,
    /// Fault: nodes and components lose the control plane (API server and etcd).
    #[serde(default)]
    pub partition: Option<PartitionSpec>,
    /// Ends every partition now.
    #[serde(default)]
    pub heal_partitions: Option<EmptySpec>,
    /// Fault: extra latency on the links of nodes and components.
    #[serde(default)]
    pub link_delay: Option<LinkDelaySpec>,
    /// Fault: requests of nodes and components are lost with a probability.
    #[serde(default)]
    pub link_loss: Option<LinkLossSpec>,
    /// Fault: a component is served by an API server whose cache lags behind.
    #[serde(default)]
    pub stale_cache: Option<StaleCacheSpec>,
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

/// Whom a network fault affects: nodes by name or by labels (`nodeSelector`),
/// and control-plane components by name.
pub trait FaultTargets {
    fn targets(&self) -> (&[String], &BTreeMap<String, String>, &[String]);
}

macro_rules! fault_targets {
    ($($t:ty),*) => {$(
        impl FaultTargets for $t {
            fn targets(&self) -> (&[String], &BTreeMap<String, String>, &[String]) {
                (&self.nodes, &self.node_selector, &self.components)
            }
        }
    )*};
}
fault_targets!(PartitionSpec, LinkDelaySpec, LinkLossSpec);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartitionSpec {
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub components: Vec<String>,
    /// Heals by itself after this long; without it, at `healPartitions`.
    #[serde(default, rename = "for")]
    pub duration: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkDelaySpec {
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub components: Vec<String>,
    /// Added to every request, answer and watch event of the targets.
    pub latency: Latency,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkLossSpec {
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub components: Vec<String>,
    /// 0..=1: the chance a request is lost (the caller times out).
    pub probability: f64,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleCacheSpec {
    /// The component served stale data: `scheduler`, a controller, or `kubelet/<node>`.
    pub component: String,
    /// How far behind its watch events and lists run.
    pub lag: Dur,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrashContainersSpec {
    #[serde(default)]
    pub namespace: Option<String>,
    pub selector: LabelSelector,
    /// Default 137 (killed).
    #[serde(default)]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdSlowSpec {
    pub latency: Latency,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForSpec {
    #[serde(rename = "for")]
    pub duration: Dur,
}

/// An action without parameters: `etcdCompact: {}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptySpec {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRef {
    /// scheduler, replicaset-controller, deployment-controller,
    /// node-lifecycle-controller, taint-eviction-controller, garbage-collector.
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollbackSpec {
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    /// The revision to return to; 0 (the default) means the previous one.
    #[serde(default)]
    pub to_revision: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRef {
    pub node: String,
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
}
