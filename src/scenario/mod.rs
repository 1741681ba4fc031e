//! Scenarios: a cluster, objects, a timeline of actions at virtual times,
//! timing, and checks. `load` turns a file into a `Scenario` whose every
//! part has been checked, or a `SourceError` naming file:line:column.

pub mod actions;
pub mod budget;
pub mod schema;

pub use actions::{Action, TimedAction, TimelineEntry};

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::manifest::{self, LoadedObject, ObjectSeed, Warning};
use crate::model::meta::{Condition, ObjectMeta};
use crate::model::node::{NodeSpec, NodeStatus};
use crate::model::{Kind, LabelSelector, Node, Object, ObjectRef};
use crate::time::{SimTime, format_duration};
use crate::yamlpos::{PathSeg, SourceError, decode_at};
use schema::*;

/// The most nodes a scenario's pools may add up to.
pub const MAX_NODES: u64 = 200_000;
/// The most faults a swarm may draw per fault kind and seed.
pub const MAX_SWARM_FAULTS: u64 = 10_000;

/// The phases a pod can be in (core/v1 PodPhase).
pub const POD_PHASES: &[&str] = &["Pending", "Running", "Succeeded", "Failed", "Unknown"];
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
pub const OS_LABEL: &str = "kubernetes.io/os";
pub const ARCH_LABEL: &str = "kubernetes.io/arch";
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
pub const POOL_LABEL: &str = "kubesim.io/node-pool";

/// The control-plane components of a scenario by name (from the component
/// registry): with one replica, the scheduler and each controller on its own;
/// with more, leader-elected processes `scheduler-1`…, `controller-manager-1`….
pub fn component_names(replicas: u32) -> Vec<String> {
    crate::control::registry::control_plane_names(replicas)
}

/// Every per-node component of `node` (`kubelet/<node>`, …), from the registry.
pub fn node_components(node: &str) -> Vec<String> {
    crate::control::registry::per_node_names().into_iter().map(|c| format!("{c}/{node}")).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Equals(i64),
    AtLeast(i64),
    AtMost(i64),
}

impl Comparison {
    pub fn holds(self, v: i64) -> bool {
        match self {
            Comparison::Equals(x) => v == x,
            Comparison::AtLeast(x) => v >= x,
            Comparison::AtMost(x) => v <= x,
        }
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comparison::Equals(x) => write!(f, "== {x}"),
            Comparison::AtLeast(x) => write!(f, ">= {x}"),
            Comparison::AtMost(x) => write!(f, "<= {x}"),
        }
    }
}

/// Which objects a count check counts.
#[derive(Clone, Debug)]
pub struct ObjectFilter {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    pub phase: Option<String>,
    pub bound: Option<bool>,
    pub node: Option<String>,
    pub ready: Option<bool>,
    pub deleting: Option<bool>,
    pub condition: Option<schema::ConditionFilterSpec>,
    /// Events: the reason.
    pub reason: Option<String>,
    /// Pods: at least this many container restarts in all.
    pub min_restarts: Option<i32>,
}

