//! Per-run budgets. A bug that turns a run into an event storm (a sync that
//! requeues itself at once, a container restarted with no back-off, two
//! controllers fighting over a field) does not crash anything: the run just
//! takes minutes instead of milliseconds, or never ends. A budget turns that
//! into a finding with a seed and a replay command.
//!
//! Two budgets, both derived from the scenario unless it (or a flag) sets them:
//! - `events`: trace records (commits, responses, timers, runtime calls);
//! - `steps`: every event the loop pops, including watch deliveries.
//!
//! The derived budget scales with the work the scenario describes — nodes,
//! components, pods it asks for, simulated minutes — with five to fifty
//! times the headroom the shipped scenarios use (`tests/cli.rs` checks every
//! shipped scenario stays under a fifth of it), so a healthy run never comes near it.
//!
//! ```yaml
//! budget: {events: 2000000, steps: 8000000}
//! ```

use serde::Deserialize;

use super::actions::Action;
use super::Scenario;

/// Trace events allowed per unit of cluster size per simulated minute.
pub const EVENTS_PER_SIZE_MINUTE: u64 = 200;
/// Loop steps allowed per trace event allowed (a step records one event or fewer on average; a storm of deliveries shows here).
pub const STEPS_PER_EVENT: u64 = 2;
/// The smallest derived events budget (a tiny scenario still starts up).
pub const MIN_EVENTS: u64 = 100_000;

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    #[serde(default)]
    pub events: Option<u64>,
    #[serde(default)]
    pub steps: Option<u64>,
}

/// Where a budget's figures came from (a flag's must be in the replay command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetSource {
    Derived,
    Scenario,
    Flag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub events: u64,
    pub steps: u64,
    pub events_from: BudgetSource,
    pub steps_from: BudgetSource,
}

impl Budget {
    /// No limit (tests that drive a world by hand).
    pub const UNLIMITED: Budget = Budget { events: u64::MAX, steps: u64::MAX, events_from: BudgetSource::Flag, steps_from: BudgetSource::Flag };

    /// The scenario's own figures where it gives them, derived ones otherwise.
    pub fn resolve(spec: Option<BudgetSpec>, derived_events: u64) -> Budget {
        let spec = spec.unwrap_or_default();
        let (events, events_from) = match spec.events {
            Some(e) => (e, BudgetSource::Scenario),
            None => (derived_events, BudgetSource::Derived),
        };
        let (steps, steps_from) = match spec.steps {
            Some(s) => (s, BudgetSource::Scenario),
            None => (events.saturating_mul(STEPS_PER_EVENT), BudgetSource::Derived),
        };
        Budget { events, steps, events_from, steps_from }
    }

    /// Command-line overrides.
    pub fn with_flags(mut self, events: Option<u64>, steps: Option<u64>) -> Budget {
        if let Some(e) = events {
            self.events = e;
            self.events_from = BudgetSource::Flag;
            if self.steps_from == BudgetSource::Derived {
                self.steps = e.saturating_mul(STEPS_PER_EVENT);
            }
        }
        if let Some(s) = steps {
            self.steps = s;
            self.steps_from = BudgetSource::Flag;
        }
        self
    }

    /// The flags a replay needs to run under the same budget.
    pub fn replay_flags(&self) -> String {
        let mut out = String::new();
        if self.events_from == BudgetSource::Flag {
            out.push_str(&format!(" --max-events {}", self.events));
        }
        if self.steps_from == BudgetSource::Flag {
            out.push_str(&format!(" --max-steps {}", self.steps));
        }
        out
    }

    /// How to raise it, for the violation message.
    pub fn how_to_raise(&self) -> &'static str {
        "raise it with `budget: {events: N, steps: N}` in the scenario or --max-events/--max-steps"
    }
}

/// How big the cluster the scenario describes is: nodes with their
/// components, the control plane, and the pods its objects and timeline ask for.
pub fn cluster_size(s: &Scenario) -> u64 {
    let per_node = 1 + crate::control::registry::per_node_names().len() as u64;
    let control_plane = crate::control::registry::control_plane_names(s.control_plane_replicas).len() as u64;
    let initial: u64 = s.objects.iter().map(|o| pods_asked(&o.object)).sum();
    let timeline: u64 = s
        .timeline
        .iter()
        .map(|a| match &a.action {
            Action::Scale(sc) => sc.replicas.max(0) as u64,
            Action::Apply(ap) => ap.objects.iter().map(pods_asked).sum(),
            _ => 0,
        })
        .sum();
    1 + s.nodes.len() as u64 * per_node + control_plane + initial + timeline
}

/// Pods an object asks for: one for a Pod, its replicas for a scalable kind.
fn pods_asked(o: &crate::model::Object) -> u64 {
    if o.kind() == crate::model::Kind::Pod {
        return 1;
    }
    o.replicas().map_or(0, |r| r.max(0) as u64)
}

/// The derived events budget for a run of `minutes` simulated minutes.
pub fn derived_events(s: &Scenario, duration: std::time::Duration) -> u64 {
    let minutes = duration.as_secs().div_ceil(60).max(1);
    (cluster_size(s) * minutes * EVENTS_PER_SIZE_MINUTE).max(MIN_EVENTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_and_are_replayed() {
        let b = Budget::resolve(None, 1000);
        assert_eq!((b.events, b.steps), (1000, 1000 * STEPS_PER_EVENT));
        assert_eq!(b.replay_flags(), "");
        let f = b.with_flags(Some(10), None);
        assert_eq!((f.events, f.steps), (10, 10 * STEPS_PER_EVENT));
        assert_eq!(f.replay_flags(), " --max-events 10");
        let s = Budget::resolve(Some(BudgetSpec { events: None, steps: Some(7) }), 1000).with_flags(Some(10), None);
        assert_eq!((s.events, s.steps), (10, 7), "the scenario's own steps stay");
    }
}
