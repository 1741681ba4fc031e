//! The simulated etcd's health as faults change it: slow commits for a
//! while (`etcdSlow`), no answers for a while (`etcdUnavailable`), and
//! kube-apiserver's periodic compaction (plus `etcdCompact` on demand).

use crate::api::Revision;
use crate::latency::Latency;
use crate::time::SimTime;

use super::etcd::SimEtcd;
use crate::model::Object;

#[derive(Default)]
pub struct EtcdFaults {
    /// A slower commit latency until a time.
    slow: Option<(Latency, SimTime)>,
    /// No answers until a time.
    down_until: Option<SimTime>,
    /// What the next periodic compaction compacts to: the revision one interval ago.
    compact_target: Revision,
}

impl EtcdFaults {
    /// The commit latency in force now (`normal` unless etcd is slow).
    pub fn latency<'a>(&'a self, now: SimTime, normal: &'a Latency) -> &'a Latency {
        match &self.slow {
            Some((lat, until)) if now < *until => lat,
            _ => normal,
        }
    }

    pub fn down(&self, now: SimTime) -> bool {
        self.down_until.is_some_and(|u| now < u)
    }

    pub fn slow_until(&mut self, latency: Latency, until: SimTime) {
        self.slow = Some((latency, until));
    }

    pub fn unavailable_until(&mut self, until: SimTime) {
        self.down_until = Some(until);
    }

    /// Compacts history to the current revision now (`etcdCompact`).
    pub fn compact_now(etcd: &mut SimEtcd<Object>) {
        let rev = etcd.revision();
        if rev > etcd.compacted_revision() {
            let _ = etcd.compact(rev);
        }
    }

    /// kube-apiserver's compactor: compacts to the revision seen one interval
    /// ago; returns the revision compacted to, if it compacted.
    pub fn periodic_compaction(&mut self, etcd: &mut SimEtcd<Object>) -> Option<Revision> {
        let target = self.compact_target;
        self.compact_target = etcd.revision();
        (target > etcd.compacted_revision() && etcd.compact(target).is_ok()).then_some(target)
    }
}
