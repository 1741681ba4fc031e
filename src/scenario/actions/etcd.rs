//! etcd faults: `etcdSlow: {latency, for}` (commits take that long),
//! `etcdUnavailable: {for}` (no answers: writes fail), and `etcdCompact: {}`
//! (kube-apiserver's compaction, now, to the current revision).

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::latency::Latency;
use crate::scenario::Loader;
use crate::time::{Dur, format_duration};
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdSlow {
    pub latency: Latency,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdUnavailable {
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdCompact {}

impl ActionSpec for EtcdSlow {
    const KEY: &'static str = "etcdSlow";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        self.latency.validate().map_err(|m| l.err(&field(path, "latency"), m))
    }
    fn describe(&self) -> String {
        format!("etcd slow for {}", format_duration(self.duration.0))
    }
    const LIVE: bool = false;
}

impl ActionSpec for EtcdUnavailable {
    const KEY: &'static str = "etcdUnavailable";
    fn check(&mut self, _l: &mut Loader, _path: &[PathSeg]) -> Result<(), SourceError> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("etcd unavailable for {}", format_duration(self.duration.0))
    }
    const LIVE: bool = false;
}

impl ActionSpec for EtcdCompact {
    const KEY: &'static str = "etcdCompact";
    fn check(&mut self, _l: &mut Loader, _path: &[PathSeg]) -> Result<(), SourceError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "etcd compact".into()
    }
    const LIVE: bool = false;
}
