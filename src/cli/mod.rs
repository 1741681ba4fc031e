//! Subcommands. Exit codes: 0 every check held; 1 a check failed (or a replay
//! did not reproduce); 2 bad input or usage.

mod compare;
#[cfg(feature = "live")]
mod live;
mod progress;
mod replay;
mod run;
mod schedule;
mod shrink;
mod sweep;
mod validate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_OK: u8 = 0;
pub const EXIT_CHECK_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// A failure to report: its message and the exit code.
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn input(message: impl Into<String>) -> CliError {
        CliError { code: EXIT_BAD_INPUT, message: message.into() }
    }
}

impl From<kubesim::yamlpos::SourceError> for CliError {
    fn from(e: kubesim::yamlpos::SourceError) -> Self {
        CliError::input(e.to_string())
    }
}

#[derive(Parser)]
#[command(name = "kubesim", version, about = "A deterministic discrete-event simulator of a Kubernetes cluster")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario once and print a summary.
    Run {
        scenario: PathBuf,
        /// Master seed (default: the scenario's `seed`).
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
        /// Virtual time to run for, e.g. 90s or 10m (default: the scenario's `duration`).
        #[arg(long, value_parser = parse_duration_arg)]
        until: Option<std::time::Duration>,
        /// Directory for summary.json, events.jsonl, metrics.csv and pods.csv
        /// (default: results/runs/<scenario>-seed<N>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Minimise a failing swarm seed's fault plan into an explicit scenario.
    Shrink {
        scenario: PathBuf,
        #[arg(long, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
        /// Where to write the shrunk scenario (default: next to the original,
        /// as <name>-seed<N>-shrunk.yaml, so relative manifest paths still work).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a scenario over a range of seeds, one seed per thread.
    Sweep {
        scenario: PathBuf,
        /// Seeds as A..B, both ends included (1..50 runs 50 seeds).
        #[arg(long, value_parser = parse_seed_range)]
        seeds: (u64, u64),
        /// Threads to use (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, value_parser = parse_duration_arg)]
        until: Option<std::time::Duration>,
        /// Directory for sweep.csv (default: results/runs/<scenario>-sweep).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop handing out seeds at the first failing one (seeds already
        /// running finish; the lowest failing seed is reported).
        #[arg(long)]
        fail_fast: bool,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Re-run a recorded run and verify its trace hash matches.
    Replay {
        /// A directory written by `kubesim run`.
        dir: PathBuf,
    },
    /// Run a scenario under two or more scheduler configurations, side by side.
    Compare {
        scenario: PathBuf,
        /// A KubeSchedulerConfiguration; give two or more.
        #[arg(long = "config", required = true, num_args = 1)]
        configs: Vec<PathBuf>,
        /// Seeds as A..B, both ends included (default: the scenario's seed).
        #[arg(long, value_parser = parse_seed_range)]
        seeds: Option<(u64, u64)>,
        /// Directory for compare.csv and compare.svg (default: results/runs/<scenario>-compare).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Explain one scheduling decision: every filter on every node, every score.
    Schedule {
        /// Manifests with the cluster's Nodes and existing Pods (bound by spec.nodeName),
        /// multi-document or kind: List; Namespaces and ReplicaSets are used too.
        #[arg(long, required = true, num_args = 1..)]
        cluster: Vec<PathBuf>,
        /// The Pod to place.
        #[arg(long)]
        pod: PathBuf,
        /// A KubeSchedulerConfiguration (default: kube-scheduler's default profile).
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "json")]
        output: schedule::Output,
        /// Seed of the scheduler's tie-break stream.
        #[arg(long, default_value_t = 0, value_parser = parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Live mode: the same components against a real etcd and containerd.
    #[cfg(feature = "live")]
    #[command(subcommand)]
    Live(live::LiveCommand),
    /// Live mode (not in this build: it needs `--features live`).
    #[cfg(not(feature = "live"))]
    Live {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// Parse and check scenarios or manifests without running anything.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    kubesim::time::parse_duration(s)
}

fn parse_seed_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("{s:?}: expected A..B, e.g. 1..50"))?;
    let b = b.strip_prefix('=').unwrap_or(b);
    let a = parse_seed(a)?;
    let b = parse_seed(b)?;
    if b < a {
        return Err(format!("{s:?}: the range is backwards; write the smaller seed first, {b}..{a}"));
    }
    Ok((a, b))
}

/// A seed: an unsigned 64-bit integer; a negative one is named as such.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| {
        if s.trim().starts_with('-') {
            format!("{s:?}: seeds are unsigned (0 to {})", u64::MAX)
        } else {
            format!("{s:?} is not a seed: expected an integer from 0 to {}", u64::MAX)
        }
    })
}

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Run { scenario, seed, until, out, budget } => run::run(&scenario, seed, until, out, budget),
        Command::Sweep { scenario, seeds, jobs, until, out, fail_fast, budget } => sweep::sweep(&scenario, seeds, jobs, until, out, fail_fast, budget),
        Command::Replay { dir } => replay::replay(&dir),
        Command::Shrink { scenario, seed, out } => shrink::shrink(&scenario, seed, out),
        #[cfg(feature = "live")]
        Command::Live(cmd) => live::dispatch(cmd),
        #[cfg(not(feature = "live"))]
        Command::Live { .. } => Err(CliError::input(
            "this kubesim was built without live mode. Build it with the `live` feature: \
             `cargo build --release --features live` (needs protoc and the protobuf well-known types: \
             apt-get install protobuf-compiler libprotobuf-dev), then run target/release/kubesim live …",
        )),
        Command::Validate { files } => validate::validate(&files),
        Command::Compare { scenario, configs, seeds, out } => compare::compare(&scenario, &configs, seeds, out),
        Command::Schedule { cluster, pod, config, output, seed } => schedule::schedule(&cluster, &pod, config.as_ref(), output, seed),
    }
}

/// Per-run budgets from the command line (see scenario::budget).
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct BudgetArgs {
    /// Fail a run that records more trace events than this (default: derived
    /// from the scenario's nodes, pods and duration, or its `budget.events`).
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Fail a run that takes more loop steps than this (default: 4 × the events budget, or `budget.steps`).
    #[arg(long)]
    pub max_steps: Option<u64>,
}

impl BudgetArgs {
    pub fn apply(self, s: &mut kubesim::scenario::Scenario) {
        s.budget_flags = (self.max_events.or(s.budget_flags.0), self.max_steps.or(s.budget_flags.1));
    }
}

/// Loads a scenario, printing its warnings.
fn load_scenario(path: &std::path::Path) -> Result<kubesim::scenario::Scenario, CliError> {
    let s = kubesim::scenario::load(path)?;
    for w in &s.warnings {
        eprintln!("{w}");
    }
    Ok(s)
}
