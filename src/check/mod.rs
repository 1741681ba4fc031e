//! Checks: safety invariants evaluated as the run goes, and scenario
//! expectations at given times. A violation carries what a person needs to
//! find it again: virtual time, event index, objects involved.

pub mod count;
pub mod deployment_bounds;
pub mod eviction_timing;
pub mod invariants;
pub mod liveness;

use serde::Serialize;

use crate::time::SimTime;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The check's name (`watch-order`, `action-failed`, or a scenario check's name).
    pub check: String,
    #[serde(serialize_with = "ser_time")]
    pub t: SimTime,
    /// Index of the trace event at which it was found.
    pub event_index: u64,
    pub message: String,
    pub objects: Vec<String>,
}

pub fn ser_time<S: serde::Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

/// One scenario check's outcome, for the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    #[serde(serialize_with = "ser_time")]
    pub at: SimTime,
    pub ok: bool,
    pub observed: i64,
    pub expected: String,
}
