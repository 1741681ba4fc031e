//! Checks: safety invariants evaluated as the run goes, and scenario
//! expectations at given times. A violation carries what a person needs to
//! find it again: virtual time, event index, objects involved.

pub mod count;
pub mod deployment_bounds;
pub mod duplicate_container;
pub mod eviction_rate;
pub mod eviction_timing;
pub mod leader_lease;
pub mod liveness;
pub mod node_capacity;
pub mod node_name_immutable;
pub mod one_running_instance;
pub mod replica_creates;
pub mod revision_order;
pub mod spec;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub mod untolerated_taint_bind;

use serde::Serialize;

use crate::api::WatchEvent;
use crate::runtime::PodIdentity;
use crate::time::SimTime;

/// When and where a committed change happened, and whose write it was.
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a> {
    pub now: SimTime,
    /// Index of the trace event being checked.
    pub index: u64,
    /// The component whose write committed (`scenario` for timeline actions).
    pub actor: &'a str,
}

/// A container that has just started running on a node.
#[derive(Clone, Copy, Debug)]
pub struct ContainerStart<'a> {
    pub now: SimTime,
    pub index: u64,
    pub node: &'a str,
    pub pod: &'a PodIdentity,
    pub container: &'a str,
}

/// What a runtime checker may ask of all nodes' container runtimes.
pub trait Runtimes {
    /// A node other than `except` where pod `namespace/name` has a running
    /// container, with that pod's uid there.
    fn running_elsewhere(&self, namespace: &str, name: &str, except: &str) -> Option<(String, String)>;
    /// How many containers named `container` of pod `pod_uid` run on `node`.
    fn running_copies(&self, node: &str, pod_uid: &str, container: &str) -> usize;
}

/// A safety invariant, checked as the run goes, against ground truth (the
/// store's committed changes, the runtimes' containers), never a cache.
pub trait Checker {
    fn name(&self) -> &'static str;
    /// A change committed to the store.
    fn on_commit(&mut self, _at: &Commit, _ev: &WatchEvent, _out: &mut Vec<Violation>) {}
    /// A container started.
    fn on_container_start(&mut self, _at: &ContainerStart, _runtimes: &dyn Runtimes, _out: &mut Vec<Violation>) {}
    /// How often each of its rules was put to the test (a sweep's coverage
    /// report: a rule never exercised is a rule the sweep cannot break).
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Every always-on invariant, in the order their violations are reported.
pub fn default_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(deployment_bounds::DeploymentBounds::default()),
        Box::new(eviction_timing::EvictionTiming::new()),
        Box::new(revision_order::RevisionOrder::default()),
        Box::new(node_name_immutable::NodeNameImmutable::default()),
        Box::new(untolerated_taint_bind::UntoleratedTaintBind::default()),
        Box::new(node_capacity::NodeCapacity::default()),
        Box::new(duplicate_container::DuplicateContainer::default()),
        Box::new(one_running_instance::OneRunningInstance::default()),
        Box::new(eviction_rate::EvictionRate::default()),
        Box::new(leader_lease::LeaderLease::default()),
        Box::new(replica_creates::ReplicaCreates::default()),
    ]
}

/// A violation at a checker's moment.
pub fn violation(check: &str, now: SimTime, index: u64, message: String, objects: Vec<String>) -> Violation {
    Violation { check: check.into(), t: now, event_index: index, message, objects }
}

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
    /// Why the run never evaluated this check (its time falls after the
    /// run's end, or the run stopped first); such a check is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_evaluated: Option<String>,
}
