//! NodeResourcesBalancedAllocation: favours nodes whose resource usage
//! fractions stay close to each other, `(1 - std) * 100`, counting the pod
//! (noderesources/balanced_allocation.go). Best-effort pods are skipped at
//! PreScore, as upstream does since v1.32.

use serde::Deserialize;

use super::node_resources_fit::{ResourceSpec, allocatable_and_requested, default_resources, validate_resources};
use crate::control::scheduler::framework::*;
use crate::control::scheduler::resources::ResourceKey;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalancedAllocationArgs {
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs { resources: default_resources() }
    }
}

pub struct BalancedAllocation {
    keys: Vec<ResourceKey>,
}

impl BalancedAllocation {
    pub fn new(args: BalancedAllocationArgs) -> Result<BalancedAllocation, String> {
        validate_resources(&args.resources, "")?;
        Ok(BalancedAllocation { keys: args.resources.iter().map(|r| ResourceKey::new(&r.name)).collect() })
    }
}

/// `balancedResourceScorer`.
fn balanced(fractions: &[f64]) -> i64 {
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

crate::extends!(BalancedAllocation, NAME, [pre_score, score]);

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[&NodeInfo], _: &Snapshot) -> Status {
        // Scoring best-effort pods here would pile them onto one node.
        if self.keys.iter().all(|k| pod.requests.get_key(k) == 0) { Status::skip() } else { Status::success() }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, _: &Snapshot) -> Result<i64, Status> {
        // Two or three resources in practice: no allocation.
        let mut fractions = [0f64; 8];
        let mut n = 0;
        for k in &self.keys {
            let (alloc, req) = allocatable_and_requested(node, k, pod.requests.get_key(k), true);
            if alloc == 0 || n == fractions.len() {
                continue;
            }
            fractions[n] = (req as f64 / alloc as f64).min(1.0);
            n += 1;
        }
        Ok(balanced(&fractions[..n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;

    /// TestNodeResourcesBalancedAllocation, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let b = BalancedAllocation::new(BalancedAllocationArgs::default()).unwrap();
        let cpu_and_memory: &[(&str, &str)] = &[("cpu", "1000"), ("memory", "2000")];
        let cpu_and_memory2: &[(&str, &str)] = &[("cpu", "2000"), ("memory", "3000")];
        let cpu_only: &[(&str, &str)] = &[("cpu", "1000"), ("memory", "0")];
        let cpu_only2: &[(&str, &str)] = &[("cpu", "2000"), ("memory", "0")];
        // Node1: cpu 3000/4000 = 0.75, mem 5000/10000 = 0.5 → std 0.125 → 87.
        // Node2: cpu 3000/6000 = 0.5, mem 0.5 → 100.
        let snap = snapshot(vec![node("node1", &[("cpu", "4000"), ("memory", "10000")]), node("node2", &[("cpu", "6000"), ("memory", "10000")])], vec![]);
        assert_eq!(run_score(&b, &pod("p", &[cpu_and_memory, cpu_and_memory2]), &snap), Some(vec![87, 100]), "nothing scheduled, resources requested, differently sized nodes");
        // Existing: node1 cpu-only pods 3000, node2 cpu 3000 + mem 5000... requested pod cpu 1000+2000, mem 2000+3000.
        let snap = snapshot(
            vec![node("node1", &[("cpu", "10000"), ("memory", "20000")]), node("node2", &[("cpu", "10000"), ("memory", "20000")])],
            vec![on(pod("a", &[cpu_only, cpu_only2]), "node1"), on(pod("b", &[cpu_and_memory, cpu_and_memory2]), "node2")],
        );
        // node1: cpu 6000/10000 = 0.6, mem 5000/20000 = 0.25 → std 0.175 → 82;
        // node2: cpu 0.6, mem 10000/20000 = 0.5 → std 0.05 → 95.
        assert_eq!(run_score(&b, &pod("p", &[cpu_and_memory, cpu_and_memory2]), &snap), Some(vec![82, 95]), "resources requested, pods scheduled with resources");
        assert_eq!(run_score(&b, &pod("p", &[]), &snap), None, "best-effort pods are skipped at PreScore");
    }

    #[test]
    fn three_resources_use_the_full_standard_deviation() {
        assert_eq!(balanced(&[0.5, 0.5, 0.5]), 100);
        // mean 0.5, deviations ±0.25 and 0 → std = sqrt(0.125/3) = 0.2041 → 79.
        assert_eq!(balanced(&[0.25, 0.5, 0.75]), 79);
    }
}
