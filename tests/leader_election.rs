//! Leader election in the leader-failover scenario, read from the trace:
//! a replica's successful Lease writes mark when it leads. A standby's first
//! success comes no sooner than 15 s (the lease duration) after the old
//! leader's last renewal — never two leaders — and no later than 15 s after
//! the standby noticed it (at its next 2 s retry) plus one more retry.

use std::path::Path;

use kubesim::sim::trace::TraceKind;

#[test]
fn standbys_take_over_after_the_lease_duration_and_never_overlap() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scenario = kubesim::scenario::load(Path::new("scenarios/leader-failover.yaml")).unwrap();
    let mut handovers = 0;
    for seed in 1..=4 {
        let o = kubesim::run::run_scenario(&scenario, seed, scenario.duration, true, &mut |_| {}).unwrap();
        assert!(o.ok(), "seed {seed}: {:?} {:?}", o.violations, o.checks);
        for lease in ["leases/kube-system/kube-scheduler", "leases/kube-system/kube-controller-manager"] {
            let wins: Vec<(f64, String)> = o
                .trace
                .records()
                
                .filter(|r| r.kind == TraceKind::Response && &*r.object == lease && &*r.detail == "ok")
                .map(|r| (r.t.as_secs_f64(), r.component.to_string()))
                .collect();
            assert!(!wins.is_empty());
            for pair in wins.windows(2) {
                let ((t_a, a), (t_b, b)) = (&pair[0], &pair[1]);
                if a == b {
                    assert!(t_b - t_a < 2.5, "seed {seed} {lease}: {a} renews every 2 s ({t_a} → {t_b})");
                    continue;
                }
                handovers += 1;
                let gap = t_b - t_a;
                assert!(gap >= 15.0, "seed {seed} {lease}: {b} took over {gap:.3}s after {a}'s last renewal: two leaders");
                // 15 s after it noticed the last change, which it notices at its next 2 s retry.
                assert!(gap <= 19.5, "seed {seed} {lease}: {b} took over only after {gap:.3}s");
            }
        }
    }
    assert!(handovers >= 8, "every seed fails over both leases at least once: {handovers}");
}
