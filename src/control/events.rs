//! Event recording as client-go's `tools/record` does it: a component's
//! recorder builds core/v1 Events and its correlator (`events_cache.go`)
//! decides, before anything is written, whether each one is
//!
//! - **counted**: the same event again (same source, object, type, reason
//!   and message) updates the existing Event's `count` and `lastTimestamp`;
//! - **aggregated**: the 10th event in 10 minutes that differs only by its
//!   message becomes one Event "(combined from similar events): …", counted
//!   from then on;
//! - **spam**: a source may burst 25 events about one object, refilled at
//!   one every 5 minutes; beyond that events are dropped.
//!
//! Writes are fire-and-forget, as from client-go's broadcaster goroutine:
//! they never wait in a controller's sync. An update of an Event that is
//! gone (deleted, expired) creates it anew, as `recordEvent` does.
//!
//! Not modelled: the broadcaster's retries of a write that could not reach
//! the server (up to 12, 10 s apart) — such an event is lost here; the
//! events.k8s.io `series` of the new events API (the scheduler's events are
//! counted as core/v1 ones).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ApiError;
use crate::control::{Outbox, RequestId, WriteOp};
use crate::model::event::{Event, EventSource, ObjectReference, TYPE_NORMAL, TYPE_WARNING};
use crate::model::meta::{SIM_EPOCH_UNIX_S, Timestamp};
use crate::model::{Object, ObjectMeta, Registered};
use crate::time::SimTime;

const MAX_LRU_CACHE_ENTRIES: usize = 4096;
/// More than this many events varying only by message within the interval are aggregated.
pub const AGGREGATE_MAX_EVENTS: usize = 10;
pub const AGGREGATE_INTERVAL_S: u64 = 600;
/// A source may send this many events about an object, refilled at one per `SPAM_REFILL_S`.
pub const SPAM_BURST: u64 = 25;
pub const SPAM_REFILL_S: u64 = 300;

/// A least-recently-used map (groupcache's `lru.Cache`, deterministic),
/// indexed by a hash of the key (keys are long joined strings with long
/// common prefixes, costly to compare); the key itself is kept and checked,
/// so a hash collision is a miss, never a mix-up.
struct Lru<V> {
    map: BTreeMap<u64, (u64, String, V)>,
    order: BTreeMap<u64, u64>,
    tick: u64,
    capacity: usize,
}

impl<V> Lru<V> {
    fn new(capacity: usize) -> Lru<V> {
        Lru { map: BTreeMap::new(), order: BTreeMap::new(), tick: 0, capacity }
    }
    fn get(&mut self, key: &str) -> Option<&mut V> {
        let h = crate::hash::fx_hash(key.as_bytes());
        let (t, k, _) = self.map.get_mut(&h)?;
        if k != key {
            return None;
        }
        self.order.remove(t);
        self.tick += 1;
        *t = self.tick;
        self.order.insert(self.tick, h);
        self.map.get_mut(&h).map(|(_, _, v)| v)
    }
    fn remove(&mut self, key: &str) -> Option<V> {
        let h = crate::hash::fx_hash(key.as_bytes());
        if self.map.get(&h).is_none_or(|(_, k, _)| k != key) {
            return None;
        }
        let (t, _, v) = self.map.remove(&h)?;
        self.order.remove(&t);
        Some(v)
    }
    fn add(&mut self, key: String, value: V) {
        let h = crate::hash::fx_hash(key.as_bytes());
        if let Some((t, _, _)) = self.map.remove(&h) {
            self.order.remove(&t);
        }
        self.tick += 1;
        self.order.insert(self.tick, h);
        self.map.insert(h, (self.tick, key, value));
        if self.map.len() > self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.map.remove(&oldest);
        }
    }
}

/// `getEventKey`: everything that makes two events the same event.
fn event_key(e: &Event) -> String {
    let io = &e.involved_object;
    [&e.source.component, &e.source.host, &io.kind, &io.namespace, &io.name, &io.field_path, &io.uid, &io.api_version, &e.type_, &e.reason, &e.message].map(String::as_str).join("\u{1f}")
}

/// `getSpamKey`: the source and the object.
fn spam_key(e: &Event) -> String {
    let io = &e.involved_object;
    [&e.source.component, &e.source.host, &io.kind, &io.namespace, &io.name, &io.uid, &io.api_version].map(String::as_str).join("\u{1f}")
}

/// `EventAggregatorByReasonFunc`: (the group, the event within it).
fn aggregate_key(e: &Event) -> (String, String) {
    let io = &e.involved_object;
    let group = [&e.source.component, &e.source.host, &io.kind, &io.namespace, &io.name, &io.uid, &io.api_version, &e.type_, &e.reason, &e.reporting_component, &e.reporting_instance]
        .map(String::as_str)
        .join("\u{1f}");
    (group, e.message.clone())
}

