//! The driver and the component contract, shown with small components.

use super::*;
use crate::control::Outbox;
use crate::api::WatchEventType;
use crate::control::controllers::replicaset::ReplicaSetController;
use crate::control::workqueue::WorkQueue;
use crate::latency::Latency;
use crate::time::Dur;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

fn timing(watch: Latency) -> TimingSpec {
    TimingSpec { watch_latency: watch, ..TimingSpec::default() }
}

fn world(seed: u64, watch: Latency) -> World {
    let mut w = World::new(seed, SimTime::from_secs(3600), timing(watch), true);
    for ns in ["default", "kube-system"] {
        w.create_now(Namespace { metadata: ObjectMeta { name: ns.into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    }
    w
}

use crate::testutil::{pod, replicaset as rs};

/// Records every input; on each pod it first sees, labels the pod (a write),
/// and on that write's result asks to be woken 10 s later via a work queue.
#[derive(Default)]
struct Labeler {
    log: Rc<RefCell<Vec<String>>>,
    queue: WorkQueue<String>,
    pending: std::collections::BTreeSet<RequestId>,
    busy: bool,
}

impl Component for Labeler {
    fn name(&self) -> &str {
        "labeler"
    }
    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Pod]
    }
    fn handle(&mut self, now: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        let mut log = self.log.borrow_mut();
        match input {
            Input::RuntimeResult { .. } | Input::RuntimeEvent(_) => {}
            Input::Synced => log.push(format!("synced with {} pods", view.list(Kind::Pod).count())),
            Input::Watch(ev) => {
                log.push(format!("{} {} rv{}", ev.type_.as_str(), ev.object.meta().name, ev.revision));
                // The cache already holds the event's state when the component sees it.
                let cached = view.get(Kind::Pod, "default", &ev.object.meta().name);
                assert_eq!(cached.is_some(), ev.type_ != WatchEventType::Deleted);
                if ev.type_ == WatchEventType::Added && !ev.object.meta().labels.contains_key("seen") {
                    let mut o = ev.object.clone();
                    o.meta_mut().labels.insert("seen".into(), "yes".into());
                    let id = out.write(WriteOp::Update(o));
                    self.pending.insert(id);
                }
            }
            Input::WriteResult { id, result } => {
                assert!(self.pending.remove(&id), "results come back with the id the write was given");
                let name = result.as_ref().map(|o| o.meta().name.clone()).unwrap_or_default();
                log.push(format!("result {id} {}", if result.is_ok() { "ok" } else { "err" }));
                let due = self.queue.add_after(name, now, Duration::from_secs(10));
                out.wake_at(due, 7);
            }
            Input::Timer { token } => {
                assert_eq!(token, 7);
                while let Some(k) = self.queue.pop(now) {
                    log.push(format!("requeued {k} at {now}"));
                }
            }
        }
    }
    fn busy(&self) -> Option<String> {
        self.busy.then(|| "waiting for a pod that never comes".into())
    }
}

#[test]
fn component_contract_list_sync_watch_write_result_and_requeue_after() {
    let mut w = world(1, Latency::constant(Duration::from_millis(5)));
    w.create_now(pod("before")).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    w.add_component(Box::new(Labeler { log: log.clone(), ..Default::default() }));
    w.advance_to(SimTime::from_secs(1));
    w.create_now(pod("after")).unwrap();
    w.advance_to(SimTime::from_secs(30));
    let log = log.borrow();
    assert_eq!(log[0], "ADDED before rv4", "the initial list arrives as additions");
    assert_eq!(log[1], "synced with 1 pods", "then Synced");
    assert!(log.contains(&"result 1 ok".to_string()), "{log:?}");
    assert!(log.iter().any(|l| l.starts_with("MODIFIED before")), "own write observed through the watch: {log:?}");
    assert!(log.iter().any(|l| l.starts_with("ADDED after")), "{log:?}");
    let requeues: Vec<_> = log.iter().filter(|l| l.starts_with("requeued")).collect();
    assert_eq!(requeues.len(), 2, "{log:?}");
    assert!(requeues[0].starts_with("requeued before at 10."), "woken 10 s after the result: {requeues:?}");
    // The write went through the API: the store has the label.
    let stored = w.api().get(&ObjectRef::new(Kind::Pod, "default", "before")).unwrap();
    assert_eq!(stored.meta().labels.get("seen").map(String::as_str), Some("yes"));
}

#[test]
fn replicaset_controller_converges_without_double_creates_under_a_slow_watch() {
    // A 3 s watch: the controller's own status writes come back long after its
    // creates; without expectations it would create the pods again.
    let mut w = world(3, Latency::constant(Duration::from_secs(3)));
    w.add_component(Box::new(crate::control::host::Host::new(ReplicaSetController::new())));
    w.create_now(rs("web", 5)).unwrap();
    w.advance_to(SimTime::from_secs(60));
    let (pods, _) = w.api().list(Kind::Pod, Some("default")).unwrap();
    assert_eq!(pods.len(), 5, "exactly the replicas, no double creates");
    let rs_obj = w.api().get(&ObjectRef::new(Kind::ReplicaSet, "default", "web")).unwrap();
    let uid = rs_obj.meta().uid.clone();
    for p in &pods {
        let r = p.meta().controller_ref().expect("owned");
        assert_eq!((r.kind.as_str(), r.uid.as_str(), r.block_owner_deletion), ("ReplicaSet", uid.as_str(), Some(true)));
        assert!(p.meta().name.starts_with("web-"));
    }
    assert_eq!(rs_obj.as_replicaset().unwrap().status.replicas, 5);
    assert_eq!(rs_obj.as_replicaset().unwrap().status.observed_generation, 1);
    // Scale down: bound pods outrank unbound ones, so the unbound go first.
    let now = w.now();
    w.api_mut().bind("default", &pods[0].meta().name, "n1", now).unwrap();
    let mut scaled = rs_obj.clone();
    if let Object::ReplicaSet(r) = &mut scaled {
        std::sync::Arc::make_mut(r).spec.replicas = Some(1);
    }
    let now = w.now();
    w.api_mut().update(scaled, now).unwrap();
    w.fan_out();
    w.advance_to(SimTime::from_secs(120));
    let (left, _) = w.api().list(Kind::Pod, Some("default")).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].meta().name, pods[0].meta().name, "the bound pod is kept");
    assert!(w.violations().is_empty(), "{:?}", w.violations());
}

