//! v1 Node: taints, unschedulable, capacity/allocatable, conditions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::meta::{Condition, ObjectMeta, Timestamp};
use super::quantity::Quantity;

pub type ResourceList = BTreeMap<String, Quantity>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub effect: TaintEffect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unschedulable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    #[serde(default, rename = "podCIDR", skip_serializing_if = "String::is_empty")]
    pub pod_cidr: String,
    #[serde(default, rename = "providerID", skip_serializing_if = "String::is_empty")]
    pub provider_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    #[serde(rename = "type")]
    pub type_: String,
    pub address: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: ResourceList,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocatable: ResourceList,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ContainerImage>,
    /// `kubectl get node -o yaml` prints these; kubesim does not model them.
    #[serde(default, skip_serializing)]
    pub node_info: crate::model::meta::Dropped,
    #[serde(default, skip_serializing)]
    pub daemon_endpoints: crate::model::meta::Dropped,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

impl Node {
    /// True when the Ready condition is "True".
    pub fn is_ready(&self) -> bool {
        super::meta::condition(&self.status.conditions, "Ready").is_some_and(|c| c.status == "True")
    }
}

impl super::Resource for Node {
    const API_VERSION: &'static str = "v1";
    const PLURAL: &'static str = "nodes";
    const ETCD_RESOURCE: &'static str = "minions";
    const NAMESPACED: bool = false;
    const GARBAGE_COLLECTED: bool = false;
    const HAS_LIVENESS: bool = true;
    crate::spec_status_resource!();
    fn conditions(&self) -> &[super::meta::Condition] {
        &self.status.conditions
    }
    fn set_defaults(&mut self) {
        defaults(self);
    }
    fn validate(&self, errs: &mut Vec<String>) {
        validate(self, errs);
    }
    fn liveness_problem(&self, _now: crate::time::SimTime) -> Option<String> {
        (!self.is_ready()).then(|| format!("node {} is not Ready", self.metadata.name))
    }
}

// ---- API rules: defaulting, admission and validation (kube-apiserver) ----

/// Allocatable defaults to capacity (a kubelet with no reservations reports that).
pub fn defaults(node: &mut Node) {
    let missing: Vec<_> = node.status.capacity.iter().filter(|(k, _)| !node.status.allocatable.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
    node.status.allocatable.extend(missing);
}

pub fn validate(node: &Node, errs: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in node.spec.taints.iter().enumerate() {
        let p = format!("spec.taints[{i}]");
        super::selector::validate_label_key(&t.key, &format!("{p}.key"), errs);
        super::selector::validate_label_value(&t.value, &format!("{p}.value"), errs);
        if !seen.insert((t.key.as_str(), t.effect.clone())) {
            errs.push(format!("{p}: Duplicate value: {:?}: taints must be unique by key and effect pair", format!("{}:{:?}", t.key, t.effect)));
        }
    }
    for (field, list) in [("capacity", &node.status.capacity), ("allocatable", &node.status.allocatable)] {
        for (name, q) in list {
            if q.is_negative() {
                errs.push(format!("status.{field}[{name}]: Invalid value: \"{q}\": must be greater than or equal to 0"));
            }
        }
    }
}
