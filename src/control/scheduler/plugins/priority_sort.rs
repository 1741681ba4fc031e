//! PrioritySort: the active queue's order — higher priority first, then the
//! earlier queue timestamp (queuesort/priority_sort.go).

use crate::control::scheduler::framework::*;

pub const NAME: &str = "PrioritySort";

pub struct PrioritySort;

crate::extends!(PrioritySort, NAME, [queue_sort]);

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPod, b: &QueuedPod) -> bool {
        let (pa, pb) = (a.pod.spec.priority.unwrap_or(0), b.pod.spec.priority.unwrap_or(0));
        pa > pb || (pa == pb && a.timestamp_ns < b.timestamp_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pod::Pod;
    use std::sync::Arc;

    fn queued(priority: i32, ts: u64) -> QueuedPod {
        let mut p = Pod::default();
        p.spec.priority = Some(priority);
        QueuedPod { pod: Arc::new(p), timestamp_ns: ts }
    }

    /// TestLess, upstream cases by name.
    #[test]
    fn upstream_cases() {
        assert!(PrioritySort.less(&queued(200, 2), &queued(100, 1)), "p1.priority greater than p2.priority");
        assert!(!PrioritySort.less(&queued(100, 1), &queued(200, 2)), "p1.priority less than p2.priority");
        assert!(PrioritySort.less(&queued(100, 1), &queued(100, 2)), "equal priority. p1 is added to schedulingQ earlier than p2");
        assert!(!PrioritySort.less(&queued(100, 2), &queued(100, 1)), "equal priority. p2 is added to schedulingQ earlier than p1");
    }
}
