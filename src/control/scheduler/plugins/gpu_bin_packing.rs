//! GpuBinPacking — kubesim's worked example of a custom policy (not an
//! upstream plugin). Score only:
//! - a pod that requests the GPU resource prefers the node whose GPUs would be
//!   fullest after placing it (bin-packing keeps whole nodes free for big jobs);
//! - a pod that requests no GPU prefers nodes without GPUs, so GPU nodes stay
//!   free for GPU work.
//!
//! Enable it in a profile like any plugin:
//! `plugins: {score: {enabled: [{name: GpuBinPacking, weight: 5}]}}` with
//! `pluginConfig: [{name: GpuBinPacking, args: {resourceName: nvidia.com/gpu}}]`.

use serde::Deserialize;

use crate::control::scheduler::framework::*;

pub const NAME: &str = "GpuBinPacking";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GpuBinPackingArgs {
    #[serde(default = "nvidia")]
    pub resource_name: String,
}

fn nvidia() -> String {
    "nvidia.com/gpu".into()
}

impl Default for GpuBinPackingArgs {
    fn default() -> Self {
        GpuBinPackingArgs { resource_name: nvidia() }
    }
}

pub struct GpuBinPacking {
    resource: String,
}

impl GpuBinPacking {
    pub fn new(args: GpuBinPackingArgs) -> Result<GpuBinPacking, String> {
        if !args.resource_name.contains('/') {
            return Err(format!("resourceName: Invalid value: {:?}: must be an extended resource such as nvidia.com/gpu", args.resource_name));
        }
        Ok(GpuBinPacking { resource: args.resource_name })
    }
}

crate::extends!(GpuBinPacking, NAME, [score]);

impl ScorePlugin for GpuBinPacking {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        let capacity = node.allocatable.get(&self.resource);
        let wanted = pod.requests.get(&self.resource);
        if wanted == 0 {
            return Ok(if capacity == 0 { MAX_NODE_SCORE } else { MIN_NODE_SCORE });
        }
        if capacity == 0 {
            return Ok(MIN_NODE_SCORE);
        }
        let used = (node.requested.get(&self.resource) + wanted).min(capacity);
        Ok(used * MAX_NODE_SCORE / capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;

    #[test]
    fn packs_gpu_pods_and_keeps_cpu_pods_off_gpu_nodes() {
        let plugin = GpuBinPacking::new(GpuBinPackingArgs::default()).unwrap();
        let nodes = vec![
            node("cpu-only", &[("cpu", "8"), ("pods", "110")]),
            node("gpu-empty", &[("cpu", "8"), ("pods", "110"), ("nvidia.com/gpu", "8")]),
            node("gpu-busy", &[("cpu", "8"), ("pods", "110"), ("nvidia.com/gpu", "8")]),
        ];
        let busy = on(pod("train", &[&[("nvidia.com/gpu", "4")]]), "gpu-busy");
        let snap = snapshot(nodes, vec![busy]);
        // 2 GPUs: empty node → 2/8 = 25; busy node → 6/8 = 75.
        assert_eq!(run_score(&plugin, &pod("p", &[&[("nvidia.com/gpu", "2")]]), &snap), Some(vec![0, 25, 75]));
        assert_eq!(run_score(&plugin, &pod("web", &[&[("cpu", "1")]]), &snap), Some(vec![100, 0, 0]));
        assert!(GpuBinPacking::new(GpuBinPackingArgs { resource_name: "gpu".into() }).is_err());
    }
}
