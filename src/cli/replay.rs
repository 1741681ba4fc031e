//! `kubesim replay DIR`: re-run a recorded run and compare trace hashes.

use std::path::Path;

use super::{CliError, EXIT_CHECK_FAILED, EXIT_OK, load_scenario};
use kubesim::report::output::read_summary;
use kubesim::run::{file_sha256, run_scenario, summarize};

pub fn replay(dir: &Path) -> Result<u8, CliError> {
    let recorded = read_summary(dir).map_err(CliError::input)?;
    // The copy the run directory keeps (the scenario as run), else the
    // original path as it was given.
    let copy = recorded.scenario_copy.as_ref().map(|c| dir.join(c)).filter(|p| p.exists());
    let path_buf = copy.unwrap_or_else(|| Path::new(&recorded.scenario_path).to_path_buf());
    let path = path_buf.as_path();
    let mut scenario = load_scenario(path)?;
    scenario.budget_flags = (recorded.budget_events, recorded.budget_steps);
    println!("seed: {}", recorded.seed);
    if file_sha256(path) != recorded.scenario_sha256 {
        eprintln!("warning: {} changed since the run was recorded; the replay may differ", path.display());
    }
    let until = kubesim::time::parse_duration(&recorded.until).map_err(|e| CliError::input(format!("{}/summary.json: until: {e}", dir.display())))?;
    let outcome = run_scenario(&scenario, recorded.seed, until, false, &mut |_| {}).map_err(|e| CliError::input(e.to_string()))?;
    let now = summarize(&scenario, recorded.seed, until, &outcome, 0.0);
    println!("recorded trace_sha256: {}", recorded.trace_sha256);
    println!("replayed trace_sha256: {}", now.trace_sha256);
    if let Some(v) = now.violations.first() {
        println!("violation: {} at {} (event {}): {}", v.check, v.t, v.event_index, v.message);
    }
    if now.trace_sha256 == recorded.trace_sha256 && now.violations == recorded.violations {
        println!("reproduced: the run replays exactly ({}; {} events)", if recorded.ok { "checks held" } else { "the same violation" }, now.events);
        Ok(EXIT_OK)
    } else {
        println!("NOT reproduced: the trace differs from the recording");
        Ok(EXIT_CHECK_FAILED)
    }
}
