//! The simulated container runtimes, one `FakeRuntime` per node with its own
//! random stream, and an index of which pods run where (for the runtime
//! invariants, without scanning every node per container start).
//!
//! A node crash wipes its runtime and bumps its epoch: calls and planned
//! exits from before the crash are dropped when they come due.

use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::latency::Latency;
use crate::model::LabelSelector;
use crate::runtime::fake::{FakeRuntime, PlannedExit};
use crate::runtime::model::RuntimeModel;
use crate::runtime::{ContainerInfo, PodIdentity, RuntimeError, RuntimeOp, RuntimeReply};
use crate::time::SimTime;

struct NodeRuntime {
    rt: FakeRuntime,
    rng: ChaCha8Rng,
    epoch: u32,
    /// Pods with a running container here: (namespace, name) → uid.
    running: BTreeMap<(String, String), String>,
}

/// A runtime call that completed.
pub struct Completed {
    pub result: Result<RuntimeReply, RuntimeError>,
    /// An exit the runtime planned for a container it started.
    pub planned: Option<PlannedExit>,
    /// `pods/<ns>/<name>` of the pod the call concerned, if known.
    pub pod: Option<String>,
    /// `<verb> ok <subject>` or `<verb>: <error>`, for the trace.
    pub detail: String,
    /// A container that started: its pod and name.
    pub started: Option<(PodIdentity, String)>,
}

#[derive(Default)]
pub struct SimRuntimes {
    nodes: BTreeMap<Arc<str>, NodeRuntime>,
    /// (namespace, name) → node → uid, for pods running somewhere.
    running: BTreeMap<(String, String), BTreeMap<Arc<str>, String>>,
}

fn pod_name(p: &PodIdentity) -> String {
    format!("pods/{}/{}", p.namespace, p.name)
}

impl SimRuntimes {
    pub fn add_node(&mut self, node: &str, model: Arc<RuntimeModel>, start: Latency, stop: Latency, rng: ChaCha8Rng) {
        let rt = FakeRuntime::new(node, model, start, stop);
        self.nodes.insert(Arc::from(node), NodeRuntime { rt, rng, epoch: 0, running: BTreeMap::new() });
    }

    pub fn has(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }

    pub fn epoch(&self, node: &str) -> u32 {
        self.nodes.get(node).map_or(0, |n| n.epoch)
    }

    pub fn nodes(&self) -> Vec<Arc<str>> {
        self.nodes.keys().cloned().collect()
    }

    /// How long `op` takes on `node`.
    pub fn duration(&mut self, node: &str, op: &RuntimeOp) -> Option<Duration> {
        let n = self.nodes.get_mut(node)?;
        Some(n.rt.duration(op, &mut n.rng))
    }

    /// Re-reads which pods run on `node` after a change, and updates the index.
    fn reindex(&mut self, node: &str) {
        let Some((key, n)) = self.nodes.get_key_value(node) else { return };
        let now: BTreeMap<(String, String), String> = n.rt.running_pods().into_iter().map(|p| ((p.namespace.clone(), p.name.clone()), p.uid.clone())).collect();
        let key = key.clone();
        let n = self.nodes.get_mut(node).expect("node");
        let before = std::mem::replace(&mut n.running, now.clone());
        for k in before.keys().filter(|k| !now.contains_key(*k)) {
            if let Some(m) = self.running.get_mut(k) {
                m.remove(&key);
                if m.is_empty() {
                    self.running.remove(k);
                }
            }
        }
        for (k, uid) in now {
            self.running.entry(k).or_default().insert(key.clone(), uid);
        }
    }

