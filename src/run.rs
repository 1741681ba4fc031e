//! Running a scenario: the world, its components, and the summary.

use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::control::Component;
use crate::control::controllers::replicaset::ReplicaSetController;
use crate::report::output::{CheckSummary, Summary, ViolationSummary, headline};
use crate::scenario::Scenario;
use crate::sim::world::{RunOutcome, SimError, World};
use crate::time::{SimTime, format_duration};

/// The control plane a scenario runs with. Later issues add the scheduler,
/// the other controllers and the kubelets here.
pub fn default_components(_seed: u64) -> Vec<Box<dyn Component>> {
    vec![Box::new(ReplicaSetController::new())]
}

/// Runs `scenario` with `seed` for `until` of virtual time.
pub fn run_scenario(scenario: &Scenario, seed: u64, until: Duration, keep_trace: bool, progress: &mut dyn FnMut(SimTime)) -> Result<RunOutcome, SimError> {
    let world = World::from_scenario(scenario, seed, SimTime::ZERO + until, default_components(seed), keep_trace)?;
    Ok(world.run(progress))
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
        replay_command: replay_command(scenario, seed, until),
    }
}
