//! Scheduling-policy metrics of a finished run, and the side-by-side
//! comparison `kubesim compare` prints, writes to compare.csv and draws.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::control::scheduler::resources::{CPU, MEMORY, pod_requests};
use crate::model::Object;
use crate::scenario::ZONE_LABEL;
use crate::sim::world::RunOutcome;

#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyMetrics {
    pub config: String,
    pub seed: u64,
    /// Pods bound to a node at the end.
    pub scheduled: u64,
    /// Pods still unbound at the end.
    pub unschedulable: u64,
    /// Created → bound, over pods that were bound (virtual seconds).
    pub latency_p50_s: f64,
    pub latency_p99_s: f64,
    /// Mean time pods spent unbound (until bound, or until the end).
    pub pending_mean_s: f64,
    /// Requested / allocatable over all schedulable nodes.
    pub cpu_util_mean: f64,
    pub cpu_util_max_node: f64,
    pub mem_util_mean: f64,
    pub mem_util_max_node: f64,
    /// 1 − (largest free CPU on one node / all free CPU): 0 when free room is in one piece.
    pub cpu_fragmentation: f64,
    /// Per owning workload: most − fewest pods per zone / per node, averaged.
    pub zone_skew: f64,
    pub node_skew: f64,
    pub preemptions: u64,
    /// CPU requested / allocatable per node, fullest first (for the plot).
    #[serde(skip)]
    pub node_cpu_util: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub fn measure(config: &str, outcome: &RunOutcome) -> PolicyMetrics {
    let end_s = outcome.end.as_secs_f64();
    let mut m = PolicyMetrics { config: config.into(), seed: outcome.seed, ..Default::default() };
    // Latency and pending time from the observer's pod timelines.
    let mut lat = Vec::new();
    let mut pending = Vec::new();
    for row in outcome.observer.pod_rows() {
        let Some(created) = row.created_s else { continue };
        match row.scheduled_s {
            Some(s) => {
                lat.push(s - created);
                pending.push(s - created);
            }
            None => pending.push(row.deleted_s.unwrap_or(end_s) - created),
        }
    }
    lat.sort_by(f64::total_cmp);
    m.latency_p50_s = percentile(&lat, 50.0);
    m.latency_p99_s = percentile(&lat, 99.0);
    m.pending_mean_s = if pending.is_empty() { 0.0 } else { pending.iter().sum::<f64>() / pending.len() as f64 };
    // Capacity from the final store.
    let nodes: Vec<_> = outcome.final_nodes.iter().filter_map(Object::as_node).filter(|n| !n.spec.unschedulable).collect();
    let mut used: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut by_owner: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let zone_of: BTreeMap<&str, &str> = nodes.iter().map(|n| (n.metadata.name.as_str(), n.metadata.labels.get(ZONE_LABEL).map_or("", String::as_str))).collect();
    for p in outcome.final_pods.iter().filter_map(Object::as_pod) {
        if p.is_terminal() {
            continue;
        }
        if !p.is_bound() {
            m.unschedulable += 1;
            continue;
        }
        m.scheduled += 1;
        let r = pod_requests(p, false);
        let e = used.entry(p.spec.node_name.as_str()).or_default();
        e.0 += r.milli_cpu;
        e.1 += r.memory;
        if let Some(owner) = p.metadata.controller_ref() {
            let zone = zone_of.get(p.spec.node_name.as_str()).copied().unwrap_or("").to_string();
            by_owner.entry(format!("{}/{}", p.metadata.namespace, owner.name)).or_default().push((zone, p.spec.node_name.clone()));
        }
    }
    let (mut cpu_alloc, mut mem_alloc, mut cpu_used, mut mem_used) = (0i64, 0i64, 0i64, 0i64);
    let mut free = Vec::new();
    for n in &nodes {
        let a_cpu = n.status.allocatable.get(CPU).map_or(0, |q| q.milli_value());
        let a_mem = n.status.allocatable.get(MEMORY).map_or(0, |q| q.value());
        let (u_cpu, u_mem) = used.get(n.metadata.name.as_str()).copied().unwrap_or((0, 0));
        cpu_alloc += a_cpu;
        mem_alloc += a_mem;
        cpu_used += u_cpu;
        mem_used += u_mem;
        let cu = if a_cpu > 0 { u_cpu as f64 / a_cpu as f64 } else { 0.0 };
        let mu = if a_mem > 0 { u_mem as f64 / a_mem as f64 } else { 0.0 };
        m.cpu_util_max_node = m.cpu_util_max_node.max(cu);
        m.mem_util_max_node = m.mem_util_max_node.max(mu);
        m.node_cpu_util.push(cu);
        free.push((a_cpu - u_cpu).max(0));
    }
    m.node_cpu_util.sort_by(|a, b| b.total_cmp(a));
    m.cpu_util_mean = if cpu_alloc > 0 { cpu_used as f64 / cpu_alloc as f64 } else { 0.0 };
    m.mem_util_mean = if mem_alloc > 0 { mem_used as f64 / mem_alloc as f64 } else { 0.0 };
    let total_free: i64 = free.iter().sum();
    m.cpu_fragmentation = if total_free > 0 { 1.0 - *free.iter().max().unwrap_or(&0) as f64 / total_free as f64 } else { 0.0 };
    // Spread skew per owner over all zones / nodes of the cluster.
    let zones: Vec<&str> = {
        let mut z: Vec<&str> = zone_of.values().copied().filter(|z| !z.is_empty()).collect();
        z.sort();
        z.dedup();
        z
    };
    let (mut zs, mut ns) = (Vec::new(), Vec::new());
    for placements in by_owner.values() {
        if !zones.is_empty() {
            let counts: Vec<usize> = zones.iter().map(|z| placements.iter().filter(|(pz, _)| pz == z).count()).collect();
            zs.push((counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0)) as f64);
        }
        let counts: Vec<usize> = nodes.iter().map(|n| placements.iter().filter(|(_, pn)| *pn == n.metadata.name).count()).collect();
        ns.push((counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0)) as f64);
    }
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    m.zone_skew = mean(&zs);
    m.node_skew = mean(&ns);
    m.preemptions = outcome.component_stats.get("scheduler").and_then(|s| s.get("preemptions")).copied().unwrap_or(0);
    m
}

