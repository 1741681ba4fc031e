//! The separate live processes: a control plane, a node (kubelet) and
//! `live apply`, against one etcd prefix. A node killed outright and started
//! again adopts the containers it left (no duplicates) and kills those whose
//! pods were deleted meanwhile (no orphans), touching only its namespace.
#![cfg(feature = "live")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn kubesim(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubesim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn interrupt(mut child: Child) {
    let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("timed out waiting for {what}");
}

fn rs(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: sleeper, namespace: default}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: sleeper}}}}\n  template:\n    metadata: {{labels: {{app: sleeper}}}}\n    spec:\n      terminationGracePeriodSeconds: 2\n      containers: [{{name: sleep, image: busybox, command: [/bin/sleep, '3600']}}]\n"
    )
}

#[test]
fn a_node_killed_and_restarted_adopts_its_containers_and_kills_deleted_pods() {
    if common::skip_live() {
        return;
    }
    let _serial = common::serial();
    let etcd = common::Etcd::start();
    let ctd = common::Containerd::start();
    let rootfs = common::busybox_rootfs();
    let dir = tempfile::tempdir().unwrap();
    let (p2, p1) = (dir.path().join("rs2.yaml"), dir.path().join("rs1.yaml"));
    std::fs::write(&p2, rs(2)).unwrap();
    std::fs::write(&p1, rs(1)).unwrap();
    let e = ["--etcd", etcd.endpoint.as_str(), "--prefix", "/procs"];
    let node_args = |c: &mut Command| {
        c.args(["--name", "node-a", "--namespace-prefix", "procs-"]).arg("--containerd").arg(&ctd.socket).arg("--rootfs").arg(rootfs.path());
    };
    let cp = kubesim(&[&["live", "control-plane"][..], &e[..]].concat()).spawn().unwrap();
    let mut cmd = kubesim(&[&["live", "node"][..], &e[..]].concat());
    node_args(&mut cmd);
    let mut node = cmd.spawn().unwrap();
    let applied = kubesim(&[&["live", "apply"][..], &e[..], &[p2.to_str().unwrap()][..]].concat()).status().unwrap();
    assert!(applied.success());
    let running = || ctd.ctr("procs-node-a", &["tasks", "ls"]).lines().filter(|l| l.contains("RUNNING")).count();
    wait_for("2 pods' sandbox and container tasks", 30, || running() == 4);
    // Kill the kubelet outright: its containers keep running.
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(running(), 4);
    // Meanwhile the ReplicaSet shrinks: one pod is deleted gracefully and waits for its kubelet.
    assert!(kubesim(&[&["live", "apply"][..], &e[..], &[p1.to_str().unwrap()][..]].concat()).status().unwrap().success());
    let pods = || etcd.etcdctl(&["get", "--prefix", "/procs/registry/pods/", "--keys-only"]).lines().filter(|l| !l.is_empty()).count();
    wait_for("a pod marked for deletion", 15, || etcd.etcdctl(&["get", "--prefix", "/procs/registry/pods/", "--print-value-only"]).contains("deletionTimestamp"));
    assert_eq!(pods(), 2, "the deleted pod waits for its kubelet");
    // The kubelet comes back: it adopts the surviving pod (no second container)
    // and stops the deleted one's, then confirms the deletion.
    let mut cmd = kubesim(&[&["live", "node"][..], &e[..]].concat());
    node_args(&mut cmd);
    let node = cmd.spawn().unwrap();
    wait_for("the deleted pod gone from etcd", 30, || pods() == 1);
    wait_for("one pod's tasks", 20, || running() == 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(running(), 2, "adopted, not started twice");
    interrupt(node);
    interrupt(cp);
    // The node's exit removed its containers; only its namespace was touched.
    assert!(ctd.ctr("procs-node-a", &["containers", "ls", "-q"]).trim().is_empty());
}
