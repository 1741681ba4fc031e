//! ReplicaSet defaulting and validation (apps/v1).

use crate::model::ReplicaSet;

pub fn defaults(rs: &mut ReplicaSet) {
    if rs.spec.replicas.is_none() {
        rs.spec.replicas = Some(1);
    }
    super::pod::defaults_spec(&mut rs.spec.template.spec);
}

pub fn validate(rs: &ReplicaSet, errs: &mut Vec<String>) {
    super::non_negative(i64::from(rs.spec.replicas.unwrap_or(1)), "spec.replicas", errs);
    super::non_negative(i64::from(rs.spec.min_ready_seconds), "spec.minReadySeconds", errs);
    super::validate_template(&rs.spec.selector, &rs.spec.template, errs);
}
