//! What both drivers (the simulator's `sim::World` and live mode's
//! `live::LiveDriver`) share: the driver core (component slots, caches,
//! routing, relists, crash/restart, request ids and timeouts) and the API
//! actions of a timeline. They differ only in how time passes and how
//! requests travel.

pub mod actions;
pub mod core;
pub mod routes;

pub use core::{Core, OutOfOrder, REQUEST_TIMEOUT, Sent, Slot, execute, timeout_error};
pub use routes::{Routes, SlotId, in_scope};
