//! Ported from client-go `tools/record/events_cache_test.go`, keeping the
//! upstream case names. Upstream's `IntervalClock` advances on every
//! `Now()`: three times per event in `TestEventCorrelator` (the test's own
//! timestamp, the aggregator, the spam filter's rate limiter), so events
//! here are `3 × interval` apart.

use super::*;

fn object_reference(kind: &str, name: &str, namespace: &str) -> ObjectReference {
    ObjectReference {
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
        uid: "C934D34AFB20242".into(),
        api_version: "version".into(),
        field_path: "spec.containers{mycontainer}".into(),
        ..Default::default()
    }
}

fn make_event(reason: &str, message: &str, involved: ObjectReference) -> Event {
    Event {
        reason: reason.into(),
        message: message.into(),
        involved_object: involved,
        source: EventSource { component: "kubelet".into(), host: "kublet.node1".into() },
        count: 1,
        type_: TYPE_NORMAL.into(),
        ..Default::default()
    }
}

fn make_events(n: usize, template: &Event) -> Vec<Event> {
    vec![template.clone(); n]
}

fn make_unique_events(n: usize) -> Vec<Event> {
    (0..n).map(|i| make_event(&format!("reason-{i}"), &format!("message-{i}"), object_reference("Pod", &format!("pod-{i}"), &format!("ns-{i}")))).collect()
}

fn make_similar_events(n: usize, template: &Event, prefix: &str) -> Vec<Event> {
    (0..n).map(|i| Event { message: format!("{prefix}-{i}-{}", template.message), ..template.clone() }).collect()
}

fn with_count(e: &Event, count: i32) -> Event {
    Event { count, ..e.clone() }
}

#[test]
fn event_aggregator_by_reason_func() {
    let e1 = make_event("end-of-world", "it was fun", object_reference("Pod", "pod1", "other"));
    let e2 = make_event("end-of-world", "it was awful", object_reference("Pod", "pod1", "other"));
    let e3 = make_event("nevermind", "it was a bug", object_reference("Pod", "pod1", "other"));
    let (agg1, local1) = aggregate_key(&e1);
    let (agg2, local2) = aggregate_key(&e2);
    let (agg3, _) = aggregate_key(&e3);
    assert_eq!(agg1, agg2);
    assert_ne!(local1, local2);
    assert_ne!(agg1, agg3);
}

#[test]
fn event_aggregator_by_reason_message_func() {
    let e = make_event("end-of-world", "it was fun", object_reference("Pod", "pod1", "other"));
    assert!(aggregate_message(&e).starts_with("(combined from similar events): "));
}

#[test]
fn event_correlator() {
    let first = make_event("first", "i am first", object_reference("Pod", "my-pod", "my-ns"));
    let duplicate = make_event("duplicate", "me again", object_reference("Pod", "my-pod", "my-ns"));
    let unique = make_event("unique", "snowflake", object_reference("Pod", "my-pod", "my-ns"));
    let mut similar = make_event("similar", "similar message", object_reference("Pod", "my-pod", "my-ns"));
    similar.involved_object.field_path = "spec.containers{container1}".into();
    let aggregate = make_event(&similar.reason, &aggregate_message(&similar), similar.involved_object.clone());
    let mut similar_other_container = similar.clone();
    similar_other_container.involved_object.field_path = "spec.containers{container2}".into();

    struct Case {
        name: &'static str,
        previous: Vec<Event>,
        new: Event,
        expected: Option<Event>,
        interval_s: u64,
    }
    let cases = vec![
        Case { name: "create-a-single-event", previous: vec![], new: first.clone(), expected: Some(with_count(&first, 1)), interval_s: 5 },
        Case { name: "the-same-event-should-just-count", previous: make_events(1, &duplicate), new: duplicate.clone(), expected: Some(with_count(&duplicate, 2)), interval_s: 5 },
        Case {
            name: "the-same-event-should-just-count-even-if-more-than-aggregate",
            previous: make_events(AGGREGATE_MAX_EVENTS, &duplicate),
            new: duplicate.clone(),
            expected: Some(with_count(&duplicate, AGGREGATE_MAX_EVENTS as i32 + 1)),
            interval_s: 30,
        },
        Case { name: "the-same-event-is-spam-if-happens-too-frequently", previous: make_events(SPAM_BURST as usize + 1, &duplicate), new: duplicate.clone(), expected: None, interval_s: 1 },
        Case { name: "create-many-unique-events", previous: make_unique_events(30), new: unique.clone(), expected: Some(with_count(&unique, 1)), interval_s: 5 },
        Case {
            name: "similar-events-should-aggregate-event",
            previous: make_similar_events(AGGREGATE_MAX_EVENTS - 1, &similar, &similar.message),
            new: similar.clone(),
            expected: Some(with_count(&aggregate, 1)),
            interval_s: 5,
        },
        Case {
            name: "similar-events-many-times-should-count-the-aggregate",
            previous: make_similar_events(AGGREGATE_MAX_EVENTS, &similar, &similar.message),
            new: similar.clone(),
            expected: Some(with_count(&aggregate, 2)),
            interval_s: 5,
        },
        Case { name: "events-from-different-containers-do-not-aggregate", previous: make_events(1, &similar_other_container), new: similar.clone(), expected: Some(with_count(&similar, 1)), interval_s: 5 },
        Case {
            name: "similar-events-whose-interval-is-greater-than-aggregate-interval-do-not-aggregate",
            previous: make_similar_events(AGGREGATE_MAX_EVENTS - 1, &similar, &similar.message),
            new: similar.clone(),
            expected: Some(with_count(&similar, 1)),
            interval_s: AGGREGATE_INTERVAL_S,
        },
    ];
    for case in cases {
        let mut c = Correlator::default();
        let mut now = SimTime::ZERO;
        let step = std::time::Duration::from_secs(3 * case.interval_s);
        let stamped = |mut e: Event, now: SimTime| {
            e.first_timestamp = Some(Timestamp::from_sim(now));
            e.last_timestamp = e.first_timestamp;
            e
        };
        for e in case.previous {
            now = now + step;
            let e = stamped(e, now);
            if let Correlated::Write { event, .. } = c.correlate(now, e) {
                c.update_state(&event);
            }
        }
        now = now + step;
        let got = c.correlate(now, stamped(case.new, now));
        match (&case.expected, got) {
            (None, Correlated::Skip) => {}
            (Some(want), Correlated::Write { event, update }) => {
                assert_eq!(update, want.count > 1, "{}: an event counted on is an update", case.name);
                let strip = |e: &Event| Event { metadata: ObjectMeta::default(), first_timestamp: None, last_timestamp: None, ..e.clone() };
                assert_eq!(strip(&event), strip(want), "{}", case.name);
                // validateEvent: first and last timestamps differ exactly when compressed.
                assert_eq!(event.first_timestamp != event.last_timestamp, want.count > 1, "{}: {event:?}", case.name);
            }
            (want, got) => panic!("{}: expected {want:?}, got {got:?}", case.name),
        }
    }
}

