//! `kubesim shrink SCENARIO --seed N`: cuts a failing swarm seed's fault plan
//! down (delta debugging, ddmin) to the fewest faults that still fail the
//! same check, and writes them as an explicit scenario that fails by itself.

use std::path::{Path, PathBuf};

use super::{CliError, EXIT_CHECK_FAILED, load_scenario};
use kubesim::run::{run_scenario, with_plan};
use kubesim::scenario::Scenario;
use kubesim::scenario::swarm::{self, PlannedFault, SwarmSpec};
use kubesim::time::format_duration;

/// The first thing that failed: a check or invariant name, or "stall".
fn failure(s: &Scenario, spec: &SwarmSpec, plan: &[PlannedFault], seed: u64) -> Result<Option<String>, CliError> {
    let explicit = with_plan(s, spec, plan).map_err(CliError::input)?;
    let outcome = run_scenario(&explicit, seed, explicit.duration, false, &mut |_| {}).map_err(|e| CliError::input(e.to_string()))?;
    if let Some(v) = outcome.violations.first() {
        return Ok(Some(v.check.clone()));
    }
    Ok(outcome.stall.map(|_| "stall".to_string()))
}

/// ddmin over the plan's faults: the smallest subset (1-minimal) that still fails with `signature`.
fn ddmin(s: &Scenario, spec: &SwarmSpec, plan: Vec<PlannedFault>, seed: u64, signature: &str, runs: &mut u32) -> Result<Vec<PlannedFault>, CliError> {
    let mut current = plan;
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(n);
        let mut reduced = false;
        for i in 0..n {
            let start = i * chunk;
            if start >= current.len() {
                break;
            }
            let end = (start + chunk).min(current.len());
            let candidate: Vec<PlannedFault> = current[..start].iter().chain(&current[end..]).cloned().collect();
            *runs += 1;
            if failure(s, spec, &candidate, seed)?.as_deref() == Some(signature) {
                current = candidate;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    if current.len() == 1 {
        *runs += 1;
        if failure(s, spec, &[], seed)?.as_deref() == Some(signature) {
            current.clear();
        }
    }
    Ok(current)
}

pub fn shrink(path: &Path, seed: u64, out: Option<PathBuf>) -> Result<u8, CliError> {
    let scenario = load_scenario(path)?;
    let Some(spec) = scenario.swarm.clone() else {
        return Err(CliError::input(format!("{}: has no `swarm` section; shrink minimises the fault plan a swarm scenario draws for a seed", path.display())));
    };
    println!("seed: {seed}");
    let plan = swarm::plan(&spec, &scenario, seed);
    println!("fault plan: {} faults", plan.len());
    let Some(signature) = failure(&scenario, &spec, &plan, seed)? else {
        return Err(CliError::input(format!("{} passes with seed {seed}: nothing to shrink", path.display())));
    };
    println!("fails: {signature}");
    let mut runs = 1;
    let small = ddmin(&scenario, &spec, plan.clone(), seed, &signature, &mut runs)?;
    println!("shrunk to {} of {} faults in {runs} runs:", small.len(), plan.len());
    for f in &small {
        println!("  {}", f.describe());
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let dest = out.unwrap_or_else(|| path.with_file_name(format!("{stem}-seed{seed}-shrunk.yaml")));
    let text = std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    let Some(m) = doc.as_mapping_mut() else { return Err(CliError::input(format!("{}: not a mapping", path.display()))) };
    m.remove("swarm");
    m.insert("name".into(), format!("{}-seed{seed}-shrunk", scenario.name).into());
    m.insert("seed".into(), seed.into());
    m.insert("description".into(), format!("{} seed {seed}, shrunk to {} fault(s); fails {signature}.", scenario.name, small.len()).into());
    if !m.contains_key("liveness") {
        let mut lv = serde_yaml::Mapping::new();
        lv.insert("at".into(), format_duration(swarm::liveness_from(&spec, &small)).into());
        lv.insert("within".into(), format_duration(spec.liveness_within.0).into());
        m.insert("liveness".into(), serde_yaml::Value::Mapping(lv));
    }
    let mut timeline = m.get("timeline").and_then(|t| t.as_sequence()).cloned().unwrap_or_default();
    timeline.extend(small.iter().flat_map(|f| f.entries.iter()).map(|e| serde_yaml::to_value(e).unwrap_or(serde_yaml::Value::Null)));
    m.insert("timeline".into(), serde_yaml::Value::Sequence(timeline));
    // Written elsewhere, the files the scenario names are named by absolute
    // path (they are relative to the scenario's own directory).
    let src_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dest_dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if std::fs::canonicalize(src_dir).ok() != std::fs::canonicalize(dest_dir).ok()
        && let Some(m) = doc.as_mapping_mut()
    {
        let base = std::fs::canonicalize(src_dir).map_err(|e| CliError::input(format!("{}: {e}", src_dir.display())))?;
        rebase_paths(m, &base);
    }
    let body = serde_yaml::to_string(&doc).map_err(|e| CliError::input(e.to_string()))?;
    let header = format!("# Written by `kubesim shrink {} --seed {seed}`: the faults that seed drew,\n# cut down to those still needed to fail `{signature}`.\n", path.display());
    std::fs::write(&dest, header + &body).map_err(|e| CliError::input(format!("cannot write {}: {e}", dest.display())))?;
    // The written file must fail by itself, the same way.
    let written = load_scenario(&dest)?;
    let outcome = run_scenario(&written, seed, written.duration, false, &mut |_| {}).map_err(|e| CliError::input(e.to_string()))?;
    let again = outcome.violations.first().map(|v| v.check.clone()).or(outcome.stall.map(|_| "stall".into()));
    if again.as_deref() != Some(signature.as_str()) {
        return Err(CliError { code: EXIT_CHECK_FAILED, message: format!("{} does not reproduce `{signature}` (got {again:?})", dest.display()) });
    }
    println!("wrote {} (fails `{signature}` by itself)", dest.display());
    println!("replay: kubesim run {} --seed {seed}", dest.display());
    Ok(super::EXIT_OK)
}

/// Makes the relative file paths a scenario names (objects[].file,
/// timeline[].apply.file, scheduler.config) absolute against `base`.
fn rebase_paths(m: &mut serde_yaml::Mapping, base: &Path) {
    let fix = |v: &mut serde_yaml::Value| {
        if let Some(s) = v.as_str()
            && Path::new(s).is_relative()
        {
            *v = base.join(s).display().to_string().into();
        }
    };
    let file_of = |item: &mut serde_yaml::Value, key: Option<&str>| {
        let target = match key {
            Some(k) => item.get_mut(k),
            None => Some(item),
        };
        if let Some(f) = target.and_then(|t| t.get_mut("file")) {
            fix(f);
        }
    };
    if let Some(seq) = m.get_mut("objects").and_then(|o| o.as_sequence_mut()) {
        seq.iter_mut().for_each(|o| file_of(o, None));
    }
    if let Some(seq) = m.get_mut("timeline").and_then(|o| o.as_sequence_mut()) {
        seq.iter_mut().for_each(|e| file_of(e, Some("apply")));
    }
    if let Some(c) = m.get_mut("scheduler").and_then(|s| s.get_mut("config")) {
        fix(c);
    }
}