pub fn aggregate_message(e: &Event) -> String {
    format!("(combined from similar events): {}", e.message)
}

struct AggregateRecord {
    local_keys: BTreeSet<String>,
    last: SimTime,
}

struct EventLog {
    count: i32,
    first_timestamp: Option<Timestamp>,
    name: String,
}

/// A token bucket in nanoseconds of refill: full holds `SPAM_BURST`
/// tokens, each event costs one refill period (exact integer arithmetic).
struct TokenBucket {
    level_ns: u64,
    at: SimTime,
}

/// The result of correlating one event.
#[derive(Debug, PartialEq)]
pub enum Correlated {
    /// Write this Event: create it, or (`update` true) update the existing one.
    Write { event: Event, update: bool },
    /// Dropped by the spam filter.
    Skip,
}

/// client-go's `EventCorrelator` with its default options.
pub struct Correlator {
    aggregates: Lru<AggregateRecord>,
    logs: Lru<EventLog>,
    spam: Lru<TokenBucket>,
    /// For tests: the spam filter's burst.
    burst: u64,
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(SPAM_BURST)
    }
}

impl Correlator {
    pub fn new(burst: u64) -> Correlator {
        Correlator { aggregates: Lru::new(MAX_LRU_CACHE_ENTRIES), logs: Lru::new(MAX_LRU_CACHE_ENTRIES), spam: Lru::new(MAX_LRU_CACHE_ENTRIES), burst }
    }

    /// `EventCorrelate`: aggregate, then count, then filter spam.
    pub fn correlate(&mut self, now: SimTime, event: Event) -> Correlated {
        let (event, key) = self.aggregate(now, event);
        let event = self.observe(event, key);
        if self.is_spam(now, &event) {
            return Correlated::Skip;
        }
        let update = event.count > 1;
        Correlated::Write { event, update }
    }

    /// `UpdateState`: what the server answered (its name, its count).
    pub fn update_state(&mut self, e: &Event) {
        self.logs.add(event_key(e), EventLog { count: e.count, first_timestamp: e.first_timestamp, name: e.metadata.name.clone() });
    }

    fn aggregate(&mut self, now: SimTime, event: Event) -> (Event, String) {
        let key = event_key(&event);
        let (group, local) = aggregate_key(&event);
        let mut record = self.aggregates.remove(&group).unwrap_or(AggregateRecord { local_keys: BTreeSet::new(), last: SimTime::ZERO });
        // Too old (or new): a fresh record. Upstream compares with `>`.
        let fresh = record.local_keys.is_empty() || now.since(record.last) > std::time::Duration::from_secs(AGGREGATE_INTERVAL_S);
        if fresh {
            record = AggregateRecord { local_keys: BTreeSet::new(), last: now };
        }
        record.local_keys.insert(local);
        record.last = now;
        let over = record.local_keys.len() >= AGGREGATE_MAX_EVENTS;
        if over {
            // Keep the set below the maximum (upstream pops an arbitrary one).
            record.local_keys.pop_first();
        }
        self.aggregates.add(group.clone(), record);
        if !over {
            return (event, key);
        }
        let t = Timestamp::from_sim(now);
        let aggregate = Event {
            metadata: ObjectMeta { name: event_name(&event.involved_object.name, now), namespace: event.metadata.namespace.clone(), ..Default::default() },
            count: 1,
            first_timestamp: Some(t),
            last_timestamp: Some(t),
            message: aggregate_message(&event),
            involved_object: event.involved_object.clone(),
            type_: event.type_.clone(),
            reason: event.reason.clone(),
            source: event.source.clone(),
            reporting_component: String::new(),
            reporting_instance: String::new(),
        };
        (aggregate, group)
    }

    /// `eventObserve`: the same event again takes the existing one's name and counts on.
    fn observe(&mut self, mut event: Event, key: String) -> Event {
        if let Some(last) = self.logs.get(&key)
            && last.count > 0
        {
            event.metadata.name = last.name.clone();
            event.first_timestamp = last.first_timestamp;
            event.count = last.count + 1;
        }
        self.logs.add(key, EventLog { count: event.count, first_timestamp: event.first_timestamp, name: event.metadata.name.clone() });
        event
    }

    fn is_spam(&mut self, now: SimTime, event: &Event) -> bool {
        let period_ns = SPAM_REFILL_S * 1_000_000_000;
        let cap_ns = self.burst * period_ns;
        let key = spam_key(event);
        let bucket = match self.spam.get(&key) {
            Some(b) => b,
            None => {
                self.spam.add(key.clone(), TokenBucket { level_ns: cap_ns, at: now });
                self.spam.get(&key).expect("just added")
            }
        };
        let elapsed = u64::try_from(now.since(bucket.at).as_nanos()).unwrap_or(u64::MAX);
        bucket.level_ns = bucket.level_ns.saturating_add(elapsed).min(cap_ns);
        bucket.at = now;
        if bucket.level_ns >= period_ns {
            bucket.level_ns -= period_ns;
            false
        } else {
            true
        }
    }
}

