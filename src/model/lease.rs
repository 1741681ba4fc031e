//! coordination.k8s.io/v1 Lease: node heartbeats (kube-node-lease) and leader election.

use serde::{Deserialize, Serialize};

use super::meta::{ObjectMeta, Timestamp};

/// Where kubelets keep their node Leases (one per node, named after it).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
}

/// Leases have no status; the empty struct keeps the kind registry uniform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseStatus {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: LeaseSpec,
    #[serde(default, skip_serializing)]
    pub status: LeaseStatus,
}

impl super::Resource for Lease {
    const API_VERSION: &'static str = "coordination.k8s.io/v1";
    const PLURAL: &'static str = "leases";
    const NAMESPACED: bool = true;
    const GARBAGE_COLLECTED: bool = false;
    crate::spec_status_resource!();
    fn validate(&self, errs: &mut Vec<String>) {
        if self.spec.lease_duration_seconds.is_some_and(|d| d <= 0) {
            errs.push("spec.leaseDurationSeconds: Invalid value: must be greater than 0".into());
        }
    }
}
