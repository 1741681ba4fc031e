//! Swarm testing: a scenario declares which faults may happen, how often and
//! for how long; each seed draws its own fault plan from its own stream
//! (`swarm`). Faults start inside `[faultsFrom, faultsUntil)`, each heals after
//! its duration, and once the last has healed the liveness checks must hold
//! within `livenessWithin`.
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
    pub faults: Vec<FaultSpec>,
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
    faults.sort_by_key(|f| f.at);
    faults
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