/// The metrics shown side by side: (label, accessor, format as percent).
pub const ROWS: &[(&str, fn(&PolicyMetrics) -> f64, bool)] = &[
    ("pods scheduled", |m| m.scheduled as f64, false),
    ("pods unschedulable", |m| m.unschedulable as f64, false),
    ("scheduling latency p50 (s)", |m| m.latency_p50_s, false),
    ("scheduling latency p99 (s)", |m| m.latency_p99_s, false),
    ("pending time mean (s)", |m| m.pending_mean_s, false),
    ("cpu utilisation, cluster mean", |m| m.cpu_util_mean, true),
    ("cpu utilisation, fullest node", |m| m.cpu_util_max_node, true),
    ("memory utilisation, cluster mean", |m| m.mem_util_mean, true),
    ("memory utilisation, fullest node", |m| m.mem_util_max_node, true),
    ("free cpu fragmentation", |m| m.cpu_fragmentation, true),
    ("zone spread skew (pods)", |m| m.zone_skew, false),
    ("node spread skew (pods)", |m| m.node_skew, false),
    ("preemptions", |m| m.preemptions as f64, false),
];

/// Mean of each metric over a config's seeds.
pub fn mean_of(runs: &[&PolicyMetrics], f: fn(&PolicyMetrics) -> f64) -> f64 {
    if runs.is_empty() { 0.0 } else { runs.iter().map(|m| f(m)).sum::<f64>() / runs.len() as f64 }
}

