//! The plugin registry: every plugin a profile may name, how to build it from
//! its args, and its default score weight. A custom policy is one file in
//! `plugins/` plus one entry here.

use std::sync::Arc;

use super::framework::Plugin;
use super::plugins::*;
use crate::yamlpos::PathSeg;

/// A plugin's decoded `pluginConfig` args.
pub enum PluginArgs {
    NodeResourcesFit(node_resources_fit::FitArgs),
    BalancedAllocation(node_resources_balanced_allocation::BalancedAllocationArgs),
    NodeAffinity(node_affinity::NodeAffinityArgs),
    PodTopologySpread(pod_topology_spread::PodTopologySpreadArgs),
    InterPodAffinity(inter_pod_affinity::InterPodAffinityArgs),
    DefaultPreemption(default_preemption::DefaultPreemptionArgs),
    GpuBinPacking(gpu_bin_packing::GpuBinPackingArgs),
}

pub struct Entry {
    pub name: &'static str,
    /// Builds the plugin; `None` means default args.
    pub build: fn(Option<PluginArgs>) -> Result<Arc<dyn Plugin>, String>,
    /// Decodes `args` found at `path` in the config text (positions kept).
    pub decode_args: Option<fn(&str, &[PathSeg]) -> Result<Option<PluginArgs>, serde_yaml::Error>>,
}

macro_rules! decode {
    ($variant:ident, $ty:ty) => {
        Some(|text: &str, path: &[PathSeg]| {
            crate::yamlpos::decode_at(text, 0, path, std::marker::PhantomData::<$ty>).map(|o| o.map(PluginArgs::$variant))
        })
    };
}

fn arg<T: Default>(a: Option<PluginArgs>, pick: fn(PluginArgs) -> Option<T>) -> T {
    a.and_then(pick).unwrap_or_default()
}

pub fn registry() -> Vec<Entry> {
    vec![
        Entry { name: scheduling_gates::NAME, build: |_| Ok(Arc::new(scheduling_gates::SchedulingGates)), decode_args: None },
        Entry { name: priority_sort::NAME, build: |_| Ok(Arc::new(priority_sort::PrioritySort)), decode_args: None },
        Entry { name: node_unschedulable::NAME, build: |_| Ok(Arc::new(node_unschedulable::NodeUnschedulable)), decode_args: None },
        Entry { name: node_name::NAME, build: |_| Ok(Arc::new(node_name::NodeName)), decode_args: None },
        Entry { name: taint_toleration::NAME, build: |_| Ok(Arc::new(taint_toleration::TaintToleration)), decode_args: None },
        Entry {
            name: node_affinity::NAME,
            build: |a| Ok(Arc::new(node_affinity::NodeAffinity::new(arg(a, |a| if let PluginArgs::NodeAffinity(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(NodeAffinity, node_affinity::NodeAffinityArgs),
        },
        Entry { name: node_ports::NAME, build: |_| Ok(Arc::new(node_ports::NodePorts)), decode_args: None },
        Entry {
            name: node_resources_fit::NAME,
            build: |a| Ok(Arc::new(node_resources_fit::NodeResourcesFit::new(arg(a, |a| if let PluginArgs::NodeResourcesFit(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(NodeResourcesFit, node_resources_fit::FitArgs),
        },
        Entry {
            name: pod_topology_spread::NAME,
            build: |a| Ok(Arc::new(pod_topology_spread::PodTopologySpread::new(arg(a, |a| if let PluginArgs::PodTopologySpread(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(PodTopologySpread, pod_topology_spread::PodTopologySpreadArgs),
        },
        Entry {
            name: inter_pod_affinity::NAME,
            build: |a| Ok(Arc::new(inter_pod_affinity::InterPodAffinity::new(arg(a, |a| if let PluginArgs::InterPodAffinity(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(InterPodAffinity, inter_pod_affinity::InterPodAffinityArgs),
        },
        Entry {
            name: default_preemption::NAME,
            build: |a| Ok(Arc::new(default_preemption::DefaultPreemption::new(arg(a, |a| if let PluginArgs::DefaultPreemption(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(DefaultPreemption, default_preemption::DefaultPreemptionArgs),
        },
        Entry {
            name: node_resources_balanced_allocation::NAME,
            build: |a| {
                Ok(Arc::new(node_resources_balanced_allocation::BalancedAllocation::new(arg(a, |a| if let PluginArgs::BalancedAllocation(x) = a { Some(x) } else { None }))?))
            },
            decode_args: decode!(BalancedAllocation, node_resources_balanced_allocation::BalancedAllocationArgs),
        },
        Entry { name: image_locality::NAME, build: |_| Ok(Arc::new(image_locality::ImageLocality)), decode_args: None },
        Entry { name: default_binder::NAME, build: |_| Ok(Arc::new(default_binder::DefaultBinder)), decode_args: None },
        Entry {
            name: gpu_bin_packing::NAME,
            build: |a| Ok(Arc::new(gpu_bin_packing::GpuBinPacking::new(arg(a, |a| if let PluginArgs::GpuBinPacking(x) = a { Some(x) } else { None }))?)),
            decode_args: decode!(GpuBinPacking, gpu_bin_packing::GpuBinPackingArgs),
        },
    ]
}

/// kube-scheduler's default plugins (v1.34 `getDefaultPlugins`, multiPoint),
/// with their score weights, minus the volume and DRA plugins kubesim does not model.
pub const DEFAULT_MULTI_POINT: &[(&str, i64)] = &[
    (scheduling_gates::NAME, 0),
    (priority_sort::NAME, 0),
    (node_unschedulable::NAME, 0),
    (node_name::NAME, 0),
    (taint_toleration::NAME, 3),
    (node_affinity::NAME, 2),
    (node_ports::NAME, 0),
    (node_resources_fit::NAME, 1),
    (pod_topology_spread::NAME, 2),
    (inter_pod_affinity::NAME, 2),
    (default_preemption::NAME, 0),
    (node_resources_balanced_allocation::NAME, 1),
    (image_locality::NAME, 1),
    (default_binder::NAME, 0),
];
