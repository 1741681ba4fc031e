//! `kubesim schedule` reproduces upstream plugin test cases when a config
//! enables a single plugin, and explains the default profile's decisions.

use std::process::{Command, Output};

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs")
}

fn json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let o = kubesim(args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

fn normalized(v: &serde_json::Value, plugin: &str) -> Vec<i64> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["scores"].as_array().unwrap().iter().find(|s| s["plugin"] == plugin).unwrap()["normalized"].as_i64().unwrap())
        .collect()
}

const D: &str = "tests/data/schedule";

#[test]
fn taint_toleration_alone_reproduces_upstream_scores() {
    let (code, v) = json(&["schedule", "--cluster", &format!("{D}/taint-nodes.yaml"), "--pod", &format!("{D}/taint-pod.yaml"), "--config", &format!("{D}/only-taint-toleration.yaml")]);
    assert_eq!(code, Some(0));
    assert_eq!(v["pod"], "default/pod1");
    assert_eq!(normalized(&v, "TaintToleration"), vec![100, 50, 0], "the more intolerable taints a node has, the lower score it gets.");
    assert_eq!(v["selected"], "nodeA");
    let first = &v["nodes"][0];
    assert_eq!(first["filters"].as_array().unwrap().len(), 1, "only the enabled filter runs");
    assert_eq!(first["scores"][0]["weight"], 1);
    assert_eq!(first["total"], 100);
}

#[test]
fn node_resources_fit_alone_reproduces_upstream_scores() {
    let (code, v) = json(&["schedule", "--cluster", &format!("{D}/fit-nodes.yaml"), "--pod", &format!("{D}/fit-pod.yaml"), "--config", &format!("{D}/only-node-resources-fit.yaml")]);
    assert_eq!(code, Some(0));
    assert_eq!(normalized(&v, "NodeResourcesFit"), vec![37, 50], "nothing scheduled, resources requested, differently sized nodes");
    assert_eq!(v["selected"], "node2");
    let (code, v) = json(&["schedule", "--cluster", &format!("{D}/fit-nodes.yaml"), "--pod", &format!("{D}/big-pod.yaml"), "--config", &format!("{D}/only-node-resources-fit.yaml")]);
    assert_eq!(code, Some(1), "unschedulable exits 1");
    assert_eq!(v["selected"], serde_json::Value::Null);
    assert_eq!(v["nodes"][0]["filters"][0], serde_json::json!({"plugin": "NodeResourcesFit", "ok": false, "reasons": ["Insufficient cpu"]}));
    assert_eq!(v["nodes"][1]["feasible"], false);
    assert_eq!(v["message"], "0/2 nodes are available: 2 Insufficient cpu.");
}

#[test]
fn default_profile_explains_every_filter_and_skipped_scores() {
    let (code, v) = json(&["schedule", "--cluster", &format!("{D}/taint-nodes.yaml"), "--pod", &format!("{D}/taint-pod.yaml")]);
    assert_eq!(code, Some(0));
    let node = &v["nodes"][0];
    let filters: Vec<&str> = node["filters"].as_array().unwrap().iter().map(|f| f["plugin"].as_str().unwrap()).collect();
    assert_eq!(filters, vec!["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]);
    let skipped: Vec<&str> = node["scores"].as_array().unwrap().iter().filter(|s| s["skipped"] == true).map(|s| s["plugin"].as_str().unwrap()).collect();
    assert_eq!(skipped, vec!["NodeAffinity", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation"], "PreScore skips are listed as skipped");
    let taint = node["scores"].as_array().unwrap().iter().find(|s| s["plugin"] == "TaintToleration").unwrap();
    assert_eq!((taint["weight"].as_i64(), taint["weighted"].as_i64()), (Some(3), Some(300)));
    let table = kubesim(&["schedule", "--cluster", &format!("{D}/taint-nodes.yaml"), "--pod", &format!("{D}/taint-pod.yaml"), "--output", "table"]);
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(t.contains("selected: nodeA") && t.contains("TaintToleration"), "{t}");
}

#[test]
fn unschedulable_pod_gets_upstream_message_and_a_preemption_proposal() {
    let (code, v) = json(&["schedule", "--cluster", &format!("{D}/preemption-cluster.yaml"), "--pod", &format!("{D}/urgent-pod.yaml")]);
    assert_eq!(code, Some(1));
    assert_eq!(v["message"], "0/2 nodes are available: 2 Insufficient cpu.");
    assert_eq!(v["nominated"]["node"], "n1", "the node whose victims have the lowest priority");
    assert_eq!(v["nominated"]["victims"], serde_json::json!(["default/low-1"]));
}

#[test]
fn bad_inputs_exit_2_with_locations() {
    let o = kubesim(&["schedule", "--cluster", &format!("{D}/fit-nodes.yaml"), "--pod", &format!("{D}/fit-nodes.yaml")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected exactly one Pod manifest"));
    let o = kubesim(&["schedule", "--cluster", "tests/data/bad-quantity.yaml", "--pod", &format!("{D}/fit-pod.yaml")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad-quantity.yaml:8:13"));
}