#[test]
fn reconnect_after_compaction_relists_and_reports_what_was_missed() {
    let mut w = world(5, Latency::constant(Duration::from_millis(1)));
    let log = Rc::new(RefCell::new(Vec::new()));
    w.create_now(pod("a")).unwrap();
    w.create_now(pod("b")).unwrap();
    w.add_component(Box::new(Labeler { log: log.clone(), ..Default::default() }));
    w.settle();
    // While the component is cut off (its deliveries dropped), b goes and c comes;
    // then history is compacted past what it saw.
    let before = w.cache(0).revision(Kind::Pod);
    let b = ObjectRef::new(Kind::Pod, "default", "b");
    let now = w.now();
    w.api_mut().delete(&b, &Default::default(), now).unwrap();
    let now = w.now();
    w.api_mut().create(pod("c"), now).unwrap();
    let _ = w.api_mut().storage.drain_events();
    let rev = w.api_mut().storage.etcd.revision();
    w.api_mut().storage.etcd.compact(rev).unwrap();
    log.borrow_mut().clear();
    w.reconnect_watches(0);
    let seen = log.borrow().clone();
    assert!(before < rev);
    assert_eq!(seen[0], format!("DELETED b rv{rev}"), "{seen:?}");
    assert_eq!(seen[1], format!("ADDED c rv{rev}"), "{seen:?}");
    assert_eq!(seen[2], "synced with 2 pods", "{seen:?}");
    let names: Vec<_> = w.cache(0).list(Kind::Pod).map(|o| o.meta().name.clone()).collect();
    assert_eq!(names, vec!["a", "c"]);
    assert!(w.trace.records().any(|r| r.kind == TraceKind::Relist && r.detail.contains("410 Gone")));
}

#[test]
fn reconnect_without_compaction_resumes_from_the_cache_revision() {
    let mut w = world(6, Latency::constant(Duration::from_millis(1)));
    let log = Rc::new(RefCell::new(Vec::new()));
    w.add_component(Box::new(Labeler { log: log.clone(), ..Default::default() }));
    w.settle();
    let now = w.now();
    w.api_mut().create(pod("x"), now).unwrap();
    let _ = w.api_mut().storage.drain_events(); // lost on the wire
    w.reconnect_watches(0);
    w.settle();
    assert!(log.borrow().iter().any(|l| l.starts_with("ADDED x")), "{:?}", log.borrow());
    assert!(!log.borrow().iter().skip(1).any(|l| l.starts_with("synced")), "resumed, not relisted");
}

/// Records the revision of each delivery.
struct Recorder(Rc<RefCell<Vec<i64>>>);

impl Component for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Pod]
    }
    fn handle(&mut self, _: SimTime, input: Input, _: &Cache, _: &mut Outbox) {
        if let Input::Watch(ev) = input {
            self.0.borrow_mut().push(ev.revision);
        }
    }
}

