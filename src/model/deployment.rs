//! apps/v1 Deployment.

use serde::{Deserialize, Serialize};

use super::meta::{Condition, ObjectMeta};
use super::replicaset::PodTemplateSpec;
use super::selector::LabelSelector;

/// An int-or-percent field such as maxSurge ("25%" or 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl IntOrString {
    /// `intstr.GetScaledValueFromIntOrPercent`: a percent of `total`, rounded up or down.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, String> {
        match self {
            IntOrString::Int(v) => Ok(*v),
            IntOrString::String(s) => {
                let pct: i64 = s
                    .strip_suffix('%')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}"))?;
                let prod = pct * i64::from(total);
                let v = if round_up { (prod + 99).div_euclid(100) } else { prod.div_euclid(100) };
                Ok(v as i32)
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDeployment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// "RollingUpdate" or "Recreate".
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDeployment>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
    #[serde(default)]
    pub strategy: DeploymentStrategy,
    #[serde(default)]
    pub min_ready_seconds: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    #[serde(default)]
    pub observed_generation: i64,
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub updated_replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
    #[serde(default)]
    pub available_replicas: i32,
    #[serde(default)]
    pub unavailable_replicas: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DeploymentSpec,
    #[serde(default)]
    pub status: DeploymentStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_scaling_matches_intstr() {
        let p = IntOrString::String("25%".into());
        assert_eq!(p.scaled_value(10, true).unwrap(), 3);
        assert_eq!(p.scaled_value(10, false).unwrap(), 2);
        assert_eq!(IntOrString::Int(4).scaled_value(10, true).unwrap(), 4);
        assert!(IntOrString::String("25".into()).scaled_value(10, true).is_err());
    }
}

impl super::Resource for Deployment {
    const API_VERSION: &'static str = "apps/v1";
    const PLURAL: &'static str = "deployments";
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
    /// Whole (unless paused): every replica updated and available, no extra ones.
    fn liveness_problem(&self, _now: crate::time::SimTime) -> Option<String> {
        let want = self.spec.replicas.unwrap_or(1);
        let s = &self.status;
        (self.metadata.deletion_timestamp.is_none() && !self.spec.paused && (s.available_replicas != want || s.updated_replicas != want || s.replicas != want)).then(|| {
            format!("deployment {}/{} has {} available, {} updated, {} total (wants {want})", self.metadata.namespace, self.metadata.name, s.available_replicas, s.updated_replicas, s.replicas)
        })
    }
    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        Some(&mut self.spec.replicas)
    }
}

// ---- API rules: defaulting, admission and validation (kube-apiserver) ----

pub const DEFAULT_MAX_SURGE: &str = "25%";
pub const DEFAULT_MAX_UNAVAILABLE: &str = "25%";
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
pub const DEFAULT_PROGRESS_DEADLINE_S: i32 = 600;

pub fn defaults(d: &mut Deployment) {
    let spec = &mut d.spec;
    if spec.replicas.is_none() {
        spec.replicas = Some(1);
    }
    if spec.strategy.type_.is_empty() {
        spec.strategy.type_ = "RollingUpdate".into();
    }
    if spec.strategy.type_ == "RollingUpdate" {
        let ru = spec.strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
        ru.max_unavailable.get_or_insert_with(|| IntOrString::String(DEFAULT_MAX_UNAVAILABLE.into()));
        ru.max_surge.get_or_insert_with(|| IntOrString::String(DEFAULT_MAX_SURGE.into()));
    }
    spec.revision_history_limit.get_or_insert(DEFAULT_REVISION_HISTORY_LIMIT);
    spec.progress_deadline_seconds.get_or_insert(DEFAULT_PROGRESS_DEADLINE_S);
    super::pod::defaults_spec(&mut spec.template.spec);
}

fn int_or_percent(v: &IntOrString, path: &str, errs: &mut Vec<String>) -> Option<i64> {
    match v {
        IntOrString::Int(i) => {
            super::validation::non_negative(i64::from(*i), path, errs);
            Some(i64::from(*i))
        }
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if (0..=100).contains(&p) => Some(p),
            Some(p) => {
                errs.push(format!("{path}: Invalid value: {s:?}: must not be greater than 100% (or less than 0%), got {p}%"));
                None
            }
            None => {
                errs.push(format!("{path}: Invalid value: {s:?}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                None
            }
        },
    }
}

pub fn validate(d: &Deployment, errs: &mut Vec<String>) {
    let spec = &d.spec;
    super::validation::non_negative(i64::from(spec.replicas.unwrap_or(1)), "spec.replicas", errs);
    super::validation::non_negative(i64::from(spec.min_ready_seconds), "spec.minReadySeconds", errs);
    super::validation::validate_template(&spec.selector, &spec.template, errs);
    match spec.strategy.type_.as_str() {
        "Recreate" => {
            if spec.strategy.rolling_update.is_some() {
                errs.push("spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'".into());
            }
        }
        "RollingUpdate" | "" => {
            if let Some(ru) = &spec.strategy.rolling_update {
                let surge = ru.max_surge.as_ref().and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxSurge", errs));
                let unavail = ru.max_unavailable.as_ref().and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxUnavailable", errs));
                if surge == Some(0) && unavail == Some(0) {
                    errs.push("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0".into());
                }
            }
        }
        other => errs.push(format!("spec.strategy.type: Unsupported value: {other:?}: supported values: \"Recreate\", \"RollingUpdate\"")),
    }
    if let Some(l) = spec.revision_history_limit {
        super::validation::non_negative(i64::from(l), "spec.revisionHistoryLimit", errs);
    }
    if let Some(p) = spec.progress_deadline_seconds
        && p <= spec.min_ready_seconds
    {
        errs.push(format!("spec.progressDeadlineSeconds: Invalid value: {p}: must be greater than minReadySeconds"));
    }
}

#[cfg(test)]
mod rules_tests {
    use super::*;

    #[test]
    fn defaults_follow_apps_v1() {
        let mut d: Deployment = serde_yaml::from_str("metadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}").unwrap();
        defaults(&mut d);
        let ru = d.spec.strategy.rolling_update.as_ref().unwrap();
        assert_eq!(d.spec.strategy.type_, "RollingUpdate");
        assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
        assert_eq!(ru.max_unavailable, Some(IntOrString::String("25%".into())));
        assert_eq!(d.spec.revision_history_limit, Some(10));
        assert_eq!(d.spec.progress_deadline_seconds, Some(600));
        assert_eq!(d.spec.replicas, Some(1));
        assert_eq!(d.spec.template.spec.restart_policy, "Always");
        let mut errs = vec![];
        validate(&d, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn selector_must_match_template_and_zero_zero_is_invalid() {
        let d: Deployment = serde_yaml::from_str("spec: {selector: {matchLabels: {a: b}}, strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}, template: {metadata: {labels: {a: c}}, spec: {containers: [{name: c, image: i}]}}}").unwrap();
        let mut errs = vec![];
        validate(&d, &mut errs);
        let joined = errs.join("\n");
        assert!(joined.contains("`selector` does not match template `labels`"), "{joined}");
        assert!(joined.contains("may not be 0 when `maxSurge` is 0"), "{joined}");
    }
}
