//! The run's trace: every event the simulator processed, in order. Each record
//! is folded into a SHA-256 as a compact binary encoding (cheap enough for
//! every event); the same records render as `events.jsonl` when a run is
//! written out. Same seed → same hash; the hash goes in the summary.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

use crate::time::SimTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// The store committed a change (detail: ADDED/MODIFIED/DELETED).
    Commit,
    /// A watch event reached a component.
    Deliver,
    /// A component issued an API write (detail: the verb).
    Request,
    /// A write's answer reached its component (detail: ok or the error reason).
    Response,
    /// A component's wake-up fired.
    Timer,
    /// A scenario timeline action ran (detail: the action).
    Action,
    /// A check was evaluated (detail: pass/fail).
    Check,
    /// A component's watch broke and was resumed or relisted.
    Relist,
    /// The API server compacted etcd history.
    Compact,
    /// A kubelet called its runtime (detail: the CRI verb).
    Runtime,
    /// A runtime call completed (detail: verb and outcome).
    RuntimeDone,
    /// A container exited (component: the node; detail: code and reason).
    ContainerExit,
    /// A network or cache fault changed what a component can reach or see.
    Fault,
}

impl TraceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Commit => "commit",
            TraceKind::Deliver => "deliver",
            TraceKind::Request => "request",
            TraceKind::Response => "response",
            TraceKind::Timer => "timer",
            TraceKind::Action => "action",
            TraceKind::Check => "check",
            TraceKind::Relist => "relist",
            TraceKind::Compact => "compact",
            TraceKind::Runtime => "runtime",
            TraceKind::RuntimeDone => "runtime-done",
            TraceKind::ContainerExit => "container-exit",
            TraceKind::Fault => "fault",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TraceRecord {
    pub t: SimTime,
    pub kind: TraceKind,
    /// The component involved, by name ("" for the store or the scenario).
    pub component: Arc<str>,
    /// `pods/default/web-1` style, or "" when no object is involved.
    pub object: Arc<str>,
    pub revision: i64,
    pub detail: Arc<str>,
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    t_ns: u64,
    t: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    component: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    object: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    revision: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    detail: &'a str,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl TraceRecord {
    pub fn to_json_line(&self) -> String {
        let line = JsonLine {
            t_ns: self.t.as_nanos(),
            t: self.t.to_string(),
            kind: self.kind.as_str(),
            component: &self.component,
            object: &self.object,
            revision: self.revision,
            detail: &self.detail,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

pub struct Trace {
    hasher: Sha256,
    count: u64,
    /// Kept only when the run will be written out; in fixed-size chunks, so a
    /// long trace grows without copying what it already holds.
    records: Option<Vec<Vec<TraceRecord>>>,
}

const CHUNK: usize = 16 * 1024;

impl Trace {
    pub fn new(keep_records: bool) -> Trace {
        Trace { hasher: Sha256::new(), count: 0, records: keep_records.then(Vec::new) }
    }

    pub fn record(&mut self, r: TraceRecord) {
        let h = &mut self.hasher;
        h.update(r.t.as_nanos().to_le_bytes());
        h.update([r.kind as u8]);
        h.update(r.revision.to_le_bytes());
        for s in [&r.component, &r.object, &r.detail] {
            h.update((s.len() as u32).to_le_bytes());
            h.update(s.as_bytes());
        }
        self.count += 1;
        if let Some(chunks) = &mut self.records {
            match chunks.last_mut() {
                Some(c) if c.len() < CHUNK => c.push(r),
                _ => {
                    let mut c = Vec::with_capacity(CHUNK);
                    c.push(r);
                    chunks.push(c);
                }
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The hex SHA-256 of everything recorded so far.
    pub fn sha256(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The kept records, in order.
    pub fn records(&self) -> impl Iterator<Item = &TraceRecord> {
        self.records.iter().flatten().flatten()
    }

    pub fn write_jsonl(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for r in self.records() {
            writeln!(w, "{}", r.to_json_line())?;
        }
        Ok(())
    }
}
