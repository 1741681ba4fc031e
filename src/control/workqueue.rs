//! A controller work queue in the style of client-go's: each key at most once
//! in the queue, and never handed to two workers at once (a key added while
//! it is being processed is marked dirty and queued again when `done`);
//! requeue-after returns the time the caller should be woken at (components
//! never sleep); per-key exponential backoff for failures.

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
    /// Keys handed out by `pop` and not yet `done`.
    processing: BTreeSet<K>,
    /// Keys added while being processed.
    dirty: BTreeSet<K>,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// client-go's overall bucket (10 per second, burst 100), shared by every key.
    bucket: TokenBucket,
}

/// `rate.NewLimiter(10, 100)` as `BucketRateLimiter.When` uses it: every
/// rate-limited add takes a token, waiting for one when none is left.
#[derive(Clone, Debug)]
struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: SimTime,
}

impl TokenBucket {
    /// Reserves a token at `now`; how long until it is there.
    fn reserve(&mut self, now: SimTime) -> Duration {
        if now > self.last {
            self.tokens = (self.tokens + now.since(self.last).as_secs_f64() * self.per_second).min(self.burst);
            self.last = now;
        }
        self.tokens -= 1.0;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.per_second) }
    }
}

impl<K: Ord + Clone> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            ready: VecDeque::new(),
            queued: BTreeSet::new(),
            delayed: BTreeMap::new(),
            seq: 0,
            failures: BTreeMap::new(),
            processing: BTreeSet::new(),
            dirty: BTreeSet::new(),
            // client-go's DefaultControllerRateLimiter per-item part: 5 ms doubling to 1000 s.
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_secs(1000),
            bucket: TokenBucket { per_second: 10.0, burst: 100.0, tokens: 100.0, last: SimTime::ZERO },
        }
    }
}

impl<K: Ord + Clone> WorkQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `key` now unless it is already waiting; a key being processed
    /// is queued again once it is `done`.
    pub fn add(&mut self, key: K) {
        if self.processing.contains(&key) {
            self.dirty.insert(key);
            return;
        }
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// A worker finished `key` (handed out by `pop`).
    pub fn done(&mut self, key: &K) {
        self.processing.remove(key);
        if self.dirty.remove(key) {
            self.add(key.clone());
        }
    }

    /// Keys handed out and not yet done.
    pub fn processing(&self) -> usize {
        self.processing.len()
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

    /// Queues `key` after `DefaultControllerRateLimiter`'s delay: the longer
    /// of its per-key backoff and the shared bucket's wait; returns the due time.
    pub fn add_rate_limited(&mut self, key: K, now: SimTime) -> SimTime {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let backoff = self.base_backoff.saturating_mul(1u32.checked_shl(*n).unwrap_or(u32::MAX)).min(self.max_backoff);
        *n = n.saturating_add(1);
        let wait = self.bucket.reserve(now);
        self.add_after(key, now, backoff.max(wait))
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

    /// The next key to process, if any is due by `now`; it is processing
    /// until `done`. (Callers that never call `done` use `pop` as a plain queue.)
    pub fn pop(&mut self, now: SimTime) -> Option<K> {
        self.promote(now);
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    /// Like `pop`, marking the key as processing (client-go's `Get`).
    pub fn get(&mut self, now: SimTime) -> Option<K> {
        let key = self.pop(now)?;
        self.processing.insert(key.clone());
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

    /// client-go's queue_test TestAddWhileProcessing: a key added while a
    /// worker holds it is not handed to a second worker; it comes back once.
    #[test]
    fn a_key_added_while_processing_returns_once_after_done() {
        let mut q = WorkQueue::new();
        let t0 = SimTime::ZERO;
        q.add("a");
        assert_eq!(q.get(t0), Some("a"));
        q.add("a");
        q.add("a");
        assert_eq!(q.get(t0), None, "never to two workers at once");
        q.done(&"a");
        assert_eq!(q.get(t0), Some("a"), "queued again once, on done");
        q.done(&"a");
        assert_eq!(q.get(t0), None);
        assert_eq!(q.processing(), 0);
    }

    /// client-go's bucket: 100 rate-limited adds at once, then one per 100 ms.
    #[test]
    fn rate_limited_adds_share_a_bucket_of_ten_per_second() {
        let mut q: WorkQueue<u32> = WorkQueue::new();
        let now = SimTime::from_secs(10);
        let dues: Vec<SimTime> = (0..102).map(|k| q.add_rate_limited(k, now)).collect();
        assert!(dues[..100].iter().all(|&d| d == now + Duration::from_millis(5)), "the burst: each key's own 5 ms");
        assert_eq!(dues[100], now + Duration::from_millis(100));
        assert_eq!(dues[101], now + Duration::from_millis(200));
    }
}
