//! The specification the checkers judge against, written from upstream's
//! documentation and defaults — never by calling the component code being
//! judged. A bug planted in a controller's arithmetic (a rounding, a grace
//! period, a toleration match) must not move the oracle with it, so each rule
//! here is its own small implementation, with the upstream source it follows.
//! `tests::no_checker_imports_the_component_it_judges` keeps it that way.

use std::time::Duration;

use crate::model::node::{Taint, TaintEffect};
use crate::model::pod::{Container, Pod, Toleration, TolerationOperator};
use crate::model::quantity::Quantity;
use crate::model::deployment::IntOrString;

/// kube-controller-manager `--node-monitor-grace-period` (v1.32+: 50 s).
pub const NODE_MONITOR_GRACE_PERIOD: Duration = Duration::from_secs(50);
/// `--node-monitor-period`: how often the node lifecycle controller looks.
pub const NODE_MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// The taints the node lifecycle controller puts on unreachable / not-ready nodes.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// `--node-eviction-rate` and `--secondary-node-eviction-rate` (nodes per second, per zone).
pub const EVICTION_QPS: f64 = 0.1;
pub const SECONDARY_EVICTION_QPS: f64 = 0.01;
/// `--large-cluster-size-threshold`: at most this many nodes, the secondary rate is 0.
pub const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// `--unhealthy-zone-threshold`: the share of not-Ready nodes (at least 3) that makes a zone unhealthy.
pub const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// The zone label the node lifecycle controller groups by (topology.kubernetes.io/zone, with region).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// Leader election defaults (component-base): lease duration.
pub const LEADER_LEASE_DURATION: Duration = Duration::from_secs(15);

/// `v1.Toleration.ToleratesTaint` (k8s.io/api core/v1 toleration.go): an
/// empty effect matches every effect; an empty key with Exists matches every
/// key; Equal (the default) compares values.
pub fn toleration_tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t.effect.as_ref().is_none_or(|e| *e == taint.effect);
    let key_ok = t.key.is_empty() || t.key == taint.key;
    let value_ok = match &t.operator {
        Some(TolerationOperator::Exists) => true,
        Some(TolerationOperator::Equal) | None => t.value == taint.value,
    };
    effect_ok && key_ok && value_ok
}

pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| toleration_tolerates(t, taint))
}

/// How long after a NoExecute taint appears a pod may be evicted
/// (`pkg/controller/tainteviction` getMinTolerationTime): `None` if it
/// tolerates every NoExecute taint forever, zero if any is not tolerated,
/// else the smallest tolerationSeconds among the tolerations used (negative counts as zero).
pub fn eviction_delay(pod: &Pod, taints: &[Taint]) -> Option<Duration> {
    let mut min: Option<i64> = None;
    let mut any = false;
    for taint in taints.iter().filter(|t| t.effect == TaintEffect::NoExecute) {
        any = true;
        let used: Vec<&Toleration> = pod.spec.tolerations.iter().filter(|t| toleration_tolerates(t, taint)).collect();
        if used.is_empty() {
            return Some(Duration::ZERO);
        }
        for t in used {
            if let Some(s) = t.toleration_seconds {
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    if !any {
        return None;
    }
    min.map(|s| Duration::from_secs(s.max(0) as u64))
}

/// `intstr.GetScaledValueFromIntOrPercent` by hand: an integer, or a percent
/// of `total` rounded up (maxSurge) or down (maxUnavailable); None if it is neither.
pub fn scaled(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let whole = percent * i64::from(total);
            Some((if round_up { (whole + 99).div_euclid(100) } else { whole.div_euclid(100) }) as i32)
        }
    }
}

/// `deploymentutil.ResolveFenceposts`: maxSurge rounds up, maxUnavailable
/// down, an absent one counts as 0 (defaulting has made them 25 % by then);
/// both zero means maxUnavailable 1. None where upstream returns an error.
pub fn rollout_fenceposts(max_surge: Option<&IntOrString>, max_unavailable: Option<&IntOrString>, desired: i32) -> Option<(i32, i32)> {
    let zero = IntOrString::Int(0);
    let surge = scaled(max_surge.unwrap_or(&zero), desired, true)?;
    let unavailable = scaled(max_unavailable.unwrap_or(&zero), desired, false)?;
    Some(if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) })
}

