//! The runtime interface on containerd (containerd-client), one containerd
//! namespace per kubesim node — this adapter never touches another.
//!
//! - A pod sandbox is a container running `sleep` in its own network
//!   namespace (there is no pause image without a registry); the pod's
//!   containers join that network namespace (`/proc/<sandbox pid>/ns/net`).
//! - Images: from containerd's image store when the image is there (as
//!   `ctr image import` leaves it): a writable overlayfs snapshot of its
//!   layers (parent = their chain ID) and its Entrypoint/Cmd when the pod
//!   gives no command. Otherwise (there is no registry) a root filesystem
//!   directory (`--rootfs IMAGE=DIR`, or one `--rootfs DIR` for every image),
//!   mounted read-only. The sandbox runs `sleep` from the default directory.
//! - Commands are passed as argv, never through a shell string.
//! - stdout and stderr go to `<log dir>/<container>.log`.
//! - Exits come from a `Wait` per task. Probes report whether the task runs
//!   (exec probes are not run live).
//! - Every call has a 5 s deadline except stop, which waits out the grace period.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use containerd_client::services::v1::container::Runtime as CtrRuntime;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::namespaces_client::NamespacesClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{MountsRequest, PrepareSnapshotRequest, RemoveSnapshotRequest};
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    Container, CreateContainerRequest, CreateTaskRequest, DeleteContainerRequest, DeleteNamespaceRequest, DeleteTaskRequest, GetImageRequest, GetRequest, KillRequest, ListContainersRequest, ListTasksRequest, ReadContentRequest,
    StartRequest, WaitRequest,
};
use containerd_client::tonic::Request;
use containerd_client::tonic::transport::Channel;
use containerd_client::with_namespace;
use tokio::runtime::Runtime;

use super::driver::{Msg, wall_now};
use super::runtime::LiveRuntime;
use crate::control::RequestId;
use crate::runtime::{ContainerExit, ContainerInfo, ContainerState, PodIdentity, ProbeKind, RuntimeError, RuntimeOp, RuntimeReply, SandboxInfo};
use crate::time::SimTime;

const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Creating and starting a task runs runc; under a burst of pods that queues.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long exit waits for the shims of deleted tasks to go.
const SHIM_EXIT_TIMEOUT: Duration = Duration::from_secs(20);
const SPEC_TYPE: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
const LABEL_ROLE: &str = "kubesim.io/role";
const LABEL_SANDBOX: &str = "kubesim.io/sandbox";
const LABEL_POD_UID: &str = "kubesim.io/pod-uid";
const LABEL_POD_NS: &str = "kubesim.io/pod-namespace";
const LABEL_POD_NAME: &str = "kubesim.io/pod-name";
const LABEL_NAME: &str = "kubesim.io/container-name";
const LABEL_ATTEMPT: &str = "kubesim.io/attempt";

#[derive(Default)]
struct State {
    sandboxes: BTreeMap<String, (PodIdentity, u32)>,
    containers: BTreeMap<String, ContainerInfo>,
    /// Images found in containerd's image store, by name.
    images: BTreeMap<String, StoredImage>,
    /// Root filesystem mounts of containers made from stored images.
    mounts: BTreeMap<String, Vec<containerd_client::types::Mount>>,
}

/// An image in containerd's image store, unpacked by its snapshotter.
#[derive(Clone, Debug)]
struct StoredImage {
    /// The chain ID of its layers: the parent snapshot of its containers.
    chain_id: String,
    /// Entrypoint + Cmd, for containers that give no command.
    args: Vec<String>,
}

const SNAPSHOTTER: &str = "overlayfs";

/// Where images' root filesystems are: one default, or per image.
#[derive(Clone, Debug, Default)]
pub struct RootfsMap {
    pub default: Option<PathBuf>,
    pub by_image: BTreeMap<String, PathBuf>,
}

