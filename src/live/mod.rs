//! Live mode (cargo feature `live`): the simulator's components, unchanged,
//! driven on the wall clock against a real etcd (and containerd).

pub mod containerd;
pub mod driver;
pub mod etcd;
pub mod processes;
pub mod run;
pub mod runtime;
