//! `kubesim live …` (cargo feature `live`): the simulator's components on a
//! real etcd and containerd, on the wall clock.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{CliError, EXIT_CHECK_FAILED, EXIT_OK, load_scenario};
use kubesim::live::etcd::EtcdTls;
use kubesim::live::run::{LiveOptions, RuntimeChoice, live_run};

#[derive(Args, Clone, Debug)]
pub struct EtcdArgs {
    /// etcd endpoint(s), e.g. http://127.0.0.1:2379 (repeat or comma-separate).
    #[arg(long = "etcd", required = true, value_delimiter = ',')]
    pub etcd: Vec<String>,
    /// PEM CA certificate for an etcd served over TLS.
    #[arg(long)]
    pub etcd_ca: Option<PathBuf>,
    /// PEM client certificate and key, for etcd client-certificate auth.
    #[arg(long)]
    pub etcd_cert: Option<PathBuf>,
    #[arg(long)]
    pub etcd_key: Option<PathBuf>,
    /// Key prefix: objects are stored under <prefix>/registry/<resource>/...
    #[arg(long, default_value = "/kubesim")]
    pub prefix: String,
}

impl EtcdArgs {
    fn tls(&self) -> EtcdTls {
        EtcdTls { ca: self.etcd_ca.clone(), cert: self.etcd_cert.clone(), key: self.etcd_key.clone() }
    }
}

#[derive(Subcommand, Clone, Debug)]
pub enum LiveCommand {
    /// Run a scenario: control plane and its nodes' kubelets on this machine,
    /// its objects, timeline and checks, on the wall clock.
    Run {
        scenario: PathBuf,
        #[command(flatten)]
        etcd: EtcdArgs,
        /// containerd's socket; each node gets the containerd namespace <namespace-prefix><node>.
        #[arg(long, required_unless_present = "fake_runtime")]
        containerd: Option<PathBuf>,
        /// Root filesystem directory for every image (there is no registry).
        #[arg(long)]
        rootfs: Option<PathBuf>,
        #[arg(long, default_value = "kubesim-")]
        namespace_prefix: String,
        /// Use the simulator's fake runtime on the wall clock instead of containerd.
        #[arg(long)]
        fake_runtime: bool,
        #[arg(long, value_parser = super::parse_duration_arg)]
        until: Option<Duration>,
        /// Leave containers running on exit (default: remove every task, container and shim).
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        seed: Option<u64>,
    },
}

pub fn dispatch(cmd: LiveCommand) -> Result<u8, CliError> {
    match cmd {
        LiveCommand::Run { scenario, etcd, containerd, rootfs, namespace_prefix, fake_runtime, until, keep, seed } => {
            let s = load_scenario(&scenario)?;
            let runtime = match (fake_runtime, containerd) {
                (true, _) => RuntimeChoice::Fake,
                (false, Some(socket)) => {
                    if rootfs.is_none() {
                        return Err(CliError::input("--containerd needs --rootfs DIR: there is no registry, so containers run from a root filesystem directory"));
                    }
                    RuntimeChoice::Containerd { socket, namespace_prefix, rootfs }
                }
                (false, None) => return Err(CliError::input("give --containerd SOCKET (and --rootfs DIR), or --fake-runtime")),
            };
            let opts = LiveOptions { etcd: etcd.etcd.clone(), tls: etcd.tls(), prefix: etcd.prefix.clone(), runtime, until, keep, seed: seed.unwrap_or(s.seed) };
            let (stop_tx, stop_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        let _ = tokio::signal::ctrl_c().await;
                    });
                    eprintln!("interrupted: stopping and cleaning up");
                    let _ = stop_tx.send(());
                }
            });
            println!("live: {} against etcd {} under {}/registry", s.name, opts.etcd.join(","), opts.prefix.trim_end_matches('/'));
            let log: kubesim::live::driver::LogFn = Box::new(|t, who, what| eprintln!("{t} {who}: {what}"));
            let outcome = live_run(&s, &opts, log, Some(stop_rx)).map_err(|e| CliError { code: super::EXIT_BAD_INPUT, message: e })?;
            for c in &outcome.checks {
                println!("check {}: {} at {} (observed {}, expected {})", c.name, if c.ok { "ok" } else { "FAILED" }, c.at, c.observed, c.expected);
            }
            println!("writes: {} ({} refused: conflicts and errors)", outcome.writes, outcome.write_errors);
            let l = &outcome.start_latencies_ms;
            if let (Some(p50), Some(p99), Some(max)) = (kubesim::live::run::percentile(l, 50.0), kubesim::live::run::percentile(l, 99.0), l.last()) {
                println!("pod created → containers running: {} pods, p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms", l.len());
            }
            for p in &outcome.cleanup_problems {
                println!("cleanup: {p}");
            }
            if outcome.stopped_early {
                println!("stopped early");
            }
            if outcome.ok() {
                println!("ok");
                Ok(EXIT_OK)
            } else {
                println!("FAILED");
                Ok(EXIT_CHECK_FAILED)
            }
        }
    }
}
