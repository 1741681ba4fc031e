//! `kubesim run`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, load_scenario, progress};
use kubesim::report::output::write_run;
use kubesim::run::{run_scenario, summarize};

pub fn default_out(name: &str, seed: u64) -> PathBuf {
    PathBuf::from("results").join("runs").join(format!("{name}-seed{seed}"))
}

pub fn run(path: &Path, seed: Option<u64>, until: Option<Duration>, out: Option<PathBuf>, budget: super::BudgetArgs) -> Result<u8, CliError> {
    let bar = progress::bar(0, "sim-s");
    bar.set_message("loading the scenario");
    let mut scenario = load_scenario(path).inspect_err(|_| bar.finish_and_clear())?;
    budget.apply(&mut scenario);
    let seed = seed.unwrap_or(scenario.seed);
    let until = until.unwrap_or(scenario.duration);
    bar.suspend(|| println!("seed: {seed}"));
    if let Some(spec) = &scenario.swarm {
        let plan = kubesim::scenario::swarm::plan(spec, &scenario, seed);
        bar.suspend(|| {
            println!("fault plan ({} faults):", plan.len());
            for f in &plan {
                println!("  {}", f.describe());
            }
        });
    }
    bar.set_length(until.as_secs().max(1));
    bar.set_message(format!("building {} nodes", scenario.nodes.len()));
    let started = std::time::Instant::now(); // determinism-ok: wall time is only reported, never fed to the simulation
    let outcome = run_scenario(&scenario, seed, until, true, &mut |t| {
        if t.as_secs_f64() > 0.0 {
            bar.set_message("");
        }
        bar.set_position(t.as_secs_f64() as u64)
    })
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
        .inspect_err(|_| bar.finish_and_clear())?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let mut summary = summarize(&scenario, seed, until, &outcome, wall);
    let dir = out.unwrap_or_else(|| default_out(&scenario.name, seed));
    std::fs::create_dir_all(&dir).map_err(|e| CliError { code: EXIT_BAD_INPUT, message: format!("cannot write outputs into {}: {e}", dir.display()) })?;
    summary.scenario_copy = kubesim::report::output::copy_scenario(&dir, &scenario).map_err(|e| CliError { code: EXIT_BAD_INPUT, message: format!("cannot write outputs: {e}") })?;
    write_run(&dir, &summary, &outcome).map_err(|e| CliError { code: EXIT_BAD_INPUT, message: format!("cannot write outputs: {e}") })?;
    let explicit = kubesim::run::explicit_scenario(&scenario, seed).map_err(CliError::input)?;
    kubesim::report::output::write_report(&dir, &explicit, &summary, &outcome).map_err(|e| CliError { code: EXIT_BAD_INPUT, message: format!("cannot write the report: {e}") })?;
    println!("scenario: {} ({})", summary.scenario, summary.scenario_path);
    println!("simulated: {} in {wall:.3}s wall, {} events", kubesim::time::format_duration(until), summary.events);
    println!("budget: {} of {} events, {} of {} steps", outcome.events, outcome.budget.events, outcome.steps, outcome.budget.steps);
    let m = &summary.metrics;
    println!("cluster: {} nodes ({} ready), {} pods ({} pending, {} running, {} bound)", m.nodes, m.nodes_ready, m.pods, m.pods_pending, m.pods_running, m.pods_bound);
    const SHOWN: usize = 5;
    for p in summary.pending_pods.iter().take(SHOWN) {
        println!("pending at the end: {}: {}: {}", p.pod, p.reason, p.message);
    }
    if summary.pending_pods.len() > SHOWN {
        println!("pending at the end: … and {} more (summary.json lists them all)", summary.pending_pods.len() - SHOWN);
    }
    for c in &summary.checks {
        match &c.not_evaluated {
            Some(why) => println!("check {}: NOT EVALUATED: {why}", c.name),
            None => println!("check {}: {} at {} (observed {}, expected {})", c.name, if c.ok { "ok" } else { "FAILED" }, c.at, c.observed, c.expected),
        }
    }
    println!("trace_sha256: {}", summary.trace_sha256);
    println!("outputs: {}", dir.display());
    if let Some(stall) = &summary.stall {
        println!("FAILED: {stall}");
        println!("replay: {}", summary.replay_command);
        return Ok(EXIT_CHECK_FAILED);
    }
    if let Some(v) = summary.violations.first() {
        println!("FAILED: {} at {} (event {}): {}", v.check, v.t, v.event_index, v.message);
        if !v.objects.is_empty() {
            println!("  objects: {}", v.objects.join(", "));
        }
        println!("  seed: {seed}");
        println!("  replay: {}", summary.replay_command);
        return Ok(EXIT_CHECK_FAILED);
    }
    let unevaluated: Vec<&str> = summary.checks.iter().filter(|c| c.not_evaluated.is_some()).map(|c| c.name.as_str()).collect();
    if !unevaluated.is_empty() {
        println!("FAILED: {} of {} checks not evaluated: {}", unevaluated.len(), summary.checks.len(), unevaluated.join(", "));
        println!("  replay: {}", summary.replay_command);
        return Ok(EXIT_CHECK_FAILED);
    }
    if !summary.ok {
        // A failed check without a violation cannot happen (each failed check
        // records one), but never print ok for a run that is not.
        println!("FAILED");
        return Ok(EXIT_CHECK_FAILED);
    }
    println!("ok");
    Ok(EXIT_OK)
}
