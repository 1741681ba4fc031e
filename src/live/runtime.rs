//! Container runtimes for live kubelets: the same CRI-shaped operations the
//! simulated kubelet emits. `WallClockFake` runs the simulator's fake runtime
//! on real time (for a control-plane-only trial without containerd);
//! `containerd.rs` runs real containers.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use super::driver::{Msg, wall_now};
use crate::control::RequestId;
use crate::runtime::ContainerExit;
use crate::runtime::RuntimeOp;
use crate::runtime::fake::FakeRuntime;

pub trait LiveRuntime: Send {
    /// Starts `op`; its reply comes back as `Msg::RuntimeDone { slot, id, .. }`
    /// and container exits as `Msg::ContainerExited`.
    fn call(&mut self, slot: usize, id: RequestId, op: RuntimeOp, tx: Sender<Msg>);
    /// Stops and removes everything this runtime created.
    fn cleanup(&mut self) -> Result<(), String>;
    /// Fault: kills (SIGKILL) the running containers of matching pods; their
    /// exits reach the kubelet like any other.
    fn kill_matching(&mut self, namespace: Option<&str>, selector: &crate::model::LabelSelector) -> usize;
}

pub struct WallClockFake {
    node: String,
    inner: Arc<Mutex<(FakeRuntime, rand_chacha::ChaCha8Rng)>>,
}

impl WallClockFake {
    pub fn new(node: &str, rt: FakeRuntime, rng: rand_chacha::ChaCha8Rng) -> WallClockFake {
        WallClockFake { node: node.to_string(), inner: Arc::new(Mutex::new((rt, rng))) }
    }
}

impl LiveRuntime for WallClockFake {
    fn call(&mut self, slot: usize, id: RequestId, op: RuntimeOp, tx: Sender<Msg>) {
        let inner = self.inner.clone();
        let node = self.node.clone();
        std::thread::spawn(move || {
            let d = {
                let mut g = inner.lock().expect("runtime lock");
                let (rt, rng) = &mut *g;
                rt.duration(&op, rng)
            };
            std::thread::sleep(d);
            let (result, planned) = {
                let mut g = inner.lock().expect("runtime lock");
                let (rt, rng) = &mut *g;
                rt.apply(wall_now(), op, rng)
            };
            let _ = tx.send(Msg::RuntimeDone { slot, id, result });
            if let Some(p) = planned {
                std::thread::sleep(p.at.since(wall_now()));
                let info = inner.lock().expect("runtime lock").0.exit(wall_now(), &p);
                if let Some(container) = info {
                    let _ = tx.send(Msg::ContainerExited { node, exit: ContainerExit { container } });
                }
            }
        });
    }

    fn cleanup(&mut self) -> Result<(), String> {
        self.inner.lock().map_err(|e| e.to_string())?.0.wipe();
        Ok(())
    }

    fn kill_matching(&mut self, namespace: Option<&str>, selector: &crate::model::LabelSelector) -> usize {
        let Ok(mut g) = self.inner.lock() else { return 0 };
        g.0.crash_matching(wall_now(), namespace, selector, crate::runtime::fake::EXIT_SIGKILL).len()
    }
}
