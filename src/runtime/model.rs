//! How simulated containers behave, by image: written in a scenario's
//! `runtime:` section. An image not listed runs until stopped and never
//! fails a probe.
//!
//! ```yaml
//! runtime:
//!   imagePullMiBps: 100          # per node; a pulled image is cached
//!   defaultImageSizeMiB: 50
//!   images:
//!     example.com/crasher:1:
//!       sizeMiB: 20
//!       lifetime: {constant: 30s}  # exits this long after starting
//!       exitCode: 1
//!       memoryUsage: 300Mi         # above the container's limit: OOMKilled
//!       readyAfter: 5s             # readiness probes fail before this
//!       livenessFailsAfter: 60s    # liveness probes fail from this on
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::Quantity;
use crate::latency::Latency;
use crate::time::Dur;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuntimeModel {
    #[serde(default = "default_pull_mibps")]
    pub image_pull_mi_bps: u64,
    #[serde(default = "default_image_size")]
    pub default_image_size_mi_b: u64,
    #[serde(default)]
    pub images: BTreeMap<String, ImageBehaviour>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageBehaviour {
    #[serde(default)]
    pub size_mi_b: Option<u64>,
    /// Exits this long after starting (with `exitCode`); absent: runs until stopped.
    #[serde(default)]
    pub lifetime: Option<Latency>,
    /// The exit code after `lifetime`; default 1 (0 means Completed).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Modelled memory use; above the container's memory limit it is OOM-killed.
    #[serde(default)]
    pub memory_usage: Option<Quantity>,
    /// Readiness probes fail until the container has run this long.
    #[serde(default)]
    pub ready_after: Option<Dur>,
    /// Liveness probes fail once the container has run this long.
    #[serde(default)]
    pub liveness_fails_after: Option<Dur>,
}

fn default_pull_mibps() -> u64 {
    100
}
fn default_image_size() -> u64 {
    50
}

impl Default for RuntimeModel {
    fn default() -> Self {
        RuntimeModel { image_pull_mi_bps: default_pull_mibps(), default_image_size_mi_b: default_image_size(), images: BTreeMap::new() }
    }
}

impl RuntimeModel {
    pub fn image(&self, image: &str) -> Option<&ImageBehaviour> {
        self.images.get(image)
    }

    /// Time to pull `image` onto a node that does not have it.
    pub fn pull_time(&self, image: &str) -> Duration {
        let size = self.image(image).and_then(|b| b.size_mi_b).unwrap_or(self.default_image_size_mi_b);
        let bps = self.image_pull_mi_bps.max(1);
        Duration::from_nanos(size.saturating_mul(1_000_000_000) / bps)
    }
}
