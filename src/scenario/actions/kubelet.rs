//! Fault `stopKubelet: {node}`: the kubelet process stops, its containers keep
//! running; `startKubelet: {node}`: it starts again, lists the runtime,
//! adopts its containers and kills orphans.

use serde::{Deserialize, Serialize};

use super::ActionSpec;
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopKubelet {
    pub node: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartKubelet {
    pub node: String,
}

impl ActionSpec for StopKubelet {
    const KEY: &'static str = "stopKubelet";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        l.node_name(&self.node, path)
    }
    fn describe(&self) -> String {
        format!("stop kubelet on {}", self.node)
    }
    const LIVE: bool = true;
}

impl ActionSpec for StartKubelet {
    const KEY: &'static str = "startKubelet";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        l.node_name(&self.node, path)
    }
    fn describe(&self) -> String {
        format!("start kubelet on {}", self.node)
    }
    const LIVE: bool = true;
}
