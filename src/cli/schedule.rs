//! `kubesim schedule`: one scheduling decision, explained.

use std::path::PathBuf;

use super::{CliError, EXIT_CHECK_FAILED, EXIT_OK};
use kubesim::control::scheduler::explain::{explain, render_table, snapshot_from};
use kubesim::control::scheduler::profile::SchedulerConfig;
use kubesim::model::Kind;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Output {
    Json,
    Table,
}

pub fn schedule(cluster: &[PathBuf], pod: &PathBuf, config: Option<&PathBuf>, output: Output, seed: u64) -> Result<u8, CliError> {
    let mut objects = Vec::new();
    for f in cluster {
        let m = kubesim::scenario::read_manifests(f)?;
        for w in &m.warnings {
            eprintln!("{w}");
        }
        objects.extend(m.objects);
    }
    let pods = kubesim::scenario::read_manifests(pod)?;
    for w in &pods.warnings {
        eprintln!("{w}");
    }
    let target = match pods.objects.as_slice() {
        [one] if one.object.kind() == Kind::Pod => one,
        _ => return Err(CliError::input(format!("{}: expected exactly one Pod manifest, found {} object(s)", pod.display(), pods.objects.len()))),
    };
    kubesim::api::rules::dry_run_create(&target.object).map_err(|e| CliError::input(format!("{}:{}:{}: {e}", target.file, target.pos.line, target.pos.column)))?;
    let config = match config {
        Some(path) => kubesim::scenario::read_scheduler_config(path)?,
        None => SchedulerConfig::default_config(),
    };
    let snapshot = snapshot_from(&objects);
    let e = explain(&config, &snapshot, &target.object, seed).map_err(|m| CliError::input(format!("{}: {m}", pod.display())))?;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&e).map_err(|err| CliError::input(err.to_string()))?),
        Output::Table => print!("{}", render_table(&e)),
    }
    Ok(if e.selected.is_some() { EXIT_OK } else { EXIT_CHECK_FAILED })
}
