//! The simulation driver: virtual clock, event queue, the simulated etcd
//! and its storage for the API layer, and the trace.

pub mod etcd;
pub mod etcd_faults;
pub mod network;
pub mod queue;
pub mod runtimes;
pub mod storage;
pub mod trace;
pub mod world;