impl ObjectFilter {
    pub fn matches(&self, o: &Object) -> bool {
        if o.kind() != self.kind {
            return false;
        }
        let m = o.meta();
        if self.namespace.as_ref().is_some_and(|ns| *ns != m.namespace) {
            return false;
        }
        if self.selector.as_ref().is_some_and(|s| !s.matches(&m.labels)) {
            return false;
        }
        if self.deleting.is_some_and(|d| d != m.is_deleting()) {
            return false;
        }
        if let Some(want) = &self.condition
            && !o.conditions().iter().any(|c| c.type_ == want.type_ && want.status.as_ref().is_none_or(|s| *s == c.status) && want.reason.as_ref().is_none_or(|r| *r == c.reason))
        {
            return false;
        }
        match o {
            Object::Event(e) => self.reason.as_ref().is_none_or(|r| *r == e.reason),
            Object::Pod(p) => {
                self.phase.as_ref().is_none_or(|ph| *ph == p.status.phase)
                    && self.bound.is_none_or(|b| b == p.is_bound())
                    && self.node.as_ref().is_none_or(|n| *n == p.spec.node_name)
                    && self.ready.is_none_or(|r| r == p.is_ready())
                    && self.min_restarts.is_none_or(|n| p.status.container_statuses.iter().map(|c| c.restart_count).sum::<i32>() >= n)
            }
            Object::Node(n) => self.ready.is_none_or(|r| r == n.is_ready()),
            _ => true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CountCheck {
    pub name: String,
    pub at: SimTime,
    /// "Eventually": the condition must hold at some moment in [at, until].
    pub until: Option<SimTime>,
    pub filter: ObjectFilter,
    pub expect: Comparison,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario file, as given on the command line.
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: Duration,
    pub namespaces: Vec<String>,
    pub nodes: Vec<Node>,
    pub objects: Vec<LoadedObject>,
    pub timeline: Vec<TimedAction>,
    pub timing: TimingSpec,
    pub checks: Vec<CountCheck>,
    pub warnings: Vec<Warning>,
    /// The scheduler configuration (kube-scheduler's defaults unless `scheduler.config`).
    pub scheduler: std::sync::Arc<crate::control::scheduler::profile::SchedulerConfig>,
    pub runtime: std::sync::Arc<crate::runtime::model::RuntimeModel>,
    /// Faults drawn per seed (see `swarm`).
    pub swarm: Option<swarm::SwarmSpec>,
    /// Replicas of the scheduler and the controller manager (leader-elected when above 1).
    pub control_plane_replicas: u32,
    /// Liveness: from `.0` on, within `.1`, the cluster must be whole.
    pub liveness: Option<(Duration, Duration)>,
    /// The files the scenario names (manifests, scheduler configuration), as
    /// written in it: relative to the scenario's directory unless absolute.
    pub sources: Vec<String>,
    /// The scenario's `budget:`, if it sets one.
    pub budget: Option<budget::BudgetSpec>,
    /// `--max-events` / `--max-steps`, if given.
    pub budget_flags: (Option<u64>, Option<u64>),
}

impl Scenario {
    /// The budgets of a run of this scenario for `until` of simulated time.
    pub fn budget(&self, until: Duration) -> budget::Budget {
        budget::Budget::resolve(self.budget, budget::derived_events(self, until)).with_flags(self.budget_flags.0, self.budget_flags.1)
    }
}

/// What a scenario's parts are checked against: the file and its text (for
/// positions), and the cluster's nodes and components.
pub struct Loader<'a> {
    file: String,
    text: &'a str,
    /// Every position of `text`, indexed once on first use.
    positions: std::cell::OnceCell<crate::yaml_index::PositionIndex>,
    dir: PathBuf,
    warnings: Vec<Warning>,
    node_names: std::collections::BTreeSet<String>,
    node_labels: Vec<(String, crate::model::Labels)>,
    /// The control-plane components by name.
    pub components: Vec<String>,
    /// Files the scenario names, as written (relative to its directory).
    sources: std::collections::BTreeSet<String>,
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.into())
}

impl Loader<'_> {
    /// An error at `path` (the nearest position the text has for it).
    pub fn err(&self, path: &[PathSeg], message: impl Into<String>) -> SourceError {
        SourceError::at(&self.file, self.position(path), message)
    }

    /// The nearest position `text` has for `path` (one pass over the text, then lookups).
    fn position(&self, path: &[PathSeg]) -> crate::yamlpos::Position {
        self.positions.get_or_init(|| crate::yaml_index::PositionIndex::new(self.text)).locate_nearest(0, path)
    }

    /// A kind as a manifest spells it (`Pod`): a near miss (`pod`, `pods`) is
    /// an error that names the spelling, never silently accepted.
    fn kind_at(&self, name: &str, path: &[PathSeg]) -> Result<Kind, SourceError> {
        match Kind::from_name(name) {
            Some(k) if k.name() == name => Ok(k),
            Some(k) => Err(self.err(path, format!("kind {name:?}: write it as a manifest's kind does, `{}`", k.name()))),
            None => Err(self.err(path, format!("unknown kind {name:?}; expected one of {}", Kind::expected_list()))),
        }
    }

    /// The object an action names, with its kind checked.
    pub fn target(&self, kind: &str, namespace: &Option<String>, name: &str, path: &[PathSeg]) -> Result<ObjectRef, SourceError> {
        let mut p = path.to_vec();
        p.push(key("kind"));
        let k = self.kind_at(kind, &p)?;
        Ok(ObjectRef::new(k, namespace.as_deref().unwrap_or("default"), name))
    }

