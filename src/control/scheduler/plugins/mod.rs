//! The in-tree plugins kubesim reproduces, one file each, named as upstream.

pub mod default_binder;
pub mod default_preemption;
pub mod gpu_bin_packing;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod scheduling_gates;
pub mod taint_toleration;

#[cfg(test)]
pub mod testing;
