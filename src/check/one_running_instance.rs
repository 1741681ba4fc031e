//! `one-running-instance`: no pod, by namespace/name (the identity a
//! StatefulSet relies on), runs on two nodes at once. Checked at every
//! container start for the pod that started; reported once per pod.

use std::collections::BTreeSet;

use super::{Checker, ContainerStart, Runtimes, Violation, violation};

#[derive(Default)]
pub struct OneRunningInstance {
    reported: BTreeSet<(String, String)>,
    starts: u64,
}

impl Checker for OneRunningInstance {
    fn name(&self) -> &'static str {
        "one-running-instance"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("one-running-instance.starts", self.starts)]
    }
    fn on_container_start(&mut self, at: &ContainerStart, runtimes: &dyn Runtimes, out: &mut Vec<Violation>) {
        self.starts += 1;
        let (ns, name) = (&at.pod.namespace, &at.pod.name);
        if self.reported.contains(&(ns.clone(), name.clone())) {
            return;
        }
        if let Some((other, other_uid)) = runtimes.running_elsewhere(ns, name, at.node) {
            let key = format!("{ns}/{name}");
            out.push(violation(
                self.name(),
                at.now,
                at.index,
                format!("pod {key} runs on {} (uid {}) and on {other} (uid {other_uid})", at.node, at.pod.uid),
                vec![format!("pods/{key}"), format!("nodes/{}", at.node), format!("nodes/{other}")],
            ));
            self.reported.insert((ns.clone(), name.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::PodIdentity;
    use crate::time::SimTime;

    struct Fake(Option<(String, String)>, usize);
    impl Runtimes for Fake {
        fn running_elsewhere(&self, _: &str, _: &str, _: &str) -> Option<(String, String)> {
            self.0.clone()
        }
        fn running_copies(&self, _: &str, _: &str, _: &str) -> usize {
            self.1
        }
    }

    #[test]
    fn a_pod_on_two_nodes_is_reported_once_and_a_twice_running_container_fires() {
        let pod = PodIdentity { namespace: "default".into(), name: "web-0".into(), uid: "u2".into(), labels: Default::default() };
        let at = ContainerStart { now: SimTime::from_secs(5), index: 9, node: "n2", pod: &pod, container: "app" };
        let mut c = OneRunningInstance::default();
        let mut out = Vec::new();
        c.on_container_start(&at, &Fake(None, 1), &mut out);
        assert!(out.is_empty());
        c.on_container_start(&at, &Fake(Some(("n1".into(), "u1".into())), 1), &mut out);
        c.on_container_start(&at, &Fake(Some(("n1".into(), "u1".into())), 1), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].message.contains("on n2 (uid u2) and on n1 (uid u1)"), "{}", out[0].message);
        let mut d = crate::check::duplicate_container::DuplicateContainer::default();
        out.clear();
        d.on_container_start(&at, &Fake(None, 1), &mut out);
        assert!(out.is_empty());
        d.on_container_start(&at, &Fake(None, 2), &mut out);
        assert_eq!(out.len(), 1);
    }
}
