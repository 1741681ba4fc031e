//! CrashLoopBackOff, as the kubelet's `flowcontrol.Backoff` keyed by pod and
//! container (`doBackOff`): the first exit restarts at once; later exits wait
//! 10 s, 20 s, 40 s … capped at 5 min, counted from when the container
//! finished (`IsInBackOffSince(key, finishedAt)`). The entry remembers when
//! the kubelet last restarted the container (`Next` sets `lastUpdate` to the
//! clock's now); a container that finished more than 2 × 5 min after that
//! restart (`hasExpired`: `finishedAt − lastUpdate > 2·max`, strictly) starts
//! over at 10 s, and so does one whose entry was garbage-collected (the
//! kubelet's housekeeping `GC()`: `now − lastUpdate > 2·max`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::SimTime;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct CrashLoopBackoff {
    /// (current period, lastUpdate: when the container was last restarted).
    entries: BTreeMap<(String, String), (Duration, SimTime)>,
}

impl CrashLoopBackoff {
    /// `hasExpired(eventTime, lastUpdate, max)`.
    fn expired(event_time: SimTime, last_update: SimTime) -> bool {
        event_time.since(last_update) > 2 * MAX
    }

    /// The entry, unless `hasExpired` for `finished` or garbage-collected by `now`.
    fn live(&self, key: &(String, String), now: SimTime, finished: SimTime) -> Option<(Duration, SimTime)> {
        let &(period, last) = self.entries.get(key)?;
        (!Self::expired(finished, last) && !Self::expired(now, last)).then_some((period, last))
    }

    /// When a container that finished at `finished` may restart, if it must wait.
    pub fn wait_until(&self, key: &(String, String), now: SimTime, finished: SimTime) -> Option<SimTime> {
        let (period, _) = self.live(key, now, finished)?;
        let until = finished + period;
        (now < until).then_some(until)
    }

    /// `Next(key, finished)` as the kubelet restarts the container at `now`.
    pub fn next(&mut self, key: (String, String), finished: SimTime, now: SimTime) {
        let period = match self.live(&key, now, finished) {
            None => INITIAL,
            Some((p, _)) => (p * 2).min(MAX),
        };
        self.entries.insert(key, (period, now));
    }

    pub fn forget_pod(&mut self, uid: &str) {
        self.entries.retain(|(u, _), _| u != uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (String, String) {
        ("uid".to_string(), "app".to_string())
    }

    /// Exits immediately after every start: the restart delays are 0, 10,
    /// 20, 40, 80, 160, 300, 300 s.
    #[test]
    fn delays_double_from_ten_seconds_to_five_minutes() {
        let mut b = CrashLoopBackoff::default();
        let mut t = SimTime::from_secs(100);
        let mut delays = Vec::new();
        for _ in 0..8 {
            let finished = t;
            let restart = b.wait_until(&key(), t, finished).unwrap_or(t);
            delays.push(restart.since(finished).as_secs());
            b.next(key(), finished, restart);
            t = restart;
        }
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    }

    /// Upstream `TestBackoffReset` (flowcontrol/backoff_test.go), with the
    /// kubelet's periods: capped, then an event more than 2 × max after the
    /// last update is not in backoff.
    #[test]
    fn backoff_reset() {
        let mut b = CrashLoopBackoff::default();
        let mut t = SimTime::from_secs(0);
        for _ in 0..=(MAX.as_secs() / INITIAL.as_secs()) {
            t = t + INITIAL;
            b.next(key(), t, t);
        }
        assert!(b.wait_until(&key(), t, t).is_some(), "capped, still backing off");
        let last_update = t;
        let later = t + 2 * MAX + INITIAL;
        assert_eq!(b.wait_until(&key(), later, last_update), None, "GC'd: 2 × max since the last update");
    }

    /// `hasExpired` compares the container's finish with the last restart
    /// (not with the previous finish), strictly: ran exactly 10 min after its
    /// restart — still backing off; a moment longer — starts over at 10 s.
    #[test]
    fn ten_minutes_after_the_last_restart_resets_the_backoff() {
        let mut b = CrashLoopBackoff::default();
        // Exits at 0 (restarted at once), 1 (restarted at 11), 12 (restarted at 32).
        b.next(key(), SimTime::from_secs(0), SimTime::from_secs(0));
        b.next(key(), SimTime::from_secs(1), SimTime::from_secs(11));
        b.next(key(), SimTime::from_secs(12), SimTime::from_secs(32));
        // The period is now 40 s; the last restart was at 32 s.
        let f = SimTime::from_secs(32 + 600);
        assert_eq!(b.wait_until(&key(), f, f), Some(f + Duration::from_secs(40)), "exactly 2 × max: not expired (`>`)");
        let f = SimTime::from_millis((32 + 600) * 1000 + 1);
        assert_eq!(b.wait_until(&key(), f, f), None, "a moment past 2 × max after the restart");
        b.next(key(), f, f);
        assert_eq!(b.wait_until(&key(), f, f), Some(f + INITIAL), "starts over at 10 s");
    }
}
