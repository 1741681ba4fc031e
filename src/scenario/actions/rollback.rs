//! `rollback: {namespace, name, toRevision}`: `kubectl rollout undo
//! --to-revision` for a Deployment (0: the previous revision).

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::model::{Kind, ObjectRef};
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rollback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// The revision to return to; 0 (the default) means the previous one.
    #[serde(default)]
    pub to_revision: i64,
}

impl Rollback {
    pub fn target(&self) -> ObjectRef {
        ObjectRef::new(Kind::Deployment, self.namespace.as_deref().unwrap_or("default"), &self.name)
    }
}

impl ActionSpec for Rollback {
    const KEY: &'static str = "rollback";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        if self.to_revision < 0 {
            return Err(l.err(&field(path, "toRevision"), "toRevision must be 0 (previous) or a revision number"));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("rollback {} to revision {}", self.target(), self.to_revision)
    }
    const LIVE: bool = true;
}
