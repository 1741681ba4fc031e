//! Swarm testing: a scenario declares which faults may happen, how often and
//! for how long; each seed draws its own fault plan from its own stream
//! (`swarm`). Faults start inside `[faultsFrom, faultsUntil)`, each heals after
//! its duration, and once the last has healed the liveness checks must hold
//! within `livenessWithin`.
//!
//! Besides faults, a swarm may draw workload changes per seed (`workload`):
//! scaling to a drawn replica count (so 25 % is not always whole), rollouts
//! with drawn maxSurge/maxUnavailable, and owners deleted and created again
//! under the same name — the paths where rounding, expectations and garbage
//! collection go wrong. Faults may take a whole zone down (`crashZone`).
//!
//! A plan is a list of ordinary timeline entries (the same action types a
//! scenario file holds), so `kubesim shrink` can save a failing plan as a
//! plain scenario.
//!
//! ```yaml
//! swarm:
//!   faultsFrom: 1m
//!   faultsUntil: 20m
//!   livenessWithin: 6m
//!   faults:
//!     - kind: crashNode
//!       every: 8m                               # mean time between starts
//!       duration: {uniform: {min: 30s, max: 3m}}
//!     - kind: partition
//!       every: 10m
//!       duration: {uniform: {min: 10s, max: 2m}}
//!   workload:
//!     - kind: scale
//!       every: 5m
//!       target: {kind: Deployment, name: web}
//!       replicas: {min: 5, max: 23}
//!     - kind: rollout                           # a new pod template, drawn strategy
//!       every: 6m
//!       target: {kind: Deployment, name: web}
//!       maxSurge: [25%, 1, 0, 50%]
//!       maxUnavailable: [25%, 1, 0, 40%]
//!     - kind: recreate                          # delete, then create under the same name
//!       every: 12m
//!       target: {kind: ReplicaSet, name: worker}
//!       after: {uniform: {min: 1s, max: 30s}}
//! ```

use rand::RngExt;
use serde::Deserialize;
use std::time::Duration;

