//! v1 Pod, with the parts of the spec that scheduling, kubelets and
//! controllers read: containers and resources, node selection, affinity,
//! tolerations, topology spread, priority, gates, restart and termination.

use super::selector::{is_dns1123_label, validate_labels};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::meta::{Condition, Labels, ObjectMeta, Timestamp};
use super::node::{ResourceList, TaintEffect};
use super::selector::LabelSelector;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: ResourceList,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: ResourceList,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub container_port: i32,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub host_port: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, rename = "hostIP", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub resources: ResourceRequirements,
    /// Set to "Always" on an init container to make it a sidecar (KEP-753).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message_policy: Option<String>,
}

/// A probe's schedule. The handler (exec, httpGet, tcpSocket, grpc) is kept
/// as written: in simulation the runtime decides the outcome from the image's
/// behaviour; live, the runtime adapter runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<serde_json::Value>,
    #[serde(default)]
    pub initial_delay_seconds: i32,
    #[serde(default = "default_probe_period")]
    pub period_seconds: i32,
    #[serde(default = "default_probe_timeout")]
    pub timeout_seconds: i32,
    #[serde(default = "default_probe_threshold_one")]
    pub success_threshold: i32,
    #[serde(default = "default_probe_failure_threshold")]
    pub failure_threshold: i32,
}

// Upstream defaults (SetDefaults_Probe).
fn default_probe_period() -> i32 {
    10
}
fn default_probe_timeout() -> i32 {
    1
}
fn default_probe_threshold_one() -> i32 {
    1
}
fn default_probe_failure_threshold() -> i32 {
    3
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TolerationOperator {
    Exists,
    Equal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeSelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: NodeSelectorOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<NodeSelectorRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredSchedulingTerm {
    pub weight: i32,
    pub preference: NodeSelectorTerm,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    pub topology_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatch_label_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTerm {
    pub weight: i32,
    pub pod_affinity_term: PodAffinityTerm,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAffinity>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub when_unsatisfiable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_taints_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSchedulingGate {
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheduler_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub priority_class_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduling_gates: Vec<PodSchedulingGate>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overhead: ResourceList,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restart_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_policy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, rename = "containerID", skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<bool>,
    /// running / waiting / terminated, kept as written: the kubelet issue models them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state: Option<serde_json::Value>,
    #[serde(default, rename = "imageID", skip_serializing)]
    pub image_id: crate::model::meta::Dropped,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, rename = "hostIP", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(default, rename = "podIP", skip_serializing_if = "String::is_empty")]
    pub pod_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nominated_node_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "qosClass")]
    pub qos_class: String,
    #[serde(default, skip_serializing)]
    pub host_i_ps: crate::model::meta::Dropped,
    #[serde(default, skip_serializing)]
    pub pod_i_ps: crate::model::meta::Dropped,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

pub const PHASE_PENDING: &str = "Pending";
pub const PHASE_RUNNING: &str = "Running";
pub const PHASE_SUCCEEDED: &str = "Succeeded";
pub const PHASE_FAILED: &str = "Failed";

impl Pod {
    pub fn is_terminal(&self) -> bool {
        self.status.phase == PHASE_SUCCEEDED || self.status.phase == PHASE_FAILED
    }
    pub fn is_bound(&self) -> bool {
        !self.spec.node_name.is_empty()
    }
    pub fn is_ready(&self) -> bool {
        super::meta::condition(&self.status.conditions, "Ready").is_some_and(|c| c.status == "True")
    }

    /// When the pod last became ready (`podReadyTime`): the Ready condition's
    /// lastTransitionTime while it is True; `None` if not ready or unset.
    pub fn ready_since(&self) -> Option<super::meta::Timestamp> {
        super::meta::condition(&self.status.conditions, "Ready").filter(|c| c.status == "True").and_then(|c| c.last_transition_time)
    }

    /// `podutil.IsPodAvailable`: ready, and (with minReadySeconds) ready since
    /// a set time that lies more than minReadySeconds before `now`, strictly.
    pub fn is_available(&self, min_ready_seconds: i32, now: crate::time::SimTime) -> bool {
        self.is_ready() && available_since(self.ready_since(), min_ready_seconds, now)
    }

    /// The highest restart count of its containers (`maxContainerRestarts`).
    pub fn max_container_restarts(&self) -> i32 {
        self.status.container_statuses.iter().map(|c| c.restart_count).max().unwrap_or(0)
    }
}

/// The availability rule of `IsPodAvailable` for a pod ready since `since`.
pub fn available_since(since: Option<super::meta::Timestamp>, min_ready_seconds: i32, now: crate::time::SimTime) -> bool {
    if min_ready_seconds <= 0 {
        return true;
    }
    let min_ready = std::time::Duration::from_secs(min_ready_seconds as u64);
    since.is_some_and(|t| t.to_sim() + min_ready < now)
}

impl Toleration {
    /// `Toleration.ToleratesTaint`: effect (if set) and key (if set) must
    /// match; `Exists` matches any value, `Equal` (or empty) the same value.
    pub fn tolerates(&self, taint: &super::node::Taint) -> bool {
        if self.effect.as_ref().is_some_and(|e| *e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            Some(TolerationOperator::Exists) => true,
            Some(TolerationOperator::Equal) | None => self.value == taint.value,
        }
    }
}

/// True if some toleration tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &super::node::Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

impl NodeSelectorRequirement {
    /// Matches against node labels (`match_expressions`) or fields
    /// (`match_fields`, where only metadata.name exists).
    pub fn matches(&self, value: Option<&str>) -> bool {
        match self.operator {
            NodeSelectorOperator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            NodeSelectorOperator::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            NodeSelectorOperator::Exists => value.is_some(),
            NodeSelectorOperator::DoesNotExist => value.is_none(),
            NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
                let (Some(v), [bound]) = (value.and_then(|v| v.parse::<i64>().ok()), self.values.as_slice()) else { return false };
                let Ok(bound) = bound.parse::<i64>() else { return false };
                if self.operator == NodeSelectorOperator::Gt { v > bound } else { v < bound }
            }
        }
    }
}

impl NodeSelectorTerm {
    /// Every requirement matches; an empty term matches nothing (upstream).
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        self.match_expressions.iter().all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self.match_fields.iter().all(|r| r.key == "metadata.name" && r.matches(Some(node_name)))
    }
}

