//! The simulated runtime of one node: sandboxes, containers and an image
//! cache, with the behaviour `RuntimeModel` gives each image. The driver asks
//! how long an operation takes (`duration`), then applies it when it
//! completes (`apply`), and fires the exits it plans (`exit`).

use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::model::RuntimeModel;
use super::{ContainerInfo, ContainerState, PodIdentity, ProbeKind, RuntimeError, RuntimeOp, RuntimeReply, SandboxInfo};
use crate::model::LabelSelector;
use crate::latency::Latency;
use crate::time::SimTime;

/// Exit codes as a Linux runtime reports them.
pub const EXIT_SIGKILL: i32 = 137;
pub const EXIT_SIGTERM: i32 = 143;
/// How long an over-limit container runs before the OOM killer acts.
const OOM_AFTER: Duration = Duration::from_secs(1);
const SANDBOX_TIME: Duration = Duration::from_millis(100);
const SMALL_OP_TIME: Duration = Duration::from_millis(5);

/// An exit the runtime has planned; it fires only if the container is still
/// in the same run (`run`) by then.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedExit {
    pub container: String,
    pub run: u64,
    pub at: SimTime,
    pub exit_code: i32,
    pub reason: &'static str,
}

pub struct FakeRuntime {
    node: String,
    model: Arc<RuntimeModel>,
    start_latency: Latency,
    stop_latency: Latency,
    images: BTreeSet<String>,
    sandboxes: BTreeMap<String, SandboxInfo>,
    containers: BTreeMap<String, ContainerInfo>,
    /// Per container: the current run (bumped on start) and its memory limit.
    runs: BTreeMap<String, (u64, Option<i64>)>,
    /// Stops decided in `duration`: true when SIGKILL follows the timeout.
    stop_kills: BTreeMap<String, bool>,
    next_id: u64,
    next_run: u64,
}

impl FakeRuntime {
    pub fn new(node: &str, model: Arc<RuntimeModel>, start_latency: Latency, stop_latency: Latency) -> FakeRuntime {
        FakeRuntime {
            node: node.to_string(),
            model,
            start_latency,
            stop_latency,
            images: BTreeSet::new(),
            sandboxes: BTreeMap::new(),
            containers: BTreeMap::new(),
            runs: BTreeMap::new(),
            stop_kills: BTreeMap::new(),
            next_id: 0,
            next_run: 0,
        }
    }

    /// How long `op` takes from the request to its answer.
    pub fn duration(&mut self, op: &RuntimeOp, rng: &mut ChaCha8Rng) -> Duration {
        match op {
            RuntimeOp::RunPodSandbox { .. } => SANDBOX_TIME,
            RuntimeOp::PullImage { image } if !self.images.contains(image) => self.model.pull_time(image),
            RuntimeOp::StartContainer { .. } => self.start_latency.sample(rng),
            RuntimeOp::StopContainer { container, timeout_s } => {
                let running = self.containers.get(container).is_some_and(|c| c.state == ContainerState::Running);
                if !running {
                    return SMALL_OP_TIME;
                }
                let graceful = self.stop_latency.sample(rng);
                let timeout = Duration::from_secs((*timeout_s).max(0) as u64);
                self.stop_kills.insert(container.clone(), graceful > timeout);
                graceful.min(timeout)
            }
            _ => SMALL_OP_TIME,
        }
    }

