//! The simulated network between components and the API server, and the
//! faults on it, per component: partitions (requests time out, watches
//! break), link delay (extra latency each way and on watch events), link
//! loss (requests vanish and time out), and a stale cache (the component is
//! served by an API server whose watch cache runs behind).

use rand_chacha::ChaCha8Rng;
use std::time::Duration;

use crate::api::Revision;
use crate::latency::Latency;
use crate::time::SimTime;

/// The faults on one component's link.
#[derive(Clone, Debug, Default)]
pub struct LinkFaults {
    /// Cut off from the control plane: until a time, or (None) until healed.
    partition: Option<Option<SimTime>>,
    delay: Option<(Latency, SimTime)>,
    loss: Option<(f64, SimTime)>,
    /// Served by an API server whose cache runs `lag` behind.
    stale: Option<(Duration, SimTime)>,
}

/// Every component's link, by slot, and the history a lagging cache serves from.
pub struct Network {
    links: Vec<LinkFaults>,
    rng: ChaCha8Rng,
    /// (time, revision) of every commit: what a lagging cache serves.
    commit_times: Vec<(SimTime, Revision)>,
}

impl Network {
    pub fn new(rng: ChaCha8Rng) -> Network {
        Network { links: Vec::new(), rng, commit_times: Vec::new() }
    }

    /// A link for a new component (slot ids are dense).
    pub fn add_link(&mut self) {
        self.links.push(LinkFaults::default());
    }

    pub fn link(&self, id: usize) -> &LinkFaults {
        &self.links[id]
    }

    /// Records a commit's time, for lagging caches.
    pub fn committed(&mut self, now: SimTime, revision: Revision) {
        if self.commit_times.last().is_none_or(|(_, r)| *r < revision) {
            self.commit_times.push((now, revision));
        }
    }

    pub fn partitioned(&self, id: usize, now: SimTime) -> bool {
        match self.links[id].partition {
            Some(None) => true,
            Some(Some(until)) => now < until,
            None => false,
        }
    }

    /// Extra one-way latency on the component's link (link delay).
    pub fn extra(&mut self, id: usize, now: SimTime) -> Duration {
        match &self.links[id].delay {
            Some((lat, until)) if now < *until => lat.sample(&mut self.rng),
            _ => Duration::ZERO,
        }
    }

    /// How far behind the component's watch runs (a lagging API server cache).
    pub fn stale_lag(&self, id: usize, now: SimTime) -> Duration {
        match self.links[id].stale {
            Some((lag, until)) if now < until => lag,
            _ => Duration::ZERO,
        }
    }

    /// Whether this request is lost on the way (link loss).
    pub fn lost(&mut self, id: usize, now: SimTime) -> bool {
        match self.links[id].loss {
            Some((p, until)) if now < until => rand::RngExt::random_bool(&mut self.rng, p),
            _ => false,
        }
    }

    /// The revision a lagging cache serves a list at: as of `lag` ago, but
    /// never older than what the component has seen (`seen`: a reflector
    /// relists from its last resourceVersion, the fix for kubernetes#59848);
    /// a fresh process has seen nothing, so it gets the stale state.
    pub fn stale_revision(&self, id: usize, now: SimTime, seen: Revision) -> Option<Revision> {
        let (lag, until) = self.links[id].stale?;
        if now >= until {
            return None;
        }
        let cutoff = now - lag;
        let idx = self.commit_times.partition_point(|(t, _)| *t <= cutoff);
        let rev = if idx == 0 { 1 } else { self.commit_times[idx - 1].1 };
        Some(rev.max(seen))
    }

    pub fn partition(&mut self, id: usize, until: Option<SimTime>) {
        self.links[id].partition = Some(until);
    }
    pub fn delay(&mut self, id: usize, latency: Latency, until: SimTime) {
        self.links[id].delay = Some((latency, until));
    }
    pub fn loss(&mut self, id: usize, probability: f64, until: SimTime) {
        self.links[id].loss = Some((probability, until));
    }
    pub fn stale(&mut self, id: usize, lag: Duration, until: SimTime) {
        self.links[id].stale = Some((lag, until));
    }

    pub fn is_partitioned_at_all(&self, id: usize) -> bool {
        self.links[id].partition.is_some()
    }

    /// Ends the component's expired faults; `all` ends partitions without an
    /// end too. Returns whether a partition healed (its watches reconnect).
    pub fn heal(&mut self, id: usize, now: SimTime, all: bool) -> bool {
        let link = &mut self.links[id];
        let healed = match link.partition {
            Some(None) => all,
            Some(Some(until)) => all || now >= until,
            None => false,
        };
        if link.delay.as_ref().is_some_and(|(_, u)| now >= *u) {
            link.delay = None;
        }
        if link.loss.is_some_and(|(_, u)| now >= u) {
            link.loss = None;
        }
        if link.stale.is_some_and(|(_, u)| now >= u) {
            link.stale = None;
        }
        if healed {
            link.partition = None;
        }
        healed
    }
}
