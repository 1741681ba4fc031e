//! The timeline actions that are API calls (apply, scale, patch, delete,
//! rollback), made as the scenario's operator would make them with kubectl;
//! the same code in both drivers.

use crate::api::{ApiError, ApiServer, Storage};
use crate::model::{Kind, Object, ObjectRef};
use crate::scenario::{Action, merge_patch};
use crate::time::SimTime;

/// The timeline actions that are API calls (apply, scale, patch, delete,
/// rollback), as the scenario's operator would make them; shared with live mode.
pub fn perform_api_action<S: Storage>(api: &mut ApiServer<S>, action: &Action, now: SimTime) -> Result<(), ApiError> {
    let unchecked = || ApiError::BadRequest(format!("`{}` was not checked against its scenario", action.describe()));
    match action {
        Action::Apply(a) => {
            for obj in &a.objects {
                let obj = obj.clone();
                match api.get(&ObjectRef::of(&with_default_ns(obj.clone()))) {
                    Err(e) if e.is_not_found() => {
                        api.create(obj, now)?;
                    }
                    Err(e) => return Err(e),
                    Ok(current) => {
                        // Like `kubectl apply`, the written spec and metadata replace what is stored.
                        let mut next = with_default_ns(obj);
                        next.meta_mut().resource_version = current.meta().resource_version.clone();
                        api.update(next, now)?;
                    }
                }
            }
        }
        Action::Scale(a) => {
            let target = a.target.as_ref().ok_or_else(unchecked)?;
            let current = api.get(target)?;
            let Some(scaled) = current.with_replicas(a.replicas) else {
                return Err(ApiError::BadRequest(format!("{} has no scale subresource", current.kind())));
            };
            api.update(scaled, now)?;
        }
        Action::Patch(a) => {
            let target = a.target.as_ref().ok_or_else(unchecked)?;
            let current = api.get(target)?;
            let mut json = current.to_json_value();
            merge_patch(&mut json, &a.merge);
            let bytes = serde_json::to_vec(&json).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let patched = Object::from_json(target.kind, &bytes).map_err(|e| ApiError::BadRequest(format!("patch does not decode: {e}")))?;
            api.update(patched, now)?;
        }
        Action::Delete(a) => {
            let target = a.target.as_ref().ok_or_else(unchecked)?;
            api.delete(target, &a.options(), now)?;
        }
        Action::Rollback(a) => {
            let target = a.target();
            let to_revision = a.to_revision;
            let current = api.get(&target)?;
            let Some(d) = current.as_deployment() else { return Err(ApiError::BadRequest(format!("{target} is not a Deployment"))) };
            let (rs, _) = api.list(Kind::ReplicaSet, Some(&target.namespace))?;
            let mut owned: Vec<&crate::model::ReplicaSet> =
                rs.iter().filter_map(Object::as_replicaset).filter(|r| r.metadata.controller_ref().is_some_and(|c| c.uid == d.metadata.uid)).collect();
            let rev = |r: &crate::model::ReplicaSet| r.metadata.annotations.get(crate::control::controllers::deployment::REVISION_ANNOTATION).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            owned.sort_by_key(|r| rev(r));
            let chosen = if to_revision == 0 { owned.iter().rev().nth(1) } else { owned.iter().find(|r| rev(r) == to_revision) };
            let Some(from) = chosen else { return Err(ApiError::BadRequest(format!("{target} has no revision {to_revision}"))) };
            let mut next = d.clone();
            next.spec.template = from.spec.template.clone();
            next.spec.template.metadata.labels.remove(crate::control::controllers::deployment::HASH_LABEL);
            api.update(next.into(), now)?;
        }
        _ => return Err(ApiError::BadRequest(format!("`{}` is not an API action", action.describe()))),
    }
    Ok(())
}

/// Whether `perform_api_action` carries out this action.
pub fn is_api_action(action: &Action) -> bool {
    matches!(action, Action::Apply(_) | Action::Scale(_) | Action::Patch(_) | Action::Delete(_) | Action::Rollback(_))
}

fn with_default_ns(mut obj: Object) -> Object {
    if obj.kind().namespaced() && obj.meta().namespace.is_empty() {
        obj.meta_mut().namespace = "default".into();
    }
    obj
}

