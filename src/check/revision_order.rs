//! `revision-order`: store revisions strictly increase from commit to commit.

use super::{Checker, Commit, Violation, violation};
use crate::api::WatchEvent;

#[derive(Default)]
pub struct RevisionOrder {
    last: i64,
    commits: u64,
}

impl Checker for RevisionOrder {
    fn name(&self) -> &'static str {
        "revision-order"
    }
    fn coverage(&self) -> Vec<(&'static str, u64)> {
        vec![("revision-order.commits", self.commits)]
    }
    fn on_commit(&mut self, at: &Commit, ev: &WatchEvent, out: &mut Vec<Violation>) {
        self.commits += 1;
        if ev.revision < self.last {
            out.push(violation(self.name(), at.now, at.index, format!("revision {} committed after {}", ev.revision, self.last), vec![]));
        }
        self.last = self.last.max(ev.revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{commit, ev_rev, pod};

    #[test]
    fn a_revision_going_back_fires() {
        let mut c = RevisionOrder::default();
        let mut out = Vec::new();
        c.on_commit(&commit(1), &ev_rev(pod("a", "", "1"), 5), &mut out);
        c.on_commit(&commit(2), &ev_rev(pod("a", "", "1"), 6), &mut out);
        assert!(out.is_empty());
        c.on_commit(&commit(3), &ev_rev(pod("a", "", "1"), 4), &mut out);
        assert_eq!(out.len(), 1);
    }
}
