//! Leader election over a coordination.k8s.io Lease, as client-go's
//! `leaderelection` package does it for kube-scheduler and
//! kube-controller-manager: LeaseDuration 15 s, RenewDeadline 10 s,
//! RetryPeriod 2 s.
//!
//! `LeaderElected` wraps the components one process runs (the scheduler; or
//! the controllers of a controller manager). Every replica watches and caches
//! all along, but its components only run while it holds the Lease:
//! - a candidate tries every 2 s; it takes the Lease when there is none, or
//!   when the holder's record has not changed for 15 s *by its own clock*
//!   (client-go's observedTime — never the renewTime written by another);
//! - the leader renews every 2 s; if no renewal has succeeded for 10 s it
//!   stops leading (upstream the process exits; here its components restart
//!   and it becomes a candidate again);
//! - writes are compare-and-swap on resourceVersion, so two candidates
//!   never both win one round.

use std::sync::Arc;
use std::time::Duration;

use crate::api::{WatchEvent, WatchEventType};
use crate::control::{Cache, Component, Effect, Input, Outbox, WriteOp};
use crate::model::lease::LeaseSpec;
use crate::model::meta::Timestamp;
use crate::model::{Kind, Lease, Object, ObjectMeta};
use crate::time::SimTime;

pub const LEASE_DURATION: Duration = Duration::from_secs(15);
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);
pub const LEASE_NAMESPACE: &str = "kube-system";

/// The timer token of the election itself; the children's tokens are tagged
/// with their index in the bits below. (Request ids come from the driver, so
/// answers are routed by the id each child's request was given.)
const OWN: u64 = 1 << 63;
const CHILD_SHIFT: u32 = 48;
const CHILD_MASK: u64 = (1 << CHILD_SHIFT) - 1;

pub struct LeaderElected {
    name: String,
    identity: String,
    lease_name: String,
    children: Vec<Box<dyn Component>>,
    leader: bool,
    /// The holder record last seen and when this replica first saw it.
    observed: Option<(Option<String>, Option<Timestamp>, SimTime)>,
    last_renewal: Option<SimTime>,
    attempt_inflight: bool,
    /// The election's own write in flight.
    attempt: Option<crate::control::RequestId>,
    /// Children's requests in flight → the child.
    child_requests: std::collections::BTreeMap<crate::control::RequestId, usize>,
    wake_due: Option<SimTime>,
    acquisitions: u64,
}

