//! Fault `linkDelay: {nodes, nodeSelector, components, latency, for}`: extra
//! latency on the targets' requests, answers and watch events.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{ActionSpec, field};
use crate::latency::Latency;
use crate::scenario::Loader;
use crate::time::{Dur, format_duration};
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkDelay {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Added to every request, answer and watch event of the targets.
    pub latency: Latency,
    #[serde(rename = "for")]
    pub duration: Dur,
    #[serde(skip)]
    pub resolved: Vec<String>,
}

impl ActionSpec for LinkDelay {
    const KEY: &'static str = "linkDelay";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        self.latency.validate().map_err(|m| l.err(&field(path, "latency"), m))?;
        self.resolved = l.fault_targets(&self.nodes, &self.node_selector, &self.components, path)?;
        Ok(())
    }
    fn describe(&self) -> String {
        format!("delay links of {} for {}", self.resolved.join(","), format_duration(self.duration.0))
    }
    const LIVE: bool = false;
}
