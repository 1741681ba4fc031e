//! Fault `partition: {nodes, nodeSelector, components, for}`: the targets —
//! the components of the named and selected nodes, and named control-plane
//! components — reach neither the API server nor etcd: their requests time
//! out after 5 s, their watches break (resumed from their last
//! resourceVersion on healing, or relisted after 410 Gone). Without `for` it
//! lasts until `healPartitions: {}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ActionSpec;
use crate::scenario::Loader;
use crate::time::{Dur, format_duration};
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Partition {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Heals by itself after this long; without it, at `healPartitions`.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// The components cut off, once checked.
    #[serde(skip)]
    pub resolved: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealPartitions {}

/// A short list of targets for labels.
pub fn short(names: &[String]) -> String {
    if names.len() > 2 { format!("{} and {} more", names[..2].join(", "), names.len() - 2) } else { names.join(", ") }
}

impl ActionSpec for Partition {
    const KEY: &'static str = "partition";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        self.resolved = l.fault_targets(&self.nodes, &self.node_selector, &self.components, path)?;
        Ok(())
    }
    fn describe(&self) -> String {
        format!("partition {} from the control plane{}", self.resolved.join(","), self.duration.map(|d| format!(" for {}", format_duration(d.0))).unwrap_or_default())
    }
    /// Live mode cuts a component off at its etcd adapter until `healPartitions`.
    const LIVE: bool = true;
    fn live(&self) -> bool {
        self.duration.is_none()
    }
}

impl ActionSpec for HealPartitions {
    const KEY: &'static str = "healPartitions";
    fn check(&mut self, _l: &mut Loader, _path: &[PathSeg]) -> Result<(), SourceError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "heal partitions".into()
    }
    const LIVE: bool = true;
}