use super::actions::{self, TimelineEntry};
use super::{Scenario, component_names};
use crate::model::LabelSelector;
use crate::latency::Latency;
use crate::seed::stream;
use crate::time::{Dur, format_duration};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SwarmSpec {
    pub faults_from: Dur,
    pub faults_until: Dur,
    /// After the last fault heals, liveness must hold within this.
    pub liveness_within: Dur,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Workload changes drawn per seed, in the same window as the faults.
    #[serde(default)]
    pub workload: Vec<WorkloadSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkloadKind {
    Scale,
    Rollout,
    Recreate,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntRange {
    pub min: i32,
    pub max: i32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    pub kind: WorkloadKind,
    /// Mean time between changes (a Poisson process).
    pub every: Dur,
    pub target: TargetSpec,
    /// scale: the replica count, drawn uniformly from both ends included.
    #[serde(default)]
    pub replicas: Option<IntRange>,
    /// rollout: candidate maxSurge and maxUnavailable values (one of each drawn; none: leave the strategy).
    #[serde(default)]
    pub max_surge: Vec<crate::model::deployment::IntOrString>,
    #[serde(default)]
    pub max_unavailable: Vec<crate::model::deployment::IntOrString>,
    /// recreate: how long after the delete the object is created again (default 5 s).
    #[serde(default)]
    pub after: Option<Latency>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    CrashNode,
    StopKubelet,
    Partition,
    LinkDelay,
    LinkLoss,
    EtcdSlow,
    EtcdUnavailable,
    CrashComponent,
    CrashContainers,
    StaleCache,
    /// Every node of one zone crashes at once (and restarts together).
    CrashZone,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// Mean time between fault starts (a Poisson process).
    pub every: Dur,
    /// How long each lasts before it heals.
    pub duration: Latency,
    /// Candidate nodes (default: all).
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Candidate components for crashComponent, partition and staleCache.
    #[serde(default)]
    pub components: Vec<String>,
    /// crashContainers: which pods' containers.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// linkDelay and etcdSlow: the latency during the fault.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// linkLoss: the loss probability.
    #[serde(default)]
    pub probability: Option<f64>,
    /// staleCache: how far behind.
    #[serde(default)]
    pub lag: Option<Dur>,
}

/// One drawn fault: its start and its heal, as timeline entries.
#[derive(Clone, Debug)]
pub struct PlannedFault {
    pub at: Duration,
    pub heal_at: Duration,
    pub entries: Vec<TimelineEntry>,
}

impl PartialEq for PlannedFault {
    /// The same times and the same entries as a scenario would write them.
    fn eq(&self, other: &PlannedFault) -> bool {
        let written = |f: &PlannedFault| serde_yaml::to_string(&f.entries).unwrap_or_default();
        self.at == other.at && self.heal_at == other.heal_at && written(self) == written(other)
    }
}

impl PlannedFault {
    pub fn describe(&self) -> String {
        let first = self.entries.first().map_or("?", |e| e.action.key());
        format!("{} at {} until {}", first, format_duration(self.at), format_duration(self.heal_at))
    }
}

fn dur(d: Duration) -> Dur {
    Dur(d)
}

/// Draws seed `seed`'s fault plan, in start order.
pub fn plan(spec: &SwarmSpec, scenario: &Scenario, seed: u64) -> Vec<PlannedFault> {
    let mut rng = stream(seed, "swarm");
    let all_nodes: Vec<String> = scenario.nodes.iter().map(|n| n.metadata.name.clone()).collect();
    let mut faults = Vec::new();
    for f in &spec.faults {
        let mut t = spec.faults_from.0;
        let mean = f.every.0.as_secs_f64().max(0.001);
        loop {
            let u: f64 = rng.random();
            t += Duration::from_secs_f64(-mean * (1.0 - u).ln());
            if t >= spec.faults_until.0 {
                break;
            }
            let at = Duration::from_secs(t.as_secs()); // whole seconds read better in a plan
            let len = Duration::from_secs(f.duration.sample(&mut rng).as_secs().max(1));
            let heal = at + len;
            let nodes = if f.nodes.is_empty() { &all_nodes } else { &f.nodes };
            let comps: Vec<String> = if f.components.is_empty() { component_names(scenario.control_plane_replicas) } else { f.components.clone() };
            let pick = |rng: &mut rand_chacha::ChaCha8Rng, from: &[String]| from[rng.random_range(0..from.len())].clone();
            let entries: Vec<TimelineEntry> = match f.kind {
                FaultKind::CrashNode | FaultKind::StopKubelet | FaultKind::LinkDelay | FaultKind::LinkLoss if nodes.is_empty() => continue,
                FaultKind::CrashComponent | FaultKind::StaleCache if comps.is_empty() => continue,
                FaultKind::CrashZone => {
                    let zones: std::collections::BTreeSet<&str> = scenario.nodes.iter().filter_map(|n| n.metadata.labels.get(ZONE_LABEL)).map(String::as_str).collect();
                    if zones.is_empty() {
                        continue;
                    }
                    let zones: Vec<&str> = zones.into_iter().collect();
                    let zone = zones[rng.random_range(0..zones.len())];
                    let members: Vec<String> = scenario.nodes.iter().filter(|n| n.metadata.labels.get(ZONE_LABEL).is_some_and(|z| z == zone)).map(|n| n.metadata.name.clone()).collect();
                    let mut e: Vec<TimelineEntry> = members.iter().map(|n| TimelineEntry::new(at, actions::CrashNode { node: n.clone() })).collect();
                    e.extend(members.into_iter().map(|n| TimelineEntry::new(heal, actions::RestartNode { node: n })));
                    e
                }
                FaultKind::CrashNode => {
                    let n = pick(&mut rng, nodes);
                    vec![TimelineEntry::new(at, actions::CrashNode { node: n.clone() }), TimelineEntry::new(heal, actions::RestartNode { node: n })]
                }
                FaultKind::StopKubelet => {
                    let n = pick(&mut rng, nodes);
                    vec![TimelineEntry::new(at, actions::StopKubelet { node: n.clone() }), TimelineEntry::new(heal, actions::StartKubelet { node: n })]
                }
                FaultKind::Partition => {
                    // A node, or (when components are listed) a control-plane component.
                    let mut p = actions::Partition { duration: Some(dur(len)), ..Default::default() };
                    if !f.components.is_empty() && (nodes.is_empty() || rng.random_bool(0.5)) {
                        p.components = vec![pick(&mut rng, &comps)];
                    } else if nodes.is_empty() {
                        continue;
                    } else {
                        p.nodes = vec![pick(&mut rng, nodes)];
                    }
                    vec![TimelineEntry::new(at, p)]
                }
                FaultKind::LinkDelay => {
                    let n = pick(&mut rng, nodes);
                    let latency = f.latency.clone().unwrap_or(Latency::Constant(Dur(Duration::from_millis(500))));
                    vec![TimelineEntry::new(at, actions::LinkDelay { nodes: vec![n], node_selector: Default::default(), components: vec![], latency, duration: dur(len), resolved: vec![] })]
                }
                FaultKind::LinkLoss => {
                    let n = pick(&mut rng, nodes);
                    let probability = f.probability.unwrap_or(0.3);
                    vec![TimelineEntry::new(at, actions::LinkLoss { nodes: vec![n], node_selector: Default::default(), components: vec![], probability, duration: dur(len), resolved: vec![] })]
                }
                FaultKind::EtcdSlow => {
                    let latency = f.latency.clone().unwrap_or(Latency::Constant(Dur(Duration::from_millis(200))));
                    vec![TimelineEntry::new(at, actions::EtcdSlow { latency, duration: dur(len) })]
                }
                FaultKind::EtcdUnavailable => vec![TimelineEntry::new(at, actions::EtcdUnavailable { duration: dur(len) })],
                FaultKind::CrashComponent => {
                    let c = pick(&mut rng, &comps);
                    vec![TimelineEntry::new(at, actions::CrashComponent { name: c.clone() }), TimelineEntry::new(heal, actions::RestartComponent { name: c })]
                }
                FaultKind::CrashContainers => {
                    let Some(sel) = &f.selector else { continue };
                    vec![TimelineEntry::new(at, actions::CrashContainers { namespace: None, selector: sel.clone(), exit_code: None })]
                }
                FaultKind::StaleCache => {
                    let c = pick(&mut rng, &comps);
                    let lag = f.lag.map(|d| d.0).unwrap_or(Duration::from_secs(30));
                    vec![TimelineEntry::new(at, actions::StaleCache { component: c, lag: dur(lag), duration: dur(len) })]
                }
            };
            faults.push(PlannedFault { at, heal_at: heal, entries });
        }
    }
    faults.extend(workload_plan(spec, scenario, seed));
    faults.sort_by_key(|f| f.at);
    faults
}

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Draws seed `seed`'s workload changes from their own stream (adding one
/// never shifts the fault plan).
fn workload_plan(spec: &SwarmSpec, scenario: &Scenario, seed: u64) -> Vec<PlannedFault> {
    let mut rng = stream(seed, "swarm-workload");
    // Each change with its target and whether it is a recreate.
    let mut out: Vec<(PlannedFault, String, bool)> = Vec::new();
    let mut rollouts = 0u32;
    for w in &spec.workload {
        let mut t = spec.faults_from.0;
        let mean = w.every.0.as_secs_f64().max(0.001);
        loop {
            let u: f64 = rng.random();
            t += Duration::from_secs_f64(-mean * (1.0 - u).ln());
            if t >= spec.faults_until.0 {
                break;
            }
            let at = Duration::from_secs(t.as_secs());
            let (kind, namespace, name) = (w.target.kind.clone(), w.target.namespace.clone(), w.target.name.clone());
            let entries = match w.kind {
                WorkloadKind::Scale => {
                    let Some(r) = w.replicas else { continue };
                    let replicas = rng.random_range(r.min.min(r.max)..=r.max.max(r.min));
                    vec![TimelineEntry::new(at, actions::Scale { kind, namespace, name, replicas, target: None })]
                }
                WorkloadKind::Rollout => {
                    rollouts += 1;
                    let mut merge = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubesim.io/rollout": format!("{rollouts}")}}}}});
                    if !w.max_surge.is_empty() && !w.max_unavailable.is_empty() {
                        let surge = w.max_surge[rng.random_range(0..w.max_surge.len())].clone();
                        let mut unavailable = w.max_unavailable[rng.random_range(0..w.max_unavailable.len())].clone();
                        // Both zero is invalid (the API refuses it): keep the rollout moving.
                        if is_zero(&surge) && is_zero(&unavailable) {
                            unavailable = crate::model::deployment::IntOrString::Int(1);
                        }
                        merge["spec"]["strategy"] = serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}});
                    }
                    vec![TimelineEntry::new(at, actions::Patch { kind, namespace, name, merge, target: None })]
                }
                WorkloadKind::Recreate => {
                    let Some(obj) = scenario.objects.iter().find(|o| o.object.kind().name() == kind && o.object.meta().name == name && namespace.as_ref().is_none_or(|ns| *ns == o.object.meta().namespace)) else { continue };
                    let Ok(manifest) = serde_yaml::to_value(&obj.object) else { continue };
                    let after = w.after.as_ref().map_or(Duration::from_secs(5), |a| a.sample(&mut rng)).max(Duration::from_secs(1));
                    let again = Duration::from_secs((at + after).as_secs());
                    vec![
                        TimelineEntry::new(at, actions::Delete { kind, namespace, name, grace_period_seconds: None, propagation_policy: None, target: None }),
                        TimelineEntry::new(again, actions::Apply { file: None, manifest: Some(manifest), objects: vec![] }),
                    ]
                }
            };
            let heal_at = entries.last().map_or(at, |e| e.at.0);
            let target = format!("{}/{}/{}", w.target.kind, w.target.namespace.as_deref().unwrap_or("default"), w.target.name);
            out.push((PlannedFault { at, heal_at, entries }, target, w.kind == WorkloadKind::Recreate));
        }
    }
    // While a target is deleted and not yet back, nothing else may act on it.
    out.sort_by_key(|(f, _, _)| f.at);
    let mut kept: Vec<(PlannedFault, String, bool)> = Vec::new();
    for (f, target, recreate) in out {
        let clashes = kept.iter().any(|(k, t, r)| {
            *t == target && ((*r && f.at <= k.heal_at) || (recreate && k.at >= f.at && k.at <= f.heal_at))
        });
        if !clashes {
            kept.push((f, target, recreate));
        }
    }
    kept.into_iter().map(|(f, _, _)| f).collect()
}

