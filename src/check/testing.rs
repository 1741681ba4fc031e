//! Fixtures for the checkers' tests.

use std::sync::Arc;

use super::Commit;
use crate::api::{WatchEvent, WatchEventType};
use crate::model::{Node, Object, Pod};
use crate::time::SimTime;

pub fn commit(index: u64) -> Commit<'static> {
    commit_at(100, index)
}

pub fn commit_at(secs: u64, index: u64) -> Commit<'static> {
    Commit { now: SimTime::from_secs(secs), index, actor: "scenario" }
}

pub fn ev(o: Object) -> WatchEvent {
    let rev = o.meta().revision();
    WatchEvent { type_: WatchEventType::Modified, object: o, key: Arc::from("k"), revision: rev }
}

pub fn ev_rev(o: Object, revision: i64) -> WatchEvent {
    WatchEvent { type_: WatchEventType::Modified, object: o, key: Arc::from("k"), revision }
}

pub fn node(taints: &str) -> Object {
    serde_yaml::from_str::<Node>(&format!("metadata: {{name: n1}}\nspec: {{taints: {taints}}}\nstatus: {{allocatable: {{cpu: '1', memory: 1Gi, pods: '2'}}}}")).unwrap().into()
}

pub fn pod(name: &str, node: &str, cpu: &str) -> Object {
    serde_yaml::from_str::<Pod>(&format!("metadata: {{name: {name}, namespace: d, uid: {name}}}\nspec: {{nodeName: '{node}', containers: [{{name: c, image: i, resources: {{requests: {{cpu: '{cpu}'}}}}}}]}}")).unwrap().into()
}