impl NodeSelector {
    /// Any term matches.
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        self.node_selector_terms.iter().any(|t| t.matches(labels, node_name))
    }
}

impl super::Resource for Pod {
    const API_VERSION: &'static str = "v1";
    const PLURAL: &'static str = "pods";
    const NAMESPACED: bool = true;
    const GARBAGE_COLLECTED: bool = true;
    const HAS_LIVENESS: bool = true;
    crate::spec_status_resource!();
    fn conditions(&self) -> &[super::meta::Condition] {
        &self.status.conditions
    }
    fn set_defaults(&mut self) {
        defaults(self);
    }
    fn admit_create(&mut self) {
        admit(self);
    }
    fn prepare_for_create(&mut self) {
        prepare_for_create(self);
    }
    fn validate(&self, errs: &mut Vec<String>) {
        validate(self, errs);
    }
    fn validate_update(&self, old: &Self, errs: &mut Vec<String>) {
        validate_update(self, old, errs);
    }
    /// Whole: bound, Running and Ready; or finished; never stuck terminating
    /// more than a minute past its deletion deadline.
    fn liveness_problem(&self, now: crate::time::SimTime) -> Option<String> {
        const TERMINATING_SLACK_S: u64 = 60;
        let name = format!("{}/{}", self.metadata.namespace, self.metadata.name);
        if let Some(ts) = self.metadata.deletion_timestamp {
            return (now.since(ts.to_sim()).as_secs() > TERMINATING_SLACK_S).then(|| format!("pod {name} is stuck terminating on {:?}", self.spec.node_name));
        }
        if self.is_terminal() {
            None
        } else if !self.is_bound() {
            Some(format!("pod {name} is not scheduled"))
        } else if !self.is_ready() {
            Some(format!("pod {name} on {} is {} and not Ready", self.spec.node_name, self.status.phase))
        } else {
            None
        }
    }
}

