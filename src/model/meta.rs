//! ObjectMeta and the small types every kind shares: owner references,
//! conditions, timestamps.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::time::SimTime;

pub type Labels = BTreeMap<String, String>;

/// A wall-clock instant as the API prints it (RFC 3339), held as nanoseconds
/// from the simulation epoch (`2025-01-01T00:00:00Z` is virtual time zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Unix seconds of virtual time zero.
pub const SIM_EPOCH_UNIX_S: i64 = 1_735_689_600;

impl Timestamp {
    pub fn from_sim(t: SimTime) -> Timestamp {
        Timestamp(i64::try_from(t.as_nanos()).unwrap_or(i64::MAX))
    }
    pub fn to_sim(self) -> SimTime {
        SimTime(u64::try_from(self.0).unwrap_or(0))
    }

    /// Parses `2024-05-01T12:00:00Z` or with a fractional second / numeric offset.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        let err = || format!("invalid timestamp {s:?}: expected RFC 3339, e.g. 2025-01-01T00:00:00Z");
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(err);
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return Err(err());
        }
        let mut i = 19;
        let mut nanos: i64 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let frac = &s[start..i];
            if frac.is_empty() {
                return Err(err());
            }
            let padded = format!("{:0<9}", &frac[..frac.len().min(9)]);
            nanos = padded.parse().map_err(|_| err())?;
        }
        let offset_s = match &s[i..] {
            "Z" | "z" => 0,
            tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
                let h: i64 = tz[1..3].parse().map_err(|_| err())?;
                let m: i64 = tz[4..6].parse().map_err(|_| err())?;
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                sign * (h * 3600 + m * 60)
            }
            _ => return Err(err()),
        };
        let unix = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
        Ok(Timestamp((unix - SIM_EPOCH_UNIX_S) * 1_000_000_000 + nanos))
    }
}

/// Howard Hinnant's days-from-civil: days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_s = self.0.div_euclid(1_000_000_000) + SIM_EPOCH_UNIX_S;
        let nanos = self.0.rem_euclid(1_000_000_000);
        let (y, mo, d) = civil_from_days(total_s.div_euclid(86_400));
        let sod = total_s.rem_euclid(86_400);
        write!(f, "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60)?;
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The etcd mod revision of the stored object, as a decimal string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Server bookkeeping that `kubectl get -o yaml` prints; accepted and dropped
    /// because it has no meaning for scheduling or reconciliation.
    #[serde(default, skip_serializing)]
    pub managed_fields: crate::model::meta::Dropped,
    #[serde(default, skip_serializing)]
    pub self_link: crate::model::meta::Dropped,
    /// The object's fields kubesim does not model, as written (anywhere in
    /// the object, not just metadata): kept so they survive create → get and
    /// every later write, never read by the simulation.
    #[serde(skip)]
    pub unmodelled: Unmodelled,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}


impl ObjectMeta {
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|r| r.controller == Some(true))
    }
    pub fn is_deleting(&self) -> bool {
        self.deletion_timestamp.is_some()
    }
    /// The store revision this object was last written at (0 if never stored).
    pub fn revision(&self) -> i64 {
        self.resource_version.parse().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Finds a condition by type.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_rfc3339() {
        for s in ["2025-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "2025-01-01T00:00:01.5Z", "2030-12-31T12:00:00Z"] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap().to_string(), s);
        }
        assert_eq!(Timestamp::parse_rfc3339("2025-01-01T00:00:00Z").unwrap().0, 0);
        assert_eq!(Timestamp::parse_rfc3339("2025-01-01T02:00:00+02:00").unwrap().0, 0);
        assert_eq!(Timestamp::from_sim(SimTime::from_secs(61)).to_string(), "2025-01-01T00:01:01Z");
        for bad in ["2025-01-01", "2025-13-01T00:00:00Z", "2025-01-01T00:00:00", "yesterday"] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}

/// A field accepted on input and dropped: server bookkeeping (managedFields,
/// nodeInfo, …) with no meaning for simulation. Always equal, never printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped;

impl<'de> Deserialize<'de> for Dropped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Not IgnoredAny: serde_ignored would report the field as unmodelled.
        serde_json::Value::deserialize(d)?;
        Ok(Dropped)
    }
}

