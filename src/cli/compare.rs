//! `kubesim compare`: the same scenario and seeds under each scheduler configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{CliError, EXIT_OK, load_scenario, progress};
use kubesim::control::scheduler::profile;
use kubesim::report::compare::{measure, svg, table};
use kubesim::run::run_scenario_with;

pub fn compare(path: &Path, configs: &[PathBuf], seeds: Option<(u64, u64)>, out: Option<PathBuf>) -> Result<u8, CliError> {
    if configs.len() < 2 {
        return Err(CliError::input("compare needs at least two --config files"));
    }
    let scenario = load_scenario(path)?;
    let (first, last) = seeds.unwrap_or((scenario.seed, scenario.seed));
    let loaded: Vec<(String, Arc<profile::SchedulerConfig>)> = configs
        .iter()
        .map(|c| {
            let name = c.file_stem().map_or_else(|| c.display().to_string(), |s| s.to_string_lossy().to_string());
            kubesim::scenario::read_scheduler_config(c).map(|cfg| (name, Arc::new(cfg)))
        })
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = loaded.iter().map(|(n, _)| n.clone()).collect();
    println!("seeds: {first}..{last}");
    let bar = progress::bar((last - first + 1) * loaded.len() as u64, "runs");
    let mut all = Vec::new();
    for (name, cfg) in &loaded {
        for seed in first..=last {
            let o = run_scenario_with(&scenario, seed, scenario.duration, false, cfg.clone(), &mut |_| {}).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
            all.push(measure(name, &o));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    print!("{}", table(&names, &all));
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join("runs").join(format!("{}-compare", scenario.name)));
    std::fs::create_dir_all(&dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let csv_path = dir.join("compare.csv");
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    for m in &all {
        w.serialize(m).map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    }
    w.flush().map_err(|e| CliError::input(format!("{}: {e}", csv_path.display())))?;
    let svg_path = dir.join("compare.svg");
    std::fs::write(&svg_path, svg(&scenario.name, &names, &all)).map_err(|e| CliError::input(format!("{}: {e}", svg_path.display())))?;
    println!("compare.csv: {}\ncompare.svg: {}", csv_path.display(), svg_path.display());
    Ok(EXIT_OK)
}
