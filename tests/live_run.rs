//! `kubesim live run` against a real etcd and containerd, each started by the
//! test on loopback / a temporary socket: the scenario's pods are JSON in etcd
//! and running tasks in containerd while it runs; nothing of it is left in
//! containerd afterwards; the outcome matches the simulator's; an etcd
//! outage mid-run loses and duplicates nothing.
#![cfg(feature = "live")]

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn live_run(scenario: &str, etcd: &common::Etcd, ctd: &common::Containerd, rootfs: &std::path::Path, prefix: &str, until: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["live", "run", scenario, "--etcd", &etcd.endpoint, "--prefix", prefix, "--until", until, "--namespace-prefix", &format!("{}-", prefix.trim_start_matches('/'))])
        .arg("--containerd")
        .arg(&ctd.socket)
        .arg("--rootfs")
        .arg(rootfs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubesim live run")
}

fn finish(child: Child) -> (i32, String) {
    let o = child.wait_with_output().unwrap();
    (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// Pods in etcd under `prefix`, by (owner, phase).
fn pods_by_owner(etcd: &common::Etcd, prefix: &str) -> (BTreeMap<(String, String), usize>, Vec<String>) {
    let out = etcd.etcdctl(&["get", "--prefix", &format!("{prefix}/registry/pods/"), "--print-value-only"]);
    let mut by = BTreeMap::new();
    let mut names = Vec::new();
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("pods are JSON");
        assert_eq!(v["kind"], "Pod");
        let owner = v["metadata"]["ownerReferences"][0]["name"].as_str().unwrap_or("").to_string();
        let phase = v["status"]["phase"].as_str().unwrap_or("").to_string();
        names.push(v["metadata"]["name"].as_str().unwrap().to_string());
        *by.entry((owner, phase)).or_insert(0) += 1;
    }
    (by, names)
}

fn running_tasks(ctd: &common::Containerd, namespaces: &[String]) -> usize {
    namespaces.iter().map(|ns| ctd.ctr(ns, &["tasks", "ls"]).lines().filter(|l| l.contains("RUNNING")).count()).sum()
}

#[test]
fn a_scenario_runs_live_matches_the_simulator_and_leaves_nothing_behind() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let ctd = common::Containerd::start();
    let rootfs = common::busybox_rootfs();
    let prefix = "/live-smoke";
    let namespaces: Vec<String> = ["node-0", "node-1"].iter().map(|n| format!("live-smoke-{n}")).collect();
    let child = live_run("scenarios/live-smoke.yaml", &etcd, &ctd, rootfs.path(), prefix, "14s");
    // While it runs: pods as JSON in etcd, their tasks running in containerd.
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut tasks_seen = 0;
    while Instant::now() < deadline && tasks_seen < 8 {
        std::thread::sleep(Duration::from_millis(500));
        tasks_seen = running_tasks(&ctd, &namespaces);
    }
    assert_eq!(tasks_seen, 8, "4 pods: 4 sandbox tasks and 4 container tasks running");
    let during = etcd.etcdctl(&["get", "--prefix", &format!("{prefix}/registry/pods")]);
    assert!(during.contains("\"kind\":\"Pod\"") && during.contains("sleeper-"), "{during}");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("check four-running-after-the-scale: ok"), "{out}");
    // Nothing of it left in containerd: no task, no container, no shim.
    for ns in &namespaces {
        assert!(ctd.ctr(ns, &["tasks", "ls"]).lines().skip(1).all(|l| l.trim().is_empty()), "tasks left in {ns}");
        assert!(ctd.ctr(ns, &["containers", "ls"]).lines().skip(1).all(|l| l.trim().is_empty()), "containers left in {ns}");
    }
    let shims = Command::new("pgrep").arg("-f").arg(format!("containerd-shim.*{}", ctd.dir.path().display())).output().unwrap();
    assert!(String::from_utf8_lossy(&shims.stdout).trim().is_empty(), "shims left");
    // The same scenario in the simulator ends the same way: pods per owner and phase.
    let (live, _) = pods_by_owner(&etcd, prefix);
    let scenario = kubesim::scenario::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/live-smoke.yaml"))).unwrap();
    let sim = kubesim::run::run_scenario(&scenario, 1, Duration::from_secs(14), false, &mut |_| {}).unwrap();
    let mut simulated = BTreeMap::new();
    for p in sim.final_pods.iter().filter_map(kubesim::model::Object::as_pod) {
        let owner = p.metadata.owner_references.first().map(|o| o.name.clone()).unwrap_or_default();
        *simulated.entry((owner, p.status.phase.clone())).or_insert(0) += 1;
    }
    assert_eq!(live, simulated);
    assert_eq!(live.get(&("sleeper".to_string(), "Running".to_string())), Some(&4));
}

