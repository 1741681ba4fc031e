//! `apply: {file: …}` or `apply: {manifest: {…}}`: create each object, or
//! replace it if it exists, as `kubectl apply` would.

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::model::{Object, ObjectRef};
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// A manifest file, relative to the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// An inline manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<serde_yaml::Value>,
    /// The objects, once checked.
    #[serde(skip)]
    pub objects: Vec<Object>,
}

impl ActionSpec for Apply {
    const KEY: &'static str = "apply";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        let loaded = l.objects(self.file.as_deref(), self.manifest.as_ref(), path)?;
        self.objects = loaded.into_iter().map(|o| o.object).collect();
        let _ = field(path, "file");
        Ok(())
    }
    fn describe(&self) -> String {
        let names: Vec<String> = self.objects.iter().map(|o| ObjectRef::of(o).to_string()).collect();
        format!("apply {}", names.join(","))
    }
    const LIVE: bool = true;
}
