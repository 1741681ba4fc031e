//! `scale: {kind, namespace, name, replicas}`: the scale subresource, as
//! `kubectl scale` (kinds that have one: `Resource::replicas_mut`).

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::model::{Kind, ObjectRef};
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scale {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub replicas: i32,
    #[serde(skip)]
    pub target: Option<ObjectRef>,
}

impl ActionSpec for Scale {
    const KEY: &'static str = "scale";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        let target = l.target(&self.kind, &self.namespace, &self.name, path)?;
        if !target.kind.scalable() {
            let scalable: Vec<&str> = Kind::ALL.iter().filter(|k| k.scalable()).map(|k| k.name()).collect();
            return Err(l.err(&field(path, "kind"), format!("cannot scale a {}; expected one of {}", target.kind, scalable.join(", "))));
        }
        if self.replicas < 0 {
            return Err(l.err(&field(path, "replicas"), "replicas must be 0 or more"));
        }
        self.target = Some(target);
        Ok(())
    }
    fn describe(&self) -> String {
        format!("scale {} to {}", crate::scenario::target_label(&self.target, &self.kind, &self.name), self.replicas)
    }
    const LIVE: bool = true;
}
