//! core/v1 Event: what a component reports about an object (`kubectl
//! describe`'s Events table). Written by the components' event recorders
//! (`control::events`), which deduplicate and aggregate as client-go's do.

use serde::{Deserialize, Serialize};

use super::meta::{ObjectMeta, Timestamp};

pub const TYPE_NORMAL: &str = "Normal";
pub const TYPE_WARNING: &str = "Warning";

/// core/v1 ObjectReference: the object an Event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// A part of the object (`spec.containers{web}`), for kubelet events.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub component: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub involved_object: ObjectReference,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub source: EventSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i32,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_component: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl super::Resource for Event {
    const API_VERSION: &'static str = "v1";
    const PLURAL: &'static str = "events";
    const NAMESPACED: bool = true;
    const GARBAGE_COLLECTED: bool = false;

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
    /// An Event has no spec/status split: everything but metadata is its payload.
    fn spec_eq(&self, other: &Self) -> bool {
        let strip = |e: &Event| Event { metadata: ObjectMeta::default(), ..e.clone() };
        strip(self) == strip(other)
    }
    fn copy_status_from(&mut self, _from: &Self) {}
    fn copy_spec_from(&mut self, from: &Self) {
        let metadata = std::mem::take(&mut self.metadata);
        *self = Event { metadata, ..from.clone() };
    }
    fn validate(&self, errs: &mut Vec<String>) {
        validate(self, errs);
    }
}

/// kube-apiserver's `legacyValidateEvent` (core/v1 Events without
/// `eventTime`): the Event lives in its object's namespace ("default" for a
/// cluster-scoped object), and names what it is about.
pub fn validate(e: &Event, errs: &mut Vec<String>) {
    let io = &e.involved_object;
    if io.namespace.is_empty() {
        if !e.metadata.namespace.is_empty() && e.metadata.namespace != "default" {
            errs.push(format!("involvedObject.namespace: Invalid value: {:?}: does not match event.namespace", io.namespace));
        }
    } else if e.metadata.namespace != io.namespace {
        errs.push(format!("involvedObject.namespace: Invalid value: {:?}: does not match event.namespace", io.namespace));
    }
    if e.reporting_component.len() > 128 {
        errs.push("reportingComponent: Too long: may not be more than 128 bytes".into());
    }
    if e.reporting_instance.len() > 128 {
        errs.push("reportingInstance: Too long: may not be more than 128 bytes".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ns: &str, involved_ns: &str) -> Event {
        Event {
            metadata: ObjectMeta { name: "web.1".into(), namespace: ns.into(), ..Default::default() },
            involved_object: ObjectReference { kind: "Pod".into(), namespace: involved_ns.into(), name: "web".into(), ..Default::default() },
            ..Default::default()
        }
    }

    // Ported from pkg/apis/core/validation/events_test.go TestValidateEvent (core/v1 cases).
    #[test]
    fn validate_event_namespaces() {
        let cases = [
            ("v1 event with the namespace of its object", "test1", "test1", true),
            ("v1 event in default about a cluster-scoped object", "default", "", true),
            ("v1 event namespace and involvedObject namespace differ", "test1", "test2", false),
            ("v1 event for a cluster-scoped object in a namespace other than default", "kube-system", "", false),
        ];
        for (name, ns, involved, ok) in cases {
            let mut errs = Vec::new();
            validate(&event(ns, involved), &mut errs);
            assert_eq!(errs.is_empty(), ok, "{name}: {errs:?}");
        }
    }

    #[test]
    fn round_trips_as_kubectl_shows_it() {
        let mut e = event("default", "default");
        e.count = 3;
        e.type_ = TYPE_WARNING.into();
        e.reason = "FailedScheduling".into();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["involvedObject"]["kind"], "Pod");
        assert_eq!(json["type"], "Warning");
        assert_eq!(json["count"], 3);
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
    }
}
