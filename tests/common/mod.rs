//! Real services for the live tests: each test starts its own etcd (a
//! temporary data directory, free loopback ports) and stops it on drop.
//! A missing binary fails the test with a clear message, unless
//! KUBESIM_SKIP_LIVE=1 says to skip live tests on purpose.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static LIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Live tests of one binary run one at a time: each starts real services and
/// containers, and timings should not depend on how many run beside it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

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
        let port = free_port();
        let child = Etcd::start_at(dir.path(), port);
        let etcd = Etcd { child, dir, endpoint: format!("http://127.0.0.1:{port}"), port };
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
        self.child = Etcd::start_at(self.dir.path(), self.port);
        self.wait_ready();
    }

    /// etcd on `client` (and a free peer port) with its data under `dir`.
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

    /// etcd serving TLS only, requiring client certificates signed by a CA
    /// made here (openssl): returns it and the (ca, client cert, client key) paths.
    pub fn start_tls() -> (Etcd, [std::path::PathBuf; 3]) {
        require("etcd", "etcd-server");
        require("openssl", "openssl");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            let o = Command::new("sh").arg("-c").arg(script).current_dir(d).output().unwrap();
            assert!(o.status.success(), "{script}: {}", String::from_utf8_lossy(&o.stderr));
        };
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=kubesim-test-ca");
        for (name, ext) in [("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")] {
            sh(&format!("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {name}.key -out {name}.csr -subj /CN={name}"));
            sh(&format!("printf '%s\\n' '{ext}' > {name}.ext && openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem -days 2 -extfile {name}.ext"));
        }
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("https://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(d.join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .args(["--name", "kubesim-test", "--data-dir"])
            .arg(d.join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("kubesim-test={peer_url}")])
            .arg("--cert-file").arg(d.join("server.pem"))
            .arg("--key-file").arg(d.join("server.key"))
            .arg("--trusted-ca-file").arg(d.join("ca.pem"))
            .arg("--client-cert-auth")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let paths = [d.join("ca.pem"), d.join("client.pem"), d.join("client.key")];
        let etcd = Etcd { child, dir, endpoint, port: client };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = Command::new("etcdctl")
                .args(["--endpoints", &etcd.endpoint, "--cacert"])
                .arg(&paths[0])
                .arg("--cert")
                .arg(&paths[1])
                .arg("--key")
                .arg(&paths[2])
                .args(["endpoint", "health"])
                .env("ETCDCTL_API", "3")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(etcd.dir.path().join("etcd.log")).unwrap_or_default();
                panic!("TLS etcd did not become healthy within 15 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (etcd, paths)
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

/// A containerd of the test's own: temporary root, state and socket.
pub struct Containerd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
}

impl Containerd {
    pub fn start() -> Containerd {
        require("containerd", "containerd");
        require("runc", "runc");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable = true\n",
            dir.path().display(),
            socket.display()
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd").arg("--config").arg(dir.path().join("config.toml")).stdout(Stdio::null()).stderr(log).spawn().expect("start containerd");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("containerd.log")).unwrap_or_default();
                panic!("containerd did not open {} within 15 s; its log:\n{log}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        Containerd { child, dir, socket }
    }

    pub fn ctr(&self, namespace: &str, args: &[&str]) -> String {
        let o = Command::new("ctr").arg("--address").arg(&self.socket).arg("-n").arg(namespace).args(args).output().expect("ctr");
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Shims of this containerd's state directory, if a test failed midway.
        let state = self.dir.path().join("state");
        let _ = Command::new("pkill").arg("-f").arg(format!("containerd-shim.*{}", state.display())).status();
    }
}

/// A busybox-static root filesystem: /bin/busybox and the applets the tests use.
pub fn busybox_rootfs() -> tempfile::TempDir {
    require("busybox", "busybox-static");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let busybox = Command::new("sh").arg("-c").arg("command -v busybox").output().unwrap();
    let path = String::from_utf8_lossy(&busybox.stdout).trim().to_string();
    std::fs::copy(&path, bin.join("busybox")).unwrap();
    for applet in ["sh", "sleep", "echo", "cat", "true", "false"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    dir
}

/// Builds an OCI image of `rootfs` (one layer; default command `cmd`),
/// named `name`, and imports it into containerd namespace `namespace`, as
/// `ctr image import` of a built image would leave it.
pub fn import_image(ctd: &Containerd, namespace: &str, name: &str, rootfs: &std::path::Path, cmd: &[&str]) {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer = dir.path().join("layer.tar");
    assert!(Command::new("tar").arg("-C").arg(rootfs).arg("-cf").arg(&layer).arg(".").status().unwrap().success());
    let put = |bytes: &[u8]| {
        let d: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(layout.join("blobs/sha256").join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let (layer_digest, layer_size) = put(&std::fs::read(&layer).unwrap());
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd, "Env": ["PATH=/bin"]}, "rootfs": {"type": "layers", "diff_ids": [layer_digest]}});
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    });
    let (manifest_digest, manifest_size) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size, "annotations": {"io.containerd.image.name": name}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tarball = dir.path().join("image.tar");
    assert!(Command::new("tar").arg("-C").arg(&layout).arg("-cf").arg(&tarball).arg(".").status().unwrap().success());
    let o = Command::new("ctr").arg("--address").arg(&ctd.socket).args(["-n", namespace, "images", "import"]).arg(&tarball).output().unwrap();
    assert!(o.status.success(), "ctr images import: {}", String::from_utf8_lossy(&o.stderr));
}
