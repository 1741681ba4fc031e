//! Resource arithmetic as the scheduler sees it (`framework.Resource` and
//! `resourcehelper.PodRequests`): CPU in millicores, everything else in units.

use std::collections::BTreeMap;

use crate::model::node::ResourceList;
use crate::model::pod::{Container, Pod};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// Scoring defaults for a container that does not name a request at all
/// (`schedutil.DefaultMilliCPURequest`, `DefaultMemoryRequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pods: i64,
    /// Extended resources, hugepages, …: whole units.
    pub scalar: BTreeMap<String, i64>,
}

fn amount(name: &str, q: &crate::model::Quantity) -> i64 {
    if name == CPU { q.milli_value() } else { q.value() }
}

impl Resource {
    pub fn from_list(list: &ResourceList) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list {
            r.set(name, amount(name, q));
        }
        r
    }

    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pods,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    pub fn set(&mut self, name: &str, v: i64) {
        match name {
            CPU => self.milli_cpu = v,
            MEMORY => self.memory = v,
            EPHEMERAL_STORAGE => self.ephemeral_storage = v,
            PODS => self.allowed_pods = v,
            other => {
                self.scalar.insert(other.to_string(), v);
            }
        }
    }

    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.allowed_pods += o.allowed_pods;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.allowed_pods -= o.allowed_pods;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    fn max_with(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

fn container_requests(c: &Container, non_missing: bool) -> Resource {
    let mut r = Resource::from_list(&c.resources.requests);
    if non_missing {
        if !c.resources.requests.contains_key(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !c.resources.requests.contains_key(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// `resourcehelper.PodRequests`: the sum over containers, or the peak of the
/// init sequence if higher (sidecars — init containers with restartPolicy
/// Always — keep running and add up), plus pod overhead. With `non_missing`,
/// a container that names no cpu or memory request counts the scoring defaults.
pub fn pod_requests(pod: &Pod, non_missing: bool) -> Resource {
    let mut reqs = Resource::default();
    for c in &pod.spec.containers {
        reqs.add(&container_requests(c, non_missing));
    }
    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for c in &pod.spec.init_containers {
        let r = container_requests(c, non_missing);
        let step = if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            sidecars.clone()
        } else {
            let mut t = r;
            t.add(&sidecars);
            t
        };
        init_peak.max_with(&step);
    }
    reqs.max_with(&init_peak);
    reqs.add(&Resource::from_list(&pod.spec.overhead));
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn init_containers_take_the_peak_and_sidecars_add_up() {
        // From resourcehelper's TestPodRequests: two containers of 1 cpu, an init container of 3.
        let p = pod("spec: {containers: [{name: a, resources: {requests: {cpu: 1}}}, {name: b, resources: {requests: {cpu: 1}}}], initContainers: [{name: i, resources: {requests: {cpu: 3}}}]}");
        assert_eq!(pod_requests(&p, false).milli_cpu, 3000);
        // A sidecar of 1 runs beside the later init container of 2 and beside the app containers.
        let s = pod("spec: {containers: [{name: a, resources: {requests: {cpu: 1}}}], initContainers: [{name: s, restartPolicy: Always, resources: {requests: {cpu: 1}}}, {name: i, resources: {requests: {cpu: 2}}}]}");
        assert_eq!(pod_requests(&s, false).milli_cpu, 3000, "max(1+1, 1+2)");
        let o = pod("spec: {containers: [{name: a, resources: {requests: {cpu: 1}}}], overhead: {cpu: 250m}}");
        assert_eq!(pod_requests(&o, false).milli_cpu, 1250);
    }

    #[test]
    fn scoring_defaults_apply_only_to_missing_keys() {
        let p = pod("spec: {containers: [{name: a}, {name: b, resources: {requests: {cpu: '0', memory: 1Gi}}}]}");
        let r = pod_requests(&p, true);
        assert_eq!(r.milli_cpu, 100, "explicit zero stays zero");
        assert_eq!(r.memory, DEFAULT_MEMORY_REQUEST + (1 << 30));
        assert!(pod_requests(&p, false).milli_cpu == 0);
    }
}

/// A resource name resolved once, so hot paths compare integers, not strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceKey {
    Cpu,
    Memory,
    EphemeralStorage,
    Pods,
    Scalar(String),
}

impl ResourceKey {
    pub fn new(name: &str) -> ResourceKey {
        match name {
            CPU => ResourceKey::Cpu,
            MEMORY => ResourceKey::Memory,
            EPHEMERAL_STORAGE => ResourceKey::EphemeralStorage,
            PODS => ResourceKey::Pods,
            other => ResourceKey::Scalar(other.to_string()),
        }
    }
}

impl Resource {
    pub fn get_key(&self, key: &ResourceKey) -> i64 {
        match key {
            ResourceKey::Cpu => self.milli_cpu,
            ResourceKey::Memory => self.memory,
            ResourceKey::EphemeralStorage => self.ephemeral_storage,
            ResourceKey::Pods => self.allowed_pods,
            ResourceKey::Scalar(n) => self.scalar.get(n).copied().unwrap_or(0),
        }
    }
}