impl RootfsMap {
    /// From `--rootfs` values: `DIR` (every image) or `IMAGE=DIR`.
    pub fn parse(values: &[String]) -> Result<RootfsMap, String> {
        let mut m = RootfsMap::default();
        for v in values {
            let (image, dir) = match v.rsplit_once('=') {
                Some((image, dir)) => (Some(image), dir),
                None => (None, v.as_str()),
            };
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(format!("--rootfs {v}: {} is not a directory", dir.display()));
            }
            match image {
                Some(i) => {
                    m.by_image.insert(i.to_string(), dir);
                }
                None => m.default = Some(dir),
            }
        }
        Ok(m)
    }

    pub fn resolve(&self, image: &str) -> Option<PathBuf> {
        self.by_image.get(image).cloned().or_else(|| self.default.clone())
    }
}

pub struct Containerd {
    rt: Arc<Runtime>,
    channel: Channel,
    namespace: String,
    socket: PathBuf,
    rootfs: RootfsMap,
    logs: PathBuf,
    node: String,
    state: Arc<Mutex<State>>,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Unavailable(format!("containerd {what}: {e}"))
}

impl Containerd {
    /// Connects to containerd at `socket` within 5 s, for one node's namespace.
    pub fn connect(rt: Arc<Runtime>, socket: &std::path::Path, namespace: &str, rootfs: RootfsMap, node: &str) -> Result<Containerd, String> {
        let path = socket.to_path_buf();
        let channel = rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, containerd_client::connect(path)).await })
            .map_err(|_| format!("containerd at {}: no answer within {}s", socket.display(), CALL_TIMEOUT.as_secs()))?
            .map_err(|e| format!("containerd at {}: cannot connect: {e}", socket.display()))?;
        // Probe it: a list in our namespace must answer.
        let mut c = ContainersClient::new(channel.clone());
        let ns = namespace.to_string();
        rt.block_on(async { tokio::time::timeout(CALL_TIMEOUT, c.list(with_namespace!(ListContainersRequest { filters: vec![] }, ns))).await })
            .map_err(|_| format!("containerd at {}: no answer within {}s", socket.display(), CALL_TIMEOUT.as_secs()))?
            .map_err(|e| format!("containerd at {}: {e}", socket.display()))?;
        let logs = std::env::temp_dir().join(format!("kubesim-logs-{namespace}"));
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        Ok(Containerd { rt, channel, namespace: namespace.to_string(), socket: socket.to_path_buf(), rootfs, logs, node: node.to_string(), state: Arc::new(Mutex::new(State::default())) })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn log_dir(&self) -> &std::path::Path {
        &self.logs
    }

    fn spec(args: &[String], rootfs: &std::path::Path, hostname: &str, netns: Option<u32>, memory_limit: Option<i64>, cgroup: &str) -> Vec<u8> {
        let caps = serde_json::json!(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]);
        let network = match netns {
            Some(pid) => serde_json::json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}),
            None => serde_json::json!({"type": "network"}),
        };
        let mut resources = serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]});
        if let Some(limit) = memory_limit {
            resources["memory"] = serde_json::json!({"limit": limit});
        }
        let spec = serde_json::json!({
            "ociVersion": "1.0.2-dev",
            "process": {
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": true
            },
            "root": {"path": rootfs, "readonly": true},
            "hostname": hostname,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]}
            ],
            "linux": {
                "resources": resources,
                "cgroupsPath": cgroup,
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, network],
                "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
            }
        });
        serde_json::to_vec(&spec).unwrap_or_default()
    }
}

/// One call against containerd, for one request.
struct Call {
    channel: Channel,
    ns: String,
    state: Arc<Mutex<State>>,
    rootfs: RootfsMap,
    logs: PathBuf,
}

impl Call {
    /// Creates and starts the container's task; a retry after a timeout
    /// finds it already there and carries on (idempotent).
    async fn create_and_start_task(&self, id: &str, stdout: String) -> Result<u32, RuntimeError> {
        self.create_and_start_task_with(id, stdout, Vec::new()).await
    }

