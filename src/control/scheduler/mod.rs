//! The scheduler: kube-scheduler's framework as a sans-IO component.
//!
//! - `framework`: node infos, snapshot, statuses, one trait per extension point;
//! - `plugins/`: the in-tree plugins, one file each, tests ported from upstream;
//! - `resources`: pod requests and node sums as the plugins read them.

pub mod component;
pub mod cycle;
pub mod explain;
pub mod framework;
pub mod plugins;
pub mod profile;
pub mod registry;
pub mod resources;
