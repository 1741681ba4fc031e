//! Controllers, one file each: sans-IO components reading informer caches and
//! writing through the API layer.

pub mod deployment;
pub mod garbage_collector;
pub mod node_lifecycle;
pub mod replicaset;
pub mod taint_eviction;
