//! NodeName: a pod that names a node fits only that node (nodename/node_name.go).

use crate::control::scheduler::framework::*;

pub const NAME: &str = "NodeName";
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

crate::extends!(NodeName, NAME, [filter]);

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let wanted = &pod.pod.spec.node_name;
        if wanted.is_empty() || wanted == node.name() { Status::success() } else { Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;

    /// TestNodeName, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let snap = snapshot(vec![node("foo", &[])], vec![]);
        assert!(run_filter(&NodeName, &pod("p", &[]), &snap, 0).is_success(), "no host specified");
        assert!(run_filter(&NodeName, &on(pod("p", &[]), "foo"), &snap, 0).is_success(), "host matches");
        let st = run_filter(&NodeName, &on(pod("p", &[]), "bar"), &snap, 0);
        assert_eq!((st.code, st.reasons), (Code::UnschedulableAndUnresolvable, vec![ERR_REASON.to_string()]), "host doesn't match");
    }
}
