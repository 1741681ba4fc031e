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
    /// The scheduler and the controllers, until Ctrl-C.
    ControlPlane {
        #[command(flatten)]
        etcd: EtcdArgs,
        /// Above 1: that many leader-elected schedulers and controller managers.
        #[arg(long, default_value_t = 1)]
        replicas: u32,
        #[arg(long, default_value_t = 1, value_parser = super::parse_seed, allow_hyphen_values = true)]
        seed: u64,
    },
    /// One kubelet on containerd, until Ctrl-C; registers its Node if absent.
    Node {
        #[command(flatten)]
        etcd: EtcdArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        containerd: PathBuf,
        /// DIR for every image, or IMAGE=DIR (repeatable).
        #[arg(long, required = true)]
        rootfs: Vec<String>,
        #[arg(long, default_value = "kubesim-")]
        namespace_prefix: String,
        #[arg(long, default_value = "4")]
        cpu: String,
        #[arg(long, default_value = "8Gi")]
        memory: String,
        #[arg(long, default_value = "110")]
        pods: String,
        /// Leave containers running on exit.
        #[arg(long)]
        keep: bool,
    },
    /// Create or replace the objects of manifest files (as kubectl apply).
    Apply {
        #[command(flatten)]
        etcd: EtcdArgs,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a scenario: control plane and its nodes' kubelets on this machine,
    /// its objects, timeline and checks, on the wall clock.
    Run {
        scenario: PathBuf,
        #[command(flatten)]
        etcd: EtcdArgs,
        /// containerd's socket; each node gets the containerd namespace <namespace-prefix><node>.
        #[arg(long, required_unless_present = "fake_runtime")]
        containerd: Option<PathBuf>,
        /// Root filesystem directory for every image, or IMAGE=DIR for one
        /// (repeatable): there is no registry.
        #[arg(long)]
        rootfs: Vec<String>,
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
        #[arg(long, value_parser = super::parse_seed, allow_hyphen_values = true)]
        seed: Option<u64>,
    },
}

fn stop_on_ctrl_c() -> std::sync::mpsc::Receiver<()> {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            eprintln!("interrupted: stopping and cleaning up");
            let _ = stop_tx.send(());
        }
    });
    stop_rx
}

fn target(etcd: &EtcdArgs) -> kubesim::live::processes::EtcdTarget {
    kubesim::live::processes::EtcdTarget { endpoints: etcd.etcd.clone(), tls: etcd.tls(), prefix: etcd.prefix.clone() }
}

fn stderr_log() -> kubesim::live::driver::LogFn {
    Box::new(|t, who, what| eprintln!("{t} {who}: {what}"))
}

pub fn dispatch(cmd: LiveCommand) -> Result<u8, CliError> {
    match cmd {
        LiveCommand::ControlPlane { etcd, replicas, seed } => {
            println!("live control plane against etcd {} under {}/registry", etcd.etcd.join(","), etcd.prefix.trim_end_matches('/'));
            kubesim::live::processes::control_plane(&target(&etcd), replicas, seed, stderr_log(), stop_on_ctrl_c()).map_err(CliError::input)?;
            Ok(EXIT_OK)
        }
        LiveCommand::Node { etcd, name, containerd, rootfs, namespace_prefix, cpu, memory, pods, keep } => {
            let capacity: kubesim::model::node::ResourceList = [("cpu", cpu), ("memory", memory), ("pods", pods)]
                .into_iter()
                .map(|(k, v)| kubesim::model::Quantity::parse(&v).map(|q| (k.to_string(), q)).map_err(|e| CliError::input(format!("--{k} {v:?}: {e}"))))
                .collect::<Result<_, _>>()?;
            let rt = std::sync::Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| CliError::input(e.to_string()))?);
            let rootfs = kubesim::live::containerd::RootfsMap::parse(&rootfs).map_err(CliError::input)?;
            let runtime = kubesim::live::containerd::Containerd::connect(rt, &containerd, &format!("{namespace_prefix}{name}"), rootfs, &name).map_err(CliError::input)?;
            println!("live node {name}: kubelet on containerd namespace {namespace_prefix}{name}");
            kubesim::live::processes::node(&target(&etcd), &name, capacity, Box::new(runtime), stderr_log(), stop_on_ctrl_c(), keep).map_err(CliError::input)?;
            Ok(EXIT_OK)
        }
        LiveCommand::Apply { etcd, files } => {
            let mut objects = Vec::new();
            for f in &files {
                let m = kubesim::scenario::read_manifests(f)?;
                objects.extend(m.objects.into_iter().map(|o| o.object));
            }
            for r in kubesim::live::processes::apply(&target(&etcd), objects).map_err(CliError::input)? {
                println!("applied {r}");
            }
            Ok(EXIT_OK)
        }
        LiveCommand::Run { scenario, etcd, containerd, rootfs, namespace_prefix, fake_runtime, until, keep, seed } => {
            let s = load_scenario(&scenario)?;
            let runtime = match (fake_runtime, containerd) {
                (true, _) => RuntimeChoice::Fake,
                (false, Some(socket)) => {
                    if rootfs.is_empty() {
                        return Err(CliError::input("--containerd needs --rootfs DIR (or IMAGE=DIR): there is no registry, so containers run from a root filesystem directory"));
                    }
                    let rootfs = kubesim::live::containerd::RootfsMap::parse(&rootfs).map_err(CliError::input)?;
                    RuntimeChoice::Containerd { socket, namespace_prefix, rootfs }
                }
                (false, None) => return Err(CliError::input("give --containerd SOCKET (and --rootfs DIR), or --fake-runtime")),
            };
            let opts = LiveOptions { etcd: etcd.etcd.clone(), tls: etcd.tls(), prefix: etcd.prefix.clone(), runtime, until, keep, seed: seed.unwrap_or(s.seed) };
            let stop_rx = stop_on_ctrl_c();
            println!("live: {} against etcd {} under {}/registry", s.name, opts.etcd.join(","), opts.prefix.trim_end_matches('/'));
            let log: kubesim::live::driver::LogFn = Box::new(|t, who, what| eprintln!("{t} {who}: {what}"));
            let outcome = live_run(&s, &opts, log, Some(stop_rx)).map_err(|e| CliError { code: super::EXIT_BAD_INPUT, message: e })?;
            for c in &outcome.checks {
                match &c.not_evaluated {
                    Some(why) => println!("check {}: NOT EVALUATED: {why}", c.name),
                    None => println!("check {}: {} at {} (observed {}, expected {})", c.name, if c.ok { "ok" } else { "FAILED" }, c.at, c.observed, c.expected),
                }
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
