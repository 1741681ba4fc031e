//! The timeline's vocabulary: every action and fault is one serde type, in a
//! file of its own, that the scenario schema, the simulator, the live driver,
//! the swarm and the report share. A timeline entry is written
//! `{at: 30s, <key>: {...}}`; the `actions!` list below is the only place the
//! set of keys is spelled out.
//!
//! Each type says (`ActionSpec`): its key, how it is checked against the
//! scenario (node and component names, objects, ranges — filling in what it
//! resolves, such as a partition's components), how it reads in a trace, and
//! whether live mode can carry it out. Each driver carries actions out in its
//! own `perform`.

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::Loader;
use crate::time::{Dur, SimTime};
use crate::yamlpos::{PathSeg, SourceError};

pub mod apply;
pub mod component;
pub mod crash_containers;
pub mod delete;
pub mod etcd;
pub mod kubelet;
pub mod link_delay;
pub mod link_loss;
pub mod node;
pub mod partition;
pub mod patch;
pub mod rollback;
pub mod scale;
pub mod stale_cache;

pub use apply::Apply;
pub use component::{CrashComponent, RestartComponent};
pub use crash_containers::CrashContainers;
pub use delete::Delete;
pub use etcd::{EtcdCompact, EtcdSlow, EtcdUnavailable};
pub use kubelet::{StartKubelet, StopKubelet};
pub use link_delay::LinkDelay;
pub use link_loss::LinkLoss;
pub use node::{CrashNode, RestartNode};
pub use partition::{HealPartitions, Partition};
pub use patch::Patch;
pub use rollback::Rollback;
pub use scale::Scale;
pub use stale_cache::StaleCache;

/// What every action type answers.
pub trait ActionSpec: Clone + fmt::Debug + Serialize + for<'de> Deserialize<'de> {
    /// Its key in a timeline entry.
    const KEY: &'static str;
    /// Checks it against the scenario at `path` (the entry's action value)
    /// and fills in what it resolves.
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError>;
    /// A short label for the trace: `scale replicasets/default/web to 5`.
    fn describe(&self) -> String;
    /// Whether live mode can carry out actions of this type at all.
    const LIVE: bool;
    /// Whether live mode can carry out this one (a type may refuse some forms).
    fn live(&self) -> bool {
        Self::LIVE
    }
}

/// A fault's window, for the report: from the action to its end (a
/// duration, or the heal action that ends it, found by `ends`).
pub struct Window {
    pub label: String,
    pub lasts: Option<std::time::Duration>,
    /// Whether a later action ends this one (`restartNode` after `crashNode`).
    pub ends: fn(&Action, &Action) -> bool,
}

macro_rules! actions {
    ($( $variant:ident($ty:ty) ),* $(,)?) => {
        /// One timeline action.
        #[derive(Clone, Debug)]
        pub enum Action { $($variant($ty)),* }

        /// Every key a timeline entry may use, in order.
        pub const KEYS: &[&str] = &[$(<$ty as ActionSpec>::KEY),*];

        /// The keys of the actions live mode can carry out.
        pub fn live_keys() -> Vec<&'static str> {
            let mut out = Vec::new();
            $( if <$ty as ActionSpec>::LIVE { out.push(<$ty as ActionSpec>::KEY); } )*
            out
        }

        impl Action {
            pub fn key(&self) -> &'static str {
                match self { $(Action::$variant(_) => <$ty as ActionSpec>::KEY),* }
            }
            pub fn describe(&self) -> String {
                match self { $(Action::$variant(a) => a.describe()),* }
            }
            /// Whether live mode can carry it out.
            pub fn live(&self) -> bool {
                match self { $(Action::$variant(a) => a.live()),* }
            }
            pub fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
                let mut p = path.to_vec();
                p.push(PathSeg::Key(self.key().into()));
                match self { $(Action::$variant(a) => a.check(l, &p)),* }
            }
            fn deserialize_value<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Option<Action>, A::Error> {
                $( if key == <$ty as ActionSpec>::KEY { return Ok(Some(Action::$variant(map.next_value()?))); } )*
                Ok(None)
            }
            fn serialize_value<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self { $(Action::$variant(a) => map.serialize_entry(<$ty as ActionSpec>::KEY, a)),* }
            }
        }

        $(
            impl From<$ty> for Action {
                fn from(a: $ty) -> Action { Action::$variant(a) }
            }
        )*
    };
}

actions! {
    Apply(Apply),
    Scale(Scale),
    Patch(Patch),
    Delete(Delete),
    Rollback(Rollback),
    CrashNode(CrashNode),
    RestartNode(RestartNode),
    StopKubelet(StopKubelet),
    StartKubelet(StartKubelet),
    CrashContainers(CrashContainers),
    CrashComponent(CrashComponent),
    RestartComponent(RestartComponent),
    Partition(Partition),
    HealPartitions(HealPartitions),
    LinkDelay(LinkDelay),
    LinkLoss(LinkLoss),
    StaleCache(StaleCache),
    EtcdSlow(EtcdSlow),
    EtcdUnavailable(EtcdUnavailable),
    EtcdCompact(EtcdCompact),
}

