//! Controllers, one file each: sans-IO components reading informer caches and
//! writing through the API layer.

pub mod replicaset;
