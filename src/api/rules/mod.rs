//! Per-kind API rules: defaulting (as the `SetDefaults_*` functions and the
//! default admission plugins do), validation on create and on update (as
//! `pkg/apis/*/validation`), and what create resets. One file per kind.

mod deployment;
mod namespace;
mod node;
pub mod pod;
mod replicaset;

use crate::model::selector::is_dns1123_subdomain;
use crate::model::{Object, ObjectMeta};

/// Fills defaulted fields, as kube-apiserver does on every write.
pub fn apply_defaults(obj: &mut Object) {
    match obj {
        Object::Pod(p) => pod::defaults(std::sync::Arc::make_mut(p)),
        Object::Node(n) => node::defaults(std::sync::Arc::make_mut(n)),
        Object::Namespace(n) => namespace::defaults(std::sync::Arc::make_mut(n)),
        Object::ReplicaSet(r) => replicaset::defaults(std::sync::Arc::make_mut(r)),
        Object::Deployment(d) => deployment::defaults(std::sync::Arc::make_mut(d)),
        Object::Lease(_) => {}
    }
}

/// Admission on create: what the default admission chain adds to new objects.
pub fn admit_create(obj: &mut Object) {
    if let Object::Pod(p) = obj {
        pod::admit(std::sync::Arc::make_mut(p));
    }
}

/// Clears what a create must not carry over (status the server owns).
pub fn prepare_for_create(obj: &mut Object) {
    match obj {
        Object::Pod(p) => pod::prepare_for_create(std::sync::Arc::make_mut(p)),
        Object::ReplicaSet(r) => std::sync::Arc::make_mut(r).status = Default::default(),
        Object::Deployment(d) => std::sync::Arc::make_mut(d).status = Default::default(),
        Object::Namespace(n) => std::sync::Arc::make_mut(n).status.phase = "Active".into(),
        Object::Node(_) | Object::Lease(_) => {}
    }
}

/// Field errors for a new object (empty = valid).
pub fn validate_create(obj: &Object) -> Vec<String> {
    let mut errs = Vec::new();
    let dns_label_names = matches!(obj, Object::Namespace(_));
    validate_meta(obj.meta(), obj.kind().namespaced(), dns_label_names, &mut errs);
    match obj {
        Object::Pod(p) => pod::validate(p, &mut errs),
        Object::Node(n) => node::validate(n, &mut errs),
        Object::Namespace(_) => {}
        Object::ReplicaSet(r) => replicaset::validate(r, &mut errs),
        Object::Deployment(d) => deployment::validate(d, &mut errs),
        Object::Lease(l) => {
            if l.spec.lease_duration_seconds.is_some_and(|d| d <= 0) {
                errs.push("spec.leaseDurationSeconds: Invalid value: must be greater than 0".into());
            }
        }
    }
    errs
}

/// Field errors for an update of `old` to `new`, including immutable fields.
pub fn validate_update(new: &Object, old: &Object) -> Vec<String> {
    let mut errs = validate_create(new);
    match (new, old) {
        (Object::Pod(n), Object::Pod(o)) => pod::validate_update(n, o, &mut errs),
        (Object::ReplicaSet(n), Object::ReplicaSet(o)) => {
            immutable(&n.spec.selector, &o.spec.selector, "spec.selector", &mut errs)
        }
        (Object::Deployment(n), Object::Deployment(o)) => {
            immutable(&n.spec.selector, &o.spec.selector, "spec.selector", &mut errs)
        }
        _ => {}
    }
    errs
}

fn immutable<T: PartialEq + std::fmt::Debug>(new: &T, old: &T, path: &str, errs: &mut Vec<String>) {
    if new != old {
        errs.push(format!("{path}: Invalid value: {new:?}: field is immutable"));
    }
}

const SUBDOMAIN_HELP: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_HELP: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn validate_meta(meta: &ObjectMeta, namespaced: bool, dns_label: bool, errs: &mut Vec<String>) {
    if meta.name.is_empty() {
        errs.push("metadata.name: Required value: name or generateName is required".into());
    } else if dns_label && !crate::model::selector::is_dns1123_label(&meta.name) {
        errs.push(format!("metadata.name: Invalid value: {:?}: {LABEL_HELP}", meta.name));
    } else if !dns_label && !is_dns1123_subdomain(&meta.name) {
        errs.push(format!("metadata.name: Invalid value: {:?}: {SUBDOMAIN_HELP}", meta.name));
    }
    if namespaced && !meta.namespace.is_empty() && !crate::model::selector::is_dns1123_label(&meta.namespace) {
        errs.push(format!("metadata.namespace: Invalid value: {:?}: {LABEL_HELP}", meta.namespace));
    }
    if !namespaced && !meta.namespace.is_empty() {
        errs.push(format!("metadata.namespace: Forbidden: not allowed on this type (got {:?})", meta.namespace));
    }
    crate::model::selector::validate_labels(&meta.labels, "metadata.labels", errs);
    for (i, r) in meta.owner_references.iter().enumerate() {
        if r.api_version.is_empty() || r.kind.is_empty() || r.name.is_empty() || r.uid.is_empty() {
            errs.push(format!("metadata.ownerReferences[{i}]: Invalid value: apiVersion, kind, name and uid must be set"));
        }
    }
    if meta.owner_references.iter().filter(|r| r.controller == Some(true)).count() > 1 {
        errs.push("metadata.ownerReferences: Invalid value: Only one reference can have Controller set to true".into());
    }
}

/// Validation shared by pod templates (ReplicaSet, Deployment).
fn validate_template(
    selector: &crate::model::LabelSelector,
    template: &crate::model::replicaset::PodTemplateSpec,
    errs: &mut Vec<String>,
) {
    if selector.is_empty() {
        errs.push("spec.selector: Invalid value: \"null\": empty selector is invalid for deployment".into());
    }
    selector.validate("spec.selector", errs);
    crate::model::selector::validate_labels(&template.metadata.labels, "spec.template.metadata.labels", errs);
    if !selector.is_empty() && !selector.matches(&template.metadata.labels) {
        errs.push(format!(
            "spec.template.metadata.labels: Invalid value: {:?}: `selector` does not match template `labels`",
            template.metadata.labels
        ));
    }
    pod::validate_spec(&template.spec, "spec.template.spec", errs);
    if !template.spec.restart_policy.is_empty() && template.spec.restart_policy != "Always" {
        errs.push(format!(
            "spec.template.spec.restartPolicy: Unsupported value: {:?}: supported values: \"Always\"",
            template.spec.restart_policy
        ));
    }
}

fn non_negative(v: i64, path: &str, errs: &mut Vec<String>) {
    if v < 0 {
        errs.push(format!("{path}: Invalid value: {v}: must be greater than or equal to 0"));
    }
}

/// What a create would check, without a store: defaulting, admission and
/// validation of a copy. Used by `kubesim validate` and the scenario loader.
pub fn dry_run_create(obj: &Object) -> Result<(), crate::api::ApiError> {
    let mut o = obj.clone();
    if o.kind().namespaced() && o.meta().namespace.is_empty() {
        o.meta_mut().namespace = "default".into();
    }
    apply_defaults(&mut o);
    admit_create(&mut o);
    let causes = validate_create(&o);
    if causes.is_empty() {
        return Ok(());
    }
    Err(crate::api::ApiError::Invalid { kind: o.kind(), name: o.meta().name.clone(), causes })
}
