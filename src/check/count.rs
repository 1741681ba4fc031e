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
            condition: None,
            reason: None,
            min_restarts: None,
        };
        let check = CountCheck { name: "c".into(), at: SimTime::ZERO, until: None, filter, expect: Comparison::Equals(1) };
        let out = evaluate(&check, objs.iter());
        assert!(out.ok);
        assert_eq!(out.observed, 1);
        let strict = CountCheck { expect: Comparison::AtLeast(2), ..check };
        assert!(!evaluate(&strict, objs.iter()).ok);
    }

    /// Issue 10: checks filter on conditions, and count Events by reason.
    #[test]
    fn counts_by_condition_and_by_event_reason() {
        use crate::model::event::Event;
        use crate::model::meta::Condition;
        use crate::scenario::schema::ConditionFilterSpec;
        let mut pending = Pod { metadata: ObjectMeta { name: "p".into(), namespace: "default".into(), ..Default::default() }, ..Default::default() };
        pending.status.conditions.push(Condition { type_: "PodScheduled".into(), status: "False".into(), reason: "Unschedulable".into(), ..Default::default() });
        let mut scheduled = pending.clone();
        scheduled.metadata.name = "q".into();
        scheduled.status.conditions[0] = Condition { type_: "PodScheduled".into(), status: "True".into(), ..Default::default() };
        let event = |reason: &str| Object::from(Event { reason: reason.into(), ..Default::default() });
        let objs = [Object::from(pending), Object::from(scheduled), event("FailedScheduling"), event("Scheduled"), event("FailedScheduling")];
        let filter = |kind, condition, reason: Option<&str>| ObjectFilter {
            kind,
            namespace: None,
            selector: None,
            phase: None,
            bound: None,
            node: None,
            ready: None,
            deleting: None,
            condition,
            reason: reason.map(str::to_string),
            min_restarts: None,
        };
        let count = |f: ObjectFilter| evaluate(&CountCheck { name: "c".into(), at: SimTime::ZERO, until: None, filter: f, expect: Comparison::AtLeast(0) }, objs.iter()).observed;
        let unschedulable = ConditionFilterSpec { type_: "PodScheduled".into(), status: Some("False".into()), reason: Some("Unschedulable".into()) };
        assert_eq!(count(filter(Kind::Pod, Some(unschedulable), None)), 1);
        let any_scheduled = ConditionFilterSpec { type_: "PodScheduled".into(), status: None, reason: None };
        assert_eq!(count(filter(Kind::Pod, Some(any_scheduled), None)), 2);
        assert_eq!(count(filter(Kind::Event, None, Some("FailedScheduling"))), 2);
        assert_eq!(count(filter(Kind::Event, None, None)), 3);
    }
}
