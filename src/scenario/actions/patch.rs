//! `patch: {kind, namespace, name, merge: {…}}`: a JSON merge patch (RFC
//! 7386), as `kubectl patch --type merge`.

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::model::ObjectRef;
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Patch {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub merge: serde_json::Value,
    #[serde(skip)]
    pub target: Option<ObjectRef>,
}

impl ActionSpec for Patch {
    const KEY: &'static str = "patch";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        self.target = Some(l.target(&self.kind, &self.namespace, &self.name, path)?);
        if !self.merge.is_object() {
            return Err(l.err(&field(path, "merge"), "a merge patch must be a map"));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("patch {}", crate::scenario::target_label(&self.target, &self.kind, &self.name))
    }
    const LIVE: bool = true;
}
