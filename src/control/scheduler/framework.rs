//! The scheduling framework's vocabulary: node infos and the snapshot,
//! statuses with codes and reasons, per-cycle state, and one trait per
//! extension point. A plugin implements `Plugin` and returns itself from the
//! `as_*` accessor of every extension point it takes part in.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::resources::{Resource, pod_requests};
use crate::model::node::Node;
use crate::model::pod::Pod;

pub const MAX_NODE_SCORE: i64 = 100;
pub const MIN_NODE_SCORE: i64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Success,
    Error,
    /// Not schedulable here now; preemption may help.
    Unschedulable,
    /// Not schedulable here, and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// The plugin does not apply to this pod (PreFilter/PreScore).
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    /// The plugin that produced it.
    pub plugin: String,
}

impl Status {
    pub fn success() -> Status {
        Status { code: Code::Success, reasons: vec![], plugin: String::new() }
    }
    pub fn new(code: Code, reason: impl Into<String>) -> Status {
        Status { code, reasons: vec![reason.into()], plugin: String::new() }
    }
    pub fn with_reasons(code: Code, reasons: Vec<String>) -> Status {
        Status { code, reasons, plugin: String::new() }
    }
    pub fn skip() -> Status {
        Status { code: Code::Skip, reasons: vec![], plugin: String::new() }
    }
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }
    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable)
    }
}

/// A pod as the scheduler keeps it: shared, with requests computed once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub requests: Resource,
    /// Requests with the 100m / 200Mi scoring defaults for missing keys.
    pub non_zero_requests: Resource,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let requests = pod_requests(&pod, false);
        let non_zero_requests = pod_requests(&pod, true);
        PodInfo { pod, requests, non_zero_requests }
    }
}

/// A host port in use: (ip, protocol, port); ip "0.0.0.0" means every address.
pub type HostPort = (String, String, i32);

pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let mut out = Vec::new();
    for c in pod.spec.containers.iter().chain(pod.spec.init_containers.iter()) {
        for p in &c.ports {
            if p.host_port > 0 {
                let ip = if p.host_ip.is_empty() { "0.0.0.0".to_string() } else { p.host_ip.clone() };
                let proto = if p.protocol.is_empty() { "TCP".to_string() } else { p.protocol.clone() };
                out.push((ip, proto, p.host_port));
            }
        }
    }
    out
}

/// Everything the scheduler knows about one node: the node, its pods and
/// the sums the plugins read.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<PodInfo>,
    pub requested: Resource,
    pub non_zero_requested: Resource,
    pub allocatable: Resource,
    pub used_ports: Vec<HostPort>,
    /// Normalised image name → size in bytes.
    pub images: BTreeMap<String, i64>,
    /// Pods here with any pod affinity or anti-affinity (InterPodAffinity
    /// skips nodes without them, as upstream's HavePodsWithAffinity list does).
    pub pods_with_affinity: usize,
    /// `spec.unschedulable`, kept here so the first filter need not touch the Node.
    pub unschedulable: bool,
    /// Pods per priority, so preemption can rule a node out without scanning its pods.
    pub priorities: BTreeMap<i32, usize>,
    /// Pods matching a (namespace, selector) key, valid until this node's pods
    /// change: PodTopologySpread asks the same counts cycle after cycle, so a
    /// cycle only recounts the nodes whose pods changed since the last.
    /// A short list searched by the key's hash first: a cycle asks one or
    /// two keys per node, cheaper than ordered comparisons of long keys.
    pub match_counts: std::cell::RefCell<Vec<(u64, Box<str>, i64)>>,
}

fn has_pod_affinity(p: &Pod) -> bool {
    p.spec.affinity.as_ref().is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
}