/// A pod's (cpu milli, memory bytes) request as the scheduler must count it
/// (`resourcehelper.PodRequests`): the containers' sum, or the init
/// sequence's peak if higher — sidecars (init containers with restartPolicy
/// Always) keep running and add to both — plus the pod's overhead.
pub fn pod_requests(pod: &Pod) -> (i64, i64) {
    let one = |c: &Container| -> (i64, i64) {
        let q = |k: &str| c.resources.requests.get(k);
        (q("cpu").map_or(0, Quantity::milli_value), q("memory").map_or(0, Quantity::value))
    };
    let (mut cpu, mut mem) = pod.spec.containers.iter().map(one).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let (mut side_cpu, mut side_mem) = (0, 0);
    let (mut peak_cpu, mut peak_mem) = (0, 0);
    for c in &pod.spec.init_containers {
        let (c_cpu, c_mem) = one(c);
        if c.restart_policy.as_deref() == Some("Always") {
            side_cpu += c_cpu;
            side_mem += c_mem;
            cpu += c_cpu;
            mem += c_mem;
            peak_cpu = peak_cpu.max(side_cpu);
            peak_mem = peak_mem.max(side_mem);
        } else {
            peak_cpu = peak_cpu.max(c_cpu + side_cpu);
            peak_mem = peak_mem.max(c_mem + side_mem);
        }
    }
    let overhead = |k: &str, milli: bool| pod.spec.overhead.get(k).map_or(0, |q| if milli { q.milli_value() } else { q.value() });
    (cpu.max(peak_cpu) + overhead("cpu", true), mem.max(peak_mem) + overhead("memory", false))
}

/// The zone key the node lifecycle controller uses (`utilnode.GetZoneKey`):
/// region and zone joined; nodes without either share the empty zone.
pub fn zone_key(labels: &std::collections::BTreeMap<String, String>) -> String {
    let region = labels.get(REGION_LABEL).map_or("", String::as_str);
    let zone = labels.get(ZONE_LABEL).map_or("", String::as_str);
    if region.is_empty() && zone.is_empty() { String::new() } else { format!("{region}:\x00:{zone}") }
}

/// A zone's state from its nodes' Ready conditions (`ComputeZoneState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

pub fn zone_state(ready: usize, not_ready: usize) -> ZoneState {
    let total = ready + not_ready;
    if total > 0 && ready == 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / total as f64 >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The tainting rate of a zone (`setLimiterInZone` / `handleDisruption`),
/// in nodes per second: 0 when every zone is fully disrupted.
pub fn zone_eviction_qps(state: ZoneState, zone_size: usize, all_fully_disrupted: bool) -> f64 {
    if all_fully_disrupted {
        return 0.0;
    }
    match state {
        ZoneState::Normal | ZoneState::FullDisruption => EVICTION_QPS,
        ZoneState::PartialDisruption if zone_size > LARGE_CLUSTER_THRESHOLD => SECONDARY_EVICTION_QPS,
        ZoneState::PartialDisruption => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's `TestResolveFenceposts` (pkg/controller/deployment/util), case by case.
    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let s = |v: &str| Some(IntOrString::String(v.into()));
        for (surge, unavailable, desired, expected) in [
            (s("0%"), s("0%"), 0, Some((0, 1))),
            (s("39%"), s("39%"), 10, Some((4, 3))),
            (s("oops"), s("39%"), 10, None),
            (s("55%"), s("urg"), 10, None),
            (None, s("39%"), 10, Some((0, 3))),
            (s("39%"), None, 10, Some((4, 0))),
            (None, None, 10, Some((0, 1))),
        ] {
            assert_eq!(rollout_fenceposts(surge.as_ref(), unavailable.as_ref(), desired), expected, "{surge:?} {unavailable:?} of {desired}");
        }
    }

    #[test]
    fn zone_states_follow_compute_zone_state() {
        assert_eq!(zone_state(0, 3), ZoneState::FullDisruption);
        assert_eq!(zone_state(2, 3), ZoneState::PartialDisruption, "3 of 5 is 60 %");
        assert_eq!(zone_state(1, 2), ZoneState::Normal, "two not-ready are never partial");
        assert_eq!(zone_state(4, 3), ZoneState::Normal, "43 %");
        assert_eq!(zone_eviction_qps(ZoneState::PartialDisruption, 10, false), 0.0);
        assert_eq!(zone_eviction_qps(ZoneState::PartialDisruption, 51, false), SECONDARY_EVICTION_QPS);
        assert_eq!(zone_eviction_qps(ZoneState::FullDisruption, 3, true), 0.0);
    }

    #[test]
    fn tolerations_match_as_upstream_documents() {
        let taint = Taint { key: TAINT_UNREACHABLE.into(), value: String::new(), effect: TaintEffect::NoExecute, time_added: None };
        let t = |yaml: &str| -> Toleration { serde_yaml::from_str(yaml).unwrap() };
        assert!(toleration_tolerates(&t("{operator: Exists}"), &taint), "empty key + Exists tolerates everything");
        assert!(toleration_tolerates(&t("{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}"), &taint));
        assert!(!toleration_tolerates(&t("{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoSchedule}"), &taint));
        assert!(toleration_tolerates(&t("{key: node.kubernetes.io/unreachable}"), &taint), "Equal with empty values");
        assert!(!toleration_tolerates(&t("{key: node.kubernetes.io/unreachable, value: x}"), &taint));
    }
}
