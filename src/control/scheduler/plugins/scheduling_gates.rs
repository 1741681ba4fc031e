//! SchedulingGates: a pod with `spec.schedulingGates` waits outside the active
//! queue until they are all removed (schedulinggates/scheduling_gates.go).

use crate::control::scheduler::framework::*;
use crate::model::pod::Pod;

pub const NAME: &str = "SchedulingGates";

pub struct SchedulingGates;

crate::extends!(SchedulingGates, NAME, [pre_enqueue]);

impl PreEnqueuePlugin for SchedulingGates {
    fn pre_enqueue(&self, pod: &Pod) -> Status {
        if pod.spec.scheduling_gates.is_empty() {
            return Status::success();
        }
        let names: Vec<&str> = pod.spec.scheduling_gates.iter().map(|g| g.name.as_str()).collect();
        // Go's %v of a []string: "[a b]".
        Status::new(Code::UnschedulableAndUnresolvable, format!("waiting for scheduling gates: [{}]", names.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pod::PodSchedulingGate;

    /// TestPreEnqueue, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let mut p = Pod::default();
        assert!(SchedulingGates.pre_enqueue(&p).is_success(), "pod does not carry scheduling gates");
        p.spec.scheduling_gates = vec![PodSchedulingGate { name: "foo".into() }, PodSchedulingGate { name: "bar".into() }];
        let st = SchedulingGates.pre_enqueue(&p);
        assert_eq!((st.code, st.reasons), (Code::UnschedulableAndUnresolvable, vec!["waiting for scheduling gates: [foo bar]".to_string()]), "pod carries scheduling gates");
    }
}
