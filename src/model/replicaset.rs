//! apps/v1 ReplicaSet, and the pod template it shares with Deployment.

use serde::{Deserialize, Serialize};

use super::meta::{Condition, ObjectMeta};
use super::pod::PodSpec;
use super::selector::LabelSelector;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub min_ready_seconds: i32,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub fully_labeled_replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
    #[serde(default)]
    pub available_replicas: i32,
    #[serde(default)]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSet {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ReplicaSetSpec,
    #[serde(default)]
    pub status: ReplicaSetStatus,
}

impl super::Resource for ReplicaSet {
    const API_VERSION: &'static str = "apps/v1";
    const PLURAL: &'static str = "replicasets";
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
    fn prepare_for_create(&mut self) {
        self.status = Default::default();
    }
    fn validate(&self, errs: &mut Vec<String>) {
        validate(self, errs);
    }
    fn validate_update(&self, old: &Self, errs: &mut Vec<String>) {
        super::validation::immutable(&self.spec.selector, &old.spec.selector, "spec.selector", errs);
    }
    /// Whole: as many ready replicas as desired, and no more.
    fn liveness_problem(&self, _now: crate::time::SimTime) -> Option<String> {
        let want = self.spec.replicas.unwrap_or(1);
        (self.metadata.deletion_timestamp.is_none() && (self.status.ready_replicas != want || self.status.replicas != want))
            .then(|| format!("replicaset {}/{} has {}/{} ready (wants {want})", self.metadata.namespace, self.metadata.name, self.status.ready_replicas, self.status.replicas))
    }
    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        Some(&mut self.spec.replicas)
    }
}

// ---- API rules: defaulting, admission and validation (kube-apiserver) ----

pub fn defaults(rs: &mut ReplicaSet) {
    if rs.spec.replicas.is_none() {
        rs.spec.replicas = Some(1);
    }
    super::pod::defaults_spec(&mut rs.spec.template.spec);
}

pub fn validate(rs: &ReplicaSet, errs: &mut Vec<String>) {
    super::validation::non_negative(i64::from(rs.spec.replicas.unwrap_or(1)), "spec.replicas", errs);
    super::validation::non_negative(i64::from(rs.spec.min_ready_seconds), "spec.minReadySeconds", errs);
    super::validation::validate_template(&rs.spec.selector, &rs.spec.template, errs);
}
