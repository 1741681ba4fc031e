//! Fault `crashNode: {node}`: the node goes down — every component on it
//! (its kubelet) and every container; `restartNode: {node}` brings it back as
//! fresh processes that relist and adopt nothing (the runtime was wiped).

use serde::{Deserialize, Serialize};

use super::ActionSpec;
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashNode {
    pub node: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartNode {
    pub node: String,
}

impl ActionSpec for CrashNode {
    const KEY: &'static str = "crashNode";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        l.node_name(&self.node, path)
    }
    fn describe(&self) -> String {
        format!("crash node {}", self.node)
    }
    const LIVE: bool = false;
}

impl ActionSpec for RestartNode {
    const KEY: &'static str = "restartNode";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        l.node_name(&self.node, path)
    }
    fn describe(&self) -> String {
        format!("restart node {}", self.node)
    }
    const LIVE: bool = false;
}