// ---- API rules: defaulting, admission and validation (kube-apiserver) ----

/// `node.kubernetes.io/not-ready` and `…/unreachable`, tolerated for 300 s by default.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
pub const DEFAULT_TERMINATION_GRACE_PERIOD_S: i64 = 30;
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Well-known priority classes (`scheduling.k8s.io`), as the Priority admission resolves them.
pub fn priority_of_class(class: &str) -> Option<i32> {
    match class {
        "" => Some(0),
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    }
}

pub fn defaults(pod: &mut Pod) {
    defaults_spec(&mut pod.spec);
}

pub fn defaults_spec(spec: &mut PodSpec) {
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".into();
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_S);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME.into();
    }
    if spec.dns_policy.is_empty() {
        spec.dns_policy = "ClusterFirst".into();
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut()) {
        defaults_container(c);
    }
}

fn defaults_container(c: &mut Container) {
    if c.image_pull_policy.is_empty() {
        // SetDefaults_Container: Always for `:latest` or an untagged image, else IfNotPresent.
        let last = c.image.rsplit('/').next().unwrap_or("");
        let tagged = last.contains(':') || c.image.contains('@');
        c.image_pull_policy = if !tagged || c.image.ends_with(":latest") { "Always" } else { "IfNotPresent" }.into();
    }
    for p in &mut c.ports {
        if p.protocol.is_empty() {
            p.protocol = "TCP".into();
        }
    }
    // SetDefaults_ResourceRequirements-like: a limit without a request sets the request.
    let limits: Vec<_> = c.resources.limits.iter().map(|(k, v)| (k.clone(), *v)).collect();
    for (k, v) in limits {
        c.resources.requests.entry(k).or_insert(v);
    }
    if c.termination_message_path.is_none() {
        c.termination_message_path = Some("/dev/termination-log".into());
    }
    if c.termination_message_policy.is_none() {
        c.termination_message_policy = Some("File".into());
    }
}

/// DefaultTolerationSeconds and Priority admission.
pub fn admit(pod: &mut Pod) {
    for key in [TAINT_NOT_READY, TAINT_UNREACHABLE] {
        let tolerated = pod.spec.tolerations.iter().any(|t| {
            let effect_ok = t.effect.is_none() || t.effect == Some(TaintEffect::NoExecute);
            effect_ok && (t.key == key || (t.key.is_empty() && t.operator == Some(TolerationOperator::Exists)))
        });
        if !tolerated {
            pod.spec.tolerations.push(Toleration {
                key: key.into(),
                operator: Some(TolerationOperator::Exists),
                value: String::new(),
                effect: Some(TaintEffect::NoExecute),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
            });
        }
    }
    if pod.spec.priority.is_none() {
        pod.spec.priority = priority_of_class(&pod.spec.priority_class_name);
    }
    if pod.spec.preemption_policy.is_none() {
        pod.spec.preemption_policy = Some("PreemptLowerPriority".into());
    }
}

pub fn prepare_for_create(pod: &mut Pod) {
    let qos = qos_class(&pod.spec);
    pod.status = Default::default();
    pod.status.phase = crate::model::pod::PHASE_PENDING.into();
    pod.status.qos_class = qos.into();
}

