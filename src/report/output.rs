//! The files a run writes: summary.json, events.jsonl, metrics.csv, pods.csv.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::check::{CheckOutcome, Violation};
use crate::model::Object;
use crate::sim::world::RunOutcome;

/// Final values of the headline metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub nodes: i64,
    pub nodes_ready: i64,
    pub pods: i64,
    pub pods_pending: i64,
    pub pods_running: i64,
    pub pods_bound: i64,
    pub replicasets: i64,
    pub deployments: i64,
    pub store_revision: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub kubesim_version: String,
    pub scenario: String,
    /// The scenario file as it was given; `kubesim replay` reads it again.
    pub scenario_path: String,
    pub scenario_sha256: String,
    pub seed: u64,
    pub until: String,
    pub ok: bool,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub events: u64,
    pub trace_sha256: String,
    pub checks: Vec<CheckSummary>,
    pub violations: Vec<ViolationSummary>,
    pub stall: Option<String>,
    pub metrics: Headline,
    /// Counters each component reported (the scheduler's attempts, preemptions, …).
    #[serde(default)]
    pub component_stats: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// The command that reproduces this run exactly.
    pub replay_command: String,
    /// What the run exercised: checker rule counts and component counters (see sim::world::coverage).
    #[serde(default)]
    pub coverage: std::collections::BTreeMap<String, u64>,
    /// The run's events and steps budgets (replay runs under the same).
    #[serde(default)]
    pub budget_events: Option<u64>,
    #[serde(default)]
    pub budget_steps: Option<u64>,
    /// The scenario as run, copied with the files it names into the run
    /// directory (relative to it), so `kubesim replay DIR` works from
    /// anywhere and after the original is edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_copy: Option<String>,
    /// Pods still Pending at the end, with the reason.
    #[serde(default)]
    pub pending_pods: Vec<PendingPod>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub name: String,
    pub at: String,
    pub ok: bool,
    pub observed: i64,
    pub expected: String,
    /// Why the run never evaluated the check (then `ok` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_evaluated: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViolationSummary {
    pub check: String,
    pub t: String,
    pub event_index: u64,
    pub message: String,
    pub objects: Vec<String>,
}

impl From<&CheckOutcome> for CheckSummary {
    fn from(c: &CheckOutcome) -> Self {
        CheckSummary { name: c.name.clone(), at: c.at.to_string(), ok: c.ok, observed: c.observed, expected: c.expected.clone(), not_evaluated: c.not_evaluated.clone() }
    }
}

impl From<&Violation> for ViolationSummary {
    fn from(v: &Violation) -> Self {
        ViolationSummary { check: v.check.clone(), t: v.t.to_string(), event_index: v.event_index, message: v.message.clone(), objects: v.objects.clone() }
    }
}

