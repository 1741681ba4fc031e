//! kubesim: a deterministic discrete-event simulator of a Kubernetes cluster.
//!
//! Components (scheduler, controllers, kubelets) are sans-IO state machines:
//! they take `now`, an input and a read-only view, and return effects. Two
//! drivers run them: `sim` (virtual time, simulated etcd, seeded randomness)
//! and, later, `live` (tokio, real etcd and containerd).

pub mod api;
pub mod check;
pub mod control;
pub mod driver;
pub mod hash;
pub mod latency;
#[cfg(feature = "live")]
pub mod live;
pub mod model;
pub mod mutants;
pub mod report;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod seed;
pub mod sim;
pub mod time;
pub mod yaml_index;
pub mod yamlpos;

#[cfg(test)]
mod testutil;
