use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"kind: Scenario
name: small
description: three nodes in two zones and a ReplicaSet
seed: 5
duration: 2m
cluster:
  zones: [zone-a, zone-b]
  nodePools:
  - name: worker
    count: 3
    namePattern: "w-{zone}-{index}"
    labels: {tier: general}
    capacity: {cpu: "4", memory: 8Gi, pods: "110"}
objects:
- manifest:
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata: {name: web}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}}}]
timeline:
- at: 30s
  scale: {kind: ReplicaSet, name: web, replicas: 4}
- at: 10s
  patch: {kind: ReplicaSet, name: web, merge: {metadata: {labels: {patched: "yes"}}}}
checks:
- name: four-pods
  at: 1m
  count: {kind: Pod, namespace: default, selector: {matchLabels: {app: web}}}
  equals: 4
"#;

#[test]
fn loads_a_complete_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let s = load(&write(dir.path(), "s.yaml", GOOD)).unwrap();
    assert_eq!((s.name.as_str(), s.seed, s.duration), ("small", 5, Duration::from_secs(120)));
    let names: Vec<_> = s.nodes.iter().map(|n| n.metadata.name.as_str()).collect();
    assert_eq!(names, vec!["w-zone-a-0", "w-zone-b-1", "w-zone-a-2"]);
    assert_eq!(s.nodes[1].metadata.labels[ZONE_LABEL], "zone-b");
    assert_eq!(s.nodes[0].status.allocatable["cpu"].value(), 4);
    assert_eq!(s.objects.len(), 1);
    assert_eq!(s.objects[0].pos.line, 15);
    assert_eq!(s.timeline.len(), 2);
    assert!(matches!(s.timeline[0].action, Action::Patch { .. }), "sorted by time");
    assert_eq!(s.checks[0].expect, Comparison::Equals(4));
}

fn load_err(text: &str) -> SourceError {
    let dir = tempfile::tempdir().unwrap();
    load(&write(dir.path(), "bad.yaml", text)).unwrap_err()
}

#[test]
fn typo_in_a_key_names_line_column_and_expected_keys() {
    let e = load_err(&GOOD.replace("    namePattern:", "    namePatern:"));
    assert_eq!((e.line, e.column), (11, 5), "{e}");
    assert!(e.message.contains("unknown field `namePatern`"), "{e}");
    assert!(e.message.contains("expected one of"), "{e}");
}

#[test]
fn invalid_yaml_names_line() {
    let e = load_err("kind: Scenario\nname: x\nduration: [1m\n");
    assert!(e.file.ends_with("bad.yaml"));
    assert!(e.line >= 3, "{e}");
}

#[test]
fn bad_quantity_in_inline_manifest_names_its_line() {
    let e = load_err(&GOOD.replace("cpu: 100m", "cpu: 100q"));
    assert_eq!(e.line, 25, "{e}");
    assert!(e.message.contains("invalid quantity \"100q\""), "{e}");
}

#[test]
fn semantic_errors_point_at_the_field() {
    let e = load_err(&GOOD.replace("- at: 30s", "- at: 3m"));
    assert_eq!(e.line, 27, "{e}");
    assert!(e.message.contains("after the scenario's duration 2m"), "{e}");
    let e = load_err(&GOOD.replace("kind: ReplicaSet, name: web, replicas: 4", "kind: Gadget, name: web, replicas: 4"));
    assert!(e.message.contains("unknown kind \"Gadget\""), "{e}");
    let e = load_err(&GOOD.replace("  equals: 4\n", ""));
    assert!(e.message.contains("exactly one of `equals`"), "{e}");
    let e = load_err(&GOOD.replace("        metadata: {labels: {app: web}}", "        metadata: {labels: {app: api}}"));
    assert!(e.message.contains("`selector` does not match template `labels`"), "{e}");
    assert_eq!(e.line, 15, "{e}");
    let e = load_err(&GOOD.replace("kind: Scenario", "kind: Pod"));
    assert_eq!(e.line, 1);
}

#[test]
fn manifest_files_are_relative_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    write(&dir.path().join("m"), "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n");
    let text = GOOD.replace("objects:\n- manifest:", "objects:\n- file: m/ns.yaml\n- manifest:");
    let s = load(&write(dir.path(), "s.yaml", &text)).unwrap();
    assert_eq!(s.objects[0].object.kind(), Kind::Namespace);
    let e = load(&write(dir.path(), "s2.yaml", &GOOD.replace("objects:\n- manifest:", "objects:\n- file: m/missing.yaml\n- manifest:"))).unwrap_err();
    assert!(e.message.contains("does not exist"), "{e}");
    assert_eq!(e.line, 15);
}

#[test]
fn merge_patch_follows_rfc7386() {
    let mut v = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]});
    merge_patch(&mut v, &serde_json::json!({"a": {"b": null, "e": 3}, "d": [2]}));
    assert_eq!(v, serde_json::json!({"a": {"c": 2, "e": 3}, "d": [2]}));
}

#[test]
fn objects_in_missing_namespaces_are_caught_at_load() {
    let e = load_err(&GOOD.replace("metadata: {name: web}", "metadata: {name: web, namespace: ghost}"));
    assert_eq!(e.line, 15, "{e}");
    assert!(e.message.contains("namespace \"ghost\", which does not exist by then"), "{e}");
    let ok = GOOD.replace("  zones: [zone-a, zone-b]\n", "  zones: [zone-a, zone-b]\n  namespaces: [ghost]\n").replace("metadata: {name: web}", "metadata: {name: web, namespace: ghost}");
    let dir = tempfile::tempdir().unwrap();
    assert!(load(&write(dir.path(), "ok.yaml", &ok)).is_ok());
}

/// Issue 10: nodes carry the labels a kubelet registers and a cloud provider
/// adds; the pool's labels override them.
#[test]
fn nodes_carry_the_labels_real_kubelets_register() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD
        .replace("  zones: [zone-a, zone-b]\n", "  zones: [zone-a, zone-b]\n  region: eu-west-1\n")
        .replace("    labels: {tier: general}\n", "    labels: {tier: general, kubernetes.io/arch: arm64}\n    instanceType: m5.xlarge\n");
    let s = load(&write(dir.path(), "s.yaml", &text)).unwrap();
    let l = &s.nodes[1].metadata.labels;
    assert_eq!(l[OS_LABEL], "linux");
    assert_eq!(l[ARCH_LABEL], "arm64", "the pool's label overrides the default");
    assert_eq!(l[HOSTNAME_LABEL], "w-zone-b-1");
    assert_eq!(l[ZONE_LABEL], "zone-b");
    assert_eq!(l[REGION_LABEL], "eu-west-1");
    assert_eq!(l[INSTANCE_TYPE_LABEL], "m5.xlarge");
    assert_eq!(l["tier"], "general");
    // Without them: amd64, and no region or instance type.
    let s = load(&write(dir.path(), "t.yaml", GOOD)).unwrap();
    let l = &s.nodes[0].metadata.labels;
    assert_eq!(l[ARCH_LABEL], "amd64");
    assert!(!l.contains_key(REGION_LABEL) && !l.contains_key(INSTANCE_TYPE_LABEL));
}
