//! The count check: at a virtual time, count objects matching a filter in
//! the store (ground truth, not any component's cache) and compare.

use super::CheckOutcome;
use crate::model::Object;
use crate::scenario::CountCheck;
use crate::time::SimTime;

/// The outcome of a check the run never decided: its time is after the
/// run's end (`--until` shorter than the scenario), or the run stopped
/// early, or an "eventually" check still failing when the run ended before
/// its deadline.
pub fn not_evaluated(check: &CountCheck, end: SimTime, stopped_early: bool) -> CheckOutcome {
    let reason = if stopped_early {
        format!("the run stopped early at {end}, before the check's time {}", check.at)
    } else if check.at > end {
        format!("its time {} is after the run's end {end} (run longer, or drop --until)", check.at)
    } else {
        format!("it was still failing when the run ended at {end}, before its deadline {}", check.until.map_or(end, |u| u))
    };
    CheckOutcome { name: check.name.clone(), at: check.at, ok: false, observed: 0, expected: check.expect.to_string(), not_evaluated: Some(reason) }
}

pub fn evaluate<'a>(check: &CountCheck, objects: impl Iterator<Item = &'a Object>) -> CheckOutcome {
    let observed = objects.filter(|o| check.filter.matches(o)).count() as i64;
    CheckOutcome { name: check.name.clone(), at: check.at, ok: check.expect.holds(observed), observed, expected: check.expect.to_string(), not_evaluated: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pod::Pod;
    use crate::model::{Kind, ObjectMeta};
    use crate::scenario::{Comparison, ObjectFilter};
    use crate::time::SimTime;

    fn pod(name: &str, app: &str, node: &str, phase: &str) -> Object {
        let mut p = Pod { metadata: ObjectMeta { name: name.into(), namespace: "default".into(), ..Default::default() }, ..Default::default() };
        p.metadata.labels.insert("app".into(), app.into());
        p.spec.node_name = node.into();
        p.status.phase = phase.into();
        p.into()
    }

    #[test]
    fn counts_with_selector_phase_and_binding() {
        let objs = [pod("a", "web", "n1", "Running"), pod("b", "web", "", "Pending"), pod("c", "db", "n1", "Running")];
        let filter = ObjectFilter {
            kind: Kind::Pod,
            namespace: Some("default".into()),
            selector: Some(crate::model::LabelSelector::from_labels(&[("app", "web")])),
            phase: None,
            bound: Some(true),
            node: None,
            ready: None,
            deleting: None,
        };
        let check = CountCheck { name: "c".into(), at: SimTime::ZERO, until: None, filter, expect: Comparison::Equals(1) };
        let out = evaluate(&check, objs.iter());
        assert!(out.ok);
        assert_eq!(out.observed, 1);
        let strict = CountCheck { expect: Comparison::AtLeast(2), ..check };
        assert!(!evaluate(&strict, objs.iter()).ok);
    }
}
