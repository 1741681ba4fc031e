//! Real services for the live tests: each test starts its own etcd (a
//! temporary data directory, free loopback ports) and stops it on drop.
//! A missing binary fails the test with a clear message, unless
//! KUBESIM_SKIP_LIVE=1 says to skip live tests on purpose.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when live tests are explicitly opted out of (KUBESIM_SKIP_LIVE=1).
pub fn skip_live() -> bool {
    if std::env::var("KUBESIM_SKIP_LIVE").as_deref() == Ok("1") {
        eprintln!("KUBESIM_SKIP_LIVE=1: skipping a live test");
        return true;
    }
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind loopback").local_addr().unwrap().port()
}

pub fn require(binary: &str, package: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {binary}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "live test needs `{binary}` (Debian package {package}); scripts/test.sh installs it, or set KUBESIM_SKIP_LIVE=1 to skip live tests");
}

pub struct Etcd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub port: u16,
}

impl Etcd {
    pub fn start() -> Etcd {
        require("etcd", "etcd-server");
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .args(["--name", "kubesim-test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("kubesim-test={peer_url}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let etcd = Etcd { child, dir, endpoint, port: client };
        etcd.wait_ready();
        etcd
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let ok = Command::new("etcdctl").args(["--endpoints", &self.endpoint, "endpoint", "health"]).env("ETCDCTL_API", "3").output().map(|o| o.status.success()).unwrap_or(false);
                if ok {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        panic!("etcd did not become healthy on {} within 15 s; its log:\n{log}", self.endpoint);
    }

    /// Kills the process (data kept), for outage tests.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same data directory and ports.
    pub fn restart(&mut self) {
        self.stop();
        let peer = self.endpoint.replace(&self.port.to_string(), "0");
        let _ = peer;
        let again = Etcd::start_at(self.dir.path(), self.port);
        self.child = again;
        self.wait_ready();
    }

    fn start_at(dir: &std::path::Path, client: u16) -> Child {
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer = free_port();
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::OpenOptions::new().append(true).create(true).open(dir.join("etcd.log")).unwrap();
        Command::new("etcd")
            .args(["--name", "kubesim-test", "--data-dir"])
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("kubesim-test={peer_url}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("restart etcd")
    }

    pub fn etcdctl(&self, args: &[&str]) -> String {
        let o = Command::new("etcdctl").arg("--endpoints").arg(&self.endpoint).args(args).env("ETCDCTL_API", "3").output().expect("etcdctl");
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