#[test]
fn each_watcher_sees_every_change_in_order_despite_jittery_latency() {
    let wild = Latency::Lognormal { median: Dur(Duration::from_millis(5)), p99: Dur(Duration::from_millis(500)) };
    let mut w = world(9, wild);
    let revs = Rc::new(RefCell::new(Vec::new()));
    w.add_component(Box::new(Recorder(revs.clone())));
    w.settle();
    let mut committed = Vec::new();
    for i in 0..200 {
        let o = w.create_now(pod(&format!("p{i}"))).unwrap();
        committed.push(o.meta().revision());
        w.advance_to(w.now() + Duration::from_micros(300));
    }
    w.settle();
    assert_eq!(*revs.borrow(), committed, "no gaps, no reordering");
    assert!(w.violations().is_empty());
}

#[test]
fn a_component_waiting_on_nothing_is_a_stall_not_a_hang() {
    let mut w = world(2, Latency::constant(Duration::from_millis(1)));
    w.add_component(Box::new(Labeler { busy: true, ..Default::default() }));
    w.until = SimTime::from_secs(600);
    let out = w.run(&mut |_| {});
    assert!(!out.ok());
    match out.stall {
        Some(SimError::Stall { waiting, .. }) => assert!(waiting.contains("labeler: waiting for a pod that never comes"), "{waiting}"),
        other => panic!("expected a stall, got {other:?}"),
    }
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let run = |seed| {
        let mut w = world(seed, TimingSpec::default().watch_latency);
        w.add_component(Box::new(crate::control::host::Host::new(ReplicaSetController::new())));
        w.create_now(rs("web", 20)).unwrap();
        w.until = SimTime::from_secs(60);
        w.run(&mut |_| {})
    };
    let (a, b, c) = (run(11), run(11), run(12));
    assert_eq!(a.trace_sha256, b.trace_sha256);
    let lines = |o: &RunOutcome| o.trace.records().map(|r| r.to_json_line()).collect::<Vec<_>>();
    assert_eq!(lines(&a), lines(&b));
    assert_ne!(a.trace_sha256, c.trace_sha256);
    assert!(a.events > 80, "{} events", a.events);
}

#[test]
fn etcd_unavailable_fails_writes_until_it_recovers_and_compaction_forces_relists() {
    use crate::scenario::TimedAction;
    let mut w = world(1, Latency::constant(Duration::from_millis(1)));
    w.add_component(Box::new(crate::control::host::Host::new(ReplicaSetController::new())));
    w.timeline = vec![
        TimedAction { at: SimTime::from_secs(10), action: crate::scenario::actions::EtcdUnavailable { duration: Dur(Duration::from_secs(30)) }.into() },
        TimedAction { at: SimTime::from_secs(100), action: crate::scenario::actions::EtcdCompact {}.into() },
    ];
    w.push(SimTime::from_secs(10), Ev::Action(0));
    w.push(SimTime::from_secs(100), Ev::Action(1));
    w.advance_to(SimTime::from_secs(11));
    w.create_now(rs("web", 2)).unwrap(); // the API itself is fine; the controller's writes are not
    w.advance_to(SimTime::from_secs(35));
    assert!(w.trace.len() < 2_000, "retries back off exponentially, they do not spin: {} events", w.trace.len());
    assert!(w.api().list(Kind::Pod, None).unwrap().0.is_empty(), "no pod while etcd is down");
    assert!(w.trace.records().any(|r| r.kind == TraceKind::Response && r.detail.contains("etcdserver: request timed out")));
    w.advance_to(SimTime::from_secs(90));
    assert_eq!(w.api().list(Kind::Pod, None).unwrap().0.len(), 2, "the controller's backoff retried after recovery");
    w.advance_to(SimTime::from_secs(101));
    let rev = w.api_mut().storage.etcd.revision();
    assert_eq!(w.api_mut().storage.etcd.compacted_revision(), rev, "compacted to the current revision");
    w.reconnect_watches(0);
    assert!(w.trace.records().any(|r| r.kind == TraceKind::Relist && r.detail.contains("resumed")), "a caught-up watcher resumes without relisting");
}

mod deployment;
mod garbage_collector;
mod kubelet;
mod scheduler;

/// Writes one label on its first Synced, and records every answer and timer.
struct OneWrite {
    log: Rc<RefCell<Vec<String>>>,
    sent: Option<RequestId>,
}