/// `qos.GetPodQOS`: Guaranteed when every container has equal cpu and memory
/// requests and limits; BestEffort when nothing requests or limits either.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let containers = spec.containers.iter().chain(spec.init_containers.iter());
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        for r in ["cpu", "memory"] {
            let req = c.resources.requests.get(r).filter(|q| !q.is_zero());
            let lim = c.resources.limits.get(r).filter(|q| !q.is_zero());
            any |= req.is_some() || lim.is_some();
            if lim.is_none() || req != lim {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

pub fn validate(pod: &Pod, errs: &mut Vec<String>) {
    validate_spec(&pod.spec, "spec", errs);
    if let Some(p) = pod.spec.priority
        && !pod.spec.priority_class_name.is_empty()
        && priority_of_class(&pod.spec.priority_class_name).is_some_and(|v| v != p)
    {
        errs.push(format!("spec.priority: Forbidden: the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name", priority_of_class(&pod.spec.priority_class_name).unwrap_or(0)));
    }
    if priority_of_class(&pod.spec.priority_class_name).is_none() {
        errs.push(format!(
            "spec.priorityClassName: Not found: {:?}: no PriorityClass with name {} was found",
            pod.spec.priority_class_name, pod.spec.priority_class_name
        ));
    }
}

pub fn validate_spec(spec: &PodSpec, path: &str, errs: &mut Vec<String>) {
    if spec.containers.is_empty() {
        errs.push(format!("{path}.containers: Required value"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (list, field) in [(&spec.containers, "containers"), (&spec.init_containers, "initContainers")] {
        for (i, c) in list.iter().enumerate() {
            let p = format!("{path}.{field}[{i}]");
            if c.name.is_empty() {
                errs.push(format!("{p}.name: Required value"));
            } else if !is_dns1123_label(&c.name) {
                errs.push(format!("{p}.name: Invalid value: {:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", c.name));
            } else if !names.insert(c.name.as_str()) {
                errs.push(format!("{p}.name: Duplicate value: {:?}", c.name));
            }
            if c.image.trim().is_empty() {
                errs.push(format!("{p}.image: Required value"));
            }
            validate_container_resources(c, &p, errs);
            for (j, port) in c.ports.iter().enumerate() {
                if !(1..=65535).contains(&port.container_port) {
                    errs.push(format!("{p}.ports[{j}].containerPort: Invalid value: {}: must be between 1 and 65535, inclusive", port.container_port));
                }
                if !(0..=65535).contains(&port.host_port) {
                    errs.push(format!("{p}.ports[{j}].hostPort: Invalid value: {}: must be between 1 and 65535, inclusive", port.host_port));
                }
            }
            if let Some(rp) = &c.restart_policy
                && (field == "containers" || rp != "Always")
            {
                errs.push(format!("{p}.restartPolicy: Unsupported value: {rp:?}: supported values: \"Always\" (init containers only)"));
            }
        }
    }
    if !["Always", "OnFailure", "Never", ""].contains(&spec.restart_policy.as_str()) {
        errs.push(format!(
            "{path}.restartPolicy: Unsupported value: {:?}: supported values: \"Always\", \"OnFailure\", \"Never\"",
            spec.restart_policy
        ));
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        super::validation::non_negative(g, &format!("{path}.terminationGracePeriodSeconds"), errs);
    }
    validate_labels(&spec.node_selector, &format!("{path}.nodeSelector"), errs);
    for (i, t) in spec.tolerations.iter().enumerate() {
        let p = format!("{path}.tolerations[{i}]");
        if t.operator == Some(TolerationOperator::Exists) && !t.value.is_empty() {
            errs.push(format!("{p}.operator: Invalid value: {:?}: value must be empty when `operator` is 'Exists'", t.value));
        }
        if t.key.is_empty() && t.operator != Some(TolerationOperator::Exists) {
            errs.push(format!("{p}.operator: Invalid value: {:?}: operator must be Exists when `key` is empty, which means \"match all values and all keys\"", t.operator.as_ref().map_or("Equal", |_| "Equal")));
        }
        if t.toleration_seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
            errs.push(format!("{p}.effect: Invalid value: {:?}: effect must be 'NoExecute' when `tolerationSeconds` is set", t.effect.as_ref().map_or(String::new(), |e| format!("{e:?}"))));
        }
    }
    for (i, c) in spec.topology_spread_constraints.iter().enumerate() {
        let p = format!("{path}.topologySpreadConstraints[{i}]");
        if c.max_skew <= 0 {
            errs.push(format!("{p}.maxSkew: Invalid value: {}: must be greater than zero", c.max_skew));
        }
        if c.topology_key.is_empty() {
            errs.push(format!("{p}.topologyKey: Required value: can not be empty"));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errs.push(format!("{p}.whenUnsatisfiable: Unsupported value: {:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\"", c.when_unsatisfiable));
        }
        if let Some(m) = c.min_domains
            && (m <= 0 || c.when_unsatisfiable != "DoNotSchedule")
        {
            errs.push(format!("{p}.minDomains: Invalid value: {m}: must be greater than 0 and only with whenUnsatisfiable DoNotSchedule"));
        }
    }
    if let Some(aff) = &spec.affinity {
        for (name, pa) in [("podAffinity", &aff.pod_affinity), ("podAntiAffinity", &aff.pod_anti_affinity)] {
            let Some(pa) = pa else { continue };
            for (i, t) in pa.required_during_scheduling_ignored_during_execution.iter().enumerate() {
                if t.topology_key.is_empty() {
                    errs.push(format!("{path}.affinity.{name}.requiredDuringSchedulingIgnoredDuringExecution[{i}].topologyKey: Required value: can not be empty"));
                }
            }
            for (i, t) in pa.preferred_during_scheduling_ignored_during_execution.iter().enumerate() {
                if !(1..=100).contains(&t.weight) {
                    errs.push(format!("{path}.affinity.{name}.preferredDuringSchedulingIgnoredDuringExecution[{i}].weight: Invalid value: {}: must be in the range 1-100", t.weight));
                }
            }
        }
        if let Some(na) = &aff.node_affinity {
            for (i, t) in na.preferred_during_scheduling_ignored_during_execution.iter().enumerate() {
                if !(1..=100).contains(&t.weight) {
                    errs.push(format!("{path}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}].weight: Invalid value: {}: must be in the range 1-100", t.weight));
                }
            }
            if let Some(req) = &na.required_during_scheduling_ignored_during_execution
                && req.node_selector_terms.is_empty()
            {
                errs.push(format!("{path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"));
            }
        }
    }
}

fn validate_container_resources(c: &Container, path: &str, errs: &mut Vec<String>) {
    for (field, list) in [("requests", &c.resources.requests), ("limits", &c.resources.limits)] {
        for (name, q) in list {
            if q.is_negative() {
                errs.push(format!("{path}.resources.{field}[{name}]: Invalid value: \"{q}\": must be greater than or equal to 0"));
            }
        }
    }
    for (name, req) in &c.resources.requests {
        if let Some(lim) = c.resources.limits.get(name)
            && req > lim
        {
            errs.push(format!("{path}.resources.requests: Invalid value: \"{req}\": must be less than or equal to {name} limit of {lim}"));
        }
    }
}

/// Pod updates may change only the image, activeDeadlineSeconds, added
/// tolerations and removed scheduling gates (ValidatePodUpdate); nodeName is
/// set once, through the binding subresource.
pub fn validate_update(new: &Pod, old: &Pod, errs: &mut Vec<String>) {
    let mut normalized = new.spec.clone();
    for (n, o) in normalized.containers.iter_mut().zip(&old.spec.containers) {
        n.image = o.image.clone();
    }
    for (n, o) in normalized.init_containers.iter_mut().zip(&old.spec.init_containers) {
        n.image = o.image.clone();
    }
    normalized.active_deadline_seconds = old.spec.active_deadline_seconds;
    if old.spec.tolerations.iter().all(|t| new.spec.tolerations.contains(t)) {
        normalized.tolerations = old.spec.tolerations.clone();
    }
    if new.spec.scheduling_gates.iter().all(|g| old.spec.scheduling_gates.contains(g)) {
        normalized.scheduling_gates = old.spec.scheduling_gates.clone();
    }
    if normalized != old.spec {
        errs.push("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into());
    }
    if !old.spec.scheduling_gates.is_empty() || new.spec.scheduling_gates.is_empty() {
        return;
    }
    errs.push("spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate".into());
}

#[cfg(test)]
mod rules_tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_and_admission_match_upstream() {
        let mut p = pod("metadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx\n    resources: {limits: {cpu: 500m}}\n    ports: [{containerPort: 80}]\n");
        defaults(&mut p);
        admit(&mut p);
        assert_eq!(p.spec.restart_policy, "Always");
        assert_eq!(p.spec.termination_grace_period_seconds, Some(30));
        assert_eq!(p.spec.scheduler_name, "default-scheduler");
        assert_eq!(p.spec.containers[0].image_pull_policy, "Always");
        assert_eq!(p.spec.containers[0].ports[0].protocol, "TCP");
        assert_eq!(p.spec.containers[0].resources.requests["cpu"].milli_value(), 500);
        let keys: Vec<_> = p.spec.tolerations.iter().map(|t| (t.key.as_str(), t.toleration_seconds)).collect();
        assert_eq!(keys, vec![(TAINT_NOT_READY, Some(300)), (TAINT_UNREACHABLE, Some(300))]);
        assert_eq!(p.spec.priority, Some(0));
        // An explicit toleration is kept and not duplicated.
        let mut q = pod("spec:\n  containers: [{name: c, image: 'nginx:1.25'}]\n  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}]\n");
        defaults(&mut q);
        admit(&mut q);
        assert_eq!(q.spec.containers[0].image_pull_policy, "IfNotPresent");
        assert_eq!(q.spec.tolerations.len(), 2);
        assert_eq!(q.spec.tolerations[0].toleration_seconds, Some(5));
    }

    #[test]
    fn qos_classes() {
        let g = pod("spec: {containers: [{name: c, image: i, resources: {limits: {cpu: 1, memory: 1Gi}}}]}");
        let mut g2 = g.clone();
        defaults(&mut g2);
        assert_eq!(qos_class(&g2.spec), "Guaranteed");
        let b = pod("spec: {containers: [{name: c, image: i, resources: {requests: {cpu: 1}}}]}");
        assert_eq!(qos_class(&b.spec), "Burstable");
        let e = pod("spec: {containers: [{name: c, image: i}]}");
        assert_eq!(qos_class(&e.spec), "BestEffort");
    }

    #[test]
    fn validation_messages() {
        let p = pod("spec:\n  restartPolicy: Sometimes\n  containers:\n  - {name: c, image: ''}\n  - {name: c, image: i, resources: {requests: {cpu: 2}, limits: {cpu: 1}}}\n  tolerations: [{key: k, operator: Exists, value: v}]\n");
        let mut errs = vec![];
        validate_spec(&p.spec, "spec", &mut errs);
        let joined = errs.join("\n");
        assert!(joined.contains("spec.containers[0].image: Required value"), "{joined}");
        assert!(joined.contains("spec.containers[1].name: Duplicate value: \"c\""), "{joined}");
        assert!(joined.contains("spec.containers[1].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"), "{joined}");
        assert!(joined.contains("spec.restartPolicy: Unsupported value: \"Sometimes\""), "{joined}");
        assert!(joined.contains("spec.tolerations[0].operator: Invalid value: \"v\""), "{joined}");
    }

    #[test]
    fn updates_may_not_change_most_of_the_spec() {
        let old = pod("spec: {containers: [{name: c, image: a}]}");
        let mut new = old.clone();
        new.spec.containers[0].image = "b".into();
        let mut errs = vec![];
        validate_update(&new, &old, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        new.spec.node_name = "n1".into();
        validate_update(&new, &old, &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields"));
    }
}
