//! `kubesim sweep`: many seeds, one per thread. Each seed runs in its own
//! world, so its result never depends on what ran beside it. Rows go to
//! sweep.csv as seeds finish (an interrupted sweep keeps what it ran); the
//! finished file is rewritten in seed order.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{CliError, EXIT_CHECK_FAILED, EXIT_OK, load_scenario, progress};
use kubesim::run::{replay_command, run_scenario};

/// The most seeds one sweep runs (a million seeds of a small scenario is
/// hours on a laptop; beyond that split the range).
pub const MAX_SEEDS: u64 = 1_000_000;
/// A seed with more than this many times the median events is flagged.
const STORM_FACTOR: u64 = 3;

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

/// Prints which rules and code paths the sweep exercised, and in how many
/// seeds, and writes coverage.csv; names what it never reached.
fn report_coverage(coverage: &std::collections::BTreeMap<String, (u64, u64)>, seeds: u64, dir: &Path) -> Result<(), CliError> {
    if coverage.is_empty() {
        return Ok(());
    }
    let path = dir.join("coverage.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| csv_error(&path, e))?;
    w.write_record(["counter", "seeds_reached", "seeds", "total"]).map_err(|e| csv_error(&path, e))?;
    println!("\ncoverage (seeds that reached it of {seeds}, total count):");
    let mut never = Vec::new();
    for (k, (reached, total)) in coverage {
        w.write_record([k.as_str(), &reached.to_string(), &seeds.to_string(), &total.to_string()]).map_err(|e| csv_error(&path, e))?;
        if *reached == 0 {
            never.push(k.as_str());
        } else {
            println!("  {k:<52} {reached:>7}/{seeds:<7} {total:>10}");
        }
    }
    w.flush().map_err(|e| csv_error(&path, e))?;
    if never.is_empty() {
        println!("every counter moved in some seed; coverage.csv: {}", path.display());
    } else {
        println!("NEVER REACHED in this sweep ({}): {}", never.len(), never.join(", "));
        println!("coverage.csv: {}", path.display());
    }
    Ok(())
}

fn csv_error(p: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::input(format!("cannot write {}: {e}", p.display()))
}

pub fn sweep(path: &Path, (first, last): (u64, u64), jobs: Option<usize>, until: Option<Duration>, out: Option<PathBuf>, fail_fast: bool, budget: super::BudgetArgs) -> Result<u8, CliError> {
    // How many seeds, without overflow (0..u64::MAX is 2^64 seeds).
    let count = (last - first).checked_add(1).filter(|&n| n <= MAX_SEEDS).ok_or_else(|| {
        CliError::input(format!("--seeds {first}..{last} is {} seeds; one sweep runs at most {MAX_SEEDS} (split the range)", u128::from(last - first) + 1))
    })?;
    let mut scenario = load_scenario(path)?;
    budget.apply(&mut scenario);
    let until = until.unwrap_or(scenario.duration);
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join("runs").join(format!("{}-sweep", scenario.name)));
    std::fs::create_dir_all(&dir).map_err(|e| CliError::input(format!("cannot write outputs into {}: {e}", dir.display())))?;
    let csv_path = dir.join("sweep.csv");
    let live = csv::Writer::from_path(&csv_path).map_err(|e| csv_error(&csv_path, e))?;
    println!("seeds: {first}..{last} ({count} runs, {jobs} jobs)");
    // Seeds are handed out by index, so the last seed being u64::MAX cannot overflow.
    let next = AtomicU64::new(0);
    // --fail-fast: once a seed fails, no new seed starts.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rows: Mutex<Vec<Row>> = Mutex::new(Vec::new());
    let live = Mutex::new(live);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Coverage: per counter, the seeds that moved it and its total (sums: independent of finishing order).
    let coverage: Mutex<std::collections::BTreeMap<String, (u64, u64)>> = Mutex::new(Default::default());
    let write_errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bar = progress::bar(count, "seeds");
    std::thread::scope(|s| {
        for _ in 0..(jobs as u64).min(count) {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    let seed = first + i;
                    match run_scenario(&scenario, seed, until, false, &mut |_| {}) {
                        Ok(o) => {
                            let first_violation = o
                                .stall
                                .as_ref()
                                .map(|s| s.to_string())
                                .or_else(|| o.violations.first().map(|v| format!("{} at {}: {}", v.check, v.t, v.message)))
                                .or_else(|| o.checks.iter().find_map(|c| c.not_evaluated.as_ref().map(|why| format!("{} not evaluated: {why}", c.name))))
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
                            if let Ok(mut w) = live.lock()
                                && let Err(e) = w.serialize(&row).and_then(|_| w.flush().map_err(csv::Error::from))
                                && let Ok(mut errs) = write_errors.lock()
                            {
                                errs.push(e.to_string());
                            }
                            if let Ok(mut c) = coverage.lock() {
                                for (k, v) in &o.coverage {
                                    let e = c.entry(k.clone()).or_default();
                                    e.0 += u64::from(*v > 0);
                                    e.1 += v;
                                }
                            }
                            if fail_fast && !row.ok {
                                stop.store(true, Ordering::SeqCst);
                            }
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
    if let Some(e) = write_errors.into_inner().unwrap_or_default().first() {
        return Err(csv_error(&csv_path, e));
    }
    rows.sort_by_key(|r| r.seed);
    // Events per seed: a seed far above the median is a storm worth a look even when it passed.
    let mut counts: Vec<u64> = rows.iter().map(|r| r.events).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    for r in &rows {
        let storm = if median > 0 && r.events > STORM_FACTOR * median { "  storm? (events > 3× median)" } else { "" };
        println!("seed {:>6} {} {} {:>8} events{storm}", r.seed, if r.ok { "ok    " } else { "FAILED" }, &r.trace_sha256[..16], r.events);
    }
    if let Some(max) = rows.iter().max_by_key(|r| r.events) {
        println!("events per seed: median {median}, max {} (seed {})", max.events, max.seed);
    }
    let failing: Vec<&Row> = rows.iter().filter(|r| !r.ok).collect();
    // The finished file, in seed order: written aside, then moved over the streamed one.
    let sorted_path = dir.join("sweep.csv.tmp");
    let mut w = csv::Writer::from_path(&sorted_path).map_err(|e| csv_error(&sorted_path, e))?;
    for r in &rows {
        w.serialize(r).map_err(|e| csv_error(&sorted_path, e))?;
    }
    w.into_inner().map_err(|e| csv_error(&sorted_path, e))?.flush().map_err(|e| csv_error(&sorted_path, e))?;
    std::fs::rename(&sorted_path, &csv_path).map_err(|e| csv_error(&csv_path, e))?;
    let coverage = coverage.into_inner().unwrap_or_default();
    report_coverage(&coverage, rows.len() as u64, &dir)?;
    println!("{} of {} seeds passed; sweep.csv: {}", rows.len() - failing.len(), rows.len(), csv_path.display());
    if (rows.len() as u64) < count {
        println!("--fail-fast: stopped after {} of {count} seeds at the first failure", rows.len());
    }
    if failing.is_empty() {
        return Ok(EXIT_OK);
    }
    println!("\nfailing seeds:");
    println!("{:>8}  {:<60}  replay", "seed", "first violation");
    for r in &failing {
        let v: String = r.first_violation.chars().take(60).collect();
        println!("{:>8}  {:<60}  {}", r.seed, v, r.replay);
    }
    if let Some(r) = failing.first() {
        println!("\nfirst failing seed: {}\nreplay: {}", r.seed, r.replay);
    }
    Ok(EXIT_CHECK_FAILED)
}