impl Component for OneWrite {
    fn name(&self) -> &str {
        "one-write"
    }
    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Pod]
    }
    fn restart(&mut self) {
        self.sent = None;
    }
    fn handle(&mut self, _: SimTime, input: Input, view: &Cache, out: &mut Outbox) {
        match input {
            Input::Synced if self.sent.is_none() => {
                let mut p = view.list(Kind::Pod).next().expect("a pod").clone();
                p.meta_mut().labels.insert("by".into(), format!("incarnation-{}", out.incarnation()));
                let id = out.write(WriteOp::Update(p));
                self.sent = Some(id);
                out.wake_at(SimTime::from_secs(30), 1);
                self.log.borrow_mut().push(format!("sent {id:#x}"));
            }
            Input::WriteResult { id, .. } => {
                assert_eq!(Some(id), self.sent, "an answer to a request this process never sent");
                self.log.borrow_mut().push(format!("answer {id:#x}"));
            }
            Input::Timer { token } => self.log.borrow_mut().push(format!("timer {token}")),
            _ => {}
        }
    }
}

/// Regression (issue 9): request ids restarted at zero on a component
/// restart while answers to the previous incarnation could still arrive,
/// so a restarted process could take an old answer for its own.
#[test]
fn a_restarted_process_never_gets_answers_or_timers_of_its_previous_incarnation() {
    let timing = TimingSpec { api_latency: Latency::constant(Duration::from_secs(1)), watch_latency: Latency::constant(Duration::from_millis(1)), ..TimingSpec::default() };
    let mut w = World::new(1, SimTime::from_secs(3600), timing, true);
    w.create_now(Namespace { metadata: ObjectMeta { name: "default".into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    w.create_now(pod("p")).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    w.add_component(Box::new(OneWrite { log: log.clone(), sent: None }));
    // Its write reaches the API server at 1 s; the answer would arrive at 2 s.
    w.advance_to(SimTime::from_millis(500));
    w.crash_component(0);
    w.advance_to(SimTime::from_millis(1500));
    w.restart_component(0);
    w.advance_to(SimTime::from_secs(60));
    let log = log.borrow();
    let first = 1u64;
    let second = (1u64 << 40) | 2;
    assert_eq!(*log, vec![format!("sent {first:#x}"), format!("sent {second:#x}"), format!("answer {second:#x}"), "timer 1".to_string()], "only the new incarnation's answer and timer");
    // The first write still committed (a crash does not recall a request in flight).
    let stored = w.api().get(&ObjectRef::new(Kind::Pod, "default", "p")).unwrap();
    assert_eq!(stored.meta().labels.get("by").map(String::as_str), Some("incarnation-1"), "then the restarted process's write");
    let answers = w.trace.records().filter(|r| r.kind == TraceKind::Response && &*r.component == "one-write").count();
    assert_eq!(answers, 1, "the stale answer is dropped before it is traced");
}

/// A node-scoped component that pulls an image on every start.
struct OnePull {
    log: Rc<RefCell<Vec<String>>>,
    sent: Option<RequestId>,
}

impl Component for OnePull {
    fn name(&self) -> &str {
        "puller/n1"
    }
    fn watched_kinds(&self) -> Vec<Kind> {
        vec![Kind::Pod]
    }
    fn node_scope(&self) -> Option<&str> {
        Some("n1")
    }
    fn runtime_node(&self) -> Option<&str> {
        Some("n1")
    }
    fn restart(&mut self) {
        self.sent = None;
    }
    fn handle(&mut self, _: SimTime, input: Input, _: &Cache, out: &mut Outbox) {
        match input {
            Input::Synced if self.sent.is_none() => {
                let id = out.runtime(RuntimeOp::PullImage { image: "example.com/big:1".into() });
                self.sent = Some(id);
                self.log.borrow_mut().push(format!("pull {id:#x}"));
            }
            Input::RuntimeResult { id, .. } => {
                assert_eq!(Some(id), self.sent, "a runtime answer to a call this process never made");
                self.log.borrow_mut().push(format!("pulled {id:#x}"));
            }
            _ => {}
        }
    }
}

/// The runtime finishes a call whose caller was stopped (as containerd does);
/// the restarted caller must not take that answer for its own new call.
#[test]
fn a_runtime_answer_to_a_stopped_process_is_not_delivered_to_its_successor() {
    let mut w = World::new(1, SimTime::from_secs(3600), TimingSpec::default(), true);
    w.create_now(Namespace { metadata: ObjectMeta { name: "default".into(), ..Default::default() }, ..Default::default() }.into()).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    w.add_component(Box::new(OnePull { log: log.clone(), sent: None }));
    w.advance_to(SimTime::from_millis(50));
    w.crash_component(0);
    w.advance_to(SimTime::from_millis(100));
    w.restart_component(0);
    w.advance_to(SimTime::from_secs(60));
    let log = log.borrow();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[0].starts_with("pull ") && log[1].starts_with("pull "), "{log:?}");
    assert_eq!(log[2], log[1].replace("pull", "pulled"), "the successor gets its own answer only: {log:?}");
    let done = w.trace.records().filter(|r| r.kind == TraceKind::RuntimeDone).count();
    assert_eq!(done, 2, "both pulls ran on the node's runtime");
}
