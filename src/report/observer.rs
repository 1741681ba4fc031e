//! The observer: ground truth from every committed change (not from any
//! component's cache), kept incrementally so sampling costs nothing per pod.
//! Feeds metrics.csv and pods.csv.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{WatchEvent, WatchEventType};
use crate::model::Object;
use crate::time::SimTime;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsRow {
    pub t_s: f64,
    pub nodes: i64,
    pub nodes_ready: i64,
    pub pods: i64,
    pub pods_pending: i64,
    pub pods_running: i64,
    pub pods_succeeded: i64,
    pub pods_failed: i64,
    pub pods_bound: i64,
    pub pods_deleting: i64,
    pub replicasets: i64,
    pub deployments: i64,
    pub store_revision: i64,
    pub events: u64,
}

/// Per pod: when it was created, scheduled, started, became ready, was deleted.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub node: String,
    pub created_s: Option<f64>,
    pub scheduled_s: Option<f64>,
    pub started_s: Option<f64>,
    pub ready_s: Option<f64>,
    pub deleted_s: Option<f64>,
}

#[derive(Clone, Copy, Default)]
struct PodState {
    phase: u8,
    bound: bool,
    deleting: bool,
}

fn phase_code(p: &str) -> u8 {
    match p {
        "Running" => 1,
        "Succeeded" => 2,
        "Failed" => 3,
        _ => 0,
    }
}

#[derive(Default)]
pub struct Observer {
    current: MetricsRow,
    pod_states: BTreeMap<Arc<str>, PodState>,
    node_ready: BTreeMap<Arc<str>, bool>,
    /// Keyed by uid-qualified etcd key so a recreated pod gets its own row.
    pods: BTreeMap<(Arc<str>, String), PodRow>,
    pub rows: Vec<MetricsRow>,
}

impl Observer {
    pub fn new() -> Observer {
        Observer::default()
    }

    fn pod_counter(&mut self, s: PodState, sign: i64) {
        let c = &mut self.current;
        c.pods += sign;
        match s.phase {
            1 => c.pods_running += sign,
            2 => c.pods_succeeded += sign,
            3 => c.pods_failed += sign,
            _ => c.pods_pending += sign,
        }
        c.pods_bound += sign * i64::from(s.bound);
        c.pods_deleting += sign * i64::from(s.deleting);
    }

    pub fn observe(&mut self, now: SimTime, ev: &WatchEvent) {
        let deleted = ev.type_ == WatchEventType::Deleted;
        let added = ev.type_ == WatchEventType::Added;
        let sign = if deleted { -1 } else { 1 };
        self.current.store_revision = self.current.store_revision.max(ev.revision);
        match &ev.object {
            Object::Pod(p) => {
                if let Some(old) = self.pod_states.remove(&ev.key) {
                    self.pod_counter(old, -1);
                }
                let state = PodState { phase: phase_code(&p.status.phase), bound: p.is_bound(), deleting: p.metadata.is_deleting() };
                if !deleted {
                    self.pod_counter(state, 1);
                    self.pod_states.insert(ev.key.clone(), state);
                }
                let t = Some(now.as_secs_f64());
                let row = self.pods.entry((ev.key.clone(), p.metadata.uid.clone())).or_insert_with(|| PodRow {
                    namespace: p.metadata.namespace.clone(),
                    name: p.metadata.name.clone(),
                    uid: p.metadata.uid.clone(),
                    ..Default::default()
                });
                if added {
                    row.created_s = t;
                }
                if p.is_bound() && row.scheduled_s.is_none() {
                    row.scheduled_s = t;
                    row.node = p.spec.node_name.clone();
                }
                if p.status.phase == "Running" && row.started_s.is_none() {
                    row.started_s = t;
                }
                if p.is_ready() && row.ready_s.is_none() {
                    row.ready_s = t;
                }
                if deleted {
                    row.deleted_s = t;
                }
            }
            Object::Node(n) => {
                let was = self.node_ready.remove(&ev.key);
                if let Some(r) = was {
                    self.current.nodes -= 1;
                    self.current.nodes_ready -= i64::from(r);
                }
                if !deleted {
                    self.current.nodes += 1;
                    self.current.nodes_ready += i64::from(n.is_ready());
                    self.node_ready.insert(ev.key.clone(), n.is_ready());
                }
            }
            Object::ReplicaSet(_) if added || deleted => self.current.replicasets += sign,
            Object::Deployment(_) if added || deleted => self.current.deployments += sign,
            _ => {}
        }
    }

    /// Records a metrics sample at `now`.
    pub fn sample(&mut self, now: SimTime, events: u64) {
        let mut row = self.current.clone();
        row.t_s = now.as_secs_f64();
        row.events = events;
        self.rows.push(row);
    }

    pub fn current(&self) -> &MetricsRow {
        &self.current
    }

    pub fn pod_rows(&self) -> impl Iterator<Item = &PodRow> {
        self.pods.values()
    }
}
