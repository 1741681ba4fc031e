//! `kubesim live run`: a scenario's control plane and nodes on this machine,
//! against a real etcd (and containerd), on the wall clock: its objects
//! created, its timeline applied at its times, its checks evaluated live.

use std::sync::Arc;
use std::time::Duration;

use super::driver::{LiveDriver, LogFn, perform_api_action, wall_now};
use super::etcd::{EtcdStorage, EtcdTls};
use super::runtime::{LiveRuntime, WallClockFake};
use crate::api::{ApiError, ApiServer};
use crate::check::CheckOutcome;
use crate::model::{Kind, Namespace, Object, ObjectMeta};
use crate::runtime::fake::FakeRuntime;
use crate::scenario::{Action, Scenario};
use crate::seed::stream;
use crate::time::{SimTime, format_duration};

/// Which runtime live kubelets use.
#[derive(Clone, Debug)]
pub enum RuntimeChoice {
    /// containerd at this socket; one containerd namespace per node.
    Containerd { socket: std::path::PathBuf, namespace_prefix: String, rootfs: super::containerd::RootfsMap },
    /// The simulator's fake runtime on the wall clock (no containers).
    Fake,
}

pub struct LiveOptions {
    pub etcd: Vec<String>,
    pub tls: EtcdTls,
    /// Key prefix: objects live under `<prefix>/registry/...`.
    pub prefix: String,
    pub runtime: RuntimeChoice,
    pub until: Option<Duration>,
    pub keep: bool,
    pub seed: u64,
}

pub struct LiveOutcome {
    pub checks: Vec<CheckOutcome>,
    pub final_pods: Vec<Object>,
    pub final_nodes: Vec<Object>,
    pub writes: u64,
    pub write_errors: u64,
    pub stopped_early: bool,
    pub cleanup_problems: Vec<String>,
    /// Per pod that ran: creation → its containers running, in milliseconds, sorted.
    pub start_latencies_ms: Vec<f64>,
}

/// Creation → last container running, per pod whose containers all run.
pub fn start_latencies_ms(pods: &[Object]) -> Vec<f64> {
    let mut out: Vec<f64> = pods
        .iter()
        .filter_map(Object::as_pod)
        .filter_map(|p| {
            let created = p.metadata.creation_timestamp?;
            let mut last: Option<crate::model::meta::Timestamp> = None;
            for cs in &p.status.container_statuses {
                let started = cs.state.as_ref()?.get("running")?.get("startedAt")?.as_str()?;
                let t = crate::model::meta::Timestamp::parse_rfc3339(started).ok()?;
                last = Some(last.map_or(t, |l: crate::model::meta::Timestamp| if t.0 > l.0 { t } else { l }));
            }
            let last = last?;
            Some((last.0 - created.0) as f64 / 1e6)
        })
        .collect();
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

/// The p-th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl LiveOutcome {
    pub fn ok(&self) -> bool {
        !self.stopped_early && self.checks.iter().all(|c| c.ok)
    }
}

/// Everything in the scenario that cannot run live, one line each.
/// The keys of actions that can run live (each action type's own answer).
fn live_keys() -> String {
    crate::scenario::actions::live_keys().join(", ")
}

pub fn unsupported(s: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = s
        .timeline
        .iter()
        .filter(|a| !a.action.live())
        .map(|a| format!("{}: at {}: `{}` cannot run live (live mode supports {}; partition only without `for`, until healPartitions)", s.path.display(), format_duration(a.at.since(SimTime::ZERO)), a.action.describe(), live_keys()))
        .collect();
    if s.swarm.is_some() {
        out.push(format!("{}: a swarm scenario cannot run live (its faults are simulated)", s.path.display()));
    }
    out
}