#[test]
fn an_etcd_outage_mid_run_loses_and_duplicates_nothing() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let mut etcd = common::Etcd::start();
    let ctd = common::Containerd::start();
    let rootfs = common::busybox_rootfs();
    let prefix = "/live-outage";
    let namespaces: Vec<String> = ["node-0", "node-1"].iter().map(|n| format!("live-outage-{n}")).collect();
    let started = Instant::now();
    let child = live_run("tests/data/live-outage.yaml", &etcd, &ctd, rootfs.path(), prefix, "30s");
    std::thread::sleep(Duration::from_secs(8).saturating_sub(started.elapsed()));
    etcd.stop();
    std::thread::sleep(Duration::from_secs(4));
    etcd.restart();
    // Just before the end: 5 pods, 5 containers (+ 5 sandboxes) running, no more.
    std::thread::sleep(Duration::from_secs(27).saturating_sub(started.elapsed()));
    let tasks = running_tasks(&ctd, &namespaces);
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("check five-running-after-the-outage: ok"), "{out}");
    assert_eq!(tasks, 10, "5 pods, each a sandbox and a container: nothing duplicated");
    let (by_owner, names) = pods_by_owner(&etcd, prefix);
    assert_eq!(by_owner.get(&("sleeper".to_string(), "Running".to_string())), Some(&5), "{by_owner:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
}

#[test]
fn unreachable_services_and_unsupported_actions_are_refused_with_clear_errors() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let port = common::free_port();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["live", "run", "scenarios/live-smoke.yaml", "--etcd", &format!("http://127.0.0.1:{port}"), "--fake-runtime"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(started.elapsed() < Duration::from_secs(8));
    // A simulated-only fault is refused before anything starts.
    let o = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["live", "run", "scenarios/partition-heal.yaml", "--etcd", &format!("http://127.0.0.1:{port}"), "--fake-runtime"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot run live") && text.contains("partition"), "{text}");
}

#[test]
fn container_kill_and_a_kubelet_cut_off_from_etcd_live() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let ctd = common::Containerd::start();
    let rootfs = common::busybox_rootfs();
    let prefix = "/live-faults";
    let child = live_run("tests/data/live-faults.yaml", &etcd, &ctd, rootfs.path(), prefix, "36s");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    for check in ["running-again-after-the-kill", "new-pods-wait-for-the-cut-off-kubelet", "all-running-after-the-heal"] {
        assert!(out.contains(&format!("check {check}: ok")), "{check}: {out}");
    }
    // The killed containers were restarted by their kubelet.
    let values = etcd.etcdctl(&["get", "--prefix", &format!("{prefix}/registry/pods/"), "--print-value-only"]);
    let restarted = values
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(0) >= 1)
        .count();
    assert_eq!(restarted, 2, "{values}");
}

/// Images from containerd's image store (as `ctr image import` leaves them):
/// containers run from a snapshot of the image's layers with the image's own
/// command; the sandbox still runs from --rootfs. The snapshots go on exit,
/// the image stays.
#[test]
fn images_from_containerds_image_store() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let ctd = common::Containerd::start();
    let rootfs = common::busybox_rootfs();
    let namespaces: Vec<String> = ["node-0", "node-1"].iter().map(|n| format!("live-image-{n}")).collect();
    for ns in &namespaces {
        common::import_image(&ctd, ns, "example.com/sleeper:1", rootfs.path(), &["/bin/sleep", "3600"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("image.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/live-smoke.yaml")).unwrap();
    let text = text.replace("image: busybox", "image: example.com/sleeper:1").replace("            command: [/bin/sleep, \"3600\"]\n", "");
    assert!(!text.contains("command:"));
    std::fs::write(&scenario, text).unwrap();
    let child = live_run(scenario.to_str().unwrap(), &etcd, &ctd, rootfs.path(), "/live-image", "12s");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut active = 0;
    while Instant::now() < deadline && active < 4 {
        std::thread::sleep(Duration::from_millis(500));
        active = namespaces.iter().map(|ns| ctd.ctr(ns, &["snapshots", "ls"]).lines().filter(|l| l.contains("Active")).count()).sum();
    }
    assert_eq!(active, 4, "one writable snapshot per container");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("check four-running-after-the-scale: ok"), "{out}");
    for ns in &namespaces {
        let snaps = ctd.ctr(ns, &["snapshots", "ls"]);
        assert!(!snaps.contains("Active"), "snapshots left in {ns}: {snaps}");
        assert!(ctd.ctr(ns, &["images", "ls", "-q"]).contains("example.com/sleeper:1"), "the image stays");
    }
}