    async fn create_and_start_task_with(&self, id: &str, stdout: String, rootfs: Vec<containerd_client::types::Mount>) -> Result<u32, RuntimeError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let req = CreateTaskRequest { container_id: id.into(), stdout: stdout.clone(), stderr: stdout, rootfs, ..Default::default() };
        let pid = match timeout_for(START_TIMEOUT, tasks.create(with_namespace!(req, self.ns.as_str()))).await {
            Ok(created) => created.into_inner().pid,
            Err(e) if e.contains("already exists") => {
                let got = timeout(tasks.get(with_namespace!(GetRequest { container_id: id.into(), exec_id: String::new() }, self.ns.as_str()))).await.map_err(|e| unavailable("get task", e))?;
                let process = got.into_inner().process.unwrap_or_default();
                if process.status == 2 {
                    return Ok(process.pid);
                }
                process.pid
            }
            Err(e) => return Err(unavailable("create task", e)),
        };
        match timeout_for(START_TIMEOUT, tasks.start(with_namespace!(StartRequest { container_id: id.into(), exec_id: String::new() }, self.ns.as_str()))).await {
            Ok(_) => Ok(pid),
            Err(e) if e.contains("already") => Ok(pid),
            Err(e) => Err(unavailable("start task", e)),
        }
    }

    async fn create_container(&self, id: &str, spec: Vec<u8>, labels: std::collections::HashMap<String, String>) -> Result<(), RuntimeError> {
        let mut containers = ContainersClient::new(self.channel.clone());
        let container = Container {
            id: id.into(),
            labels,
            runtime: Some(CtrRuntime { name: "io.containerd.runc.v2".into(), options: None }),
            spec: Some(prost_types::Any { type_url: SPEC_TYPE.into(), value: spec }),
            ..Default::default()
        };
        match timeout(containers.create(with_namespace!(CreateContainerRequest { container: Some(container) }, self.ns.as_str()))).await {
            // A retry after a timed-out create that went through: ours, carry on.
            Err(e) if e.contains("already exists") => Ok(()),
            Err(e) => Err(unavailable("create container", e)),
            Ok(_) => Ok(()),
        }
    }

    async fn kill_and_wait(&self, id: &str, grace: Duration) -> Result<i32, RuntimeError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let mut waiter = TasksClient::new(self.channel.clone());
        let ns = self.ns.clone();
        let cid = id.to_string();
        let wait = tokio::spawn(async move { waiter.wait(with_namespace!(WaitRequest { container_id: cid, exec_id: String::new() }, ns.as_str())).await });
        let sent = timeout(tasks.kill(with_namespace!(KillRequest { container_id: id.into(), exec_id: String::new(), signal: 15, all: true }, self.ns.as_str()))).await;
        if sent.is_err() {
            wait.abort();
            return Ok(0); // no task: nothing runs
        }
        match tokio::time::timeout(grace, wait).await {
            Ok(Ok(Ok(r))) => Ok(r.into_inner().exit_status as i32),
            _ => {
                let _ = timeout(tasks.kill(with_namespace!(KillRequest { container_id: id.into(), exec_id: String::new(), signal: 9, all: true }, self.ns.as_str()))).await;
                let mut w = TasksClient::new(self.channel.clone());
                let r = timeout(w.wait(with_namespace!(WaitRequest { container_id: id.into(), exec_id: String::new() }, self.ns.as_str()))).await;
                Ok(r.map(|r| r.into_inner().exit_status as i32).unwrap_or(137))
            }
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let _ = timeout(tasks.delete(with_namespace!(DeleteTaskRequest { container_id: id.into() }, self.ns.as_str()))).await;
        let mut containers = ContainersClient::new(self.channel.clone());
        let removed = timeout(containers.delete(with_namespace!(DeleteContainerRequest { id: id.into() }, self.ns.as_str()))).await;
        // Its snapshot, if it was made from a stored image (absent otherwise).
        let mut snapshots = SnapshotsClient::new(self.channel.clone());
        let _ = timeout(snapshots.remove(with_namespace!(RemoveSnapshotRequest { snapshotter: SNAPSHOTTER.into(), key: id.into() }, self.ns.as_str()))).await;
        self.state.lock().expect("state").mounts.remove(id);
        match removed {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("not found") => Err(RuntimeError::NotFound(id.into())),
            Err(e) => Err(unavailable("delete container", e)),
        }
    }

    async fn run(&self, op: RuntimeOp, exits: &Sender<Msg>, node: &str) -> Result<RuntimeReply, RuntimeError> {
        match op {
            RuntimeOp::RunPodSandbox { pod } => {
                let Some(rootfs) = self.rootfs.default.clone().or_else(|| self.rootfs.by_image.values().next().cloned()) else {
                    return Err(RuntimeError::NotFound("no root filesystem for the sandbox (give --rootfs)".into()));
                };
                let short: String = pod.uid.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect();
                let id = format!("{}-{short}-sandbox", pod.name);
                let labels = [
                    (LABEL_ROLE, "sandbox".to_string()),
                    (LABEL_POD_UID, pod.uid.clone()),
                    (LABEL_POD_NS, pod.namespace.clone()),
                    (LABEL_POD_NAME, pod.name.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let spec = Containerd::spec(&["/bin/sleep".into(), "2147483647".into()], &rootfs, &pod.name, None, None, &format!("/kubesim/{}/{id}", self.ns));
                self.create_container(&id, spec, labels).await?;
                let pid = self.create_and_start_task(&id, String::new()).await?;
                self.state.lock().expect("state").sandboxes.insert(id.clone(), (pod, pid));
                Ok(RuntimeReply::Sandbox(id))
            }
            RuntimeOp::StopPodSandbox { sandbox } => {
                let members: Vec<String> = self.state.lock().expect("state").containers.values().filter(|c| c.sandbox == sandbox && c.state == ContainerState::Running).map(|c| c.id.clone()).collect();
                for id in members {
                    let code = self.kill_and_wait(&id, Duration::ZERO).await?;
                    finish(&self.state, &id, code);
                }
                self.kill_and_wait(&sandbox, Duration::ZERO).await?;
                Ok(RuntimeReply::Done)
            }
            RuntimeOp::RemovePodSandbox { sandbox } => {
                let members: Vec<String> = self.state.lock().expect("state").containers.values().filter(|c| c.sandbox == sandbox).map(|c| c.id.clone()).collect();
                for id in members {
                    let _ = self.kill_and_wait(&id, Duration::ZERO).await;
                    let _ = self.remove(&id).await;
                    self.state.lock().expect("state").containers.remove(&id);
                }
                let _ = self.kill_and_wait(&sandbox, Duration::ZERO).await;
                self.remove(&sandbox).await?;
                self.state.lock().expect("state").sandboxes.remove(&sandbox);
                Ok(RuntimeReply::Done)
            }
            RuntimeOp::PullImage { image } => {
                // containerd's image store first (as `ctr image import` leaves it), then the directories.
                if let Some(stored) = self.stored_image(&image).await? {
                    self.state.lock().expect("state").images.insert(image, stored);
                    return Ok(RuntimeReply::Done);
                }
                match self.rootfs.resolve(&image) {
                    Some(dir) if dir.exists() => Ok(RuntimeReply::Done),
                    _ => Err(RuntimeError::NotFound(format!(
                        "image {image}: not in containerd's image store (ctr -n {} images import) and no root filesystem for it (--rootfs DIR or --rootfs {image}=DIR)",
                        self.ns
                    ))),
                }
            }
            RuntimeOp::CreateContainer { sandbox, name, image, command, memory_limit_bytes, attempt } => {
                let (pod, pid) = self.state.lock().expect("state").sandboxes.get(&sandbox).cloned().ok_or_else(|| RuntimeError::NotFound(format!("sandbox {sandbox}")))?;
                let id = format!("{}-{name}-{attempt}", sandbox.trim_end_matches("-sandbox"));
                let stored = self.state.lock().expect("state").images.get(&image).cloned();
                let (rootfs, default_args) = match &stored {
                    Some(img) => {
                        // A writable snapshot of the image's layers, mounted as the bundle's rootfs.
                        let mounts = self.prepare_snapshot(&id, &img.chain_id).await?;
                        self.state.lock().expect("state").mounts.insert(id.clone(), mounts);
                        (PathBuf::from("rootfs"), img.args.clone())
                    }
                    None => (self.rootfs.resolve(&image).ok_or_else(|| RuntimeError::NotFound(format!("image {image}: no root filesystem")))?, Vec::new()),
                };
                let args = match (command.is_empty(), default_args.is_empty()) {
                    (false, _) => command,
                    (true, false) => default_args,
                    (true, true) => vec!["/bin/sleep".to_string(), "2147483647".to_string()],
                };
                let mut spec = Containerd::spec(&args, &rootfs, &pod.name, Some(pid), memory_limit_bytes, &format!("/kubesim/{}/{id}", self.ns));
                if stored.is_some() {
                    // The snapshot is the container's own: writable.
                    spec = String::from_utf8_lossy(&spec).replace("\"readonly\":true", "\"readonly\":false").into_bytes();
                }
                let labels = [
                    (LABEL_ROLE, "container".to_string()),
                    (LABEL_SANDBOX, sandbox.clone()),
                    (LABEL_POD_UID, pod.uid.clone()),
                    (LABEL_POD_NS, pod.namespace.clone()),
                    (LABEL_POD_NAME, pod.name.clone()),
                    (LABEL_NAME, name.clone()),
                    (LABEL_ATTEMPT, attempt.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                self.create_container(&id, spec, labels).await?;
                let info = ContainerInfo::created(id.clone(), sandbox, pod.uid.clone(), name, image, attempt);
                self.state.lock().expect("state").containers.insert(id.clone(), info);
                Ok(RuntimeReply::Container(id))
            }
            RuntimeOp::StartContainer { container } => {
                let log = format!("file://{}", self.logs.join(format!("{container}.log")).display());
                let mounts = self.state.lock().expect("state").mounts.get(&container).cloned().unwrap_or_default();
                self.create_and_start_task_with(&container, log, mounts).await?;
                {
                    let mut st = self.state.lock().expect("state");
                    if let Some(c) = st.containers.get_mut(&container) {
                        c.state = ContainerState::Running;
                        c.started_at = Some(wall_now());
                    }
                }
                // The exit, whenever it comes.
                let mut waiter = TasksClient::new(self.channel.clone());
                let (ns, state, tx, node) = (self.ns.clone(), self.state.clone(), exits.clone(), node.to_string());
                tokio::spawn(async move {
                    let r = waiter.wait(with_namespace!(WaitRequest { container_id: container.clone(), exec_id: String::new() }, ns.as_str())).await;
                    let code = r.map(|r| r.into_inner().exit_status as i32).unwrap_or(137);
                    if let Some(info) = finish(&state, &container, code) {
                        let _ = tx.send(Msg::ContainerExited { node, exit: ContainerExit { container: info } });
                    }
                });
                Ok(RuntimeReply::Done)
            }
            RuntimeOp::StopContainer { container, timeout_s } => {
                let code = self.kill_and_wait(&container, Duration::from_secs(timeout_s.max(0) as u64)).await?;
                finish(&self.state, &container, code);
                Ok(RuntimeReply::Done)
            }
            RuntimeOp::RemoveContainer { container } => {
                self.remove(&container).await?;
                self.state.lock().expect("state").containers.remove(&container);
                Ok(RuntimeReply::Done)
            }
            RuntimeOp::List => self.list().await,
            RuntimeOp::Probe { container, kind } => {
                let running = self.state.lock().expect("state").containers.get(&container).is_some_and(|c| c.state == ContainerState::Running);
                let _ = kind == ProbeKind::Readiness;
                Ok(RuntimeReply::Probe(running))
            }
        }
    }

    /// The image from containerd's image store, if it is there: its layers'
    /// chain ID and default command, read from its manifest and config.
    async fn stored_image(&self, name: &str) -> Result<Option<StoredImage>, RuntimeError> {
        if let Some(img) = self.state.lock().expect("state").images.get(name) {
            return Ok(Some(img.clone()));
        }
        let mut images = ImagesClient::new(self.channel.clone());
        let target = match timeout(images.get(with_namespace!(GetImageRequest { name: name.into() }, self.ns.as_str()))).await {
            Ok(r) => match r.into_inner().image.and_then(|i| i.target) {
                Some(t) => t,
                None => return Ok(None),
            },
            Err(e) if e.contains("not found") => return Ok(None),
            Err(e) => return Err(unavailable("get image", e)),
        };
        let mut digest = target.digest;
        let mut doc = self.read_json(&digest).await?;
        if doc.get("manifests").is_some() {
            // An index: the linux/amd64 manifest, else the first.
            let manifests = doc["manifests"].as_array().cloned().unwrap_or_default();
            let chosen = manifests.iter().find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64").or(manifests.first());
            digest = chosen.and_then(|m| m["digest"].as_str()).ok_or_else(|| RuntimeError::NotFound(format!("image {name}: empty index")))?.to_string();
            doc = self.read_json(&digest).await?;
        }
        let config_digest = doc["config"]["digest"].as_str().ok_or_else(|| RuntimeError::NotFound(format!("image {name}: manifest without config")))?.to_string();
        let config = self.read_json(&config_digest).await?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"].as_array().map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect()).unwrap_or_default();
        let Some(chain_id) = chain_id(&diff_ids) else { return Err(RuntimeError::NotFound(format!("image {name}: no layers"))) };
        let strings = |v: &serde_json::Value| v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect::<Vec<_>>()).unwrap_or_default();
        let mut args = strings(&config["config"]["Entrypoint"]);
        args.extend(strings(&config["config"]["Cmd"]));
        Ok(Some(StoredImage { chain_id, args }))
    }

    async fn read_json(&self, digest: &str) -> Result<serde_json::Value, RuntimeError> {
        let mut content = ContentClient::new(self.channel.clone());
        let mut stream = timeout(content.read(with_namespace!(ReadContentRequest { digest: digest.into(), offset: 0, size: 0 }, self.ns.as_str())))
            .await
            .map_err(|e| unavailable("read content", e))?
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = tokio::time::timeout(CALL_TIMEOUT, stream.message()).await.map_err(|_| unavailable("read content", "timed out"))?.map_err(|e| unavailable("read content", e))? {
            bytes.extend(chunk.data);
        }
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::NotFound(format!("content {digest}: not JSON: {e}")))
    }

    async fn prepare_snapshot(&self, key: &str, parent: &str) -> Result<Vec<containerd_client::types::Mount>, RuntimeError> {
        let mut snapshots = SnapshotsClient::new(self.channel.clone());
        let req = PrepareSnapshotRequest { snapshotter: SNAPSHOTTER.into(), key: key.into(), parent: parent.into(), labels: Default::default() };
        match timeout(snapshots.prepare(with_namespace!(req, self.ns.as_str()))).await {
            Ok(r) => Ok(r.into_inner().mounts),
            Err(e) if e.contains("already exists") => {
                let m = timeout(snapshots.mounts(with_namespace!(MountsRequest { snapshotter: SNAPSHOTTER.into(), key: key.into() }, self.ns.as_str()))).await.map_err(|e| unavailable("snapshot mounts", e))?;
                Ok(m.into_inner().mounts)
            }
            Err(e) => Err(unavailable("prepare snapshot", e)),
        }
    }

    /// Everything in this node's namespace, rebuilt from containerd's labels
    /// and task states (a restarted kubelet's view).
    async fn list(&self) -> Result<RuntimeReply, RuntimeError> {
        let mut containers = ContainersClient::new(self.channel.clone());
        let listed = timeout(containers.list(with_namespace!(ListContainersRequest { filters: vec![] }, self.ns.as_str()))).await.map_err(|e| unavailable("list containers", e))?.into_inner();
        let mut tasks = TasksClient::new(self.channel.clone());
        let procs = timeout(tasks.list(with_namespace!(ListTasksRequest { filter: String::new() }, self.ns.as_str()))).await.map_err(|e| unavailable("list tasks", e))?.into_inner();
        let running: BTreeMap<String, u32> = procs.tasks.iter().filter(|p| p.status == 2).map(|p| (p.container_id.clone(), p.pid)).collect();
        let mut st = State::default();
        let mut out_sb = Vec::new();
        let mut out_c = Vec::new();
        for c in listed.containers {
            let l = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
            let pod = PodIdentity { namespace: l(LABEL_POD_NS), name: l(LABEL_POD_NAME), uid: l(LABEL_POD_UID), labels: Default::default() };
            if l(LABEL_ROLE) == "sandbox" {
                let pid = running.get(&c.id).copied();
                out_sb.push(SandboxInfo { id: c.id.clone(), pod: pod.clone(), ready: pid.is_some() });
                st.sandboxes.insert(c.id.clone(), (pod, pid.unwrap_or(0)));
            } else if l(LABEL_ROLE) == "container" {
                let info = ContainerInfo {
                    id: c.id.clone(),
                    sandbox: l(LABEL_SANDBOX),
                    pod_uid: pod.uid,
                    name: l(LABEL_NAME),
                    image: c.image.clone(),
                    attempt: l(LABEL_ATTEMPT).parse().unwrap_or(0),
                    state: if running.contains_key(&c.id) { ContainerState::Running } else { ContainerState::Exited },
                    started_at: Some(wall_now()),
                    finished_at: None,
                    exit_code: 0,
                    reason: String::new(),
                };
                st.containers.insert(c.id.clone(), info.clone());
                out_c.push(info);
            }
        }
        *self.state.lock().expect("state") = st;
        Ok(RuntimeReply::List { sandboxes: out_sb, containers: out_c })
    }
}

async fn timeout<T>(f: impl std::future::Future<Output = Result<T, containerd_client::tonic::Status>>) -> Result<T, String> {
    timeout_for(CALL_TIMEOUT, f).await
}

async fn timeout_for<T>(limit: Duration, f: impl std::future::Future<Output = Result<T, containerd_client::tonic::Status>>) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Err(_) => Err(format!("no answer within {}s", limit.as_secs())),
        Ok(Err(s)) => Err(s.message().to_string()),
        Ok(Ok(v)) => Ok(v),
    }
}

