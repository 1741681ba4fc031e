//! Validation shared by every kind: object metadata (names, namespaces,
//! labels, owner references) and what pod templates and counts must satisfy,
//! with kube-apiserver's messages.

use super::ObjectMeta;
use super::selector::is_dns1123_subdomain;

pub fn immutable<T: PartialEq + std::fmt::Debug>(new: &T, old: &T, path: &str, errs: &mut Vec<String>) {
    if new != old {
        errs.push(format!("{path}: Invalid value: {new:?}: field is immutable"));
    }
}

const SUBDOMAIN_HELP: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_HELP: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

pub fn validate_meta(meta: &ObjectMeta, namespaced: bool, dns_label: bool, errs: &mut Vec<String>) {
    if meta.name.is_empty() {
        errs.push("metadata.name: Required value: name or generateName is required".into());
    } else if dns_label && !super::selector::is_dns1123_label(&meta.name) {
        errs.push(format!("metadata.name: Invalid value: {:?}: {LABEL_HELP}", meta.name));
    } else if !dns_label && !is_dns1123_subdomain(&meta.name) {
        errs.push(format!("metadata.name: Invalid value: {:?}: {SUBDOMAIN_HELP}", meta.name));
    }
    if namespaced && !meta.namespace.is_empty() && !super::selector::is_dns1123_label(&meta.namespace) {
        errs.push(format!("metadata.namespace: Invalid value: {:?}: {LABEL_HELP}", meta.namespace));
    }
    if !namespaced && !meta.namespace.is_empty() {
        errs.push(format!("metadata.namespace: Forbidden: not allowed on this type (got {:?})", meta.namespace));
    }
    super::selector::validate_labels(&meta.labels, "metadata.labels", errs);
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
pub fn validate_template(
    selector: &super::LabelSelector,
    template: &super::replicaset::PodTemplateSpec,
    errs: &mut Vec<String>,
) {
    if selector.is_empty() {
        errs.push("spec.selector: Invalid value: \"null\": empty selector is invalid for deployment".into());
    }
    selector.validate("spec.selector", errs);
    super::selector::validate_labels(&template.metadata.labels, "spec.template.metadata.labels", errs);
    if !selector.is_empty() && !selector.matches(&template.metadata.labels) {
        errs.push(format!(
            "spec.template.metadata.labels: Invalid value: {:?}: `selector` does not match template `labels`",
            template.metadata.labels
        ));
    }
    super::pod::validate_spec(&template.spec, "spec.template.spec", errs);
    if !template.spec.restart_policy.is_empty() && template.spec.restart_policy != "Always" {
        errs.push(format!(
            "spec.template.spec.restartPolicy: Unsupported value: {:?}: supported values: \"Always\"",
            template.spec.restart_policy
        ));
    }
}

pub fn non_negative(v: i64, path: &str, errs: &mut Vec<String>) {
    if v < 0 {
        errs.push(format!("{path}: Invalid value: {v}: must be greater than or equal to 0"));
    }
}

