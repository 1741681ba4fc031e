//! Fixtures shared by unit tests.

use crate::model::pod::Pod;
use crate::model::{Object, ReplicaSet};

/// A minimal valid pod in `default`.
pub fn pod(name: &str) -> Object {
    serde_yaml::from_str::<Pod>(&format!("metadata: {{name: {name}, namespace: default}}\nspec: {{containers: [{{name: c, image: nginx}}]}}"))
        .expect("fixture")
        .into()
}

/// A ReplicaSet in `default` selecting `app: <name>`.
pub fn replicaset(name: &str, replicas: i32) -> Object {
    serde_yaml::from_str::<ReplicaSet>(&format!(
        "metadata: {{name: {name}, namespace: default}}\nspec: {{replicas: {replicas}, selector: {{matchLabels: {{app: {name}}}}}, template: {{metadata: {{labels: {{app: {name}}}}}, spec: {{containers: [{{name: c, image: i}}]}}}}}}"
    ))
    .expect("fixture")
    .into()
}