impl Serialize for Dropped {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

/// A sparse JSON tree of the fields a decoder did not model, at their paths
/// (lists as lists of placeholders up to the index that holds one). None for
/// the usual object without any: nothing is allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unmodelled(pub Option<std::sync::Arc<serde_json::Value>>);

impl Unmodelled {
    /// The residual of `doc` at `paths` (each a path serde_ignored reported).
    pub fn capture(doc: &serde_json::Value, paths: &[Vec<crate::yamlpos::PathSeg>]) -> Unmodelled {
        let mut out = serde_json::Value::Null;
        for p in paths {
            if let Some(v) = lookup(doc, p) {
                place(&mut out, p, v.clone());
            }
        }
        if out.is_null() { Unmodelled(None) } else { Unmodelled(Some(std::sync::Arc::new(out))) }
    }

    /// The part under `path` (a template's unmodelled fields), as its own residual.
    pub fn subtree(&self, path: &[&str]) -> Unmodelled {
        let Some(root) = &self.0 else { return Unmodelled(None) };
        let mut v: &serde_json::Value = root;
        for k in path {
            match v.get(*k) {
                Some(next) => v = next,
                None => return Unmodelled(None),
            }
        }
        Unmodelled(Some(std::sync::Arc::new(v.clone())))
    }

    /// This residual placed under `path` (a template's fields inside its owner).
    pub fn nested(&self, path: &[&str]) -> Unmodelled {
        let Some(v) = &self.0 else { return Unmodelled(None) };
        let mut out = (**v).clone();
        for k in path.iter().rev() {
            let mut m = serde_json::Map::new();
            m.insert((*k).to_string(), out);
            out = serde_json::Value::Object(m);
        }
        Unmodelled(Some(std::sync::Arc::new(out)))
    }

    /// Merges the residual into an encoded object: keys it lacks are added,
    /// maps and lists (by index) merged; modelled values always win.
    pub fn merge_into(&self, out: &mut serde_json::Value) {
        if let Some(r) = &self.0 {
            merge(out, r);
        }
    }
}

fn lookup<'a>(doc: &'a serde_json::Value, path: &[crate::yamlpos::PathSeg]) -> Option<&'a serde_json::Value> {
    use crate::yamlpos::PathSeg;
    let mut v = doc;
    for seg in path {
        v = match seg {
            PathSeg::Key(k) => v.get(k.as_str())?,
            PathSeg::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

fn place(out: &mut serde_json::Value, path: &[crate::yamlpos::PathSeg], value: serde_json::Value) {
    use crate::yamlpos::PathSeg;
    use serde_json::Value;
    let Some((first, rest)) = path.split_first() else {
        *out = value;
        return;
    };
    match first {
        PathSeg::Key(k) => {
            if !out.is_object() {
                *out = Value::Object(Default::default());
            }
            let slot = out.as_object_mut().expect("object").entry(k.clone()).or_insert(Value::Null);
            place(slot, rest, value);
        }
        PathSeg::Index(i) => {
            if !out.is_array() {
                *out = Value::Array(Vec::new());
            }
            let list = out.as_array_mut().expect("array");
            while list.len() <= *i {
                list.push(Value::Object(Default::default()));
            }
            place(&mut list[*i], rest, value);
        }
    }
}

fn merge(out: &mut serde_json::Value, residual: &serde_json::Value) {
    use serde_json::Value;
    match (out, residual) {
        (Value::Object(o), Value::Object(r)) => {
            for (k, v) in r {
                match o.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        o.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(o), Value::Array(r)) => {
            for (existing, v) in o.iter_mut().zip(r) {
                merge(existing, v);
            }
        }
        _ => {}
    }
}