pub fn headline(o: &RunOutcome) -> Headline {
    let m = o.observer.current();
    Headline {
        nodes: m.nodes,
        nodes_ready: m.nodes_ready,
        pods: m.pods,
        pods_pending: m.pods_pending,
        pods_running: m.pods_running,
        pods_bound: m.pods_bound,
        replicasets: m.replicasets,
        deployments: m.deployments,
        store_revision: m.store_revision,
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Writes every output file into `dir` (created if missing).
/// Copies the scenario file and the files it names into `dir/scenario/`,
/// keeping their relative layout; returns the copy's path relative to `dir`.
/// A named file outside the scenario's directory (absolute, or with `..`)
/// cannot keep its relative place: then nothing is copied and replay reads
/// the original files.
pub fn copy_scenario(dir: &Path, scenario: &crate::scenario::Scenario) -> Result<Option<String>, String> {
    let contained = |s: &str| {
        let p = Path::new(s);
        p.is_relative() && p.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
    };
    if !scenario.sources.iter().all(|s| contained(s)) {
        return Ok(None);
    }
    let Some(file_name) = scenario.path.file_name() else { return Ok(None) };
    let src_dir = scenario.path.parent().unwrap_or(Path::new(""));
    let copy_dir = dir.join("scenario");
    let copy = |from: &Path, rel: &Path| -> Result<(), String> {
        let to = copy_dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        std::fs::copy(from, &to).map(|_| ()).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
    };
    copy(&scenario.path, Path::new(file_name))?;
    for s in &scenario.sources {
        copy(&src_dir.join(s), Path::new(s))?;
    }
    Ok(Some(Path::new("scenario").join(file_name).display().to_string()))
}

pub fn write_run(dir: &Path, summary: &Summary, outcome: &RunOutcome) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let p = dir.join("summary.json");
    let json = serde_json::to_string_pretty(summary).map_err(|e| io_err(&p, e))?;
    std::fs::write(&p, json + "\n").map_err(|e| io_err(&p, e))?;

    let p = dir.join("events.jsonl");
    let mut w = BufWriter::new(File::create(&p).map_err(|e| io_err(&p, e))?);
    outcome.trace.write_jsonl(&mut w).and_then(|_| w.flush()).map_err(|e| io_err(&p, e))?;

    let p = dir.join("metrics.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| io_err(&p, e))?;
    for row in &outcome.observer.rows {
        w.serialize(row).map_err(|e| io_err(&p, e))?;
    }
    w.flush().map_err(|e| io_err(&p, e))?;

    let p = dir.join("pods.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| io_err(&p, e))?;
    let mut any = false;
    for row in outcome.observer.pod_rows() {
        w.serialize(row).map_err(|e| io_err(&p, e))?;
        any = true;
    }
    if !any {
        w.write_record(["namespace", "name", "uid", "node", "created_s", "scheduled_s", "started_s", "ready_s", "deleted_s"]).map_err(|e| io_err(&p, e))?;
    }
    w.flush().map_err(|e| io_err(&p, e))?;

    let p = dir.join("events.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| io_err(&p, e))?;
    w.write_record(EVENT_COLUMNS).map_err(|e| io_err(&p, e))?;
    for row in event_rows(&outcome.final_events) {
        w.write_record(&row).map_err(|e| io_err(&p, e))?;
    }
    w.flush().map_err(|e| io_err(&p, e))?;
    Ok(())
}

const EVENT_COLUMNS: [&str; 11] = ["first_seen_s", "last_seen_s", "count", "type", "reason", "object", "namespace", "message", "source", "host", "name"];

/// The Events of a run, oldest first (as `kubectl get events --sort-by=.firstTimestamp`).
pub fn event_rows(events: &[Object]) -> Vec<[String; 11]> {
    let secs = |t: Option<crate::model::meta::Timestamp>| t.map_or(String::new(), |t| format!("{:.3}", t.to_sim().as_secs_f64()));
    let mut rows: Vec<(Option<crate::model::meta::Timestamp>, [String; 11])> = events
        .iter()
        .filter_map(Object::as_event)
        .map(|e| {
            let io = &e.involved_object;
            let row = [
                secs(e.first_timestamp),
                secs(e.last_timestamp),
                e.count.to_string(),
                e.type_.clone(),
                e.reason.clone(),
                format!("{}/{}", io.kind.to_lowercase(), io.name),
                e.metadata.namespace.clone(),
                e.message.clone(),
                e.source.component.clone(),
                e.source.host.clone(),
                e.metadata.name.clone(),
            ];
            (e.first_timestamp, row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1[10].cmp(&b.1[10])));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// A pod still Pending when the run ended, and why (its PodScheduled
/// condition, as `kubectl describe pod` shows it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingPod {
    pub pod: String,
    pub reason: String,
    pub message: String,
}

pub fn pending_pods(pods: &[Object]) -> Vec<PendingPod> {
    pods.iter()
        .filter_map(Object::as_pod)
        .filter(|p| p.status.phase.is_empty() || p.status.phase == "Pending")
        .filter(|p| !p.metadata.is_deleting())
        .map(|p| {
            let pod = format!("{}/{}", p.metadata.namespace, p.metadata.name);
            match p.status.conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
                Some(c) => PendingPod { pod, reason: c.reason.clone(), message: c.message.clone() },
                None if p.is_bound() => PendingPod { pod, reason: "ContainersNotStarted".into(), message: format!("bound to {}; its containers have not all started", p.spec.node_name) },
                None => PendingPod { pod, reason: "NotYetScheduled".into(), message: "the scheduler has not tried it yet".into() },
            }
        })
        .collect()
}

/// Writes `report.svg`: the run's timeline with faults and checks marked.
pub fn write_report(dir: &Path, scenario: &crate::scenario::Scenario, summary: &Summary, outcome: &RunOutcome) -> Result<(), String> {
    use super::timeline::{Action, Mark, Window, svg};
    let end = outcome.end.as_secs_f64();
    let mut windows: Vec<Window> = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    for (i, a) in scenario.timeline.iter().enumerate() {
        // Each fault says its window: a duration, or the later action that ends it.
        let Some(w) = a.action.window() else {
            actions.push(Action { t_s: a.at.as_secs_f64(), label: a.action.describe() });
            continue;
        };
        let from_s = a.at.as_secs_f64();
        let ended = scenario.timeline[i + 1..].iter().find(|b| (w.ends)(&a.action, &b.action)).map(|b| b.at.as_secs_f64());
        let to_s = w.lasts.map(|d| (a.at + d).as_secs_f64().min(end)).or(ended).unwrap_or(end);
        windows.push(Window { from_s, to_s, label: w.label });
    }
    let mut marks: Vec<Mark> = summary.checks.iter().map(|c| Mark { t_s: crate::time::parse_duration(&c.at).map_or(0.0, |d| d.as_secs_f64()), label: c.name.clone(), ok: c.ok }).collect();
    // Liveness: the cluster must be whole within its window after the faults heal.
    if let Some((from, within)) = scenario.liveness {
        let failed = summary.violations.iter().any(|v| v.check == "liveness");
        let label = format!("liveness: cluster whole within {} after {}", crate::time::format_duration(within), crate::time::format_duration(from));
        marks.push(Mark { t_s: (from + within).as_secs_f64().min(end), label, ok: !failed });
    }
    for v in &summary.violations {
        let t = v.t.trim_end_matches('s').parse::<f64>().unwrap_or(0.0);
        marks.push(Mark { t_s: t, label: format!("{}: {}", v.check, v.message), ok: false });
    }
    let evictions: Vec<f64> = outcome
        .trace
        .records()
        
        .filter(|r| r.kind == crate::sim::trace::TraceKind::Request && &*r.component == crate::control::controllers::taint_eviction::NAME && &*r.detail == "delete")
        .map(|r| r.t.as_secs_f64())
        .collect();
    let title = format!("{} — seed {} — {}", summary.scenario, summary.seed, if summary.ok { "ok" } else { "FAILED" });
    let p = dir.join("report.svg");
    std::fs::write(&p, svg(&title, end, &outcome.observer.rows, &windows, &marks, &actions, &evictions)).map_err(|e| io_err(&p, e))
}

pub fn read_summary(dir: &Path) -> Result<Summary, String> {
    let p = dir.join("summary.json");
    let text = std::fs::read_to_string(&p).map_err(|e| io_err(&p, e))?;
    serde_json::from_str(&text).map_err(|e| format!("{}:{}:{}: not a kubesim summary: {e}", p.display(), e.line(), e.column()))
}
