//! Planted bugs, for measuring what the sweeps catch (results/bug-finding.md).
//!
//! Each is a realistic one-to-three-line mistake in a component, switched on
//! by name with `KUBESIM_MUTANT=<name>` in a build with the `mutants`
//! feature. Without the feature `active` is a constant `false` and every
//! planted branch compiles away: a normal build carries none of them.
//! The name is read once per process, before any simulation draws on it,
//! so a run stays a function of its seed.

/// Every planted bug, with what it gets wrong (`tests/mutants.rs` runs each).
pub const ALL: &[(&str, &str)] = &[
    ("grace-40s", "node lifecycle: the pre-1.32 node-monitor-grace-period (40 s) instead of 50 s"),
    ("toleration-millis", "taint eviction: tolerationSeconds read as milliseconds"),
    ("unavailable-rounds-up", "deployment: maxUnavailable percentages rounded up, like maxSurge"),
    ("rs-no-expectations", "replicaset: creates are not recorded as expectations"),
    ("eviction-unlimited", "node lifecycle: NoExecute taints skip the zone's token bucket"),
    ("leader-renew-deadline", "leader election: a candidate takes over after the renew deadline (10 s) instead of the lease duration (15 s)"),
    ("fit-ignores-memory", "scheduler NodeResourcesFit: memory requests not checked"),
    ("taint-filter-noexecute-only", "scheduler TaintToleration: only NoExecute taints filter, NoSchedule ones are ignored"),
    ("kubelet-no-adopt", "kubelet: after a restart it does not adopt the containers it finds running"),
    ("gc-owner-by-name", "garbage collector: an owner is looked up by name, not uid"),
    ("crashloop-no-backoff", "kubelet: a crashed container restarts at once, without CrashLoopBackOff"),
];

#[cfg(feature = "mutants")]
static ACTIVE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Whether planted bug `name` is switched on.
#[cfg(feature = "mutants")]
pub fn active(name: &str) -> bool {
    // determinism-ok: read once per process; the same for every run in it.
    ACTIVE.get_or_init(|| std::env::var("KUBESIM_MUTANT").ok()).as_deref() == Some(name)
}

#[cfg(not(feature = "mutants"))]
#[inline(always)]
pub const fn active(_name: &str) -> bool {
    false
}