impl LeaderElected {
    /// `name` labels the replica (`scheduler-2`); `lease_name` is shared by
    /// the replicas (`kube-scheduler`); the identity is the name.
    pub fn new(name: &str, lease_name: &str, children: Vec<Box<dyn Component>>) -> LeaderElected {
        LeaderElected {
            name: name.to_string(),
            identity: name.to_string(),
            lease_name: lease_name.to_string(),
            children,
            leader: false,
            observed: None,
            last_renewal: None,
            attempt_inflight: false,
            attempt: None,
            child_requests: std::collections::BTreeMap::new(),
            wake_due: None,
            acquisitions: 0,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader
    }

    fn wake(&mut self, at: SimTime, out: &mut Outbox) {
        if self.wake_due.is_some_and(|d| d <= at && d > SimTime::ZERO) {
            return;
        }
        self.wake_due = Some(at);
        out.wake_at(at, OWN);
    }

    /// client-go's tryAcquireOrRenew, against the cached Lease.
    fn try_acquire_or_renew(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        if self.attempt_inflight {
            return;
        }
        let ts = Some(Timestamp::from_sim(now));
        let current = view.get(Kind::Lease, LEASE_NAMESPACE, &self.lease_name).and_then(Object::as_lease);
        let op = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: self.lease_name.clone(), namespace: LEASE_NAMESPACE.into(), ..Default::default() },
                    spec: LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
                        acquire_time: ts,
                        renew_time: ts,
                        lease_transitions: Some(0),
                    },
                    status: Default::default(),
                };
                WriteOp::Create(lease.into())
            }
            Some(l) => {
                let record = (l.spec.holder_identity.clone(), l.spec.renew_time);
                if self.observed.as_ref().is_none_or(|(h, r, _)| (h, r) != (&record.0, &record.1)) {
                    self.observed = Some((record.0.clone(), record.1, now));
                }
                let observed_at = self.observed.as_ref().map_or(now, |o| o.2);
                let mine = l.spec.holder_identity.as_deref() == Some(self.identity.as_str());
                let held = l.spec.holder_identity.as_deref().is_some_and(|h| !h.is_empty());
                let wait = if crate::mutants::active("leader-renew-deadline") { Duration::from_secs(10) } else { LEASE_DURATION };
                if !mine && held && observed_at + wait > now {
                    return;
                }
                let mut next = l.clone();
                next.spec.holder_identity = Some(self.identity.clone());
                next.spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
                next.spec.renew_time = ts;
                if !mine {
                    next.spec.acquire_time = ts;
                    next.spec.lease_transitions = Some(l.spec.lease_transitions.unwrap_or(0) + 1);
                }
                WriteOp::Update(next.into())
            }
        };
        self.attempt_inflight = true;
        self.attempt = Some(out.write(op));
    }

    fn become_leader(&mut self, now: SimTime, view: &Cache, out: &mut Outbox) {
        self.leader = true;
        self.acquisitions += 1;
        // A process that wins the election starts its controllers afresh; their
        // event handlers, registered on warm informers, see every object as added.
        self.child_requests.clear();
        for (i, c) in self.children.iter_mut().enumerate() {
            c.restart();
            for kind in c.watched_kinds() {
                let objects: Vec<Object> = view.list(kind).cloned().collect();
                for object in objects {
                    let revision = object.meta().revision();
                    let ev = WatchEvent { type_: WatchEventType::Added, key: Arc::from(""), object, revision };
                    Self::forward(i, c.as_mut(), now, Input::Watch(ev), view, out, &mut self.child_requests);
                }
            }
            Self::forward(i, c.as_mut(), now, Input::Synced, view, out, &mut self.child_requests);
        }
    }

    fn stop_leading(&mut self) {
        self.leader = false;
        // The children restart: answers to their earlier requests go nowhere.
        self.child_requests.clear();
        for c in &mut self.children {
            c.restart();
        }
    }

    /// Runs one child; its timers are tagged with its index, its requests remembered.
    fn forward(i: usize, child: &mut dyn Component, now: SimTime, input: Input, view: &Cache, out: &mut Outbox, requests: &mut std::collections::BTreeMap<crate::control::RequestId, usize>) {
        let from = out.len();
        child.handle(now, input, view, out);
        let tag = (i as u64) << CHILD_SHIFT;
        for e in out.effects_mut_from(from) {
            match e {
                Effect::Write { id, .. } | Effect::Runtime { id, .. } => {
                    requests.insert(*id, i);
                }
                Effect::WakeAt { token, .. } => *token |= tag,
            }
        }
    }

    fn child_of(id: u64) -> (usize, u64) {
        ((id >> CHILD_SHIFT) as usize, id & CHILD_MASK)
    }
}

impl Component for LeaderElected {
    fn name(&self) -> &str {
        &self.name
    }