    /// A node of the cluster's node pools, named at `path`'s `node` field.
    pub fn node_name(&self, node: &str, path: &[PathSeg]) -> Result<(), SourceError> {
        if self.node_names.contains(node) {
            return Ok(());
        }
        let mut p = path.to_vec();
        p.push(key("node"));
        Err(self.err(&p, format!("no node named {node:?} in the cluster's node pools")))
    }

    /// Objects from a manifest file or an inline manifest at `path`, each dry-run validated.
    pub fn objects(&mut self, file: Option<&str>, manifest: Option<&serde_yaml::Value>, path: &[PathSeg]) -> Result<Vec<LoadedObject>, SourceError> {
        let loaded = match (file, manifest) {
            (Some(f), None) => {
                self.sources.insert(f.to_string());
                let full = self.dir.join(f);
                if !full.exists() {
                    let mut p = path.to_vec();
                    p.push(key("file"));
                    return Err(self.err(&p, format!("manifest file {} does not exist (paths are relative to the scenario)", full.display())));
                }
                let m = read_manifests(&full)?;
                self.warnings.extend(m.warnings);
                m.objects
            }
            (None, Some(value)) => {
                let mut mpath = path.to_vec();
                mpath.push(key("manifest"));
                let mut kind_path = mpath.clone();
                kind_path.push(key("kind"));
                let header = |k: &str| value.get(k).and_then(serde_yaml::Value::as_str);
                let kind = manifest::resolve_kind(header("apiVersion"), header("kind")).map_err(|m| self.err(&kind_path, m))?;
                let mut ignored = Vec::new();
                let seed = ObjectSeed { kind, ignored: &mut ignored, prefix: mpath.clone() };
                // Decoded from the value already parsed (one pass over the file for
                // all objects); only a failure decodes again from the text, for
                // its line and column (a generated entry has no text).
                let decoded = serde::de::DeserializeSeed::deserialize(seed, value.clone());
                let mut object = match decoded {
                    Ok(object) => object,
                    Err(e) if self.text.is_empty() => return Err(self.err(&mpath, e.to_string())),
                    Err(e) => {
                        let seed = ObjectSeed { kind, ignored: &mut Vec::new(), prefix: mpath.clone() };
                        return Err(match decode_at(self.text, 0, &mpath, seed) {
                            Err(at) => SourceError::from_yaml(&self.file, &at),
                            Ok(_) => self.err(&mpath, crate::yamlpos::in_user_terms(&e.to_string())),
                        });
                    }
                };
                if !ignored.is_empty() {
                    // The inline manifest's unmodelled fields, relative to the object.
                    let relative: Vec<Vec<PathSeg>> = ignored.iter().map(|p| p[mpath.len().min(p.len())..].to_vec()).collect();
                    object.keep_unmodelled(&serde_json::to_value(value).unwrap_or_default(), &relative);
                }
                for p in ignored {
                    self.warnings.push(manifest::unmodelled(&self.file, self.position(&p), &p));
                }
                let pos = self.position(&mpath);
                vec![LoadedObject { object: manifest::strip_server_fields(object), file: self.file.clone(), pos }]
            }
            _ => return Err(self.err(path, "expected exactly one of `file` or `manifest`")),
        };
        for lo in &loaded {
            crate::api::rules::dry_run_create(&lo.object).map_err(|e| SourceError::at(&lo.file, lo.pos.clone(), e.to_string()))?;
        }
        Ok(loaded)
    }

