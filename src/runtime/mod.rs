//! The container runtime interface the kubelet drives, shaped like CRI's
//! RuntimeService and ImageService: pod sandboxes (run, stop, remove), images
//! (pull), containers (create, start, stop, remove, list), probes (CRI's
//! ExecSync), and container exit events (CRI's container event stream).
//!
//! The kubelet never calls a runtime: it emits `Effect::Runtime { id, op }`
//! and later receives `Input::RuntimeResult { id, .. }` and
//! `Input::RuntimeEvent(..)`. In simulation the driver answers from a
//! `fake::FakeRuntime` per node; live, a containerd adapter answers.

pub mod fake;
pub mod model;

use crate::time::SimTime;

/// The pod a sandbox belongs to (CRI's PodSandboxMetadata plus labels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Readiness,
    Liveness,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeOp {
    RunPodSandbox { pod: PodIdentity },
    StopPodSandbox { sandbox: String },
    RemovePodSandbox { sandbox: String },
    PullImage { image: String },
    CreateContainer {
        sandbox: String,
        name: String,
        image: String,
        /// argv, never a shell string.
        command: Vec<String>,
        /// The memory limit in bytes, if any (for the OOM killer).
        memory_limit_bytes: Option<i64>,
        /// Restart count: CRI's ContainerMetadata.attempt.
        attempt: u32,
    },
    StartContainer { container: String },
    /// Sends SIGTERM, then SIGKILL after `timeout_s`; answers once stopped.
    StopContainer { container: String, timeout_s: i64 },
    RemoveContainer { container: String },
    /// Everything the runtime holds: the kubelet's view after a restart.
    List,
    /// A readiness or liveness probe run in the container.
    Probe { container: String, kind: ProbeKind },
}

impl RuntimeOp {
    pub fn verb(&self) -> &'static str {
        match self {
            RuntimeOp::RunPodSandbox { .. } => "RunPodSandbox",
            RuntimeOp::StopPodSandbox { .. } => "StopPodSandbox",
            RuntimeOp::RemovePodSandbox { .. } => "RemovePodSandbox",
            RuntimeOp::PullImage { .. } => "PullImage",
            RuntimeOp::CreateContainer { .. } => "CreateContainer",
            RuntimeOp::StartContainer { .. } => "StartContainer",
            RuntimeOp::StopContainer { .. } => "StopContainer",
            RuntimeOp::RemoveContainer { .. } => "RemoveContainer",
            RuntimeOp::List => "List",
            RuntimeOp::Probe { .. } => "Probe",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
}

/// CRI's ContainerStatus, trimmed to what the kubelet reads.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub sandbox: String,
    pub pod_uid: String,
    pub name: String,
    pub image: String,
    pub attempt: u32,
    pub state: ContainerState,
    pub started_at: Option<SimTime>,
    pub finished_at: Option<SimTime>,
    pub exit_code: i32,
    /// "Completed", "Error", "OOMKilled".
    pub reason: String,
}

impl ContainerInfo {
    /// A container just created (CRI's CONTAINER_CREATED), not yet started.
    pub fn created(id: String, sandbox: String, pod_uid: String, name: String, image: String, attempt: u32) -> ContainerInfo {
        ContainerInfo { id, sandbox, pod_uid, name, image, attempt, state: ContainerState::Created, started_at: None, finished_at: None, exit_code: 0, reason: String::new() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SandboxInfo {
    pub id: String,
    pub pod: PodIdentity,
    pub ready: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeReply {
    Sandbox(String),
    Container(String),
    Done,
    List { sandboxes: Vec<SandboxInfo>, containers: Vec<ContainerInfo> },
    Probe(bool),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid state: {0}")]
    InvalidState(String),
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
}

/// A container exited (CRI's CONTAINER_STOPPED_EVENT), with its final status.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerExit {
    pub container: ContainerInfo,
}
