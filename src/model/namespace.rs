//! v1 Namespace.

use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    /// "Active" or "Terminating".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NamespaceSpec,
    #[serde(default)]
    pub status: NamespaceStatus,
}

impl super::Resource for Namespace {
    const API_VERSION: &'static str = "v1";
    const PLURAL: &'static str = "namespaces";
    const NAMESPACED: bool = false;
    const NAME_IS_DNS_LABEL: bool = true;
    const GARBAGE_COLLECTED: bool = false;
    crate::spec_status_resource!();
    fn set_defaults(&mut self) {
        defaults(self);
    }
    fn prepare_for_create(&mut self) {
        self.status.phase = "Active".into();
    }
}

// ---- API rules: defaulting, admission and validation (kube-apiserver) ----

pub fn defaults(ns: &mut Namespace) {
    if ns.status.phase.is_empty() {
        ns.status.phase = "Active".into();
    }
    // NamespaceDefaultLabelName: every namespace carries its own name as a label.
    let name = ns.metadata.name.clone();
    if !name.is_empty() {
        ns.metadata.labels.insert("kubernetes.io/metadata.name".into(), name);
    }
}
