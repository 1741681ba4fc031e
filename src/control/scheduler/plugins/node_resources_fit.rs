//! NodeResourcesFit: Filter rejects nodes without room for the pod's
//! requests; Score ranks by LeastAllocated (default), MostAllocated or
//! RequestedToCapacityRatio over weighted resources
//! (pkg/scheduler/framework/plugins/noderesources/fit.go).

use serde::Deserialize;

use crate::control::scheduler::framework::*;
use crate::control::scheduler::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, Resource, ResourceKey};

pub const NAME: &str = "NodeResourcesFit";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub name: String,
    #[serde(default = "one")]
    pub weight: i64,
}

fn one() -> i64 {
    1
}

pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec { name: CPU.into(), weight: 1 }, ResourceSpec { name: MEMORY.into(), weight: 1 }]
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtilizationShapePoint {
    pub utilization: i64,
    pub score: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedToCapacityRatioParam {
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScoringStrategy {
    #[serde(rename = "type", default = "least_allocated")]
    pub type_: String,
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

fn least_allocated() -> String {
    "LeastAllocated".into()
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy { type_: least_allocated(), resources: default_resources(), requested_to_capacity_ratio: None }
    }
}

/// `NodeResourcesFitArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FitArgs {
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    #[serde(default)]
    pub scoring_strategy: ScoringStrategy,
}

/// `ValidateNodeResourcesFitArgs`, with upstream's field paths.
pub fn validate_resources(resources: &[ResourceSpec], path: &str) -> Result<(), String> {
    for (i, r) in resources.iter().enumerate() {
        if !(1..=MAX_NODE_SCORE).contains(&r.weight) {
            return Err(format!("{path}.resources[{i}].weight: Invalid value: {}: resource weight of {} should be in range [1, 100]", r.weight, r.name));
        }
    }
    Ok(())
}

impl FitArgs {
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.scoring_strategy;
        validate_resources(&s.resources, "scoringStrategy")?;
        match s.type_.as_str() {
            "LeastAllocated" | "MostAllocated" => Ok(()),
            "RequestedToCapacityRatio" => {
                let shape = s.requested_to_capacity_ratio.as_ref().map(|r| r.shape.as_slice()).unwrap_or(&[]);
                if shape.is_empty() {
                    return Err("scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be specified".into());
                }
                for (i, p) in shape.iter().enumerate() {
                    if !(0..=100).contains(&p.utilization) {
                        return Err(format!("scoringStrategy.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {}: not in valid range [0, 100]", p.utilization));
                    }
                    if !(0..=10).contains(&p.score) {
                        return Err(format!("scoringStrategy.requestedToCapacityRatio.shape[{i}].score: Invalid value: {}: not in valid range [0, 10]", p.score));
                    }
                    if i > 0 && p.utilization <= shape[i - 1].utilization {
                        return Err(format!("scoringStrategy.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {}: utilization values must be sorted in increasing order", p.utilization));
                    }
                }
                Ok(())
            }
            other => Err(format!("scoringStrategy.type: Unsupported value: {other:?}: supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\"")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Least,
    Most,
    Ratio,
}

pub struct NodeResourcesFit {
    args: FitArgs,
    /// The scored resources, resolved, with weights.
    keys: Vec<(ResourceKey, i64)>,
    strategy: Strategy,
    /// Shape points with scores scaled from 0..10 to 0..MAX_NODE_SCORE.
    shape: Vec<(i64, i64)>,
}

impl NodeResourcesFit {
    pub fn new(args: FitArgs) -> Result<NodeResourcesFit, String> {
        args.validate()?;
        let strategy = match args.scoring_strategy.type_.as_str() {
            "MostAllocated" => Strategy::Most,
            "RequestedToCapacityRatio" => Strategy::Ratio,
            _ => Strategy::Least,
        };
        let shape = args
            .scoring_strategy
            .requested_to_capacity_ratio
            .as_ref()
            .map(|r| r.shape.iter().map(|p| (p.utilization, p.score * (MAX_NODE_SCORE / 10))).collect())
            .unwrap_or_default();
        let keys = args.scoring_strategy.resources.iter().map(|r| (ResourceKey::new(&r.name), r.weight)).collect();
        Ok(NodeResourcesFit { args, keys, strategy, shape })
    }

    fn ignored(&self, name: &str) -> bool {
        self.args.ignored_resources.iter().any(|r| r == name)
            || name.split_once('/').is_some_and(|(group, _)| self.args.ignored_resource_groups.iter().any(|g| g == group))
    }
}

/// The (allocatable, requested-including-the-pod) pair a resource-allocation
/// scorer uses (`calculateResourceAllocatableRequest`). Extended resources
/// the pod does not ask for count as (0, 0) and are left out.
pub fn allocatable_and_requested(node: &NodeInfo, key: &ResourceKey, pod_request: i64, use_requested: bool) -> (i64, i64) {
    let base = if use_requested { &node.requested } else { &node.non_zero_requested };
    match key {
        ResourceKey::Cpu | ResourceKey::Memory => (node.allocatable.get_key(key), base.get_key(key) + pod_request),
        ResourceKey::EphemeralStorage => (node.allocatable.ephemeral_storage, node.requested.ephemeral_storage + pod_request),
        ResourceKey::Pods => (0, 0),
        ResourceKey::Scalar(other) => {
            if pod_request == 0 {
                return (0, 0);
            }
            match node.allocatable.scalar.get(other) {
                Some(a) => (*a, node.requested.scalar.get(other).copied().unwrap_or(0) + pod_request),
                None => (0, 0),
            }
        }
    }
}

fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, (u, s)) in shape.iter().enumerate() {
        if p <= *u {
            if i == 0 {
                return *s;
            }
            let (pu, ps) = shape[i - 1];
            return ps + (s - ps) * (p - pu) / (u - pu);
        }
    }
    shape.last().map_or(0, |(_, s)| *s)
}

impl NodeResourcesFit {
    fn score_node(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        let mut ratio_total = 0i64;
        for (key, weight) in &self.keys {
            let (alloc, req) = allocatable_and_requested(node, key, pod.non_zero_requests.get_key(key), false);
            if alloc == 0 {
                continue;
            }
            match self.strategy {
                Strategy::Least => {
                    total += if req > alloc { 0 } else { (alloc - req) * MAX_NODE_SCORE / alloc } * weight;
                    weights += weight;
                }
                Strategy::Most => {
                    total += req.min(alloc) * MAX_NODE_SCORE / alloc * weight;
                    weights += weight;
                }
                Strategy::Ratio => {
                    let s = if req > alloc { broken_linear(&self.shape, 100) } else { broken_linear(&self.shape, req * 100 / alloc) };
                    if s > 0 {
                        ratio_total += s * weight;
                        weights += weight;
                    }
                }
            }
        }
        if weights == 0 {
            return 0;
        }
        match self.strategy {
            Strategy::Ratio => (ratio_total as f64 / weights as f64).round() as i64,
            _ => total / weights,
        }
    }
}

/// Insufficient-resource reasons for placing `req` on `node`, in upstream's order.
pub fn insufficient(req: &Resource, node: &NodeInfo, ignored: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable.allowed_pods {
        reasons.push("Too many pods".to_string());
    }
    if req.is_zero() {
        return reasons;
    }
    let free = |name: &str| node.allocatable.get(name) - node.requested.get(name);
    for (name, v) in [(CPU, req.milli_cpu), (MEMORY, req.memory), (EPHEMERAL_STORAGE, req.ephemeral_storage)] {
        if v > 0 && v > free(name) && !(name == MEMORY && crate::mutants::active("fit-ignores-memory")) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    for (name, v) in &req.scalar {
        if *v > 0 && !ignored(name) && *v > free(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

crate::extends!(NodeResourcesFit, NAME, [filter, score]);

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = insufficient(&pod.requests, node, &|n| self.ignored(n));
        if reasons.is_empty() { Status::success() } else { Status::with_reasons(Code::Unschedulable, reasons) }
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        Ok(self.score_node(pod, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;

    fn fit(type_: &str, resources: Vec<ResourceSpec>, shape: Vec<(i64, i64)>) -> NodeResourcesFit {
        let ratio = (!shape.is_empty()).then(|| RequestedToCapacityRatioParam { shape: shape.into_iter().map(|(utilization, score)| UtilizationShapePoint { utilization, score }).collect() });
        NodeResourcesFit::new(FitArgs { scoring_strategy: ScoringStrategy { type_: type_.into(), resources, requested_to_capacity_ratio: ratio }, ..Default::default() }).unwrap()
    }

    const REQ_1: &[(&str, &str)] = &[("cpu", "1000"), ("memory", "2000")];
    const REQ_2: &[(&str, &str)] = &[("cpu", "2000"), ("memory", "3000")];

    /// TestLeastAllocatedScoringStrategy, upstream cases by name.
    #[test]
    fn least_allocated_upstream_cases() {
        let least = fit("LeastAllocated", default_resources(), vec![]);
        let cases: Vec<(&str, Vec<&[(&str, &str)]>, Vec<(&str, &str)>, Vec<(&str, &str)>, Vec<crate::model::pod::Pod>, Vec<i64>)> = vec![
            ("nothing scheduled, nothing requested", vec![], vec![("cpu", "4000"), ("memory", "10000")], vec![("cpu", "4000"), ("memory", "10000")], vec![], vec![100, 100]),
            ("nothing scheduled, resources requested, differently sized nodes", vec![REQ_1, REQ_2], vec![("cpu", "4000"), ("memory", "10000")], vec![("cpu", "6000"), ("memory", "10000")], vec![], vec![37, 50]),
            (
                "no resources requested, pods scheduled with resources",
                vec![],
                vec![("cpu", "10000"), ("memory", "20000")],
                vec![("cpu", "10000"), ("memory", "20000")],
                vec![
                    on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"),
                    on(pod("b", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"),
                    on(pod("c", &[&[("cpu", "3000"), ("memory", "0")]]), "node2"),
                    on(pod("d", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2"),
                ],
                vec![70, 57],
            ),
            (
                "resources requested, pods scheduled with resources",
                vec![REQ_1, REQ_2],
                vec![("cpu", "10000"), ("memory", "20000")],
                vec![("cpu", "10000"), ("memory", "20000")],
                vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
                vec![57, 45],
            ),
            (
                "resources requested, pods scheduled with resources, differently sized nodes",
                vec![REQ_1, REQ_2],
                vec![("cpu", "10000"), ("memory", "20000")],
                vec![("cpu", "10000"), ("memory", "50000")],
                vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
                vec![57, 60],
            ),
            (
                "requested resources exceed node capacity",
                vec![&[("cpu", "3000"), ("memory", "0")]],
                vec![("cpu", "4000"), ("memory", "10000")],
                vec![("cpu", "4000"), ("memory", "10000")],
                vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
                vec![50, 25],
            ),
            (
                "zero node resources, pods scheduled with resources",
                vec![],
                vec![],
                vec![],
                vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
                vec![0, 0],
            ),
        ];
        for (name, req, n1, n2, existing, want) in cases {
            let snap = snapshot(vec![node("node1", &n1), node("node2", &n2)], existing);
            assert_eq!(run_score(&least, &pod("p", &req), &snap), Some(want), "{name}");
        }
        let weighted = fit("LeastAllocated", vec![ResourceSpec { name: "memory".into(), weight: 2 }, ResourceSpec { name: "cpu".into(), weight: 1 }], vec![]);
        let snap = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000")])], vec![]);
        assert_eq!(
            run_score(&weighted, &pod("p", &[REQ_1, REQ_2]), &snap),
            Some(vec![41, 50]),
            "nothing scheduled, resources requested with different weight on CPU and memory, differently sized nodes"
        );
        for (w, idx) in [(-1, 0), (0, 1), (101, 1)] {
            let mut res = default_resources();
            res[idx].weight = w;
            let e = NodeResourcesFit::new(FitArgs { scoring_strategy: ScoringStrategy { resources: res, ..Default::default() }, ..Default::default() }).err().unwrap();
            assert!(e.starts_with(&format!("scoringStrategy.resources[{idx}].weight: Invalid value")), "{e}");
        }
    }

    /// "bypass/honor extended resource if the pod does/doesn't request".
    #[test]
    fn extended_resources_count_only_when_requested() {
        let res = vec![ResourceSpec { name: "cpu".into(), weight: 1 }, ResourceSpec { name: "memory".into(), weight: 1 }, ResourceSpec { name: "intel.com/foo".into(), weight: 1 }];
        let least = fit("LeastAllocated", res, vec![]);
        let snap = snapshot(vec![node("node1", &[("cpu", "6000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000"), ("intel.com/foo", "4")])], vec![]);
        assert_eq!(run_score(&least, &pod("p", &[REQ_1, REQ_2]), &snap), Some(vec![50, 50]), "bypass extended resource if the pod does not request");
        let snap = snapshot(vec![node("node1", &[("cpu", "6000"), ("memory", "10000"), ("intel.com/foo", "4")]), node("node2", &[("cpu", "6000"), ("memory", "10000"), ("intel.com/foo", "10")])], vec![]);
        let p = pod("p", &[&[("cpu", "1000"), ("memory", "2000"), ("intel.com/foo", "2")], REQ_2]);
        assert_eq!(run_score(&least, &p, &snap), Some(vec![50, 60]), "honor extended resource if the pod requests");
    }

    /// TestMostAllocatedScoringStrategy.
    #[test]
    fn most_allocated_upstream_cases() {
        let most = fit("MostAllocated", default_resources(), vec![]);
        let snap = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000")])], vec![]);
        // CPU 3000/4000=75, mem 5000/10000=50 → 62; CPU 3000/6000=50, mem 50 → 50.
        assert_eq!(run_score(&most, &pod("p", &[REQ_1, REQ_2]), &snap), Some(vec![62, 50]), "nothing scheduled, resources requested, differently sized nodes");
        let snap = snapshot(
            vec![node("node1", &[("cpu", "10000"), ("memory", "20000")]), node("node2", &[("cpu", "10000"), ("memory", "20000")])],
            vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "0")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
        );
        // node1: cpu 6000/10000=60, mem 5000/20000=25 → 42; node2: 60, 10000/20000=50 → 55.
        assert_eq!(run_score(&most, &pod("p", &[REQ_1, REQ_2]), &snap), Some(vec![42, 55]), "resources requested, pods scheduled with resources");
        let over = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "4000"), ("memory", "10000")])], vec![]);
        // Requests above capacity are capped: cpu 100, mem 4000/10000=40 → 70.
        assert_eq!(run_score(&most, &pod("p", &[&[("cpu", "5000"), ("memory", "4000")]]), &over), Some(vec![70, 70]), "kubesim: requests above capacity count as full");
    }

    /// TestRequestedToCapacityRatioScoringStrategy: shape {0→10, 100→0} behaves like least-allocated.
    #[test]
    fn requested_to_capacity_ratio_upstream_cases() {
        let ratio = fit("RequestedToCapacityRatio", default_resources(), vec![(0, 10), (100, 0)]);
        let snap = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "4000"), ("memory", "10000")])], vec![]);
        assert_eq!(run_score(&ratio, &pod("p", &[]), &snap), Some(vec![100, 100]), "nothing scheduled, nothing requested (default - least requested nodes have priority)");
        let snap = snapshot(
            vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000")])],
            vec![on(pod("a", &[&[("cpu", "3000"), ("memory", "5000")]]), "node1"), on(pod("b", &[&[("cpu", "3000"), ("memory", "5000")]]), "node2")],
        );
        // node1: cpu 4000/4000 → score 0 (left out: only positive scores count), memory 70 % → 30.
        // node2: cpu 4000/6000 = 66 % → 34, memory 70 % → 30; (34 + 30) / 2 = 32.
        assert_eq!(run_score(&ratio, &pod("p", &[&[("cpu", "1000"), ("memory", "2000")]]), &snap), Some(vec![30, 32]), "kubesim: zero per-resource scores are left out of the mean");
        let bin_pack = fit("RequestedToCapacityRatio", default_resources(), vec![(0, 0), (100, 10)]);
        let snap = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000")])], vec![]);
        assert_eq!(run_score(&bin_pack, &pod("p", &[&[("cpu", "3000"), ("memory", "5000")]]), &snap), Some(vec![63, 50]), "kubesim: a bin-packing shape rounds half away from zero (62.5 → 63)");
        assert!(NodeResourcesFit::new(FitArgs { scoring_strategy: ScoringStrategy { type_: "RequestedToCapacityRatio".into(), ..Default::default() }, ..Default::default() }).is_err());
    }

    /// TestEnoughRequests (fit_test.go), the cases kubesim models.
    #[test]
    fn filter_upstream_cases() {
        let f = NodeResourcesFit::new(FitArgs::default()).unwrap();
        let cap = [("cpu", "10"), ("memory", "20"), ("pods", "32"), ("example.com/aaa", "5")];
        let cases: Vec<(&str, Vec<&[(&str, &str)]>, Vec<&[(&str, &str)]>, Vec<&str>)> = vec![
            ("no resources requested always fits", vec![], vec![&[("cpu", "10m"), ("memory", "20")]], vec![]),
            ("too many resources fails", vec![&[("cpu", "1m"), ("memory", "1")]], vec![&[("cpu", "10"), ("memory", "20")]], vec!["Insufficient cpu", "Insufficient memory"]),
            ("both resources fit", vec![&[("cpu", "1"), ("memory", "1")]], vec![&[("cpu", "5"), ("memory", "5")]], vec![]),
            ("one resource memory fits", vec![&[("cpu", "2"), ("memory", "1")]], vec![&[("cpu", "9"), ("memory", "5")]], vec!["Insufficient cpu"]),
            ("one resource cpu fits", vec![&[("cpu", "1"), ("memory", "2")]], vec![&[("cpu", "5"), ("memory", "19")]], vec!["Insufficient memory"]),
            ("equal edge case", vec![&[("cpu", "5"), ("memory", "1")]], vec![&[("cpu", "5"), ("memory", "19")]], vec![]),
            ("extended resource fits", vec![&[("example.com/aaa", "1")]], vec![&[("example.com/aaa", "4")]], vec![]),
            ("extended resource capacity enforced", vec![&[("example.com/aaa", "2")]], vec![&[("example.com/aaa", "4")]], vec!["Insufficient example.com/aaa"]),
            ("extended resource allocatable enforced for unknown resource", vec![&[("example.com/bbb", "1")]], vec![], vec!["Insufficient example.com/bbb"]),
        ];
        for (name, req, existing, want) in cases {
            let existing: Vec<_> = existing.iter().enumerate().map(|(i, r)| on(pod(&format!("e{i}"), &[r]), "n")).collect();
            let snap = snapshot(vec![node("n", &cap)], existing);
            let st = run_filter(&f, &pod("p", &req), &snap, 0);
            assert_eq!(st.reasons, want, "{name}");
            assert_eq!(st.is_success(), want.is_empty(), "{name}");
        }
        let full = snapshot(vec![node("n", &[("cpu", "10"), ("memory", "20"), ("pods", "1")])], vec![on(pod("e", &[]), "n")]);
        assert_eq!(run_filter(&f, &pod("p", &[]), &full, 0).reasons, vec!["Too many pods"], "even without specified resources, predicate fails when there's no space for additional pod");
        let ignoring = NodeResourcesFit::new(FitArgs { ignored_resource_groups: vec!["example.com".into()], ..Default::default() }).unwrap();
        let snap = snapshot(vec![node("n", &cap)], vec![]);
        assert!(run_filter(&ignoring, &pod("p", &[&[("example.com/bbb", "1")]]), &snap, 0).is_success(), "skip checking ignored extended resource via resource groups");
    }
}
