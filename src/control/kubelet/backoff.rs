//! CrashLoopBackOff, as the kubelet's `flowcontrol.Backoff` keyed by pod and
//! container: the first exit restarts at once; later exits wait 10 s, 20 s,
//! 40 s … capped at 5 min after the container finished; an entry untouched
//! for 2 × 5 min (a container that ran 10 min) starts over at 10 s.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::SimTime;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct CrashLoopBackoff {
    entries: BTreeMap<(String, String), (Duration, SimTime)>,
}

impl CrashLoopBackoff {
    fn expired(now: SimTime, last_update: SimTime) -> bool {
        now.since(last_update) > 2 * MAX
    }

    /// When a container that finished at `finished` may restart, if it must wait.
    pub fn wait_until(&self, key: &(String, String), now: SimTime, finished: SimTime) -> Option<SimTime> {
        let (period, last) = self.entries.get(key)?;
        if Self::expired(now, *last) {
            return None;
        }
        let until = finished + *period;
        (now < until).then_some(until)
    }

    /// Records a restart of a container that finished at `finished`.
    pub fn next(&mut self, key: (String, String), finished: SimTime) {
        let entry = self.entries.entry(key).or_insert((Duration::ZERO, finished));
        entry.0 = if entry.0.is_zero() || Self::expired(finished, entry.1) { INITIAL } else { (entry.0 * 2).min(MAX) };
        entry.1 = finished;
    }

    pub fn forget_pod(&mut self, uid: &str) {
        self.entries.retain(|(u, _), _| u != uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exits immediately after every start: the restart delays are 0, 10,
    /// 20, 40, 80, 160, 300, 300 s.
    #[test]
    fn delays_double_from_ten_seconds_to_five_minutes() {
        let mut b = CrashLoopBackoff::default();
        let key = ("uid".to_string(), "app".to_string());
        let mut t = SimTime::from_secs(100);
        let mut delays = Vec::new();
        for _ in 0..8 {
            let finished = t;
            let restart = b.wait_until(&key, t, finished).unwrap_or(t);
            delays.push(restart.since(finished).as_secs());
            b.next(key.clone(), finished);
            t = restart;
        }
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn ten_minutes_of_running_resets_the_backoff() {
        let mut b = CrashLoopBackoff::default();
        let key = ("uid".to_string(), "app".to_string());
        for s in [0, 1, 12, 33] {
            b.next(key.clone(), SimTime::from_secs(s));
        }
        // Ran 9 min: still backing off (80 s).
        let f = SimTime::from_secs(33 + 540);
        assert_eq!(b.wait_until(&key, f, f), Some(f + Duration::from_secs(80)));
        // Ran 11 min: restarts at once and the next period is 10 s again.
        let f = SimTime::from_secs(33 + 660);
        assert_eq!(b.wait_until(&key, f, f), None);
        b.next(key.clone(), f);
        assert_eq!(b.wait_until(&key, f, f), Some(f + INITIAL));
    }
}
