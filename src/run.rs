//! Running a scenario: the world, its components, and the summary.

use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::control::{Component, registry};
use crate::control::scheduler::profile::SchedulerConfig;
use std::sync::Arc;
use crate::report::output::{CheckSummary, Summary, ViolationSummary, headline};
use crate::scenario::Scenario;
use crate::sim::world::{RunOutcome, SimError, World};
use crate::time::{SimTime, format_duration};

/// Every component of a scenario's cluster, from the registry
/// (`control::registry`): the control plane, then each node's components.
pub fn default_components(scenario: &Scenario, seed: u64, config: Arc<SchedulerConfig>) -> Vec<Box<dyn Component>> {
    let mut comps = registry::control_plane(seed, &config, scenario.control_plane_replicas);
    for n in &scenario.nodes {
        comps.extend(registry::per_node(seed, &config, &n.metadata.name));
    }
    comps
}

/// The scheduler and the controllers: one of each, or with `replicas` above
/// 1 that many leader-elected `scheduler-N` and `controller-manager-N`.
pub fn control_plane_components(seed: u64, config: Arc<SchedulerConfig>, replicas: u32) -> Vec<Box<dyn Component>> {
    registry::control_plane(seed, &config, replicas)
}

/// Runs `scenario` with `seed` for `until` of virtual time, with the
/// scenario's scheduler configuration.
pub fn run_scenario(scenario: &Scenario, seed: u64, until: Duration, keep_trace: bool, progress: &mut dyn FnMut(SimTime)) -> Result<RunOutcome, SimError> {
    run_scenario_with(scenario, seed, until, keep_trace, scenario.scheduler.clone(), progress)
}

/// Like `run_scenario` with another scheduler configuration (for `compare`).
pub fn run_scenario_with(scenario: &Scenario, seed: u64, until: Duration, keep_trace: bool, config: Arc<SchedulerConfig>, progress: &mut dyn FnMut(SimTime)) -> Result<RunOutcome, SimError> {
    let explicit = explicit_scenario(scenario, seed).map_err(SimError::Setup)?;
    let scenario = explicit.as_ref();
    let world = World::from_scenario(scenario, seed, SimTime::ZERO + until, default_components(scenario, seed, config), keep_trace)?;
    Ok(world.run(progress))
}

/// The scenario as seed `seed` runs it: a swarm's fault plan drawn and
/// written into the timeline (for running and for the report).
pub fn explicit_scenario(scenario: &Scenario, seed: u64) -> Result<std::borrow::Cow<'_, Scenario>, String> {
    match &scenario.swarm {
        Some(spec) => {
            let plan = crate::scenario::swarm::plan(spec, scenario, seed);
            Ok(std::borrow::Cow::Owned(with_plan(scenario, spec, &plan)?))
        }
        None => Ok(std::borrow::Cow::Borrowed(scenario)),
    }
}

/// The scenario with a fault plan as explicit timeline entries, and
/// liveness checked from when the last fault heals.
pub fn with_plan(scenario: &Scenario, spec: &crate::scenario::swarm::SwarmSpec, plan: &[crate::scenario::swarm::PlannedFault]) -> Result<Scenario, String> {
    let entries: Vec<crate::scenario::TimelineEntry> = plan.iter().flat_map(|f| f.entries.iter().cloned()).collect();
    let mut s = scenario.with_entries(&entries)?;
    s.swarm = None;
    if s.liveness.is_none() {
        s.liveness = Some((crate::scenario::swarm::liveness_from(spec, plan), spec.liveness_within.0));
    }
    Ok(s)
}

/// What `run` does before the first event — nodes and objects created
/// through the API in order — without running: `validate`'s last check.
pub fn check_setup(scenario: &Scenario) -> Result<(), String> {
    let explicit = explicit_scenario(scenario, scenario.seed)?;
    World::from_scenario(explicit.as_ref(), scenario.seed, SimTime::ZERO + scenario.duration, Vec::new(), false).map(|_| ()).map_err(|e| e.to_string())
}

pub fn file_sha256(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn replay_command(scenario: &Scenario, seed: u64, until: Duration) -> String {
    let mut cmd = format!("kubesim run {} --seed {seed}", scenario.path.display());
    if until != scenario.duration {
        cmd.push_str(&format!(" --until {}", format_duration(until)));
    }
    cmd.push_str(&scenario.budget(until).replay_flags());
    cmd
}

pub fn summarize(scenario: &Scenario, seed: u64, until: Duration, outcome: &RunOutcome, wall_seconds: f64) -> Summary {
    Summary {
        kubesim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        scenario_path: scenario.path.display().to_string(),
        scenario_sha256: file_sha256(&scenario.path),
        seed,
        until: format_duration(until),
        ok: outcome.ok(),
        sim_seconds: outcome.end.as_secs_f64(),
        wall_seconds,
        events: outcome.events,
        trace_sha256: outcome.trace_sha256.clone(),
        checks: outcome.checks.iter().map(CheckSummary::from).collect(),
        violations: outcome.violations.iter().map(ViolationSummary::from).collect(),
        stall: outcome.stall.as_ref().map(|s| s.to_string()),
        metrics: headline(outcome),
        component_stats: outcome.component_stats.clone(),
        replay_command: replay_command(scenario, seed, until),
        coverage: outcome.coverage.clone(),
        budget_events: Some(scenario.budget(until).events),
        budget_steps: Some(scenario.budget(until).steps),
        scenario_copy: None,
        pending_pods: crate::report::output::pending_pods(&outcome.final_pods),
    }
}
