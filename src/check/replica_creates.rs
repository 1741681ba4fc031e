//! `replicaset-overcreate`: the ReplicaSet controller never creates a pod
//! that takes its ReplicaSet above the replicas it was asked for. Upstream's
//! expectations (`ControllerExpectations`) hold back the next sync until
//! the controller has seen every create it made, so a pod is created only
//! when the active pods it can see — not deleting, not finished — are fewer
//! than `spec.replicas`. Judged at each create of a pod whose controller is
//! a ReplicaSet, against the largest `spec.replicas` that ReplicaSet had in
//! the last `SCALE_SLACK` (a scale-down committing while a batch of creates
//! is in flight is a race upstream has too).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::Object;
use crate::time::SimTime;

/// How long a scale-down may lag behind creates already sent.
pub const SCALE_SLACK: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Owner {
    /// (since, replicas), oldest first; the last is the current value.
    replicas: VecDeque<(SimTime, i32)>,
    active: i32,
}

#[derive(Default)]
pub struct ReplicaCreates {
    owners: BTreeMap<String, Owner>,
    /// Pod uid → (owner uid, counted as active).
    pods: BTreeMap<String, (String, bool)>,
    creates: u64,
    /// Creates judged within the slack of a scale-down (the racy case).
    creates_after_scale_down: u64,
}

impl ReplicaCreates {
    fn most_recently_asked(&mut self, owner: &str, now: SimTime) -> Option<i32> {
        let o = self.owners.get_mut(owner)?;
        // Keep the value in force at the window's start, drop older ones.
        while o.replicas.len() > 1 && o.replicas.get(1).is_some_and(|(t, _)| *t + SCALE_SLACK <= now) {
            o.replicas.pop_front();
        }
        o.replicas.iter().map(|(_, r)| *r).max()
    }
}

impl Checker for ReplicaCreates {
    fn name(&self) -> &'static str {
        "replicaset-overcreate"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("replicaset-overcreate.creates", self.creates), ("replicaset-overcreate.creates-after-scale-down", self.creates_after_scale_down)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        match &ev.object {
            Object::ReplicaSet(rs) => {
                let uid = rs.metadata.uid.clone();
                if ev.type_ == WatchEventType::Deleted {
                    self.owners.remove(&uid);
                    return;
                }
                let replicas = rs.spec.replicas.unwrap_or(1);
                let o = self.owners.entry(uid).or_default();
                if o.replicas.back().is_none_or(|(_, r)| *r != replicas) {
                    o.replicas.push_back((at.now, replicas));
                }
            }
            Object::Pod(p) => {
                let uid = p.metadata.uid.clone();
                let active = ev.type_ != WatchEventType::Deleted && !p.metadata.is_deleting() && !p.is_terminal();
                let Some(owner) = p.metadata.controller_ref().filter(|c| c.kind == "ReplicaSet").map(|c| c.uid.clone()) else {
                    // Released (its ownerReference removed): it no longer counts.
                    if let Some((old, was_active)) = self.pods.remove(&uid)
                        && let Some(o) = self.owners.get_mut(&old)
                    {
                        o.active -= i32::from(was_active);
                    }
                    return;
                };
                let was = self.pods.get(&uid).map(|(_, a)| *a);
                if let Some(o) = self.owners.get_mut(&owner) {
                    o.active += i32::from(active) - i32::from(was.unwrap_or(false));
                }
                if ev.type_ == WatchEventType::Deleted {
                    self.pods.remove(&uid);
                } else {
                    self.pods.insert(uid, (owner.clone(), active));
                }
                let created = ev.type_ == WatchEventType::Added && was.is_none();
                if !created || at.actor == "scenario" {
                    return;
                }
                let Some(asked) = self.most_recently_asked(&owner, at.now) else { return };
                self.creates += 1;
                let current = self.owners.get(&owner).and_then(|o| o.replicas.back()).map_or(asked, |(_, r)| *r);
                self.creates_after_scale_down += u64::from(current < asked);
                let active = self.owners.get(&owner).map_or(0, |o| o.active);
                if active > asked {
                    let rs = format!("{}/{}", p.metadata.namespace, p.metadata.controller_ref().map_or("", |c| c.name.as_str()));
                    out.push(violation(
                        "replicaset-overcreate",
                        at.now,
                        at.index,
                        format!("creating pod {}/{} gave ReplicaSet {rs} {active} active pods, above the {asked} replicas it asked for", p.metadata.namespace, p.metadata.name),
                        vec![format!("replicasets/{rs}"), format!("pods/{}/{}", p.metadata.namespace, p.metadata.name)],
                    ));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rs(replicas: i32) -> Object {
        serde_yaml::from_str::<crate::model::ReplicaSet>(&format!("metadata: {{name: web, namespace: d, uid: rs1}}\nspec: {{replicas: {replicas}, selector: {{matchLabels: {{a: b}}}}, template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c}}]}}}}}}")).unwrap().into()
    }

    fn pod(name: &str) -> Object {
        serde_yaml::from_str::<crate::model::Pod>(&format!("metadata: {{name: {name}, namespace: d, uid: {name}, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: rs1, controller: true}}]}}\nspec: {{containers: [{{name: c}}]}}")).unwrap().into()
    }

    fn added(o: Object) -> WatchEvent {
        WatchEvent { type_: WatchEventType::Added, key: Arc::from("k"), object: o, revision: 1 }
    }

    fn at(secs: u64) -> Commit<'static> {
        Commit { now: SimTime::from_secs(secs), index: secs, actor: "controller-manager-1" }
    }

    #[test]
    fn a_create_beyond_replicas_fires() {
        let mut c = ReplicaCreates::default();
        let mut out = Vec::new();
        c.on_commit(&at(0), &added(rs(2)), &mut out);
        c.on_commit(&at(1), &added(pod("a")), &mut out);
        c.on_commit(&at(1), &added(pod("b")), &mut out);
        assert!(out.is_empty(), "{out:?}");
        c.on_commit(&at(2), &added(pod("c")), &mut out);
        assert_eq!(out.len(), 1, "a third pod for two replicas: {out:?}");
    }

    /// Scaled from 3 to 1 while the third create was in flight: a race, not a bug — until the slack passes.
    #[test]
    fn a_scale_down_racing_a_create_is_allowed_for_a_while() {
        let mut c = ReplicaCreates::default();
        let mut out = Vec::new();
        c.on_commit(&at(0), &added(rs(3)), &mut out);
        c.on_commit(&at(1), &added(pod("a")), &mut out);
        c.on_commit(&at(1), &added(pod("b")), &mut out);
        c.on_commit(&at(2), &WatchEvent { type_: WatchEventType::Modified, ..added(rs(1)) }, &mut out);
        c.on_commit(&at(3), &added(pod("c")), &mut out);
        assert!(out.is_empty(), "{out:?}");
        c.on_commit(&at(100), &added(pod("d")), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
    }
}