/// Marks a container exited (once); returns its final status.
fn finish(state: &Arc<Mutex<State>>, id: &str, code: i32) -> Option<ContainerInfo> {
    let mut st = state.lock().expect("state");
    let c = st.containers.get_mut(id)?;
    if c.state != ContainerState::Running {
        return None;
    }
    c.state = ContainerState::Exited;
    c.finished_at = Some(wall_now());
    c.exit_code = code;
    c.reason = if code == 0 { "Completed".into() } else { "Error".into() };
    Some(c.clone())
}

impl LiveRuntime for Containerd {
    fn call(&mut self, slot: usize, id: RequestId, op: RuntimeOp, tx: Sender<Msg>) {
        let call = Call { channel: self.channel.clone(), ns: self.namespace.clone(), state: self.state.clone(), rootfs: self.rootfs.clone(), logs: self.logs.clone() };
        let node = self.node.clone();
        self.rt.spawn(async move {
            let result = call.run(op, &tx, &node).await;
            let _ = tx.send(Msg::RuntimeDone { slot, id, result });
        });
    }

    fn kill_matching(&mut self, namespace: Option<&str>, selector: &crate::model::LabelSelector) -> usize {
        let targets: Vec<String> = {
            let st = self.state.lock().expect("state");
            st.containers
                .values()
                .filter(|c| c.state == ContainerState::Running)
                .filter(|c| st.sandboxes.get(&c.sandbox).is_some_and(|(pod, _)| namespace.is_none_or(|ns| pod.namespace == ns) && selector.matches(&pod.labels)))
                .map(|c| c.id.clone())
                .collect()
        };
        let (channel, ns) = (self.channel.clone(), self.namespace.clone());
        for id in &targets {
            let mut tasks = TasksClient::new(channel.clone());
            let (ns, id) = (ns.clone(), id.clone());
            // The task's Wait (from its start) reports the exit to the kubelet.
            self.rt.spawn(async move {
                let _ = timeout(tasks.kill(with_namespace!(KillRequest { container_id: id, exec_id: String::new(), signal: 9, all: true }, ns.as_str()))).await;
            });
        }
        targets.len()
    }