/// `TestEventSpamFilter`, the default spam key (the custom key functions of
/// its other cases are not configurable here).
#[test]
fn event_should_be_reported_as_spam_if_object_reference_is_the_same_for_default_spam_filter() {
    let original = make_event("original", "i am first", object_reference("Pod", "my-pod", "my-ns"));
    let different_reason = make_event("duplicate", "me again", object_reference("Pod", "my-pod", "my-ns"));
    let mut c = Correlator::new(1);
    let now = SimTime::ZERO + std::time::Duration::from_secs(1);
    assert!(matches!(c.correlate(now, original), Correlated::Write { .. }));
    assert_eq!(c.correlate(now + std::time::Duration::from_secs(1), different_reason), Correlated::Skip);
}

#[test]
fn the_spam_filter_refills_one_event_every_five_minutes() {
    let e = make_event("r", "m", object_reference("Pod", "p", "ns"));
    let mut c = Correlator::default();
    let t0 = SimTime::ZERO;
    for i in 0..SPAM_BURST {
        let m = Event { message: format!("m{i}"), ..e.clone() };
        assert!(matches!(c.correlate(t0, m), Correlated::Write { .. }), "event {i} within the burst");
    }
    assert_eq!(c.correlate(t0, e.clone()), Correlated::Skip);
    let almost = t0 + std::time::Duration::from_secs(SPAM_REFILL_S - 1);
    assert_eq!(c.correlate(almost, e.clone()), Correlated::Skip);
    let refilled = almost + std::time::Duration::from_secs(SPAM_REFILL_S);
    assert!(matches!(c.correlate(refilled, e), Correlated::Write { .. }));
}

#[test]
fn a_recorder_counts_the_same_event_and_recreates_one_that_is_gone() {
    let mut r = EventRecorder::new("default-scheduler", "");
    let mut out = Outbox::new(0);
    let about = object_reference("Pod", "web", "default");
    let t = SimTime::ZERO + std::time::Duration::from_secs(1);
    r.warning(t, about.clone(), "FailedScheduling", "0/3 nodes are available".into());
    r.flush(&mut out);
    let (id, created) = match out.drain().next() {
        Some(crate::control::Effect::Write { id, op: WriteOp::Create(Object::Event(e)) }) => (id, e),
        other => panic!("expected a create, got {other:?}"),
    };
    assert_eq!(created.metadata.namespace, "default");
    assert!(created.metadata.name.starts_with("web."), "{}", created.metadata.name);
    assert_eq!((created.count, created.type_.as_str(), created.reporting_component.as_str()), (1, "Warning", "default-scheduler"));
    assert!(r.answered(id, &Ok(Object::Event(created.clone())), &mut out));
    // The same again: an update of the same Event, count 2, first timestamp kept.
    r.warning(t + std::time::Duration::from_secs(30), about, "FailedScheduling", "0/3 nodes are available".into());
    r.flush(&mut out);
    let (id, updated) = match out.drain().next() {
        Some(crate::control::Effect::Write { id, op: WriteOp::Update(Object::Event(e)) }) => (id, e),
        other => panic!("expected an update, got {other:?}"),
    };
    assert_eq!((updated.metadata.name.as_str(), updated.count, updated.first_timestamp), (created.metadata.name.as_str(), 2, created.first_timestamp));
    // Gone meanwhile: created anew.
    let gone = Err(ApiError::NotFound(crate::model::ObjectRef::new(crate::model::Kind::Event, "default", &updated.metadata.name)));
    assert!(r.answered(id, &gone, &mut out));
    assert!(matches!(out.drain().next(), Some(crate::control::Effect::Write { op: WriteOp::Create(Object::Event(_)), .. })));
    assert!(!r.answered(12345, &Ok(Object::Event(updated)), &mut out), "another request's answer is left to the component");
}