    /// Applies a completed call on `node` (if the node has not been wiped
    /// since `epoch`).
    pub fn complete(&mut self, node: &str, epoch: u32, now: SimTime, op: RuntimeOp) -> Option<Completed> {
        let n = self.nodes.get_mut(node).filter(|n| n.epoch == epoch)?;
        let verb = op.verb();
        let subject = match &op {
            RuntimeOp::StartContainer { container } | RuntimeOp::StopContainer { container, .. } | RuntimeOp::RemoveContainer { container } | RuntimeOp::Probe { container, .. } => Some(container.clone()),
            RuntimeOp::StopPodSandbox { sandbox } | RuntimeOp::RemovePodSandbox { sandbox } => Some(sandbox.clone()),
            _ => None,
        };
        let changes = !matches!(op, RuntimeOp::Probe { .. } | RuntimeOp::PullImage { .. } | RuntimeOp::List | RuntimeOp::CreateContainer { .. } | RuntimeOp::RunPodSandbox { .. });
        let starts = matches!(op, RuntimeOp::StartContainer { .. });
        // Name the pod before the call (a removal forgets it).
        let mut pod = subject.as_deref().and_then(|id| n.rt.pod_of(id)).map(pod_name);
        let (result, planned) = n.rt.apply(now, op, &mut n.rng);
        if pod.is_none() {
            pod = match &result {
                Ok(RuntimeReply::Sandbox(id)) | Ok(RuntimeReply::Container(id)) => n.rt.pod_of(id).map(pod_name),
                _ => None,
            };
        }
        let subject = subject.unwrap_or_default();
        let detail = match &result {
            Ok(_) if subject.is_empty() => format!("{verb} ok"),
            Ok(_) => format!("{verb} ok {subject}"),
            Err(e) => format!("{verb}: {e}"),
        };
        let started = (starts && result.is_ok())
            .then(|| {
                let c = n.rt.container(&subject)?;
                Some((n.rt.pod_of(&subject)?.clone(), c.name.clone()))
            })
            .flatten();
        if changes {
            self.reindex(node);
        }
        Some(Completed { result, planned, pod, detail, started })
    }

    /// Fires a planned exit; the container that exited and its pod, if it was still running.
    pub fn exit(&mut self, node: &str, epoch: u32, now: SimTime, planned: &PlannedExit) -> Option<(ContainerInfo, String)> {
        let n = self.nodes.get_mut(node).filter(|n| n.epoch == epoch)?;
        let info = n.rt.exit(now, planned)?;
        let pod = n.rt.pod_of(&info.id).map(pod_name).unwrap_or_default();
        self.reindex(node);
        Some((info, pod))
    }

    /// A node crash: every sandbox and container is gone; pending calls and exits are void.
    pub fn wipe(&mut self, node: &str) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.rt.wipe();
            n.epoch += 1;
        }
        self.reindex(node);
    }

    /// Crashes the running containers of matching pods on every node:
    /// (node, container, pod) for each.
    pub fn crash_matching(&mut self, now: SimTime, namespace: Option<&str>, selector: &LabelSelector, exit_code: i32) -> Vec<(Arc<str>, ContainerInfo, String)> {
        let mut out = Vec::new();
        let nodes: Vec<Arc<str>> = self.nodes.keys().cloned().collect();
        for node in nodes {
            let n = self.nodes.get_mut(&node).expect("node");
            let crashed = n.rt.crash_matching(now, namespace, selector, exit_code);
            if crashed.is_empty() {
                continue;
            }
            for c in crashed {
                let pod = n.rt.pod_of(&c.id).map(pod_name).unwrap_or_default();
                out.push((node.clone(), c, pod));
            }
            self.reindex(&node);
        }
        out
    }

    pub fn runtime(&self, node: &str) -> Option<&FakeRuntime> {
        self.nodes.get(node).map(|n| &n.rt)
    }
}

impl crate::check::Runtimes for SimRuntimes {
    fn running_elsewhere(&self, namespace: &str, name: &str, except: &str) -> Option<(String, String)> {
        let on = self.running.get(&(namespace.to_string(), name.to_string()))?;
        on.iter().find(|(n, _)| &***n != except).map(|(n, uid)| (n.to_string(), uid.clone()))
    }
    fn running_copies(&self, node: &str, pod_uid: &str, container: &str) -> usize {
        self.nodes.get(node).map_or(0, |n| n.rt.running_copies(pod_uid, container))
    }
}
