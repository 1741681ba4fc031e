//! The API layer's per-object rules, dispatched to each kind's own answers
//! (`model::Resource`, in the kind's file): defaulting, as the `SetDefaults_*`
//! functions and the default admission plugins do; validation on create and
//! on update, as `pkg/apis/*/validation`; and what create resets.

use crate::model::validation::validate_meta;
use crate::model::Object;

pub use crate::model::pod::{DEFAULT_TERMINATION_GRACE_PERIOD_S, priority_of_class};

/// Fills defaulted fields, as kube-apiserver does on every write.
pub fn apply_defaults(obj: &mut Object) {
    obj.set_defaults();
}

/// Admission on create: what the default admission chain adds to new objects.
pub fn admit_create(obj: &mut Object) {
    obj.admit_create();
}

/// Clears what a create must not carry over (status the server owns).
pub fn prepare_for_create(obj: &mut Object) {
    obj.prepare_for_create();
}

/// Field errors for a new object (empty = valid).
pub fn validate_create(obj: &Object) -> Vec<String> {
    let mut errs = Vec::new();
    let kind = obj.kind();
    validate_meta(obj.meta(), kind.namespaced(), kind.name_is_dns_label(), &mut errs);
    obj.validate(&mut errs);
    errs
}

/// Field errors for an update of `old` to `new`, including immutable fields.
pub fn validate_update(new: &Object, old: &Object) -> Vec<String> {
    let mut errs = validate_create(new);
    new.validate_update(old, &mut errs);
    errs
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