/// `busybox` → `busybox:latest`, as ImageLocality normalises names.
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    if colon.map_or(true, |c| slash.is_some_and(|s| c < s)) { format!("{name}:latest") } else { name.to_string() }
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = Resource::from_list(&node.status.allocatable);
        let unschedulable = node.spec.unschedulable;
        let mut images = BTreeMap::new();
        for img in &node.status.images {
            for n in &img.names {
                images.insert(normalized_image_name(n), img.size_bytes.unwrap_or(0));
            }
        }
        NodeInfo {
            node,
            pods: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable,
            used_ports: Vec::new(),
            images,
            pods_with_affinity: 0,
            unschedulable,
            priorities: BTreeMap::new(),
            match_counts: Default::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.node.metadata.name
    }

    /// The lowest priority among the node's pods.
    pub fn lowest_priority(&self) -> Option<i32> {
        self.priorities.keys().next().copied()
    }

    pub fn add_pod(&mut self, p: PodInfo) {
        self.requested.add(&p.requests);
        self.non_zero_requested.add(&p.non_zero_requests);
        self.used_ports.extend(host_ports(&p.pod));
        self.pods_with_affinity += usize::from(has_pod_affinity(&p.pod));
        *self.priorities.entry(p.pod.spec.priority.unwrap_or(0)).or_insert(0) += 1;
        self.pods.push(p);
        self.match_counts.get_mut().clear();
    }

    /// Removes a pod by namespace/name; returns whether it was there.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.pod.metadata.namespace == namespace && p.pod.metadata.name == name) else {
            return false;
        };
        let p = self.pods.remove(i);
        self.match_counts.get_mut().clear();
        self.pods_with_affinity -= usize::from(has_pod_affinity(&p.pod));
        let prio = p.pod.spec.priority.unwrap_or(0);
        if let Some(c) = self.priorities.get_mut(&prio) {
            *c -= 1;
            if *c == 0 {
                self.priorities.remove(&prio);
            }
        }
        self.requested.sub(&p.requests);
        self.non_zero_requested.sub(&p.non_zero_requests);
        for hp in host_ports(&p.pod) {
            if let Some(j) = self.used_ports.iter().position(|u| *u == hp) {
                self.used_ports.remove(j);
            }
        }
        true
    }
}

/// The nodes a scheduling cycle sees, in a fixed order.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeInfo>,
    /// Namespace name → labels, for namespaceSelector in pod affinity terms.
    pub namespace_labels: BTreeMap<String, crate::model::Labels>,
    /// (namespace, selector) of workloads that own pods (ReplicaSets), for
    /// PodTopologySpread's system-default constraints.
    pub workload_selectors: Vec<(String, crate::model::LabelSelector)>,
}

impl Snapshot {
    /// Pods with pod affinity or anti-affinity anywhere (lets InterPodAffinity skip in O(1)).
    pub fn pods_with_affinity(&self) -> usize {
        self.nodes.iter().map(|n| n.pods_with_affinity).sum()
    }
}

impl Snapshot {
    /// Builds a snapshot from nodes and the pods bound to them.
    pub fn build(nodes: Vec<Arc<Node>>, pods: impl IntoIterator<Item = Arc<Pod>>) -> Snapshot {
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(NodeInfo::new).collect();
        let index: BTreeMap<String, usize> = infos.iter().enumerate().map(|(i, n)| (n.name().to_string(), i)).collect();
        for p in pods {
            if let Some(&i) = index.get(&p.spec.node_name) {
                infos[i].add_pod(PodInfo::new(p));
            }
        }
        Snapshot { nodes: infos, ..Default::default() }
    }

    /// How many nodes hold each (normalised) image, for ImageLocality's spread.
    pub fn image_node_count(&self, image: &str) -> usize {
        self.nodes.iter().filter(|n| !n.images.is_empty() && n.images.contains_key(image)).count()
    }
}

/// Data plugins pass from PreFilter/PreScore to Filter/Score within one
/// cycle, keyed by the value's type (each plugin has its own state types).
#[derive(Default)]
pub struct CycleState {
    data: Vec<(std::any::TypeId, Box<dyn Any>)>,
}

impl CycleState {
    pub fn write<T: Any>(&mut self, value: T) {
        let id = std::any::TypeId::of::<T>();
        match self.data.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.data.push((id, Box::new(value))),
        }
    }
    pub fn read<T: Any>(&self) -> Option<&T> {
        let id = std::any::TypeId::of::<T>();
        self.data.iter().find(|(k, _)| *k == id).and_then(|(_, b)| b.downcast_ref())
    }
}

