//! `delete: {kind, namespace, name, gracePeriodSeconds, propagationPolicy}`,
//! as `kubectl delete`.

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::api::{DeleteOptions, Propagation};
use crate::model::ObjectRef;
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Delete {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// Background (default), Foreground or Orphan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<String>,
    #[serde(skip)]
    pub target: Option<ObjectRef>,
}

impl Delete {
    pub fn options(&self) -> DeleteOptions {
        let propagation = match self.propagation_policy.as_deref() {
            Some("Foreground") => Propagation::Foreground,
            Some("Orphan") => Propagation::Orphan,
            _ => Propagation::Background,
        };
        DeleteOptions { grace_period_s: self.grace_period_seconds, propagation, ..Default::default() }
    }
}

impl ActionSpec for Delete {
    const KEY: &'static str = "delete";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        self.target = Some(l.target(&self.kind, &self.namespace, &self.name, path)?);
        match self.propagation_policy.as_deref() {
            None | Some("Background" | "Foreground" | "Orphan") => Ok(()),
            Some(other) => Err(l.err(&field(path, "propagationPolicy"), format!("unknown propagationPolicy {other:?}; expected Background, Foreground or Orphan"))),
        }
    }
    fn describe(&self) -> String {
        format!("delete {}", crate::scenario::target_label(&self.target, &self.kind, &self.name))
    }
    const LIVE: bool = true;
}