    /// Applies `op` at `now`, when it completes. A started container may come
    /// with a planned exit for the driver to schedule.
    pub fn apply(&mut self, now: SimTime, op: RuntimeOp, rng: &mut ChaCha8Rng) -> (Result<RuntimeReply, RuntimeError>, Option<PlannedExit>) {
        match op {
            RuntimeOp::RunPodSandbox { pod } => {
                self.next_id += 1;
                let id = format!("{}/sandbox-{}", self.node, self.next_id);
                self.sandboxes.insert(id.clone(), SandboxInfo { id: id.clone(), pod, ready: true });
                (Ok(RuntimeReply::Sandbox(id)), None)
            }
            RuntimeOp::StopPodSandbox { sandbox } => {
                let Some(sb) = self.sandboxes.get_mut(&sandbox) else { return (Err(RuntimeError::NotFound(sandbox)), None) };
                sb.ready = false;
                // Stopping a sandbox kills what still runs in it.
                for c in self.containers.values_mut().filter(|c| c.sandbox == sandbox && c.state == ContainerState::Running) {
                    finish(c, now, EXIT_SIGKILL, "Error");
                }
                (Ok(RuntimeReply::Done), None)
            }
            RuntimeOp::RemovePodSandbox { sandbox } => {
                if self.sandboxes.remove(&sandbox).is_none() {
                    return (Err(RuntimeError::NotFound(sandbox)), None);
                }
                self.containers.retain(|_, c| c.sandbox != sandbox);
                (Ok(RuntimeReply::Done), None)
            }
            RuntimeOp::PullImage { image } => {
                self.images.insert(image);
                (Ok(RuntimeReply::Done), None)
            }
            RuntimeOp::CreateContainer { sandbox, name, image, memory_limit_bytes, attempt, .. } => {
                let Some(sb) = self.sandboxes.get(&sandbox) else { return (Err(RuntimeError::NotFound(format!("sandbox {sandbox}"))), None) };
                if !sb.ready {
                    return (Err(RuntimeError::InvalidState(format!("sandbox {sandbox} is not ready"))), None);
                }
                if !self.images.contains(&image) {
                    return (Err(RuntimeError::NotFound(format!("image {image} is not present"))), None);
                }
                self.next_id += 1;
                let id = format!("{}/container-{}", self.node, self.next_id);
                let info = ContainerInfo::created(id.clone(), sandbox.clone(), sb.pod.uid.clone(), name, image, attempt);
                self.containers.insert(id.clone(), info);
                self.runs.insert(id.clone(), (0, memory_limit_bytes));
                (Ok(RuntimeReply::Container(id)), None)
            }
            RuntimeOp::StartContainer { container } => {
                let Some(c) = self.containers.get_mut(&container) else { return (Err(RuntimeError::NotFound(container)), None) };
                if c.state != ContainerState::Created {
                    return (Err(RuntimeError::InvalidState(format!("container {container} is not in created state"))), None);
                }
                c.state = ContainerState::Running;
                c.started_at = Some(now);
                self.next_run += 1;
                let run = self.next_run;
                let limit = self.runs.get(&container).and_then(|r| r.1);
                self.runs.insert(container.clone(), (run, limit));
                let behaviour = self.model.image(&c.image).cloned().unwrap_or_default();
                let oom = matches!((&behaviour.memory_usage, limit), (Some(usage), Some(limit)) if usage.value() > limit);
                let planned = if oom {
                    Some(PlannedExit { container, run, at: now + OOM_AFTER, exit_code: EXIT_SIGKILL, reason: "OOMKilled" })
                } else {
                    behaviour.lifetime.as_ref().map(|l| {
                        let code = behaviour.exit_code.unwrap_or(1);
                        PlannedExit { container, run, at: now + l.sample(rng), exit_code: code, reason: if code == 0 { "Completed" } else { "Error" } }
                    })
                };
                (Ok(RuntimeReply::Done), planned)
            }
            RuntimeOp::StopContainer { container, .. } => {
                let kill = self.stop_kills.remove(&container).unwrap_or(false);
                let Some(c) = self.containers.get_mut(&container) else { return (Err(RuntimeError::NotFound(container)), None) };
                if c.state == ContainerState::Running {
                    finish(c, now, if kill { EXIT_SIGKILL } else { EXIT_SIGTERM }, "Error");
                }
                (Ok(RuntimeReply::Done), None)
            }
            RuntimeOp::RemoveContainer { container } => match self.containers.get(&container) {
                None => (Err(RuntimeError::NotFound(container)), None),
                Some(c) if c.state == ContainerState::Running => (Err(RuntimeError::InvalidState(format!("container {container} is running"))), None),
                Some(_) => {
                    self.containers.remove(&container);
                    self.runs.remove(&container);
                    (Ok(RuntimeReply::Done), None)
                }
            },
            RuntimeOp::List => (Ok(RuntimeReply::List { sandboxes: self.sandboxes.values().cloned().collect(), containers: self.containers.values().cloned().collect() }), None),
            RuntimeOp::Probe { container, kind } => {
                let Some(c) = self.containers.get(&container) else { return (Err(RuntimeError::NotFound(container)), None) };
                let (Some(started), ContainerState::Running) = (c.started_at, c.state) else { return (Ok(RuntimeReply::Probe(false)), None) };
                let up_for = now.since(started);
                let b = self.model.image(&c.image);
                let ok = match kind {
                    ProbeKind::Readiness => b.and_then(|b| b.ready_after.as_ref()).is_none_or(|d| up_for >= d.0),
                    ProbeKind::Liveness => b.and_then(|b| b.liveness_fails_after.as_ref()).is_none_or(|d| up_for < d.0),
                };
                (Ok(RuntimeReply::Probe(ok)), None)
            }
        }
    }