pub trait Plugin: Send + Sync {
    fn name(&self) -> &str;
    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        None
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        None
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        None
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        None
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        None
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        None
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        None
    }
}

/// What PostFilter (preemption) proposes for a pod no node fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostFilterResult {
    pub nominated_node: String,
    /// Pods to evict (namespace, name, uid).
    pub victims: Vec<(String, String, String)>,
}

/// Runs when no node passed Filter; `rejections` holds each node's filter status.
pub trait PostFilterPlugin {
    fn post_filter(&self, pod: &PodInfo, snapshot: &Snapshot, rejections: &[(usize, Status)], filter: &dyn Fn(&Snapshot, usize) -> Status) -> Result<PostFilterResult, Status>;
}

/// Binds a pod to its node through the API (the pods/binding subresource).
pub trait BindPlugin {
    fn bind(&self, pod: &Pod, node: &str) -> crate::control::WriteOp;
}

/// Gates a pod before it may enter the active queue (SchedulingGates).
pub trait PreEnqueuePlugin {
    fn pre_enqueue(&self, pod: &Pod) -> Status;
}

/// Orders the active queue: true if `a` goes before `b`.
pub trait QueueSortPlugin {
    fn less(&self, a: &QueuedPod, b: &QueuedPod) -> bool;
}

/// A pod waiting in the scheduling queue.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    /// When it was (last) added to the queue, in virtual nanoseconds.
    pub timestamp_ns: u64,
}

pub trait PreFilterPlugin {
    /// Once per cycle; `Skip` skips this plugin's Filter for the pod.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;
}

pub trait FilterPlugin {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

pub trait PreScorePlugin {
    /// Once per cycle over the feasible nodes; `Skip` skips this plugin's Score.
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Status;
}

pub trait ScorePlugin {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) -> Result<i64, Status>;
    /// Rescales raw scores to 0..=MAX_NODE_SCORE; the default leaves them.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) -> Status {
        Status::success()
    }
}

/// `helper.DefaultNormalizeScore`: scales to `max` by the highest score; `reverse` flips.
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [i64]) {
    let top = scores.iter().copied().max().unwrap_or(0).max(0);
    if top == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = max * *s / top;
        *s = if reverse { max - v } else { v };
    }
}

/// Declares a plugin's name and the extension points it takes part in:
/// `extends!(NodePorts, NAME, [pre_filter, filter]);`
#[macro_export]
macro_rules! extends {
    ($ty:ty, $name:expr, [$($point:ident),* $(,)?]) => {
        impl $crate::control::scheduler::framework::Plugin for $ty {
            fn name(&self) -> &str {
                $name
            }
            $( $crate::extends!(@point $point); )*
        }
    };
    (@point pre_enqueue) => { fn as_pre_enqueue(&self) -> Option<&dyn $crate::control::scheduler::framework::PreEnqueuePlugin> { Some(self) } };
    (@point queue_sort) => { fn as_queue_sort(&self) -> Option<&dyn $crate::control::scheduler::framework::QueueSortPlugin> { Some(self) } };
    (@point pre_filter) => { fn as_pre_filter(&self) -> Option<&dyn $crate::control::scheduler::framework::PreFilterPlugin> { Some(self) } };
    (@point filter) => { fn as_filter(&self) -> Option<&dyn $crate::control::scheduler::framework::FilterPlugin> { Some(self) } };
    (@point post_filter) => { fn as_post_filter(&self) -> Option<&dyn $crate::control::scheduler::framework::PostFilterPlugin> { Some(self) } };
    (@point pre_score) => { fn as_pre_score(&self) -> Option<&dyn $crate::control::scheduler::framework::PreScorePlugin> { Some(self) } };
    (@point score) => { fn as_score(&self) -> Option<&dyn $crate::control::scheduler::framework::ScorePlugin> { Some(self) } };
    (@point bind) => { fn as_bind(&self) -> Option<&dyn $crate::control::scheduler::framework::BindPlugin> { Some(self) } };
}
