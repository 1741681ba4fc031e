//! `duplicate-container`: no container of a pod runs twice at once on a node
//! (checked at every container start, for the container that started).

use super::{Checker, ContainerStart, Runtimes, Violation, violation};

#[derive(Default)]
pub struct DuplicateContainer {
    starts: u64,
}

impl Checker for DuplicateContainer {
    fn name(&self) -> &'static str {
        "duplicate-container"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("duplicate-container.starts", self.starts)]
    }
    fn on_container_start(&mut self, at: &ContainerStart, runtimes: &dyn Runtimes, out: &mut Vec<Violation>) {
        self.starts += 1;
        let uid = &at.pod.uid;
        if runtimes.running_copies(at.node, uid, at.container) > 1 {
            out.push(violation(self.name(), at.now, at.index, format!("container {} of pod uid {uid} runs twice on {}", at.container, at.node), vec![format!("uid {uid}")]));
        }
    }
}
