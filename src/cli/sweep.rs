//! `kubesim sweep`: many seeds, one per thread. Each seed runs in its own
//! world, so its result never depends on what ran beside it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{CliError, EXIT_CHECK_FAILED, EXIT_OK, load_scenario, progress};
use kubesim::run::{replay_command, run_scenario};

#[derive(serde::Serialize)]
struct Row {
    seed: u64,
    ok: bool,
    trace_sha256: String,
    events: u64,
    sim_seconds: f64,
    violations: usize,
    first_violation: String,
    replay: String,
}

pub fn sweep(path: &Path, (first, last): (u64, u64), jobs: Option<usize>, until: Option<Duration>, out: Option<PathBuf>) -> Result<u8, CliError> {
    let scenario = load_scenario(path)?;
    let until = until.unwrap_or(scenario.duration);
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let count = last - first + 1;
    println!("seeds: {first}..{last} ({count} runs, {jobs} jobs)");
    let next = AtomicU64::new(first);
    let rows: Mutex<Vec<Row>> = Mutex::new(Vec::with_capacity(count as usize));
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bar = progress::bar(count, "seeds");
    std::thread::scope(|s| {
        for _ in 0..jobs.min(count as usize) {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed > last {
                        break;
                    }
                    match run_scenario(&scenario, seed, until, false, &mut |_| {}) {
                        Ok(o) => {
                            let first_violation = o
                                .stall
                                .as_ref()
                                .map(|s| s.to_string())
                                .or_else(|| o.violations.first().map(|v| format!("{} at {}: {}", v.check, v.t, v.message)))
                                .unwrap_or_default();
                            let row = Row {
                                seed,
                                ok: o.ok(),
                                trace_sha256: o.trace_sha256.clone(),
                                events: o.events,
                                sim_seconds: o.end.as_secs_f64(),
                                violations: o.violations.len(),
                                first_violation,
                                replay: replay_command(&scenario, seed, until),
                            };
                            if let Ok(mut r) = rows.lock() {
                                r.push(row);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(format!("seed {seed}: {e}"));
                            }
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut rows = rows.into_inner().unwrap_or_default();
    let errors = errors.into_inner().unwrap_or_default();
    if let Some(e) = errors.first() {
        return Err(CliError::input(format!("{}: {e}", path.display())));
    }
    rows.sort_by_key(|r| r.seed);
    for r in &rows {
        println!("seed {:>6} {} {} {:>8} events", r.seed, if r.ok { "ok    " } else { "FAILED" }, &r.trace_sha256[..16], r.events);
    }
    let failing: Vec<&Row> = rows.iter().filter(|r| !r.ok).collect();
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join("runs").join(format!("{}-sweep", scenario.name)));
    std::fs::create_dir_all(&dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let csv_path = dir.join("sweep.csv");
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    for r in &rows {
        w.serialize(r).map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    }
    w.flush().map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    println!("{} of {} seeds passed; sweep.csv: {}", rows.len() - failing.len(), rows.len(), csv_path.display());
    if failing.is_empty() {
        return Ok(EXIT_OK);
    }
    println!("\nfailing seeds:");
    println!("{:>8}  {:<60}  replay", "seed", "first violation");
    for r in &failing {
        let mut v = r.first_violation.clone();
        v.truncate(60);
        println!("{:>8}  {:<60}  {}", r.seed, v, r.replay);
    }
    Ok(EXIT_CHECK_FAILED)
}
