//! A controller work queue in the style of client-go's: each key at most once
//! in the queue; requeue-after returns the time the caller should be woken at
//! (components never sleep); per-key exponential backoff for failures.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::time::SimTime;

#[derive(Clone, Debug)]
pub struct WorkQueue<K: Ord + Clone> {
    ready: VecDeque<K>,
    queued: BTreeSet<K>,
    /// Delayed adds: (due time, insertion seq) → key; FIFO among equal due times.
    delayed: BTreeMap<(SimTime, u64), K>,
    seq: u64,
    failures: BTreeMap<K, u32>,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl<K: Ord + Clone> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            ready: VecDeque::new(),
            queued: BTreeSet::new(),
            delayed: BTreeMap::new(),
            seq: 0,
            failures: BTreeMap::new(),
            // client-go's DefaultControllerRateLimiter per-item part: 5 ms doubling to 1000 s.
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_secs(1000),
        }
    }
}

impl<K: Ord + Clone> WorkQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `key` now unless it is already waiting.
    pub fn add(&mut self, key: K) {
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queues `key` at `now + after`. Returns the due time, which the caller
    /// turns into a wake-up effect.
    pub fn add_after(&mut self, key: K, now: SimTime, after: Duration) -> SimTime {
        let due = now + after;
        if after.is_zero() {
            self.add(key);
        } else {
            self.seq += 1;
            self.delayed.insert((due, self.seq), key);
        }
        due
    }

    /// Queues `key` after its per-key backoff; returns the due time.
    pub fn add_rate_limited(&mut self, key: K, now: SimTime) -> SimTime {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let backoff = self.base_backoff.saturating_mul(1u32.checked_shl(*n).unwrap_or(u32::MAX)).min(self.max_backoff);
        *n = n.saturating_add(1);
        self.add_after(key, now, backoff)
    }

    /// Clears the backoff of a key that succeeded.
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// Moves delayed keys that are due by `now` into the ready queue.
    pub fn promote(&mut self, now: SimTime) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.add(key);
        }
    }

    /// The next key to process, if any is due by `now`.
    pub fn pop(&mut self, now: SimTime) -> Option<K> {
        self.promote(now);
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    /// When the earliest delayed key falls due.
    pub fn next_due(&self) -> Option<SimTime> {
        self.delayed.keys().next().map(|(t, _)| *t)
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.delayed.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_delays_and_backs_off() {
        let mut q = WorkQueue::new();
        let t0 = SimTime::ZERO;
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.add_after("c", t0, Duration::from_secs(5)), SimTime::from_secs(5));
        assert_eq!(q.pop(t0), Some("a"));
        assert_eq!(q.pop(t0), Some("b"));
        assert_eq!(q.pop(t0), None);
        assert_eq!(q.next_due(), Some(SimTime::from_secs(5)));
        assert_eq!(q.pop(SimTime::from_secs(5)), Some("c"));
        let d1 = q.add_rate_limited("x", t0);
        q.pop(d1);
        let d2 = q.add_rate_limited("x", t0);
        assert_eq!((d1, d2), (SimTime::from_millis(5), SimTime::from_millis(10)));
        q.forget(&"x");
        q.pop(d2);
        assert_eq!(q.add_rate_limited("x", t0), SimTime::from_millis(5));
    }
}
