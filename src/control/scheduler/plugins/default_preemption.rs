//! DefaultPreemption (PostFilter): when no node fits, find nodes where
//! evicting lower-priority pods would let the pod fit, keep as many of them
//! as possible (most important reprieved first), and pick the node by
//! upstream's order: lowest highest-victim priority, lowest priority sum,
//! fewest victims, latest start of the highest-priority victims, first.
//! PodDisruptionBudgets are not modelled.

use serde::Deserialize;

use crate::control::scheduler::framework::*;
use crate::model::pod::Pod;

pub const NAME: &str = "DefaultPreemption";

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultPreemptionArgs {
    #[serde(default = "ten")]
    pub min_candidate_nodes_percentage: i64,
    #[serde(default = "hundred")]
    pub min_candidate_nodes_absolute: i64,
}

fn ten() -> i64 {
    10
}
fn hundred() -> i64 {
    100
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs { min_candidate_nodes_percentage: 10, min_candidate_nodes_absolute: 100 }
    }
}

pub struct DefaultPreemption {
    #[allow(dead_code)]
    args: DefaultPreemptionArgs,
}

impl DefaultPreemption {
    pub fn new(args: DefaultPreemptionArgs) -> Result<DefaultPreemption, String> {
        if !(0..=100).contains(&args.min_candidate_nodes_percentage) {
            return Err(format!("minCandidateNodesPercentage: Invalid value: {}: not in valid range [0, 100]", args.min_candidate_nodes_percentage));
        }
        if args.min_candidate_nodes_absolute < 0 || (args.min_candidate_nodes_absolute == 0 && args.min_candidate_nodes_percentage == 0) {
            return Err("minCandidateNodesAbsolute: Invalid value: both minCandidateNodesPercentage and minCandidateNodesAbsolute cannot be zero".into());
        }
        Ok(DefaultPreemption { args })
    }
}

fn priority(p: &Pod) -> i64 {
    i64::from(p.spec.priority.unwrap_or(0))
}

fn start_time(p: &Pod) -> i64 {
    p.status.start_time.or(p.metadata.creation_timestamp).map_or(0, |t| t.0)
}

struct Candidate {
    node: usize,
    victims: Vec<PodInfo>,
}

crate::extends!(DefaultPreemption, NAME, [post_filter]);

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(&self, pod: &PodInfo, snapshot: &Snapshot, rejections: &[(usize, Status)], filter: &dyn Fn(&Snapshot, usize) -> Status) -> Result<PostFilterResult, Status> {
        let n = snapshot.nodes.len();
        if pod.pod.spec.preemption_policy.as_deref() == Some("Never") {
            return Err(Status::new(Code::Unschedulable, "not eligible due to preemptionPolicy=Never."));
        }
        let me = priority(&pod.pod);
        let mut candidates = Vec::new();
        let mut no_victims = 0;
        let mut not_helpful = 0;
        for (i, st) in rejections {
            if st.code == Code::UnschedulableAndUnresolvable {
                not_helpful += 1;
                continue;
            }
            let node = &snapshot.nodes[*i];
            if node.lowest_priority().is_none_or(|lowest| i64::from(lowest) >= me) {
                no_victims += 1;
                continue;
            }
            let mut lower: Vec<PodInfo> = node.pods.iter().filter(|p| priority(&p.pod) < me && !p.pod.metadata.is_deleting()).cloned().collect();
            if lower.is_empty() {
                no_victims += 1;
                continue;
            }
            let mut sim = snapshot.clone();
            for v in &lower {
                sim.nodes[*i].remove_pod(&v.pod.metadata.namespace, &v.pod.metadata.name);
            }
            if !filter(&sim, *i).is_success() {
                no_victims += 1;
                continue;
            }
            // Reprieve the most important first: higher priority, then earlier start.
            lower.sort_by(|a, b| priority(&b.pod).cmp(&priority(&a.pod)).then(start_time(&a.pod).cmp(&start_time(&b.pod))));
            let mut victims = Vec::new();
            for v in lower {
                sim.nodes[*i].add_pod(v.clone());
                if !filter(&sim, *i).is_success() {
                    sim.nodes[*i].remove_pod(&v.pod.metadata.namespace, &v.pod.metadata.name);
                    victims.push(v);
                }
            }
            candidates.push(Candidate { node: *i, victims });
        }
        if candidates.is_empty() {
            let mut parts = Vec::new();
            if no_victims > 0 {
                parts.push(format!("{no_victims} No preemption victims found for incoming pod"));
            }
            if not_helpful > 0 {
                parts.push(format!("{not_helpful} Preemption is not helpful for scheduling"));
            }
            parts.sort();
            return Err(Status::new(Code::Unschedulable, format!("preemption: 0/{n} nodes are available: {}", parts.join(", "))));
        }
        let key = |c: &Candidate| {
            let top = c.victims.iter().map(|v| priority(&v.pod)).max().unwrap_or(i64::MIN);
            let sum: i64 = c.victims.iter().map(|v| priority(&v.pod) + i64::from(i32::MAX) + 1).sum();
            let latest_top_start = c.victims.iter().filter(|v| priority(&v.pod) == top).map(|v| start_time(&v.pod)).min().unwrap_or(0);
            (top, sum, c.victims.len(), std::cmp::Reverse(latest_top_start))
        };
        let best = candidates.iter().min_by_key(|c| key(c)).map(|c| c.node);
        let chosen = candidates.into_iter().find(|c| Some(c.node) == best).ok_or_else(|| Status::new(Code::Error, "no candidate"))?;
        Ok(PostFilterResult {
            nominated_node: snapshot.nodes[chosen.node].name().to_string(),
            victims: chosen.victims.iter().map(|v| (v.pod.metadata.namespace.clone(), v.pod.metadata.name.clone(), v.pod.metadata.uid.clone())).collect(),
        })
    }
}