    fn watched_kinds(&self) -> Vec<Kind> {
        let mut kinds = vec![Kind::Lease];
        for c in &self.children {
            for k in c.watched_kinds() {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
        }
        kinds
    }

    fn busy(&self) -> Option<String> {
        if !self.leader {
            return None;
        }
        let waits: Vec<String> = self.children.iter().filter_map(|c| c.busy().map(|w| format!("{}: {w}", c.name()))).collect();
        (!waits.is_empty()).then(|| waits.join("; "))
    }

    fn restart(&mut self) {
        self.stop_leading();
        self.observed = None;
        self.last_renewal = None;
        self.attempt_inflight = false;
        self.attempt = None;
        self.child_requests.clear();
        self.wake_due = None;
    }

    fn stats(&self) -> Vec<(&'static str, u64)> {
        let mut s = vec![("leader_acquisitions", self.acquisitions)];
        for c in &self.children {
            s.extend(c.stats());
        }
        s
    }

    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        match input {
            Input::Synced => {
                if self.leader {
                    for (i, c) in self.children.iter_mut().enumerate() {
                        Self::forward(i, c.as_mut(), now, Input::Synced, view, out, &mut self.child_requests);
                    }
                }
                self.try_acquire_or_renew(now, view, out);
                self.wake(now + RETRY_PERIOD, out);
            }
            Input::Timer { token } if token == OWN => {
                self.wake_due = None;
                if self.leader && self.last_renewal.is_some_and(|t| now.since(t) > RENEW_DEADLINE) {
                    self.stop_leading();
                }
                self.try_acquire_or_renew(now, view, out);
                self.wake(now + RETRY_PERIOD, out);
            }
            Input::WriteResult { id, result } if self.attempt == Some(id) => {
                self.attempt_inflight = false;
                self.attempt = None;
                match result {
                    Ok(o) => {
                        if let Some(l) = o.as_lease() {
                            self.observed = Some((l.spec.holder_identity.clone(), l.spec.renew_time, now));
                        }
                        self.last_renewal = Some(now);
                        if !self.leader {
                            self.become_leader(now, view, out);
                        }
                    }
                    Err(_) => {
                        if self.leader && self.last_renewal.is_some_and(|t| now.since(t) > RENEW_DEADLINE) {
                            self.stop_leading();
                        }
                    }
                }
            }
            other => {
                if !self.leader {
                    return;
                }
                let (target, input) = match other {
                    Input::Timer { token } => {
                        let (i, t) = Self::child_of(token);
                        (Some(i), Input::Timer { token: t })
                    }
                    Input::WriteResult { id, result } => match self.child_requests.remove(&id) {
                        Some(i) => (Some(i), Input::WriteResult { id, result }),
                        None => return,
                    },
                    Input::RuntimeResult { id, result } => match self.child_requests.remove(&id) {
                        Some(i) => (Some(i), Input::RuntimeResult { id, result }),
                        None => return,
                    },
                    other => (None, other),
                };
                match target {
                    Some(i) => {
                        if let Some(c) = self.children.get_mut(i) {
                            Self::forward(i, c.as_mut(), now, input, view, out, &mut self.child_requests);
                        }
                    }
                    None => {
                        let kinds: Vec<Vec<Kind>> = self.children.iter().map(|c| c.watched_kinds()).collect();
                        for (i, c) in self.children.iter_mut().enumerate() {
                            let wanted = match &input {
                                Input::Watch(ev) => kinds[i].contains(&ev.object.kind()),
                                _ => true,
                            };
                            if wanted {
                                Self::forward(i, c.as_mut(), now, input.clone(), view, out, &mut self.child_requests);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{Effect, Outbox};

    /// A child that records what reaches it.
    struct Probe(std::rc::Rc<std::cell::RefCell<Vec<String>>>);
    impl Component for Probe {
        fn name(&self) -> &str {
            "probe"
        }
        fn watched_kinds(&self) -> Vec<Kind> {
            vec![Kind::Pod]
        }
        fn handle(&mut self, _: SimTime, input: Input, _: &Cache, _: &mut Outbox) {
            self.0.borrow_mut().push(match input {
                Input::Synced => "synced".to_string(),
                Input::Watch(_) => "watch".to_string(),
                _ => "other".to_string(),
            });
        }
    }

    fn lease(holder: &str, renew_s: u64, rv: &str) -> Object {
        let ts = Some(Timestamp::from_sim(SimTime::from_secs(renew_s)));
        Lease {
            metadata: ObjectMeta { name: "kube-scheduler".into(), namespace: LEASE_NAMESPACE.into(), resource_version: rv.into(), ..Default::default() },
            spec: LeaseSpec { holder_identity: Some(holder.into()), lease_duration_seconds: Some(15), acquire_time: ts, renew_time: ts, lease_transitions: Some(0) },
            status: Default::default(),
        }
        .into()
    }

    fn writes(out: &mut Outbox) -> Vec<(RequestIdOf, WriteOp)> {
        out.drain().filter_map(|e| if let Effect::Write { id, op } = e { Some((id, op)) } else { None }).collect()
    }
    type RequestIdOf = crate::control::RequestId;

    /// client-go's tryAcquireOrRenew: no Lease → create it and lead; a held
    /// Lease is taken over only when its record has not changed for 15 s by
    /// the candidate's own clock.
    #[test]
    fn acquires_a_free_lease_and_takes_over_only_after_fifteen_seconds_of_silence() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut le = LeaderElected::new("scheduler-1", "kube-scheduler", vec![Box::new(Probe(log.clone()))]);
        let mut view = Cache::new(&le.watched_kinds());
        let mut out = Outbox::default();
        le.handle(SimTime::ZERO, Input::Synced, &view, &mut out);
        let w = writes(&mut out);
        assert!(matches!(&w[..], [(_, WriteOp::Create(l))] if l.as_lease().and_then(|l| l.spec.holder_identity.as_deref()) == Some("scheduler-1")), "{w:?}");
        assert!(log.borrow().is_empty(), "children wait for leadership");
        le.handle(SimTime::from_millis(5), Input::WriteResult { id: w[0].0, result: Ok(lease("scheduler-1", 0, "2")) }, &view, &mut out);
        assert!(le.is_leader());
        assert_eq!(*log.borrow(), ["synced"], "a new leader's children start");

        // Another replica sees the Lease held and renewed by scheduler-1.
        let mut other = LeaderElected::new("scheduler-2", "kube-scheduler", vec![]);
        view.apply(&crate::api::WatchEvent { type_: crate::api::WatchEventType::Added, key: Arc::from(""), object: lease("scheduler-1", 0, "2"), revision: 2 });
        other.handle(SimTime::from_secs(1), Input::Synced, &view, &mut out);
        assert!(writes(&mut out).is_empty(), "held: no attempt");
        // The record stays unchanged: at 1 s + 15 s by its own clock it may take over, not before.
        other.handle(SimTime::from_secs(15), Input::Timer { token: OWN }, &view, &mut out);
        assert!(writes(&mut out).is_empty(), "14 s of silence is not enough");
        other.handle(SimTime::from_secs(17), Input::Timer { token: OWN }, &view, &mut out);
        let w = writes(&mut out);
        match &w[..] {
            [(_, WriteOp::Update(l))] => {
                let l = l.as_lease().unwrap();
                assert_eq!((l.spec.holder_identity.as_deref(), l.spec.lease_transitions), (Some("scheduler-2"), Some(1)));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A leader that cannot renew for 10 s (RenewDeadline) stops leading and
    /// its children restart; their old requests' answers go nowhere.
    #[test]
    fn a_leader_that_cannot_renew_for_ten_seconds_steps_down() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut le = LeaderElected::new("cm-1", "kube-scheduler", vec![Box::new(Probe(log.clone()))]);
        let view = Cache::new(&le.watched_kinds());
        let mut out = Outbox::default();
        le.handle(SimTime::ZERO, Input::Synced, &view, &mut out);
        let w = writes(&mut out);
        le.handle(SimTime::ZERO, Input::WriteResult { id: w[0].0, result: Ok(lease("cm-1", 0, "2")) }, &view, &mut out);
        assert!(le.is_leader());
        let timeout = crate::api::ApiError::Storage("timed out".into());
        for t in [2u64, 4, 6, 8, 10] {
            le.handle(SimTime::from_secs(t), Input::Timer { token: OWN }, &view, &mut out);
            if let Some((id, _)) = writes(&mut out).pop() {
                le.handle(SimTime::from_secs(t), Input::WriteResult { id, result: Err(timeout.clone()) }, &view, &mut out);
            }
        }
        assert!(le.is_leader(), "10 s is the deadline, not yet past it");
        le.handle(SimTime::from_secs(11), Input::Timer { token: OWN }, &view, &mut out);
        assert!(!le.is_leader(), "past the renew deadline: it stops leading");
    }
}