    /// Fires a planned exit; `None` if the container has since stopped or restarted.
    pub fn exit(&mut self, now: SimTime, planned: &PlannedExit) -> Option<ContainerInfo> {
        if self.runs.get(&planned.container).map(|r| r.0) != Some(planned.run) {
            return None;
        }
        let c = self.containers.get_mut(&planned.container)?;
        if c.state != ContainerState::Running {
            return None;
        }
        finish(c, now, planned.exit_code, planned.reason);
        Some(c.clone())
    }

    /// A node crash: every sandbox and container is gone (images stay on disk).
    pub fn wipe(&mut self) {
        self.sandboxes.clear();
        self.containers.clear();
        self.runs.clear();
        self.stop_kills.clear();
    }

    /// Kills the running containers of pods whose labels match `selector`.
    pub fn crash_matching(&mut self, now: SimTime, namespace: Option<&str>, selector: &LabelSelector, exit_code: i32) -> Vec<ContainerInfo> {
        let sandboxes: BTreeSet<&String> = self
            .sandboxes
            .values()
            .filter(|s| namespace.is_none_or(|ns| s.pod.namespace == ns) && selector.matches(&s.pod.labels))
            .map(|s| &s.id)
            .collect();
        let mut crashed = Vec::new();
        for c in self.containers.values_mut().filter(|c| c.state == ContainerState::Running && sandboxes.contains(&c.sandbox)) {
            finish(c, now, exit_code, "Error");
            crashed.push(c.clone());
        }
        crashed
    }

    /// Pods with at least one running container here.
    pub fn running_pods(&self) -> Vec<&PodIdentity> {
        let mut out: Vec<&PodIdentity> = Vec::new();
        for c in self.containers.values().filter(|c| c.state == ContainerState::Running) {
            if let Some(sb) = self.sandboxes.get(&c.sandbox)
                && !out.iter().any(|p| p.uid == sb.pod.uid)
            {
                out.push(&sb.pod);
            }
        }
        out
    }

    /// (pod uid, container name) pairs running more than once on this node.
    pub fn duplicate_containers(&self) -> Vec<(String, String)> {
        let mut seen: BTreeMap<(&str, &str), u32> = BTreeMap::new();
        for c in self.containers.values().filter(|c| c.state == ContainerState::Running) {
            *seen.entry((&c.pod_uid, &c.name)).or_default() += 1;
        }
        seen.into_iter().filter(|(_, n)| *n > 1).map(|((u, n), _)| (u.to_string(), n.to_string())).collect()
    }

    /// How many containers named `name` of pod `pod_uid` are running here.
    pub fn running_copies(&self, pod_uid: &str, name: &str) -> usize {
        self.containers.values().filter(|c| c.state == ContainerState::Running && c.pod_uid == pod_uid && c.name == name).count()
    }

    pub fn container(&self, id: &str) -> Option<&ContainerInfo> {
        self.containers.get(id)
    }

    /// The pod a container or sandbox belongs to.
    pub fn pod_of(&self, id: &str) -> Option<&PodIdentity> {
        let sandbox = self.containers.get(id).map_or(id, |c| c.sandbox.as_str());
        self.sandboxes.get(sandbox).map(|s| &s.pod)
    }

    pub fn container_count(&self) -> usize {
        self.containers.len()
    }
    pub fn sandbox_count(&self) -> usize {
        self.sandboxes.len()
    }
}