fn is_zero(v: &crate::model::deployment::IntOrString) -> bool {
    match v {
        crate::model::deployment::IntOrString::Int(n) => *n == 0,
        crate::model::deployment::IntOrString::String(s) => s.trim_end_matches('%').trim() == "0",
    }
}

/// When the liveness checks start: once the fault phase is over and every fault has healed.
pub fn liveness_from(spec: &SwarmSpec, plan: &[PlannedFault]) -> Duration {
    plan.iter().map(|f| f.heal_at).max().unwrap_or_default().max(spec.faults_until.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        super::super::load(std::path::Path::new("scenarios/swarm-ci.yaml")).expect("loads")
    }

    #[test]
    fn a_seed_draws_the_same_plan_every_time_and_seeds_differ() {
        let s = scenario();
        let spec = s.swarm.clone().expect("swarm");
        let a = plan(&spec, &s, 7);
        assert_eq!(a, plan(&spec, &s, 7));
        assert!(!a.is_empty(), "seed 7 draws some faults");
        let differ = (1..10).any(|seed| plan(&spec, &s, seed) != a);
        assert!(differ);
        for f in &a {
            assert!(f.at >= spec.faults_from.0 && f.at < spec.faults_until.0, "{}", f.describe());
            assert!(f.heal_at > f.at);
        }
        assert!(liveness_from(&spec, &a) >= spec.faults_until.0);
    }

    /// Node faults in a cluster without nodes are skipped, never a panic.
    #[test]
    fn node_faults_without_nodes_draw_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        let faults = "  - {kind: crashNode, every: 1m, duration: {constant: 10s}}\n  - {kind: linkDelay, every: 1m, duration: {constant: 10s}}\n  - {kind: linkLoss, every: 1m, duration: {constant: 10s}}\n";
        std::fs::write(&path, format!("kind: Scenario\nname: t\nduration: 30m\nswarm:\n  faultsFrom: 1m\n  faultsUntil: 10m\n  livenessWithin: 5m\n  faults:\n{faults}")).unwrap();
        let s = super::super::load(&path).unwrap();
        assert!(plan(s.swarm.as_ref().unwrap(), &s, 1).is_empty());
    }

    #[test]
    fn plans_are_valid_timeline_entries() {
        let s = scenario();
        let spec = s.swarm.clone().expect("swarm");
        for seed in 0..20 {
            let entries: Vec<TimelineEntry> = plan(&spec, &s, seed).into_iter().flat_map(|f| f.entries).collect();
            let actions = super::super::extra_actions(&s, &entries).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(actions.len(), entries.len());
        }
    }
}