/// `<object>.<unix nanoseconds in hex>`, as client-go names Events.
pub fn event_name(object: &str, now: SimTime) -> String {
    let unix_ns = i128::from(SIM_EPOCH_UNIX_S) * 1_000_000_000 + now.as_nanos() as i128;
    format!("{object}.{unix_ns:x}")
}

/// A reference to `obj` for an Event (`reference.GetReference`).
pub fn reference_to<T: Registered>(obj: &T) -> ObjectReference {
    let m = obj.meta();
    ObjectReference {
        kind: T::KIND.name().into(),
        namespace: m.namespace.clone(),
        name: m.name.clone(),
        uid: m.uid.clone(),
        api_version: T::API_VERSION.into(),
        resource_version: m.resource_version.clone(),
        field_path: String::new(),
    }
}

/// One component's event recorder (`record.EventRecorder` on a broadcaster
/// writing to the API). A new process starts a new one.
pub struct EventRecorder {
    source: EventSource,
    correlator: Correlator,
    pending: Vec<Pending>,
    in_flight: BTreeMap<RequestId, Pending>,
    /// Names are made unique per recorder even for events at one virtual
    /// instant (a real clock never repeats a nanosecond).
    last_name_ns: SimTime,
    pub recorded: u64,
    pub dropped: u64,
}

struct Pending {
    event: Event,
    update: bool,
}

impl EventRecorder {
    /// `component` is the reporting component (`default-scheduler`,
    /// `replicaset-controller`, `kubelet`); `host` the node, for kubelets.
    pub fn new(component: &str, host: &str) -> EventRecorder {
        EventRecorder {
            source: EventSource { component: component.into(), host: host.into() },
            correlator: Correlator::default(),
            pending: Vec::new(),
            in_flight: BTreeMap::new(),
            last_name_ns: SimTime::ZERO,
            recorded: 0,
            dropped: 0,
        }
    }

    pub fn normal(&mut self, now: SimTime, about: ObjectReference, reason: &str, message: String) {
        self.event(now, about, TYPE_NORMAL, reason, message);
    }

    pub fn warning(&mut self, now: SimTime, about: ObjectReference, reason: &str, message: String) {
        self.event(now, about, TYPE_WARNING, reason, message);
    }

    /// `Eventf(object, type, reason, message)`.
    pub fn event(&mut self, now: SimTime, about: ObjectReference, type_: &str, reason: &str, message: String) {
        let at = if now > self.last_name_ns { now } else { self.last_name_ns + std::time::Duration::from_nanos(1) };
        self.last_name_ns = at;
        let namespace = if about.namespace.is_empty() { "default".to_string() } else { about.namespace.clone() };
        let t = Timestamp::from_sim(now);
        let event = Event {
            metadata: ObjectMeta { name: event_name(&about.name, at), namespace, ..Default::default() },
            involved_object: about,
            reason: reason.into(),
            message,
            source: self.source.clone(),
            first_timestamp: Some(t),
            last_timestamp: Some(t),
            count: 1,
            type_: type_.into(),
            reporting_component: self.source.component.clone(),
            reporting_instance: self.source.host.clone(),
        };
        match self.correlator.correlate(now, event) {
            Correlated::Write { event, update } => {
                self.recorded += 1;
                self.pending.push(Pending { event, update });
            }
            Correlated::Skip => self.dropped += 1,
        }
    }

    /// Sends what was recorded since the last flush.
    pub fn flush(&mut self, out: &mut Outbox) {
        for p in std::mem::take(&mut self.pending) {
            self.send(p, out);
        }
    }

    fn send(&mut self, p: Pending, out: &mut Outbox) {
        let op = if p.update { WriteOp::Update(Object::from(p.event.clone())) } else { WriteOp::Create(Object::from(p.event.clone())) };
        let id = out.write(op);
        self.in_flight.insert(id, p);
    }

    /// Takes the answer to one of this recorder's writes (true), or leaves
    /// it to the component (false).
    pub fn answered(&mut self, id: RequestId, result: &Result<Object, ApiError>, out: &mut Outbox) -> bool {
        let Some(mut p) = self.in_flight.remove(&id) else { return false };
        match result {
            Ok(Object::Event(e)) => self.correlator.update_state(e),
            Ok(_) => {}
            // The Event to count on is gone: create it anew (recordEvent).
            Err(e) if p.update && e.is_not_found() => {
                p.update = false;
                p.event.metadata.resource_version.clear();
                self.send(p, out);
            }
            // Another component's Event took the name at the same instant.
            Err(ApiError::AlreadyExists(_)) if !p.update => {
                p.event.metadata.name.push('1');
                self.send(p, out);
            }
            Err(_) => self.dropped += 1,
        }
        true
    }
}

#[cfg(test)]
mod tests;