pub fn format_value(v: f64, pct: bool) -> String {
    if pct { format!("{:.1}%", v * 100.0) } else if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// The side-by-side table, one column per configuration (means over seeds).
pub fn table(configs: &[String], all: &[PolicyMetrics]) -> String {
    let width = configs.iter().map(|c| c.len()).max().unwrap_or(10).max(12);
    let mut out = format!("{:<34}", "metric (mean over seeds)");
    for c in configs {
        out.push_str(&format!("  {c:>width$}"));
    }
    out.push('\n');
    for (label, f, pct) in ROWS {
        out.push_str(&format!("{label:<34}"));
        for c in configs {
            let runs: Vec<&PolicyMetrics> = all.iter().filter(|m| &m.config == c).collect();
            out.push_str(&format!("  {:>width$}", format_value(mean_of(&runs, *f), *pct)));
        }
        out.push('\n');
    }
    out
}

const PALETTE: &[&str] = &["#3b6ea5", "#d9822b", "#4a9c5d", "#b5485d"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An SVG: per-node CPU allocation (fullest first) for each configuration on
/// the first seed, and one small bar chart per headline metric.
pub fn svg(scenario: &str, configs: &[String], all: &[PolicyMetrics]) -> String {
    let (w, h) = (960.0, 700.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n");
    s.push_str(&format!("<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n<text x=\"20\" y=\"28\" font-size=\"18\" font-weight=\"bold\">{} — scheduling policies compared</text>\n", esc(scenario)));
    // Legend.
    for (i, c) in configs.iter().enumerate() {
        let x = 20.0 + i as f64 * 220.0;
        s.push_str(&format!("<rect x=\"{x}\" y=\"42\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{}\" y=\"54\">{}</text>\n", PALETTE[i % PALETTE.len()], x + 20.0, esc(c)));
    }
    // Panel 1: per-node CPU allocation, fullest first.
    let (px, py, pw, ph) = (60.0, 90.0, 860.0, 230.0);
    s.push_str(&format!("<text x=\"{px}\" y=\"{}\" font-weight=\"bold\">CPU requested / allocatable per node, fullest first (first seed)</text>\n", py - 8.0));
    s.push_str(&format!("<rect x=\"{px}\" y=\"{py}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n"));
    for pct in [0, 25, 50, 75, 100] {
        let y = py + ph - ph * f64::from(pct) / 100.0;
        s.push_str(&format!("<line x1=\"{px}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{pct}%</text>\n", px + pw, px - 6.0, y + 4.0));
    }
    for (ci, c) in configs.iter().enumerate() {
        let Some(first) = all.iter().find(|m| &m.config == c) else { continue };
        let n = first.node_cpu_util.len().max(1);
        let step = pw / n as f64;
        let bw = (step / configs.len() as f64 * 0.85).max(1.0);
        for (k, u) in first.node_cpu_util.iter().enumerate() {
            let bh = ph * u.min(1.0);
            let x = px + k as f64 * step + ci as f64 * bw;
            s.push_str(&format!("<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{}\"/>\n", py + ph - bh, PALETTE[ci % PALETTE.len()]));
        }
    }
    s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nodes</text>\n", px + pw / 2.0, py + ph + 16.0));
    // Panel 2: small multiples of headline metrics.
    let picks = [2usize, 3, 5, 6, 9, 10, 11, 1];
    let (gx, gy, cw, chh) = (60.0, 370.0, 200.0, 120.0);
    for (k, row) in picks.iter().enumerate() {
        let (label, f, pct) = ROWS[*row];
        let x0 = gx + (k % 4) as f64 * (cw + 20.0);
        let y0 = gy + (k / 4) as f64 * (chh + 50.0);
        let vals: Vec<f64> = configs.iter().map(|c| mean_of(&all.iter().filter(|m| &m.config == c).collect::<Vec<_>>(), f)).collect();
        let max = vals.iter().copied().fold(0.0f64, f64::max).max(1e-9);
        s.push_str(&format!("<text x=\"{x0}\" y=\"{}\" font-weight=\"bold\">{}</text>\n", y0 - 6.0, esc(label)));
        s.push_str(&format!("<line x1=\"{x0}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#999\"/>\n", x0 + cw, y0 + chh, y0 + chh));
        let bw = cw / (vals.len() as f64 + 1.0);
        for (i, v) in vals.iter().enumerate() {
            let bh = (chh - 16.0) * v / max;
            let x = x0 + bw * (i as f64 + 0.5);
            s.push_str(&format!("<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"/>\n", y0 + chh - bh, bw * 0.8, PALETTE[i % PALETTE.len()]));
            s.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\n", x + bw * 0.4, y0 + chh - bh - 3.0, format_value(*v, pct)));
        }
    }
    s.push_str("</svg>\n");
    s
}
