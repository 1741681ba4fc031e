//! Fault `linkLoss: {nodes, nodeSelector, components, probability, for}`:
//! the targets' requests are lost with a probability (the caller times out
//! after 5 s).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{ActionSpec, field};
use crate::scenario::Loader;
use crate::time::{Dur, format_duration};
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkLoss {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// 0..=1: the chance a request is lost.
    pub probability: f64,
    #[serde(rename = "for")]
    pub duration: Dur,
    #[serde(skip)]
    pub resolved: Vec<String>,
}

impl ActionSpec for LinkLoss {
    const KEY: &'static str = "linkLoss";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(l.err(&field(path, "probability"), format!("probability {} is not between 0 and 1", self.probability)));
        }
        self.resolved = l.fault_targets(&self.nodes, &self.node_selector, &self.components, path)?;
        Ok(())
    }
    fn describe(&self) -> String {
        format!("lose {} of requests of {} for {}", self.probability, self.resolved.join(","), format_duration(self.duration.0))
    }
    const LIVE: bool = false;
}
