//! Leader election, from the leader-election Leases and who writes what
//! (client-go `leaderelection`, default lease duration 15 s):
//!
//! - `lease-takeover-early`: a Lease changes holder only after the previous
//!   holder's record has gone unrenewed for the lease duration (a candidate
//!   acquires only once `observedTime + leaseDuration` has passed, and it
//!   observes a renewal no sooner than it commits) — or after the holder
//!   released it (an empty holderIdentity);
//! - `lease-transitions`: `leaseTransitions` counts the holder changes;
//! - `one-leader-acting`: a replica of a leader-elected process (`<process>-<n>`,
//!   sharing one Lease) writes nothing but its Lease while another replica has
//!   held that Lease for longer than `ACTING_SLACK`. A deposed leader stops at
//!   its renew deadline, before anyone can take over; the slack covers writes
//!   it sent before it stopped that a slow etcd commits late.
//!
//! Leases in kube-node-lease are kubelets' heartbeats, not elections.

use std::collections::BTreeMap;
use std::time::Duration;

use super::spec::LEADER_LEASE_DURATION;
use super::{Checker, Commit, Violation, violation};
use crate::api::{WatchEvent, WatchEventType};
use crate::model::Object;
use crate::time::SimTime;

/// Writes a deposed leader sent before it stopped may commit this late.
pub const ACTING_SLACK: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_millis(100);

struct Election {
    holder: String,
    /// Commit time of the holder's last write of the record (acquire or renew).
    renewed: SimTime,
    /// When the current holder took it.
    acquired: SimTime,
    duration: Duration,
    changes: i32,
}

#[derive(Default)]
pub struct LeaderLease {
    /// Lease `namespace/name` → its election.
    elections: BTreeMap<String, Election>,
    takeovers: u64,
    replica_writes: u64,
}

/// `scheduler-2` → `scheduler`: the process a replica belongs to.
fn process_of(name: &str) -> Option<&str> {
    let (prefix, n) = name.rsplit_once('-')?;
    n.parse::<u32>().ok().map(|_| prefix)
}

impl Checker for LeaderLease {
    fn name(&self) -> &'static str {
        "leader-lease"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("leader-lease.takeovers", self.takeovers), ("one-leader-acting.writes", self.replica_writes)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        match &ev.object {
            Object::Lease(l) if l.metadata.namespace != "kube-node-lease" => {
                let key = format!("{}/{}", l.metadata.namespace, l.metadata.name);
                if ev.type_ == WatchEventType::Deleted {
                    self.elections.remove(&key);
                    return;
                }
                let holder = l.spec.holder_identity.clone().unwrap_or_default();
                let duration = l.spec.lease_duration_seconds.map_or(LEADER_LEASE_DURATION, |s| Duration::from_secs(s.max(0) as u64));
                let transitions = l.spec.lease_transitions.unwrap_or(0);
                let Some(e) = self.elections.get_mut(&key) else {
                    self.elections.insert(key, Election { holder, renewed: at.now, acquired: at.now, duration, changes: transitions });
                    return;
                };
                if holder != e.holder {
                    let released = e.holder.is_empty();
                    if !released && !holder.is_empty() && at.now + SLACK < e.renewed + e.duration {
                        out.push(violation(
                            "lease-takeover-early",
                            at.now,
                            at.index,
                            format!("{holder} took Lease {key} from {} {:.1}s after its last renewal, before the {}s lease duration", e.holder, at.now.since(e.renewed).as_secs_f64(), e.duration.as_secs()),
                            vec![format!("leases/{key}")],
                        ));
                    }
                    if !holder.is_empty() && !released {
                        e.changes += 1;
                        self.takeovers += 1;
                    }
                    e.holder = holder;
                    e.acquired = at.now;
                }
                e.renewed = at.now;
                e.duration = duration;
                if transitions != e.changes && !e.holder.is_empty() {
                    out.push(violation(
                        "lease-transitions",
                        at.now,
                        at.index,
                        format!("Lease {key} says leaseTransitions {transitions}, but its holder changed {} times", e.changes),
                        vec![format!("leases/{key}")],
                    ));
                    e.changes = transitions;
                }
            }
            _ => {
                let Some(process) = process_of(at.actor) else { return };
                self.replica_writes += 1;
                let other = self.elections.iter().find(|(_, e)| process_of(&e.holder) == Some(process) && e.holder != at.actor && e.acquired + ACTING_SLACK <= at.now);
                if let Some((key, e)) = other {
                    out.push(violation(
                        "one-leader-acting",
                        at.now,
                        at.index,
                        format!("{} wrote {} while {} has held Lease {key} since {}", at.actor, ev.key, e.holder, e.acquired),
                        vec![format!("leases/{key}")],
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{ev, pod};

    fn lease(holder: &str, transitions: i32) -> Object {
        serde_yaml::from_str::<crate::model::Lease>(&format!("metadata: {{name: kube-scheduler, namespace: kube-system}}\nspec: {{holderIdentity: {holder}, leaseDurationSeconds: 15, leaseTransitions: {transitions}}}")).unwrap().into()
    }

    fn at(secs: u64, actor: &'static str) -> Commit<'static> {
        Commit { now: SimTime::from_secs(secs), index: secs, actor }
    }

    #[test]
    fn a_takeover_before_the_lease_runs_out_fires() {
        for (takeover_s, ok) in [(25, true), (20, false)] {
            let mut c = LeaderLease::default();
            let mut out = Vec::new();
            c.on_commit(&at(0, "scheduler-1"), &ev(lease("scheduler-1", 0)), &mut out);
            c.on_commit(&at(10, "scheduler-1"), &ev(lease("scheduler-1", 0)), &mut out);
            c.on_commit(&at(takeover_s, "scheduler-2"), &ev(lease("scheduler-2", 1)), &mut out);
            assert_eq!(out.is_empty(), ok, "takeover at {takeover_s}: {out:?}");
        }
    }

    #[test]
    fn a_miscounted_transition_fires() {
        let mut c = LeaderLease::default();
        let mut out = Vec::new();
        c.on_commit(&at(0, "scheduler-1"), &ev(lease("scheduler-1", 0)), &mut out);
        c.on_commit(&at(30, "scheduler-2"), &ev(lease("scheduler-2", 0)), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].check, "lease-transitions");
    }

    #[test]
    fn a_deposed_leader_still_writing_fires() {
        let mut c = LeaderLease::default();
        let mut out = Vec::new();
        c.on_commit(&at(0, "scheduler-1"), &ev(lease("scheduler-1", 0)), &mut out);
        c.on_commit(&at(30, "scheduler-2"), &ev(lease("scheduler-2", 1)), &mut out);
        c.on_commit(&at(35, "scheduler-1"), &ev(pod("a", "n1", "1")), &mut out);
        assert!(out.is_empty(), "within the slack: {out:?}");
        c.on_commit(&at(45, "scheduler-2"), &ev(pod("b", "n1", "1")), &mut out);
        assert!(out.is_empty(), "the leader acts: {out:?}");
        c.on_commit(&at(45, "scheduler-1"), &ev(pod("c", "n1", "1")), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].check, "one-leader-acting");
    }
}
