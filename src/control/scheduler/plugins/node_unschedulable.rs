//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that
//! tolerate `node.kubernetes.io/unschedulable:NoSchedule`.

use crate::control::scheduler::framework::*;
use crate::model::node::{Taint, TaintEffect};
use crate::model::pod::tolerated;

pub const NAME: &str = "NodeUnschedulable";
pub const ERR_REASON: &str = "node(s) were unschedulable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub struct NodeUnschedulable;

crate::extends!(NodeUnschedulable, NAME, [filter]);

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint { key: TAINT_UNSCHEDULABLE.into(), value: String::new(), effect: TaintEffect::NoSchedule, time_added: None };
        if tolerated(&pod.pod.spec.tolerations, &taint) { Status::success() } else { Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;
    use crate::model::pod::TolerationOperator;

    /// TestNodeUnschedulable, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let cordoned = |u: bool| {
            let mut n = node("n", &[]);
            n.spec.unschedulable = u;
            snapshot(vec![n], vec![])
        };
        let st = run_filter(&NodeUnschedulable, &pod("p", &[]), &cordoned(true), 0);
        assert_eq!((st.code, st.reasons), (Code::UnschedulableAndUnresolvable, vec![ERR_REASON.to_string()]), "Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)");
        assert!(run_filter(&NodeUnschedulable, &pod("p", &[]), &cordoned(false), 0).is_success(), "Schedule pod to normal node");
        let mut tolerant = pod("p", &[]);
        tolerant.spec.tolerations = vec![toleration(TAINT_UNSCHEDULABLE, TolerationOperator::Exists, "", Some(TaintEffect::NoSchedule))];
        assert!(run_filter(&NodeUnschedulable, &tolerant, &cordoned(true), 0).is_success(), "Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)");
    }
}
