//! The simulation driver: virtual clock, event queue, simulated etcd,
//! latency distributions and seeded randomness.

pub mod etcd;
pub mod latency;
pub mod queue;
pub mod trace;
pub mod world;
pub mod rng;