    /// Node `i` of `pool`, as its kubelet would register it.
    fn pool_node(&self, cluster: &ClusterSpec, pool: &schema::NodePool, i: usize) -> Option<Node> {
        let zones = pool.zones.as_ref().unwrap_or(&cluster.zones);
        let pattern = pool.name_pattern.as_deref().unwrap_or("{pool}-{index}");
        if pool.count == 0 {
            return None;
        }
        let zone = (!zones.is_empty()).then(|| zones[i % zones.len()].clone());
        let name = pattern.replace("{pool}", &pool.name).replace("{index}", &i.to_string()).replace("{zone}", zone.as_deref().unwrap_or(""));
        // What a kubelet registers (os, arch, hostname) and a cloud provider
        // adds (zone, region, instance type); the pool's own labels override any of them.
        let mut labels = crate::model::Labels::new();
        labels.insert(OS_LABEL.into(), "linux".into());
        labels.insert(ARCH_LABEL.into(), "amd64".into());
        labels.insert(HOSTNAME_LABEL.into(), name.clone());
        labels.insert(POOL_LABEL.into(), pool.name.clone());
        if let Some(z) = &zone {
            labels.insert(ZONE_LABEL.into(), z.clone());
        }
        if let Some(r) = &cluster.region {
            labels.insert(REGION_LABEL.into(), r.clone());
        }
        if let Some(t) = &pool.instance_type {
            labels.insert(INSTANCE_TYPE_LABEL.into(), t.clone());
        }
        labels.extend(pool.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        Some(Node {
            metadata: ObjectMeta { name, labels, ..Default::default() },
            spec: NodeSpec { taints: pool.taints.clone(), ..Default::default() },
            status: NodeStatus {
                capacity: pool.capacity.clone(),
                allocatable: pool.allocatable.clone().unwrap_or_else(|| pool.capacity.clone()),
                conditions: vec![Condition { type_: "Ready".into(), status: "True".into(), reason: "KubeletReady".into(), ..Default::default() }],
                ..Default::default()
            },
        })
    }

    fn nodes(&self, cluster: &ClusterSpec) -> Result<Vec<Node>, SourceError> {
        let mut nodes = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        let mut total: u64 = 0;
        for (pi, pool) in cluster.node_pools.iter().enumerate() {
            let ppath = [key("cluster"), key("nodePools"), PathSeg::Index(pi)];
            total += u64::from(pool.count);
            if total > MAX_NODES {
                return Err(self.err(&[&ppath[..], &[key("count")]].concat(), format!("the node pools add up to {total} nodes; a scenario has at most {MAX_NODES}")));
            }
            let zones = pool.zones.as_ref().unwrap_or(&cluster.zones);
            let pattern = pool.name_pattern.clone().unwrap_or_else(|| "{pool}-{index}".into());
            if pattern.contains("{zone}") && zones.is_empty() {
                return Err(self.err(&[&ppath[..], &[key("namePattern")]].concat(), "namePattern uses {zone} but no zones are set (cluster.zones or the pool's zones)"));
            }
            // The pool's nodes as the API server would check them (labels, taints, quantities).
            if let Some(first) = self.pool_node(cluster, pool, 0)
                && let Err(e) = crate::api::rules::dry_run_create(&Object::from(first))
            {
                return Err(self.err(&ppath, e.to_string()));
            }
            for i in 0..pool.count as usize {
                let Some(node) = self.pool_node(cluster, pool, i) else { break };
                let name = node.metadata.name.clone();
                if !crate::model::selector::is_dns1123_subdomain(&name) {
                    return Err(self.err(&ppath, format!("node name {name:?} from namePattern is not a valid DNS-1123 subdomain")));
                }
                if !names.insert(name.clone()) {
                    return Err(self.err(&ppath, format!("node name {name:?} is produced twice; make namePattern include {{index}} and {{pool}}")));
                }
                nodes.push(node);
            }
        }
        Ok(nodes)
    }
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, SourceError> {
    let file = path.display().to_string();
    let text = read_source(path)?;
    let raw = ScenarioFile::deserialize(serde_yaml::Deserializer::from_str(&text)).map_err(|e| SourceError::from_yaml(&file, &e))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut l = Loader { file: file.clone(), text: &text, positions: Default::default(), dir, warnings: Vec::new(), node_names: Default::default(), node_labels: Vec::new(), components: component_names(raw.control_plane.replicas), sources: Default::default() };
    if raw.control_plane.replicas == 0 {
        return Err(l.err(&[key("controlPlane"), key("replicas")], "replicas must be 1 or more"));
    }
    if raw.kind != "Scenario" {
        return Err(l.err(&[key("kind")], format!("kind is {:?}; a scenario file must say `kind: Scenario`", raw.kind)));
    }
    if raw.name.trim().is_empty() {
        return Err(l.err(&[key("name")], "name must not be empty"));
    }
    let duration = raw.duration.0;
    if duration.is_zero() {
        return Err(l.err(&[key("duration")], "duration must be above zero, e.g. 10m"));
    }
    for (name, lat) in [
        ("apiLatency", &raw.timing.api_latency),
        ("watchLatency", &raw.timing.watch_latency),
        ("etcdLatency", &raw.timing.etcd_latency),
        ("podStartLatency", &raw.timing.pod_start_latency),
        ("podStopLatency", &raw.timing.pod_stop_latency),
    ] {
        lat.validate().map_err(|m| l.err(&[key("timing"), key(name)], m))?;
    }
    for (name, d) in [("metricsInterval", raw.timing.metrics_interval), ("compactionInterval", raw.timing.compaction_interval)] {
        if d.0.is_zero() {
            return Err(l.err(&[key("timing"), key(name)], "must be above zero"));
        }
    }
    let nodes = l.nodes(&raw.cluster)?;
    l.node_names = nodes.iter().map(|n| n.metadata.name.clone()).collect();
    l.node_labels = nodes.iter().map(|n| (n.metadata.name.clone(), n.metadata.labels.clone())).collect();
    let mut objects = Vec::new();
    for (i, src) in raw.objects.iter().enumerate() {
        objects.extend(l.objects(src.file.as_deref(), src.manifest.as_ref(), &[key("objects"), PathSeg::Index(i)])?);
    }
    let mut namespaces: Vec<String> = ["default", "kube-system", "kube-public", "kube-node-lease"].iter().map(|s| s.to_string()).collect();
    for ns in &raw.cluster.namespaces {
        if !namespaces.contains(ns) {
            namespaces.push(ns.clone());
        }
    }
    let mut known_ns = namespaces.clone();
    check_namespaces(&objects, &mut known_ns)?;
    check_duplicates(&objects)?;
    let mut timeline = Vec::new();
    for (i, entry) in raw.timeline.iter().enumerate() {
        let path = [key("timeline"), PathSeg::Index(i)];
        if entry.at.0 > duration {
            return Err(l.err(&[&path[..], &[key("at")]].concat(), format!("at {} is after the scenario's duration {}", format_duration(entry.at.0), format_duration(duration))));
        }
        let mut action = entry.action.clone();
        action.check(&mut l, &path)?;
        if let Action::Apply(a) = &action {
            let loaded: Vec<LoadedObject> = a
                .objects
                .iter()
                .map(|o| LoadedObject { object: o.clone(), file: file.clone(), pos: l.position(&[&path[..], &[key("apply")]].concat()) })
                .collect();
            check_namespaces(&loaded, &mut known_ns)?;
        }
        timeline.push(TimedAction { at: SimTime::ZERO + entry.at.0, action });
    }
    // A restart needs an earlier crash of the same node (and a kubelet start an
    // earlier stop): otherwise the entry would do nothing, silently.
    let mut order: Vec<usize> = (0..timeline.len()).collect();
    order.sort_by_key(|&i| (timeline[i].at, i));
    let (mut crashed, mut stopped) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for i in order {
        let path = [key("timeline"), PathSeg::Index(i)];
        match &timeline[i].action {
            Action::CrashNode(a) => {
                crashed.insert(a.node.clone());
            }
            Action::RestartNode(a) if !crashed.remove(&a.node) => {
                return Err(l.err(&[&path[..], &[key("restartNode")]].concat(), format!("restartNode {:?}: the node is not down then; crash it first with an earlier crashNode", a.node)));
            }
            Action::StopKubelet(a) => {
                stopped.insert(a.node.clone());
            }
            Action::StartKubelet(a) if !stopped.remove(&a.node) => {
                return Err(l.err(&[&path[..], &[key("startKubelet")]].concat(), format!("startKubelet {:?}: its kubelet is not stopped then; stop it first with an earlier stopKubelet", a.node)));
            }
            _ => {}
        }
    }
    // Stable: entries at the same time keep file order.
    timeline.sort_by_key(|a| a.at);
    let mut checks = Vec::new();
    for (i, c) in raw.checks.iter().enumerate() {
        let path = [key("checks"), PathSeg::Index(i)];
        let expect = match (c.equals, c.at_least, c.at_most) {
            (Some(v), None, None) => Comparison::Equals(v),
            (None, Some(v), None) => Comparison::AtLeast(v),
            (None, None, Some(v)) => Comparison::AtMost(v),
            _ => return Err(l.err(&path, "expected exactly one of `equals`, `atLeast` or `atMost`")),
        };
        let kind = l.kind_at(&c.count.kind, &[&path[..], &[key("count"), key("kind")]].concat())?;
        if kind != Kind::Pod && (c.count.phase.is_some() || c.count.bound.is_some() || c.count.node.is_some()) {
            return Err(l.err(&[&path[..], &[key("count")]].concat(), "`phase`, `bound` and `node` apply to Pods only"));
        }
        if !matches!(kind, Kind::Pod | Kind::Node) && c.count.ready.is_some() {
            return Err(l.err(&[&path[..], &[key("count")]].concat(), "`ready` applies to Pods and Nodes only"));
        }
        if kind != Kind::Event && c.count.reason.is_some() {
            return Err(l.err(&[&path[..], &[key("count"), key("reason")]].concat(), "`reason` applies to Events only (a condition's reason goes in `condition`)"));
        }
        if c.count.condition.is_some() && !matches!(kind, Kind::Pod | Kind::Node | Kind::Deployment | Kind::ReplicaSet) {
            return Err(l.err(&[&path[..], &[key("count"), key("condition")]].concat(), format!("{} has no status.conditions; `condition` applies to Pods, Nodes, Deployments and ReplicaSets", kind.name())));
        }
        if let Some(cond) = &c.count.condition
            && let Some(s) = &cond.status
            && !["True", "False", "Unknown"].contains(&s.as_str())
        {
            return Err(l.err(&[&path[..], &[key("count"), key("condition"), key("status")]].concat(), format!("condition status {s:?}: expected \"True\", \"False\" or \"Unknown\" (quoted, or YAML reads true as a boolean)")));
        }
        if let Some(ph) = &c.count.phase
            && !POD_PHASES.contains(&ph.as_str())
        {
            return Err(l.err(&[&path[..], &[key("count"), key("phase")]].concat(), format!("unknown pod phase {ph:?}; expected one of {}", POD_PHASES.join(", "))));
        }
        if c.at.0 > duration {
            return Err(l.err(&[&path[..], &[key("at")]].concat(), format!("at {} is after the scenario's duration {}", format_duration(c.at.0), format_duration(duration))));
        }
        let filter = ObjectFilter {
            kind,
            namespace: c.count.namespace.clone(),
            selector: c.count.selector.clone(),
            phase: c.count.phase.clone(),
            bound: c.count.bound,
            node: c.count.node.clone(),
            ready: c.count.ready,
            deleting: c.count.deleting,
            condition: c.count.condition.clone(),
            reason: c.count.reason.clone(),
            min_restarts: c.count.min_restarts,
        };
        if let Some(u) = c.until
            && (u < c.at || u.0 > duration)
        {
            return Err(l.err(&[&path[..], &[key("until")]].concat(), "until must be between `at` and the scenario's duration"));
        }
        checks.push(CountCheck { name: c.name.clone(), at: SimTime::ZERO + c.at.0, until: c.until.map(|u| SimTime::ZERO + u.0), filter, expect });
    }
    let liveness = match raw.liveness {
        Some(lv) if lv.at.0 + lv.within.0 > duration => {
            return Err(l.err(&[key("liveness")], format!("liveness ends at {}, after the scenario's duration {}", format_duration(lv.at.0 + lv.within.0), format_duration(duration))));
        }
        Some(lv) => Some((lv.at.0, lv.within.0)),
        None => None,
    };
    if let Some(sw) = &raw.swarm {
        if sw.faults_until.0 <= sw.faults_from.0 {
            return Err(l.err(&[key("swarm"), key("faultsUntil")], "faultsUntil must be after faultsFrom"));
        }
        if sw.faults_until.0 + sw.liveness_within.0 > duration {
            return Err(l.err(&[key("swarm"), key("livenessWithin")], format!("faultsUntil + livenessWithin is after the scenario's duration {}; faults that heal late need room", format_duration(duration))));
        }
        for (i, f) in sw.faults.iter().enumerate() {
            let fp = [key("swarm"), key("faults"), PathSeg::Index(i)];
            f.duration.validate().map_err(|m| l.err(&[&fp[..], &[key("duration")]].concat(), m))?;
            if f.every.0.is_zero() {
                return Err(l.err(&[&fp[..], &[key("every")]].concat(), "every must be above zero"));
            }
            let window = sw.faults_until.0 - sw.faults_from.0;
            let expected = window.as_nanos() / f.every.0.as_nanos().max(1);
            if expected > u128::from(MAX_SWARM_FAULTS) {
                return Err(l.err(
                    &[&fp[..], &[key("every")]].concat(),
                    format!("every {} draws about {expected} faults between faultsFrom and faultsUntil; at most {MAX_SWARM_FAULTS} (make it at least {:?})", format_duration(f.every.0), window / MAX_SWARM_FAULTS as u32),
                ));
            }
            for (j, n) in f.nodes.iter().enumerate() {
                if !l.node_names.contains(n) {
                    return Err(l.err(&[&fp[..], &[key("nodes"), PathSeg::Index(j)]].concat(), format!("no node named {n:?} in the cluster's node pools")));
                }
            }
            for (j, c) in f.components.iter().enumerate() {
                l.component_name(c, &[&fp[..], &[key("components"), PathSeg::Index(j)]].concat())?;
            }
        }
    }
    let scheduler = match &raw.scheduler {
        None => crate::control::scheduler::profile::SchedulerConfig::default_config(),
        Some(spec) => {
            l.sources.insert(spec.config.clone());
            let full = l.dir.join(&spec.config);
            if !full.exists() {
                return Err(l.err(&[key("scheduler"), key("config")], format!("scheduler config {} does not exist (paths are relative to the scenario)", full.display())));
            }
            read_scheduler_config(&full)?
        }
    };
    Ok(Scenario {
        scheduler: std::sync::Arc::new(scheduler),
        path: path.to_path_buf(),
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        duration,
        namespaces,
        nodes,
        objects,
        timeline,
        timing: raw.timing,
        checks,
        warnings: l.warnings,
        runtime: std::sync::Arc::new(raw.runtime),
        control_plane_replicas: raw.control_plane.replicas,
        liveness,
        swarm: raw.swarm,
        sources: l.sources.into_iter().collect(),
        budget: raw.budget,
        budget_flags: (None, None),
    })
}

/// Two objects of the same kind, namespace and name at time zero: the second
/// would be refused with AlreadyExists when the run starts.
fn check_duplicates(objects: &[LoadedObject]) -> Result<(), SourceError> {
    let mut seen: std::collections::BTreeMap<ObjectRef, &LoadedObject> = std::collections::BTreeMap::new();
    for lo in objects {
        let m = lo.object.meta();
        if m.name.is_empty() {
            continue; // generateName: a fresh name each
        }
        let mut r = ObjectRef::of(&lo.object);
        if r.kind.namespaced() && r.namespace.is_empty() {
            r.namespace = "default".into();
        }
        if let Some(first) = seen.get(&r) {
            return Err(SourceError::at(&lo.file, lo.pos.clone(), format!("{r} is defined twice (first at {}:{}:{}); names must be unique per kind and namespace", first.file, first.pos.line, first.pos.column)));
        }
        seen.insert(r, lo);
    }
    Ok(())
}

/// Every namespaced object must land in a namespace that exists by then
/// (NamespaceLifecycle admission would refuse it at run time).
fn check_namespaces(objects: &[LoadedObject], known: &mut Vec<String>) -> Result<(), SourceError> {
    for lo in objects {
        let o = &lo.object;
        if o.kind() == Kind::Namespace {
            known.push(o.meta().name.clone());
            continue;
        }
        let ns = if o.meta().namespace.is_empty() { "default" } else { o.meta().namespace.as_str() };
        if o.kind().namespaced() && !known.iter().any(|k| k == ns) {
            return Err(SourceError::at(
                &lo.file,
                lo.pos.clone(),
                format!("{} {:?} is in namespace {ns:?}, which does not exist by then; add it to cluster.namespaces or create a Namespace before it", o.kind(), o.meta().name),
            ));
        }
    }
    Ok(())
}

/// Timeline entries made by a program (a swarm's fault plan), checked as the
/// file's own would be.
pub fn extra_actions(s: &Scenario, entries: &[TimelineEntry]) -> Result<Vec<TimedAction>, String> {
    let mut l = Loader {
        file: format!("{} (fault plan)", s.path.display()),
        text: "",
        positions: Default::default(),
        dir: s.path.parent().map(Path::to_path_buf).unwrap_or_default(),
        warnings: Vec::new(),
        node_names: s.nodes.iter().map(|n| n.metadata.name.clone()).collect(),
        node_labels: s.nodes.iter().map(|n| (n.metadata.name.clone(), n.metadata.labels.clone())).collect(),
        components: component_names(s.control_plane_replicas),
        sources: Default::default(),
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let mut action = e.action.clone();
        action.check(&mut l, &[key("timeline"), PathSeg::Index(i)]).map_err(|e| e.message)?;
        out.push(TimedAction { at: SimTime::ZERO + e.at.0, action });
    }
    Ok(out)
}

impl Scenario {
    /// This scenario with more timeline entries (a seed's fault plan).
    pub fn with_entries(&self, entries: &[TimelineEntry]) -> Result<Scenario, String> {
        let mut s = self.clone();
        s.timeline.extend(extra_actions(self, entries)?);
        s.timeline.sort_by_key(|a| a.at);
        Ok(s)
    }
}

/// `kind/namespace/name` of an action's checked target (or as written).
pub fn target_label(target: &Option<ObjectRef>, kind: &str, name: &str) -> String {
    match target {
        Some(t) => t.to_string(),
        None => format!("{kind}/{name}"),
    }
}

impl Loader<'_> {
    /// A control-plane component or `kubelet/<node>`.
    pub fn component_name(&self, name: &str, path: &[PathSeg]) -> Result<(), SourceError> {
        let per_node = crate::control::registry::per_node_names();
        let on_node = name.split_once('/').is_some_and(|(c, n)| per_node.contains(&c) && self.node_names.contains(n));
        if self.components.iter().any(|c| c == name) || on_node {
            Ok(())
        } else {
            let forms: Vec<String> = per_node.iter().map(|c| format!("{c}/<node>")).collect();
            Err(self.err(path, format!("unknown component {name:?}; expected one of {} or {}", self.components.join(", "), forms.join(", "))))
        }
    }

    /// The components a network fault affects: kubelets of the named and
    /// selected nodes, then the named control-plane components.
    pub fn fault_targets(&self, nodes: &[String], selector: &std::collections::BTreeMap<String, String>, components: &[String], path: &[PathSeg]) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            if !self.node_names.contains(n) {
                return Err(self.err(&[path, &[key("nodes"), PathSeg::Index(i)]].concat(), format!("no node named {n:?} in the cluster's node pools")));
            }
            out.extend(node_components(n));
        }
        if !selector.is_empty() {
            let matched: Vec<&String> = self.node_labels.iter().filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v))).map(|(n, _)| n).collect();
            if matched.is_empty() {
                return Err(self.err(&[path, &[key("nodeSelector")]].concat(), "nodeSelector matches no node"));
            }
            out.extend(matched.into_iter().flat_map(|n| node_components(n)));
        }
        for (i, c) in components.iter().enumerate() {
            if !self.components.contains(c) {
                return Err(self.err(&[path, &[key("components"), PathSeg::Index(i)]].concat(), format!("unknown component {c:?}; expected one of {}", self.components.join(", "))));
            }
            out.push(c.clone());
        }
        out.dedup();
        if out.is_empty() {
            return Err(self.err(path, "names no node and no component (give nodes, nodeSelector or components)"));
        }
        Ok(out)
    }
}

/// Reads a file the user named; a failure names it, and text that is not
/// UTF-8 is reported at the first byte that is not.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| SourceError { file: file.clone(), line: 0, column: 0, message: format!("cannot read: {e}") })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = good.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        SourceError { file: file.clone(), line, column, message: "not UTF-8 text: YAML files must be UTF-8 encoded".into() }
    })?;
    crate::yamlpos::check_flow_depth(&text, &file)?;
    Ok(text)
}

/// Reads a manifest file (multi-document or `kind: List`).
pub fn read_manifests(path: &Path) -> Result<manifest::Manifests, SourceError> {
    manifest::parse(&read_source(path)?, &path.display().to_string())
}

/// Reads a KubeSchedulerConfiguration file.
pub fn read_scheduler_config(path: &Path) -> Result<crate::control::scheduler::profile::SchedulerConfig, SourceError> {
    crate::control::scheduler::profile::parse(&read_source(path)?, &path.display().to_string())
}

/// Applies a JSON merge patch (RFC 7386) to `target`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(p) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(Default::default());
            }
            if let serde_json::Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

pub mod swarm;

#[cfg(test)]
mod tests;