fn finish(c: &mut ContainerInfo, now: SimTime, exit_code: i32, reason: &str) {
    c.state = ContainerState::Exited;
    c.finished_at = Some(now);
    c.exit_code = exit_code;
    c.reason = reason.to_string();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quantity;
    use crate::runtime::model::ImageBehaviour;
    use crate::seed::stream;
    use crate::time::Dur;

    fn pod(uid: &str) -> PodIdentity {
        PodIdentity { namespace: "default".into(), name: format!("p-{uid}"), uid: uid.into(), labels: [("app".to_string(), "web".to_string())].into() }
    }

    fn runtime(images: BTreeMap<String, ImageBehaviour>) -> FakeRuntime {
        let model = RuntimeModel { images, ..Default::default() };
        FakeRuntime::new("n1", Arc::new(model), Latency::Constant(Dur(Duration::from_secs(1))), Latency::Constant(Dur(Duration::from_secs(2))))
    }

    /// Sandbox, pull, create and start; returns the container id and planned exit.
    fn start(rt: &mut FakeRuntime, rng: &mut ChaCha8Rng, uid: &str, image: &str, limit: Option<i64>) -> (String, Option<PlannedExit>) {
        let t = SimTime::from_secs(1);
        let Ok(RuntimeReply::Sandbox(sb)) = rt.apply(t, RuntimeOp::RunPodSandbox { pod: pod(uid) }, rng).0 else { panic!("no sandbox") };
        rt.apply(t, RuntimeOp::PullImage { image: image.into() }, rng).0.unwrap();
        let op = RuntimeOp::CreateContainer { sandbox: sb, name: "app".into(), image: image.into(), command: vec![], memory_limit_bytes: limit, attempt: 0 };
        let Ok(RuntimeReply::Container(id)) = rt.apply(t, op, rng).0 else { panic!("no container") };
        let (r, planned) = rt.apply(t, RuntimeOp::StartContainer { container: id.clone() }, rng);
        r.unwrap();
        (id, planned)
    }

    #[test]
    fn create_needs_a_pulled_image_and_a_ready_sandbox() {
        let mut rng = stream(1, "t");
        let mut rt = runtime(BTreeMap::new());
        let t = SimTime::ZERO;
        let Ok(RuntimeReply::Sandbox(sb)) = rt.apply(t, RuntimeOp::RunPodSandbox { pod: pod("u1") }, &mut rng).0 else { panic!() };
        let create = RuntimeOp::CreateContainer { sandbox: sb.clone(), name: "c".into(), image: "img".into(), command: vec![], memory_limit_bytes: None, attempt: 0 };
        assert!(matches!(rt.apply(t, create.clone(), &mut rng).0, Err(RuntimeError::NotFound(m)) if m.contains("image")));
        rt.apply(t, RuntimeOp::PullImage { image: "img".into() }, &mut rng).0.unwrap();
        rt.apply(t, RuntimeOp::StopPodSandbox { sandbox: sb }, &mut rng).0.unwrap();
        assert!(matches!(rt.apply(t, create, &mut rng).0, Err(RuntimeError::InvalidState(_))));
    }

    #[test]
    fn pull_time_follows_image_size_and_the_cache() {
        let mut rng = stream(1, "t");
        let images = [("big".to_string(), ImageBehaviour { size_mi_b: Some(500), ..Default::default() })].into();
        let mut rt = runtime(images);
        let pull = RuntimeOp::PullImage { image: "big".into() };
        assert_eq!(rt.duration(&pull, &mut rng), Duration::from_secs(5), "500 MiB at 100 MiB/s");
        rt.apply(SimTime::ZERO, pull.clone(), &mut rng).0.unwrap();
        assert_eq!(rt.duration(&pull, &mut rng), SMALL_OP_TIME, "cached");
    }

    #[test]
    fn a_container_exits_after_its_lifetime_with_its_code() {
        let mut rng = stream(1, "t");
        let images = [("crash".to_string(), ImageBehaviour { lifetime: Some(Latency::Constant(Dur(Duration::from_secs(30)))), exit_code: Some(3), ..Default::default() })].into();
        let mut rt = runtime(images);
        let (id, planned) = start(&mut rt, &mut rng, "u1", "crash", None);
        let planned = planned.expect("an exit is planned");
        assert_eq!((planned.at, planned.exit_code, planned.reason), (SimTime::from_secs(31), 3, "Error"));
        let info = rt.exit(planned.at, &planned).expect("fires");
        assert_eq!((info.id, info.state, info.exit_code), (id, ContainerState::Exited, 3));
        assert!(rt.exit(planned.at, &planned).is_none(), "fires once");
    }

    #[test]
    fn over_the_memory_limit_is_oom_killed() {
        let mut rng = stream(1, "t");
        let images = [("hog".to_string(), ImageBehaviour { memory_usage: Some(Quantity::parse("300Mi").unwrap()), ..Default::default() })].into();
        let mut rt = runtime(images);
        let (_, under) = start(&mut rt, &mut rng, "u1", "hog", Some(512 << 20));
        assert!(under.is_none(), "300Mi fits a 512Mi limit");
        let (_, over) = start(&mut rt, &mut rng, "u2", "hog", Some(256 << 20));
        let over = over.expect("OOM planned");
        assert_eq!((over.exit_code, over.reason), (EXIT_SIGKILL, "OOMKilled"));
    }

    #[test]
    fn stop_is_sigterm_within_the_timeout_and_sigkill_after_it() {
        let mut rng = stream(1, "t");
        let mut rt = runtime(BTreeMap::new());
        let (a, _) = start(&mut rt, &mut rng, "u1", "img", None);
        let (b, _) = start(&mut rt, &mut rng, "u2", "img", None);
        let stop_a = RuntimeOp::StopContainer { container: a.clone(), timeout_s: 30 };
        let stop_b = RuntimeOp::StopContainer { container: b.clone(), timeout_s: 1 };
        assert_eq!(rt.duration(&stop_a, &mut rng), Duration::from_secs(2));
        assert_eq!(rt.duration(&stop_b, &mut rng), Duration::from_secs(1), "capped at the timeout");
        rt.apply(SimTime::from_secs(3), stop_a, &mut rng).0.unwrap();
        rt.apply(SimTime::from_secs(3), stop_b, &mut rng).0.unwrap();
        let Ok(RuntimeReply::List { containers, .. }) = rt.apply(SimTime::from_secs(3), RuntimeOp::List, &mut rng).0 else { panic!() };
        let code = |id: &str| containers.iter().find(|c| c.id == id).unwrap().exit_code;
        assert_eq!((code(&a), code(&b)), (EXIT_SIGTERM, EXIT_SIGKILL));
        assert!(matches!(rt.apply(SimTime::from_secs(3), RuntimeOp::RemoveContainer { container: a }, &mut rng).0, Ok(RuntimeReply::Done)));
    }

    #[test]
    fn probes_follow_the_image_behaviour() {
        let mut rng = stream(1, "t");
        let b = ImageBehaviour { ready_after: Some(Dur(Duration::from_secs(5))), liveness_fails_after: Some(Dur(Duration::from_secs(60))), ..Default::default() };
        let mut rt = runtime([("slow".to_string(), b)].into());
        let (id, _) = start(&mut rt, &mut rng, "u1", "slow", None);
        let probe = |rt: &mut FakeRuntime, rng: &mut ChaCha8Rng, at: u64, kind: ProbeKind| match rt.apply(SimTime::from_secs(at), RuntimeOp::Probe { container: id.clone(), kind }, rng).0 {
            Ok(RuntimeReply::Probe(ok)) => ok,
            other => panic!("{other:?}"),
        };
        assert!(!probe(&mut rt, &mut rng, 4, ProbeKind::Readiness));
        assert!(probe(&mut rt, &mut rng, 6, ProbeKind::Readiness));
        assert!(probe(&mut rt, &mut rng, 60, ProbeKind::Liveness));
        assert!(!probe(&mut rt, &mut rng, 61, ProbeKind::Liveness));
    }

    #[test]
    fn duplicates_and_running_pods_are_visible_to_the_checker() {
        let mut rng = stream(1, "t");
        let mut rt = runtime(BTreeMap::new());
        start(&mut rt, &mut rng, "u1", "img", None);
        start(&mut rt, &mut rng, "u1", "img", None);
        assert_eq!(rt.duplicate_containers(), vec![("u1".to_string(), "app".to_string())]);
        assert_eq!(rt.running_pods().len(), 1);
        let sel = LabelSelector { match_labels: [("app".to_string(), "web".to_string())].into(), ..Default::default() };
        assert_eq!(rt.crash_matching(SimTime::from_secs(2), None, &sel, 137).len(), 2);
        assert!(rt.running_pods().is_empty());
        rt.wipe();
        assert_eq!((rt.container_count(), rt.sandbox_count()), (0, 0));
    }
}