    /// Kills and removes every task and container in this node's namespace,
    /// then the namespace itself. Never another namespace.
    fn cleanup(&mut self) -> Result<(), String> {
        let call = Call { channel: self.channel.clone(), ns: self.namespace.clone(), state: self.state.clone(), rootfs: self.rootfs.clone(), logs: self.logs.clone() };
        let channel = self.channel.clone();
        let ns = self.namespace.clone();
        let socket = self.socket.display().to_string();
        self.rt.block_on(async move {
            let mut containers = ContainersClient::new(channel.clone());
            let listed = timeout(containers.list(with_namespace!(ListContainersRequest { filters: vec![] }, ns.as_str()))).await.map_err(|e| format!("containerd at {socket}: {e}"))?.into_inner();
            // Everything at once, SIGKILL: the run is over, nobody waits for a grace period.
            let mut handles = Vec::new();
            for c in &listed.containers {
                let (channel, ns, id) = (channel.clone(), ns.clone(), c.id.clone());
                handles.push(tokio::spawn(async move {
                    let mut tasks = TasksClient::new(channel.clone());
                    let mut waiter = TasksClient::new(channel);
                    let wait_ns = ns.clone();
                    let wait_id = id.clone();
                    let wait = tokio::spawn(async move { waiter.wait(with_namespace!(WaitRequest { container_id: wait_id, exec_id: String::new() }, wait_ns.as_str())).await });
                    if timeout(tasks.kill(with_namespace!(KillRequest { container_id: id.clone(), exec_id: String::new(), signal: 9, all: true }, ns.as_str()))).await.is_ok() {
                        let _ = tokio::time::timeout(CALL_TIMEOUT, wait).await;
                    } else {
                        wait.abort();
                    }
                }));
            }
            for h in handles {
                let _ = h.await;
            }
            // Then remove them: containers first, sandboxes last.
            let mut ids: Vec<(bool, String)> = listed.containers.iter().map(|c| (c.labels.get(LABEL_ROLE).map(String::as_str) == Some("sandbox"), c.id.clone())).collect();
            ids.sort();
            for (_, id) in ids {
                let _ = call.remove(&id).await;
            }
            let mut namespaces = NamespacesClient::new(channel);
            let _ = timeout(namespaces.delete(Request::new(DeleteNamespaceRequest { name: ns.clone() }))).await;
            // Shims exit a moment after their task is deleted: wait (≤ 5 s) so none outlives the run.
            let deadline = tokio::time::Instant::now() + SHIM_EXIT_TIMEOUT;
            while shims_of(&ns) > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<(), String>(())
        })
    }
}

/// The OCI chain ID of layers with these diff IDs: the first diff ID, then
/// sha256("<chain> <diff id>") for each next one.
fn chain_id(diff_ids: &[String]) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut chain = diff_ids.first()?.clone();
    for d in &diff_ids[1..] {
        let h = Sha256::digest(format!("{chain} {d}").as_bytes());
        chain = format!("sha256:{}", h.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    Some(chain)
}

/// containerd shims serving namespace `ns`, and shims that have exited but
/// are not yet reaped (their cmdline is gone), from /proc.
fn shims_of(ns: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read(e.path().join("comm")).is_ok_and(|c| c.starts_with(b"containerd-shim")))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.is_empty() || c.split(|b| *b == 0).any(|a| a == ns.as_bytes()))
        .count()
}

/// For tests: when the adapter last saw a container start, as kubesim time.
pub fn started_at(info: &ContainerInfo) -> Option<SimTime> {
    info.started_at
}
