//! Deployment defaulting (`SetDefaults_Deployment`, apps/v1) and validation.

use crate::model::Deployment;
use crate::model::deployment::{IntOrString, RollingUpdateDeployment};

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
            super::non_negative(i64::from(*i), path, errs);
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
    super::non_negative(i64::from(spec.replicas.unwrap_or(1)), "spec.replicas", errs);
    super::non_negative(i64::from(spec.min_ready_seconds), "spec.minReadySeconds", errs);
    super::validate_template(&spec.selector, &spec.template, errs);
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
        super::non_negative(i64::from(l), "spec.revisionHistoryLimit", errs);
    }
    if let Some(p) = spec.progress_deadline_seconds
        && p <= spec.min_ready_seconds
    {
        errs.push(format!("spec.progressDeadlineSeconds: Invalid value: {p}: must be greater than minReadySeconds"));
    }
}

#[cfg(test)]
mod tests {
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