impl Action {
    /// The fault window this action opens, for the report.
    pub fn window(&self) -> Option<Window> {
        fn never(_: &Action, _: &Action) -> bool {
            false
        }
        Some(match self {
            Action::CrashNode(a) => Window { label: format!("{} down", a.node), lasts: None, ends: |s, e| matches!((s, e), (Action::CrashNode(c), Action::RestartNode(r)) if c.node == r.node) },
            Action::StopKubelet(a) => Window { label: format!("kubelet/{} stopped", a.node), lasts: None, ends: |s, e| matches!((s, e), (Action::StopKubelet(c), Action::StartKubelet(r)) if c.node == r.node) },
            Action::CrashComponent(a) => Window { label: format!("{} down", a.name), lasts: None, ends: |s, e| matches!((s, e), (Action::CrashComponent(c), Action::RestartComponent(r)) if c.name == r.name) },
            Action::Partition(a) => Window { label: format!("{} cut off", partition::short(&a.resolved)), lasts: a.duration.map(|d| d.0), ends: |_, e| matches!(e, Action::HealPartitions(_)) },
            Action::LinkDelay(a) => Window { label: format!("{} delayed", partition::short(&a.resolved)), lasts: Some(a.duration.0), ends: never },
            Action::LinkLoss(a) => Window { label: format!("{} losing {:.0}%", partition::short(&a.resolved), a.probability * 100.0), lasts: Some(a.duration.0), ends: never },
            Action::StaleCache(a) => Window { label: format!("{} stale", a.component), lasts: Some(a.duration.0), ends: never },
            Action::EtcdSlow(a) => Window { label: "etcd slow".into(), lasts: Some(a.duration.0), ends: never },
            Action::EtcdUnavailable(a) => Window { label: "etcd unavailable".into(), lasts: Some(a.duration.0), ends: never },
            Action::CrashContainers(_) => Window { label: "containers crash".into(), lasts: Some(std::time::Duration::from_secs(1)), ends: never },
            _ => return None,
        })
    }
}

/// `{at: <duration>, <key>: <action>}`: a time and exactly one action.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub at: Dur,
    pub action: Action,
}

impl TimelineEntry {
    pub fn new(at: std::time::Duration, action: impl Into<Action>) -> TimelineEntry {
        TimelineEntry { at: Dur(at), action: action.into() }
    }
}

/// A checked action at a virtual time.
#[derive(Clone, Debug)]
pub struct TimedAction {
    pub at: SimTime,
    pub action: Action,
}

/// The keys an entry may hold, for messages.
pub fn expected_keys() -> String {
    let mut keys: Vec<&str> = KEYS.to_vec();
    let last = keys.pop().unwrap_or_default();
    format!("{} or {last}", keys.join(", "))
}

/// `at` and every action key: what an entry may hold.
fn entry_fields() -> &'static [&'static str] {
    static FIELDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| std::iter::once("at").chain(KEYS.iter().copied()).collect());
    &FIELDS
}

/// Reads one key of an entry, refusing (at the key's own position) an
/// unknown key or a second action.
struct EntryKey<'a> {
    action: Option<&'a str>,
}

impl<'de> de::DeserializeSeed<'de> for EntryKey<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

/// Checked inside the visitor, so the error carries the key's position.
impl Visitor<'_> for EntryKey<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`at` or an action key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        if !entry_fields().contains(&key) {
            return Err(E::unknown_field(key, entry_fields()));
        }
        if let Some(first) = self.action
            && key != "at"
        {
            return Err(E::custom(format!("expected exactly one action besides `at`; found `{first}` and `{key}`")));
        }
        Ok(key.to_string())
    }
}

impl<'de> Deserialize<'de> for TimelineEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = TimelineEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a timeline entry: `at` and exactly one action ({})", expected_keys())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TimelineEntry, A::Error> {
                let mut at: Option<Dur> = None;
                let mut action: Option<Action> = None;
                while let Some(key) = map.next_key_seed(EntryKey { action: action.as_ref().map(Action::key) })? {
                    if key == "at" {
                        if at.is_some() {
                            return Err(de::Error::duplicate_field("at"));
                        }
                        at = Some(map.next_value()?);
                    } else {
                        action = Action::deserialize_value(&key, &mut map)?;
                    }
                }
                let at = at.ok_or_else(|| de::Error::missing_field("at"))?;
                let action = action.ok_or_else(|| de::Error::custom(format!("expected exactly one action ({}) besides `at`; found none", expected_keys())))?;
                Ok(TimelineEntry { at, action })
            }
        }
        d.deserialize_map(EntryVisitor)
    }
}

impl Serialize for TimelineEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("at", &self.at)?;
        self.action.serialize_value(&mut m)?;
        m.end()
    }
}

/// `{}`: an action without parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The path of a field of the action at `path`.
pub fn field(path: &[PathSeg], name: &str) -> Vec<PathSeg> {
    let mut p = path.to_vec();
    p.push(PathSeg::Key(name.into()));
    p
}

#[cfg(test)]
mod tests;