pub fn live_run(s: &Scenario, opts: &LiveOptions, log: LogFn, stop: Option<std::sync::mpsc::Receiver<()>>) -> Result<LiveOutcome, String> {
    let bad = unsupported(s);
    if !bad.is_empty() {
        return Err(bad.join("\n"));
    }
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?);
    let registry = format!("{}/registry", opts.prefix.trim_end_matches('/'));
    let storage = EtcdStorage::connect(rt.clone(), &opts.etcd, &registry, &opts.tls)?;
    let mut api = ApiServer::new(storage, &registry, stream(opts.seed, "apiserver"));
    let (existing, _) = api.list(Kind::Node, None).map_err(|e| e.to_string())?;
    if !existing.is_empty() {
        return Err(format!("etcd prefix {registry} already holds {} node(s): use another --prefix or delete it (etcdctl del --prefix {registry})", existing.len()));
    }
    let now = wall_now();
    for ns in &s.namespaces {
        let obj = Namespace { metadata: ObjectMeta { name: ns.clone(), ..Default::default() }, ..Default::default() };
        api.create(obj.into(), now).map_err(|e| format!("namespace {ns}: {e}"))?;
    }
    for n in &s.nodes {
        api.create(n.clone().into(), now).map_err(|e| format!("node {}: {e}", n.metadata.name))?;
    }
    for o in &s.objects {
        api.create(o.object.clone(), now).map_err(|e| format!("{}:{}:{}: {e}", o.file, o.pos.line, o.pos.column))?;
    }
    let mut driver = LiveDriver::new(api, log);
    let components = crate::run::default_components(s, opts.seed, s.scheduler.clone());
    for c in components {
        let runtime: Option<Box<dyn LiveRuntime>> = match c.runtime_node() {
            None => None,
            Some(node) => Some(match &opts.runtime {
                RuntimeChoice::Fake => {
                    let fake = FakeRuntime::new(node, s.runtime.clone(), s.timing.pod_start_latency.clone(), s.timing.pod_stop_latency.clone());
                    Box::new(WallClockFake::new(node, fake, stream(opts.seed, &format!("runtime/{node}"))))
                }
                RuntimeChoice::Containerd { socket, namespace_prefix, rootfs } => {
                    Box::new(super::containerd::Containerd::connect(rt.clone(), socket, &format!("{namespace_prefix}{node}"), rootfs.clone(), node)?)
                }
            }),
        };
        driver.add(c, runtime);
    }
    driver.start()?;
    let t0 = wall_now();
    let until = t0 + opts.until.unwrap_or(s.duration);
    // Timeline and checks in time order; a check with `until` is polled every second.
    enum Step {
        Action(usize),
        Check(usize),
    }
    let mut steps: Vec<(SimTime, u8, usize, Step)> = Vec::new();
    for (i, a) in s.timeline.iter().enumerate() {
        steps.push((t0 + a.at.since(SimTime::ZERO), 0, i, Step::Action(i)));
    }
    for (i, c) in s.checks.iter().enumerate() {
        steps.push((t0 + c.at.since(SimTime::ZERO), 1, i, Step::Check(i)));
    }
    steps.sort_by_key(|(t, order, i, _)| (*t, *order, *i));
    let mut outcomes = Vec::new();
    let mut decided = vec![false; s.checks.len()];
    let mut stopped_early = false;
    let stop_requested = |stop: &Option<std::sync::mpsc::Receiver<()>>| stop.as_ref().is_some_and(|r| r.try_recv().is_ok());
    for (at, _, _, step) in steps {
        if at > until {
            break;
        }
        if !run_to(&mut driver, at, &stop, &stop_requested) {
            stopped_early = true;
            break;
        }
        match step {
            Step::Action(i) => {
                let action = s.timeline[i].action.clone();
                perform(&mut driver, action)?;
            }
            Step::Check(i) => {
                let c = &s.checks[i];
                let deadline = c.until.map(|u| t0 + u.since(SimTime::ZERO)).unwrap_or(at).min(until);
                loop {
                    let objects = driver.api().list(c.filter.kind, None).map(|(o, _)| o).unwrap_or_default();
                    let mut outcome = crate::check::count::evaluate(c, objects.iter());
                    let now = wall_now();
                    if outcome.ok || now + Duration::from_secs(1) > deadline {
                        outcome.at = SimTime::ZERO + now.since(t0);
                        outcomes.push(outcome);
                        decided[i] = true;
                        break;
                    }
                    if !run_to(&mut driver, now + Duration::from_secs(1), &stop, &stop_requested) {
                        stopped_early = true;
                        break;
                    }
                }
                if stopped_early {
                    break;
                }
            }
        }
    }
    if !stopped_early && !run_to(&mut driver, until, &stop, &stop_requested) {
        stopped_early = true;
    }
    // Checks the run never reached are reported as such, never dropped.
    let end = SimTime::ZERO + wall_now().since(t0);
    for (c, _) in s.checks.iter().zip(&decided).filter(|(_, d)| !**d) {
        outcomes.push(crate::check::count::not_evaluated(c, end, stopped_early));
    }
    let final_pods = driver.api().list(Kind::Pod, None).map(|(o, _)| o).unwrap_or_default();
    let final_nodes = driver.api().list(Kind::Node, None).map(|(o, _)| o).unwrap_or_default();
    let cleanup_problems = driver.shutdown(opts.keep);
    let start_latencies_ms = start_latencies_ms(&final_pods);
    Ok(LiveOutcome { checks: outcomes, final_pods, final_nodes, writes: driver.writes, write_errors: driver.write_errors, stopped_early, cleanup_problems, start_latencies_ms })
}

fn run_to(driver: &mut LiveDriver, at: SimTime, stop: &Option<std::sync::mpsc::Receiver<()>>, stop_requested: &dyn Fn(&Option<std::sync::mpsc::Receiver<()>>) -> bool) -> bool {
    // Step in slices so a stop request is noticed within a second.
    loop {
        let now = wall_now();
        let next = (now + Duration::from_secs(1)).min(at);
        if !driver.run_until(next) || stop_requested(stop) {
            return false;
        }
        if next >= at {
            return true;
        }
    }
}

fn perform(driver: &mut LiveDriver, action: Action) -> Result<(), String> {
    let now = wall_now();
    let label = action.describe();
    let result: Result<(), String> = match &action {
        Action::CrashComponent(a) => driver.component_id(&a.name).map(|id| driver.crash_component(id)).ok_or(format!("no component {}", a.name)),
        Action::RestartComponent(a) => match driver.component_id(&a.name) {
            Some(id) => driver.restart_component(id),
            None => Err(format!("no component {}", a.name)),
        },
        Action::StopKubelet(a) => driver.kubelet_of(&a.node).map(|id| driver.crash_component(id)).ok_or(format!("no kubelet on {}", a.node)),
        Action::StartKubelet(a) => match driver.kubelet_of(&a.node) {
            Some(id) => driver.restart_component(id),
            None => Err(format!("no kubelet on {}", a.node)),
        },
        Action::CrashContainers(a) => {
            let nodes: Vec<String> = driver.nodes();
            for n in nodes {
                if let Some(rt) = driver.runtime_mut(&n) {
                    rt.kill_matching(a.namespace.as_deref(), &a.selector);
                }
            }
            Ok(())
        }
        Action::Partition(a) => a.resolved.iter().try_for_each(|c| driver.component_id(c).map(|id| driver.partition(id)).ok_or(format!("no component {c}"))),
        Action::HealPartitions(_) => driver.partitioned_ids().into_iter().try_for_each(|id| driver.heal(id)),
        other => perform_api_action(driver.api_mut(), other, now).map_err(|e: ApiError| e.to_string()),
    };
    result.map_err(|e| format!("timeline action `{label}` failed: {e}"))
}
