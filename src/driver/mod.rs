//! What both drivers (the simulator's `sim::World` and live mode's
//! `live::LiveDriver`) share: routing of watch events to components, and
//! (as the driver core grows) slots, caches, relists and effects.

pub mod routes;

pub use routes::{Routes, SlotId, in_scope};
