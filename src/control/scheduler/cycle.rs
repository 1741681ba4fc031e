//! One scheduling cycle (kube-scheduler's `schedulePod`), as a pure function
//! of a profile, a snapshot, a pod and the scheduler's own random stream.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::framework::*;
use super::profile::Profile;
use crate::model::pod::Pod;

/// kube-scheduler's `minFeasibleNodesToFind` and `minFeasibleNodesPercentageToFind`.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// `numFeasibleNodesToFind`: every node under 100; else the profile's (or
/// global) percentage, or adaptively 50 − n/125 % (at least 5 %), at least 100.
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut pct = i64::from(percentage.unwrap_or(0));
    if pct == 0 {
        pct = (50 - all as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    ((all as i64 * pct / 100) as usize).max(MIN_FEASIBLE_NODES_TO_FIND)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FilterReport {
    pub plugin: String,
    pub ok: bool,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ScoreReport {
    Scored { plugin: String, raw: i64, normalized: i64, weight: i64, weighted: i64 },
    Skipped { plugin: String, skipped: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub feasible: bool,
    pub filters: Vec<FilterReport>,
    pub scores: Vec<ScoreReport>,
    pub total: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub selected: Option<String>,
    /// Per node, when explaining (in snapshot order).
    pub nodes: Vec<NodeReport>,
    /// Why nothing fits: "0/3 nodes are available: …".
    pub message: Option<String>,
    /// Nodes whose filters ran, and how many passed.
    pub evaluated: usize,
    pub feasible: usize,
    /// Preemption's proposal when nothing fits.
    pub nominated: Option<PostFilterResult>,
    /// True when no node could ever fit by preemption either.
    pub unresolvable: bool,
}

pub struct CycleOptions<'a> {
    /// Where the next filter pass starts (rotates across cycles, as upstream).
    pub start_index: &'a mut usize,
    pub rng: &'a mut ChaCha8Rng,
    /// Evaluate every filter on every node and score every feasible node.
    pub explain: bool,
    pub global_percentage: Option<i32>,
}

fn tag(mut st: Status, plugin: &str) -> Status {
    st.plugin = plugin.to_string();
    st
}

/// Runs every filter plugin not skipped at PreFilter on `node`, reporting
/// each (explain mode: no short-circuit).
pub fn run_filters(profile: &Profile, state: &CycleState, skipped: &[bool], pod: &PodInfo, node: &NodeInfo) -> Vec<(String, Status)> {
    profile
        .filter
        .iter()
        .zip(skipped)
        .map(|(p, skip)| {
            let st = if *skip { Status::success() } else { p.as_filter().map_or_else(Status::success, |f| f.filter(state, pod, node)) };
            (p.name().to_string(), tag(st, p.name()))
        })
        .collect()
}

/// The first filter that rejects `node`, if any (the scheduling path: no allocation on success).
pub fn first_rejection(profile: &Profile, state: &CycleState, skipped: &[bool], pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    for (p, skip) in profile.filter.iter().zip(skipped) {
        if *skip {
            continue;
        }
        if let Some(f) = p.as_filter() {
            let st = f.filter(state, pod, node);
            if !st.is_success() {
                return Some(tag(st, p.name()));
            }
        }
    }
    None
}

/// Runs PreFilter; returns the state, which filter plugins to skip (by
/// position in `profile.filter`), or a rejection.
pub fn run_pre_filter(profile: &Profile, pod: &PodInfo, snapshot: &Snapshot) -> (CycleState, Vec<bool>, Option<Status>) {
    let mut state = CycleState::default();
    let mut skipped = vec![false; profile.filter.len()];
    for p in &profile.pre_filter {
        let Some(pf) = p.as_pre_filter() else { continue };
        let st = pf.pre_filter(&mut state, pod, snapshot);
        if st.is_skip() {
            for (i, f) in profile.filter.iter().enumerate() {
                if f.name() == p.name() {
                    skipped[i] = true;
                }
            }
        } else if !st.is_success() {
            return (state, skipped, Some(tag(st, p.name())));
        }
    }
    (state, skipped, None)
}

fn fit_error(total: usize, statuses: &[(usize, Status)], pre_filter: Option<&Status>, post: Option<&str>) -> String {
    let mut msg = format!("0/{total} nodes are available:");
    if let Some(st) = pre_filter {
        msg.push_str(&format!(" {}.", st.reasons.join(", ")));
    } else {
        let mut hist: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, st) in statuses {
            for r in &st.reasons {
                *hist.entry(r.as_str()).or_default() += 1;
            }
        }
        let mut parts: Vec<String> = hist.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        if !parts.is_empty() {
            msg.push_str(&format!(" {}.", parts.join(", ")));
        }
    }
    if let Some(p) = post {
        msg.push_str(&format!(" {p}."));
    }
    msg
}

/// Schedules `pod` against `snapshot` with `profile`.
pub fn schedule(profile: &Profile, snapshot: &Snapshot, pod: &Arc<Pod>, opts: CycleOptions) -> Decision {
    let pi = PodInfo::new(pod.clone());
    let n = snapshot.nodes.len();
    let mut d = Decision::default();
    let (mut state, skipped, rejected) = run_pre_filter(profile, &pi, snapshot);
    if let Some(st) = rejected {
        d.unresolvable = st.code == Code::UnschedulableAndUnresolvable;
        if opts.explain {
            d.nodes = snapshot
                .nodes
                .iter()
                .map(|ni| NodeReport {
                    name: ni.name().to_string(),
                    feasible: false,
                    filters: vec![FilterReport { plugin: st.plugin.clone(), ok: false, reasons: st.reasons.clone() }],
                    scores: vec![],
                    total: 0,
                })
                .collect();
        }
        d.message = Some(fit_error(n, &[], Some(&st), None));
        return d;
    }
    // Filter.
    let mut feasible: Vec<usize> = Vec::new();
    let mut rejections: Vec<(usize, Status)> = Vec::new();
    let mut reports: BTreeMap<usize, NodeReport> = BTreeMap::new();
    if n > 0 {
        let want = if opts.explain { n } else { num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score.or(opts.global_percentage), n) };
        let start = *opts.start_index % n;
        let mut processed = 0;
        for k in 0..n {
            if feasible.len() >= want {
                break;
            }
            let i = (start + k) % n;
            processed += 1;
            let failed = if opts.explain {
                let results = run_filters(profile, &state, &skipped, &pi, &snapshot.nodes[i]);
                let failed = results.iter().find(|(_, st)| !st.is_success()).map(|(_, st)| st.clone());
                let filters = results.iter().map(|(p, st)| FilterReport { plugin: p.clone(), ok: st.is_success(), reasons: st.reasons.clone() }).collect();
                reports.insert(i, NodeReport { name: snapshot.nodes[i].name().to_string(), feasible: failed.is_none(), filters, scores: vec![], total: 0 });
                failed
            } else {
                first_rejection(profile, &state, &skipped, &pi, &snapshot.nodes[i])
            };
            match failed {
                None => feasible.push(i),
                Some(st) => rejections.push((i, st)),
            }
        }
        *opts.start_index = (start + processed) % n;
        d.evaluated = processed;
    }
    d.feasible = feasible.len();
    if feasible.is_empty() {
        d.unresolvable = rejections.iter().all(|(_, st)| st.code == Code::UnschedulableAndUnresolvable);
        let mut post_msg = None;
        for p in &profile.post_filter {
            let Some(pf) = p.as_post_filter() else { continue };
            let filter = |snap: &Snapshot, i: usize| -> Status {
                let (st, sk, rej) = run_pre_filter(profile, &pi, snap);
                if let Some(r) = rej {
                    return r;
                }
                first_rejection(profile, &st, &sk, &pi, &snap.nodes[i]).unwrap_or_else(Status::success)
            };
            match pf.post_filter(&pi, snapshot, &rejections, &filter) {
                Ok(r) => {
                    d.nominated = Some(r);
                    break;
                }
                Err(st) => post_msg = Some(st.reasons.join(", ")),
            }
        }
        d.message = Some(fit_error(n, &rejections, None, post_msg.as_deref()));
        d.nodes = reports.into_values().collect();
        return d;
    }
    if feasible.len() == 1 && !opts.explain {
        d.selected = Some(snapshot.nodes[feasible[0]].name().to_string());
        return d;
    }
    // Score.
    let nodes: Vec<&NodeInfo> = feasible.iter().map(|i| &snapshot.nodes[*i]).collect();
    let mut score_skipped = vec![false; profile.score.len()];
    for p in &profile.pre_score {
        let Some(ps) = p.as_pre_score() else { continue };
        if ps.pre_score(&mut state, &pi, &nodes, snapshot).is_skip() {
            for (i, (s, _)) in profile.score.iter().enumerate() {
                if s.name() == p.name() {
                    score_skipped[i] = true;
                }
            }
        }
    }
    let mut totals = vec![0i64; nodes.len()];
    let mut per_node: Vec<Vec<ScoreReport>> = if opts.explain { vec![Vec::new(); nodes.len()] } else { Vec::new() };
    let mut buf: Vec<i64> = Vec::with_capacity(nodes.len());
    for (k, (p, weight)) in profile.score.iter().enumerate() {
        let Some(sp) = p.as_score() else { continue };
        if score_skipped[k] {
            if opts.explain {
                per_node.iter_mut().for_each(|v| v.push(ScoreReport::Skipped { plugin: p.name().to_string(), skipped: true }));
            }
            continue;
        }
        buf.clear();
        buf.extend(nodes.iter().map(|ni| sp.score(&state, &pi, ni, snapshot).unwrap_or(0)));
        let raw = if opts.explain { buf.clone() } else { Vec::new() };
        sp.normalize(&state, &pi, &mut buf);
        for (j, s) in buf.iter().enumerate() {
            totals[j] += s * weight;
        }
        if opts.explain {
            for (j, (r, s)) in raw.iter().zip(&buf).enumerate() {
                per_node[j].push(ScoreReport::Scored { plugin: p.name().to_string(), raw: *r, normalized: *s, weight: *weight, weighted: s * weight });
            }
        }
    }
    // Highest total; ties by reservoir sampling on the scheduler's stream.
    let mut best = 0usize;
    let mut ties = 1u32;
    for k in 1..nodes.len() {
        if totals[k] > totals[best] {
            best = k;
            ties = 1;
        } else if totals[k] == totals[best] {
            ties += 1;
            if opts.rng.random_range(0..ties) == 0 {
                best = k;
            }
        }
    }
    d.selected = Some(nodes[best].name().to_string());
    if opts.explain {
        for (k, i) in feasible.iter().enumerate() {
            if let Some(r) = reports.get_mut(i) {
                r.scores = std::mem::take(&mut per_node[k]);
                r.total = totals[k];
            }
        }
        d.nodes = reports.into_values().collect();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TestNumFeasibleNodesToFind (schedule_one_test.go), upstream cases by name.
    #[test]
    fn num_feasible_nodes_to_find_upstream_cases() {
        assert_eq!(num_feasible_nodes_to_find(None, 10), 10, "not set percentageOfNodesToScore and nodes number not more than 50");
        assert_eq!(num_feasible_nodes_to_find(Some(40), 10), 10, "set profile percentageOfNodesToScore and nodes number not more than 50");
        assert_eq!(num_feasible_nodes_to_find(None, 1000), 420, "not set percentageOfNodesToScore and nodes number more than 50");
        assert_eq!(num_feasible_nodes_to_find(Some(40), 1000), 400, "set profile percentageOfNodesToScore and nodes number more than 50");
        assert_eq!(num_feasible_nodes_to_find(None, 6000), 300, "not set percentageOfNodesToScore and nodes number more than 50*125");
        assert_eq!(num_feasible_nodes_to_find(Some(40), 6000), 2400, "set profile percentageOfNodesToScore and nodes number more than 50*125");
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500, "5000 nodes: 50 − 40 = 10 %");
        assert_eq!(num_feasible_nodes_to_find(None, 150), 100, "at least 100");
    }
}
