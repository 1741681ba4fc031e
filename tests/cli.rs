//! The command line as a user meets it: exit codes, messages, outputs.

use std::path::Path;
use std::process::{Command, Output};

fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn validate_reports_file_line_column_and_exits_2() {
    let cases = [
        ("tests/data/typo.yaml", "tests/data/typo.yaml:8:5: cluster.nodePools[0]: unknown field `capacty`, expected one of"),
        ("tests/data/broken.yaml", "tests/data/broken.yaml:5:1:"),
        ("tests/data/bad-quantity.yaml", "tests/data/bad-quantity.yaml:8:13: status.capacity.memory: invalid quantity \"16Gx\""),
    ];
    for (file, expected) in cases {
        let o = kubesim(&["validate", file]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: {out}");
        assert!(out.contains(expected), "{file}: expected {expected:?} in:\n{out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}

#[test]
fn validate_accepts_shipped_scenarios_and_manifests() {
    let o = kubesim(&["validate", "scenarios/replicaset-scale.yaml", "scenarios/manifests/web.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("ok: scenarios/manifests/web.yaml: 2 object(s)"));
}

#[test]
fn bad_flags_exit_2_without_a_panic() {
    for args in [
        vec!["run", "scenarios/replicaset-scale.yaml", "--until", "ten minutes"],
        vec!["sweep", "scenarios/replicaset-scale.yaml", "--seeds", "9..3"],
        vec!["run", "does/not/exist.yaml"],
        vec!["replay", "/nonexistent-dir"],
    ] {
        let o = kubesim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("panicked"));
    }
}

#[test]
fn run_twice_same_seed_identical_other_seed_different() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, sub: &str| {
        let out = dir.path().join(sub);
        let o = kubesim(&["run", "scenarios/replicaset-scale.yaml", "--seed", seed, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).starts_with(&format!("seed: {seed}\n")), "the seed is printed first");
        let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        (summary["trace_sha256"].as_str().unwrap().to_string(), std::fs::read(out.join("events.jsonl")).unwrap())
    };
    let (a_hash, a_events) = run("7", "a");
    let (b_hash, b_events) = run("7", "b");
    let (c_hash, _) = run("8", "c");
    assert_eq!(a_hash, b_hash);
    assert!(a_events == b_events, "events.jsonl must be byte-identical");
    assert_ne!(a_hash, c_hash);
    for f in ["metrics.csv", "pods.csv", "report.svg"] {
        assert!(dir.path().join("a").join(f).exists(), "{f}");
    }
}

#[test]
fn failing_check_exits_1_with_replay_command_and_replay_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fail");
    let o = kubesim(&["run", "tests/data/failing-check.yaml", "--out", out.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED: expects-five at 30s"), "{t}");
    assert!(t.contains("observed 3"), "{t}");
    assert!(t.contains("replay: kubesim run tests/data/failing-check.yaml --seed 3"), "{t}");
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    let rt = text(&r);
    assert_eq!(r.status.code(), Some(0), "{rt}");
    assert!(rt.contains("reproduced: the run replays exactly (the same violation"), "{rt}");
    assert!(rt.contains("violation: expects-five at 30s"), "{rt}");
    // A tampered recording is not reproduced.
    let summary_path = out.join("summary.json");
    let tampered = std::fs::read_to_string(&summary_path).unwrap().replace("\"seed\": 3", "\"seed\": 4");
    std::fs::write(&summary_path, tampered).unwrap();
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{}", text(&r));
    assert!(text(&r).contains("NOT reproduced"));
}

fn sweep_hashes(jobs: &str, dir: &Path) -> Vec<(String, String)> {
    let out = dir.join(format!("jobs{jobs}"));
    let o = kubesim(&["sweep", "scenarios/replicaset-scale.yaml", "--seeds", "1..12", "--jobs", jobs, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut r = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    r.records().map(|rec| rec.unwrap()).map(|rec| (rec[0].to_string(), rec[2].to_string())).collect()
}

#[test]
fn sweep_results_do_not_depend_on_the_number_of_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let one = sweep_hashes("1", dir.path());
    let two = sweep_hashes("2", dir.path());
    assert_eq!(one.len(), 12);
    assert_eq!(one, two);
    let distinct: std::collections::BTreeSet<_> = one.iter().map(|(_, h)| h).collect();
    assert_eq!(distinct.len(), 12, "every seed differs");
}

#[test]
fn sweep_lists_failing_seeds_with_their_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["sweep", "tests/data/failing-check.yaml", "--seeds", "1..3", "--jobs", "2", "--out", dir.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("failing seeds:"), "{t}");
    for seed in 1..=3 {
        assert!(t.contains(&format!("kubesim run tests/data/failing-check.yaml --seed {seed}")), "{t}");
    }
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("seed,ok,trace_sha256,events,sim_seconds,violations,first_violation,replay"));
}

#[test]
fn every_shipped_scenario_passes_its_own_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let rel = format!("scenarios/{}", path.file_name().unwrap().to_str().unwrap());
        let out = dir.path().join(path.file_stem().unwrap());
        let o = kubesim(&["run", &rel, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{rel}: {}", text(&o));
        // A healthy run stays far inside its derived budget (scenario::budget).
        let t = text(&o);
        let line = t.lines().find(|l| l.starts_with("budget: ")).unwrap_or_else(|| panic!("{rel}: no budget line in {t}"));
        let n: Vec<u64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        assert!(n[0] * 5 <= n[1] && n[2] * 5 <= n[3], "{rel}: {line}: within a fifth of the budget");
        ran += 1;
    }
    assert!(ran >= 3, "expected the shipped scenarios, found {ran}");
}

#[test]
fn a_violated_invariant_exits_1_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = kubesim(&["run", "tests/data/overcommit.yaml", "--out", out.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED: node-capacity at 10"), "{t}");
    assert!(t.contains("node small-0 has 1200 cpu requested, allocatable 1000"), "{t}");
    assert!(t.contains("objects: nodes/small-0"), "{t}");
    assert!(t.contains("replay: kubesim run tests/data/overcommit.yaml --seed 4"), "{t}");
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains("violation: node-capacity at 10"), "{}", text(&r));
}

/// Issue 10: a check the run never reached is not a pass.
#[test]
fn a_check_after_the_end_of_the_run_is_not_evaluated_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["run", "scenarios/deployment-scale.yaml", "--until", "10s", "--out", dir.path().to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("check three-running: NOT EVALUATED: its time 55s is after the run's end 10s"), "{out}");
    assert!(out.contains("FAILED: 6 of 6 checks not evaluated"), "{out}");
    assert!(!out.lines().any(|l| l == "ok"), "{out}");
    let summary = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    assert!(summary.contains("\"ok\": false"), "{summary}");
    assert!(summary.contains("\"not_evaluated\": \"its time 55s is after the run's end 10s"), "{summary}");
}

/// Issue 10: `kubesim run … | head -1` ends quietly (no panic on a closed pipe).
#[test]
fn output_into_a_closed_pipe_ends_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!("{} run scenarios/deployment-scale.yaml --out {} | head -1", env!("CARGO_BIN_EXE_kubesim"), dir.path().display());
    let o = Command::new("bash").args(["-c", &cmd]).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "seed: 1\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert!(dir.path().join("summary.json").exists(), "outputs are written before the summary is printed");
}

/// Issue 10: the run directory keeps the scenario and the files it names, so
/// replay works from any directory.
#[test]
fn replay_works_from_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["run", "scenarios/replicaset-scale.yaml", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dir.path().join("scenario/replicaset-scale.yaml").exists());
    assert!(dir.path().join("scenario/manifests/web.yaml").exists(), "the manifest file the scenario names is kept");
    let o = Command::new(env!("CARGO_BIN_EXE_kubesim")).args(["replay", dir.path().to_str().unwrap()]).current_dir("/").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("reproduced: the run replays exactly"), "{}", text(&o));
}

/// Issue 10: outputs that cannot be written are bad input (2), not a failed check (1).
#[test]
fn an_unwritable_out_directory_exits_2() {
    let o = kubesim(&["run", "scenarios/deployment-scale.yaml", "--out", "/proc/kubesim-cannot-write-here"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot write outputs into /proc/kubesim-cannot-write-here"), "{}", text(&o));
}

/// Issue 10: a pod too big for any node ends Pending with upstream's
/// PodScheduled condition and message, a FailedScheduling Event, and the
/// run lists it with its reason; events.csv holds the Events.
#[test]
fn a_pod_too_big_for_any_node_says_why_it_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["run", "tests/data/too-big.yaml", "--out", dir.path().to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    assert!(out.contains(&format!("pending at the end: default/huge: Unschedulable: {message}")), "{out}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pending_pods"][0]["pod"], "default/huge");
    assert_eq!(summary["pending_pods"][0]["message"], message);
    let events = std::fs::read_to_string(dir.path().join("events.csv")).unwrap();
    assert!(events.starts_with("first_seen_s,last_seen_s,count,type,reason,object,namespace,message,source,host,name\n"), "{events}");
    let failed: Vec<&str> = events.lines().filter(|l| l.contains(",Warning,FailedScheduling,pod/huge,default,")).collect();
    assert_eq!(failed.len(), 1, "one Event, counted on: {events}");
    assert!(failed[0].contains(message) && failed[0].contains(",default-scheduler,"), "{events}");
    assert!(events.contains(",Normal,Scheduled,pod/small,default,Successfully assigned default/small to worker-"), "{events}");
}

/// Issue 10 (fuzzing): a kind spelled as kubectl would accept it, and a
/// phase no pod has, are errors with a position, not silently accepted.
#[test]
fn checks_name_kinds_and_phases_as_manifests_do() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/too-big.yaml")).unwrap();
    for (edit, expected) in [
        (base.replace("count: {kind: Pod, phase: Pending}", "count: {kind: pod, phase: Pending}"), "kind \"pod\": write it as a manifest's kind does, `Pod`"),
        (base.replace("count: {kind: Pod, phase: Pending}", "count: {kind: Pod, phase: Bogus}"), "unknown pod phase \"Bogus\"; expected one of Pending, Running, Succeeded, Failed, Unknown"),
        (base.replace("count: {kind: Event, reason: Scheduled}", "count: {kind: Pod, reason: Scheduled}"), "`reason` applies to Events only"),
    ] {
        let p = dir.path().join("s.yaml");
        std::fs::write(&p, edit).unwrap();
        let o = kubesim(&["validate", p.to_str().unwrap()]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(out.contains(expected), "expected {expected:?} in {out}");
        assert!(out.contains("s.yaml:") && !out.contains(":0:0"), "a position: {out}");
    }
}

/// Issue 10: each finding of the fuzzing run, as a regression: exit 2
/// within seconds, a position where the file has one, and words a user
/// understands (no Rust type names, no megabyte echoes).
#[test]
fn fuzz_findings_are_clear_errors_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let base = "kind: Scenario\nname: f\nseed: 1\nduration: 1m\ncluster:\n  nodePools:\n  - {name: w, count: 2, capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}\n";
    let pod = |name: &str| format!("- manifest: {{apiVersion: v1, kind: Pod, metadata: {{name: {name}}}, spec: {{containers: [{{name: c, image: x}}]}}}}\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("huge node pool", base.replace("count: 2", "count: 1000000000").into_bytes(), "f.yaml:7:15: the node pools add up to 1000000000 nodes; a scenario has at most 200000"),
        ("negative capacity", base.replace("cpu: \"4\"", "cpu: \"-4\"").into_bytes(), "f.yaml:7:5: Node \"w-0\" is invalid: [status.capacity[cpu]: Invalid value: \"-4\": must be greater than or equal to 0"),
        ("invalid pool label", base.replace("capacity: {cpu", "labels: {\"bad key!\": x}, capacity: {cpu").into_bytes(), "f.yaml:7:5: Node \"w-0\" is invalid: metadata.labels: Invalid value: \"bad key!\""),
        ("duplicate objects", format!("{base}objects:\n{}{}", pod("p"), pod("p")).into_bytes(), "f.yaml:10:3: pods/default/p is defined twice (first at"),
        ("restart without crash", format!("{base}timeline:\n- {{at: 10s, restartNode: {{node: w-0}}}}\n").into_bytes(), "f.yaml:9:13: restartNode \"w-0\": the node is not down then"),
        (
            "swarm fault every 1ms",
            format!("{base}swarm:\n  faultsFrom: 1s\n  faultsUntil: 20s\n  livenessWithin: 30s\n  faults:\n  - {{kind: crashNode, every: 1ms, duration: {{constant: 1s}}}}\n").into_bytes(),
            "every 1ms draws about 19000 faults between faultsFrom and faultsUntil; at most 10000",
        ),
        ("empty file", Vec::new(), "f.yaml:1:1: the file is empty; expected a scenario"),
        (
            "30,000 levels of flow nesting",
            format!("{base}objects:\n- manifest: {}{}\n", "[".repeat(30_000), "]".repeat(30_000)).into_bytes(),
            "f.yaml:9:141: collections nested more than 128 levels deep",
        ),
        ("invalid UTF-8", b"kind: Scenario\nname: \xff\xfe\n".to_vec(), "f.yaml:2:7: not UTF-8 text"),
        ("a Rust type name", format!("{base}checks:\n- {{name: c, at: 10s, count: 5, equals: 1}}\n").into_bytes(), "f.yaml:9:29: checks[0].count: invalid type: integer `5`, expected a mapping (key: value, …)"),
        ("a megabyte value", format!("{base}checks:\n- {{name: c, at: 10s, count: {{kind: {}}}, equals: 1}}\n", "X".repeat(1_000_000)).into_bytes(), "… (1000000 characters)"),
        (
            "negative replicas",
            format!("{base}objects:\n- manifest: {{apiVersion: apps/v1, kind: ReplicaSet, metadata: {{name: web}}, spec: {{replicas: -3, selector: {{matchLabels: {{a: b}}}}, template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c, image: x}}]}}}}}}}}\n").into_bytes(),
            "f.yaml:9:3: ReplicaSet \"web\" is invalid: spec.replicas: Invalid value: -3: must be greater than or equal to 0",
        ),
        (
            "repeated pluginConfig",
            b"apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n  - {name: NodeResourcesFit, args: {scoringStrategy: {type: MostAllocated}}}\n  - {name: NodeResourcesFit, args: {scoringStrategy: {type: LeastAllocated}}}\n".to_vec(),
            "f.yaml:6:5: profiles[0].pluginConfig[1]: Duplicate value: \"NodeResourcesFit\"",
        ),
    ];
    for (name, contents, expected) in cases {
        let p = dir.path().join("f.yaml");
        std::fs::write(&p, &contents).unwrap();
        let started = std::time::Instant::now();
        let o = kubesim(&["validate", p.to_str().unwrap()]);
        let out = text(&o);
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{name}: took {:?}", started.elapsed());
        assert_eq!(o.status.code(), Some(2), "{name}: {out}");
        assert!(out.contains(expected), "{name}: expected {expected:?} in:\n{}", &out[..out.len().min(2000)]);
        assert!(out.len() < 5000, "{name}: the error echoes {} bytes", out.len());
        assert!(!out.contains("panicked") && !out.contains("struct ") && !out.contains("untagged enum"), "{name}: {out}");
    }
}

/// Issue 10: command-line edges a newcomer trips on.
#[test]
fn flags_a_newcomer_gets_wrong_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, expected) in [
        (vec!["run", "scenarios/deployment-scale.yaml", "--seed", "-1"], "\"-1\": seeds are unsigned (0 to 18446744073709551615)"),
        (vec!["sweep", "scenarios/deployment-scale.yaml", "--seeds", "5..1"], "\"5..1\": the range is backwards; write the smaller seed first, 1..5"),
        (vec!["sweep", "scenarios/deployment-scale.yaml", "--seeds", "1..18446744073709551615"], "is 18446744073709551615 seeds; one sweep runs at most 1000000"),
        (vec!["sweep", "scenarios/deployment-scale.yaml", "--seeds", "0..18446744073709551615"], "is 18446744073709551616 seeds"),
        (vec!["run", "scenarios/no-such-file.yaml"], "scenarios/no-such-file.yaml: cannot read: No such file or directory"),
    ] {
        let o = kubesim(&args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(expected), "{args:?}: expected {expected:?} in {out}");
        assert!(!out.contains(":0:0") && !out.contains("panicked"), "{out}");
    }
    // The last seed is u64::MAX: one run, and the sweep ends.
    let o = kubesim(&["sweep", "scenarios/deployment-scale.yaml", "--seeds", "18446744073709551615..18446744073709551615", "--out", d]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 of 1 seeds passed"), "{}", text(&o));
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("18446744073709551615,true,")), "{csv}");
    #[cfg(not(feature = "live"))]
    {
        let o = kubesim(&["live", "run", "scenarios/live-smoke.yaml"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).contains("built without live mode") && text(&o).contains("--features live"), "{}", text(&o));
    }
}

/// Issue 10's fuzz finding "validate is quadratic in the number of objects"
/// (400 objects 10.7 s, 800 objects 33–45 s): positions now come from one
/// index of the file, so 3,000 inline objects and a 3,000-document manifest,
/// each with a warning that needs its position, validate in well under the
/// bound (about 0.6 s in a debug build; the quadratic loader took minutes).
#[test]
fn validate_is_linear_in_the_number_of_objects() {
    let dir = tempfile::tempdir().unwrap();
    let base = "kind: Scenario\nname: f\nseed: 1\nduration: 1m\ncluster:\n  nodePools:\n  - {name: w, count: 2, capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}\n";
    let n = 3000;
    let mut inline = format!("{base}objects:\n");
    let mut docs = String::new();
    for i in 0..n {
        inline.push_str(&format!("- manifest: {{apiVersion: v1, kind: Pod, metadata: {{name: p{i}}}, spec: {{containers: [{{name: c, image: x}}], unknownField: 3}}}}\n"));
        docs.push_str(&format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: q{i}}}\nspec: {{containers: [{{name: c, image: x}}], unknownField: 3}}\n"));
    }
    std::fs::write(dir.path().join("inline.yaml"), &inline).unwrap();
    std::fs::write(dir.path().join("docs.yaml"), &docs).unwrap();
    std::fs::write(dir.path().join("file.yaml"), format!("{base}objects:\n- file: docs.yaml\n")).unwrap();
    let column = |text: &str| text.lines().last().and_then(|l| l.find("unknownField")).unwrap() + 1;
    for (file, last_warning) in [
        ("inline.yaml", format!("inline.yaml:{}:{}: warning: field objects[{}].manifest.spec.unknownField", 8 + n, column(&inline), n - 1)),
        ("docs.yaml", format!("docs.yaml:{}:{}: warning: field spec.unknownField", 5 * n, column(&docs))),
    ] {
        let started = std::time::Instant::now();
        let target = if file == "docs.yaml" { "file.yaml" } else { file };
        let o = kubesim(&["validate", dir.path().join(target).to_str().unwrap()]);
        let elapsed = started.elapsed();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", &out[out.len().saturating_sub(2000)..]);
        assert!(out.contains(&format!("{n} objects")), "{file}");
        assert!(out.contains(&last_warning), "{file}: the last object's warning at its own line and column ({last_warning:?})");
        assert!(elapsed < std::time::Duration::from_secs(20), "{file}: validate took {elapsed:?} for {n} objects");
    }
}

/// A run past its event budget stops there, fails with exit 1 and replays
/// under the same budget.
#[test]
fn a_run_over_its_event_budget_fails_with_exit_1_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = kubesim(&["run", "scenarios/replicaset-scale.yaml", "--max-events", "500", "--out", out.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED: event-budget at"), "{t}");
    assert!(t.contains("over its budget of 500"), "{t}");
    assert!(t.contains("replay: kubesim run scenarios/replicaset-scale.yaml --seed 42 --max-events 500"), "{t}");
    let r = kubesim(&["replay", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains("the same violation"), "{}", text(&r));
    // The scenario's own `budget:` works the same way.
    let yaml = std::fs::read_to_string("scenarios/replicaset-scale.yaml").unwrap();
    let own = dir.path().join("budgeted.yaml");
    std::fs::write(&own, format!("{yaml}\nbudget: {{events: 400}}\n").replace("file: manifests/", &format!("file: {}/scenarios/manifests/", env!("CARGO_MANIFEST_DIR")))).unwrap();
    let o = kubesim(&["run", own.to_str().unwrap(), "--out", dir.path().join("b").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("over its budget of 400"), "{}", text(&o));
}

/// `--fail-fast` stops handing out seeds at the first failure and prints its replay command.
#[test]
fn sweep_fail_fast_stops_at_the_first_failing_seed() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["sweep", "tests/data/failing-check.yaml", "--seeds", "1..50", "--jobs", "1", "--fail-fast", "--out", dir.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("--fail-fast: stopped after 1 of 50 seeds"), "{t}");
    assert!(t.contains("first failing seed: 1\nreplay: kubesim run tests/data/failing-check.yaml --seed 1"), "{t}");
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "one seed ran: {csv}");
}

/// A sweep says which rules and code paths its seeds exercised, and names
/// what none of them reached.
#[test]
fn sweep_reports_coverage_and_what_it_never_reached() {
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&["sweep", "scenarios/replicaset-scale.yaml", "--seeds", "1..2", "--out", dir.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("coverage (seeds that reached it of 2"), "{t}");
    let bind_line = t.lines().find(|l| l.trim_start().starts_with("node-capacity.binds ")).unwrap_or_else(|| panic!("{t}"));
    assert!(bind_line.contains("2/2"), "{bind_line}");
    // No node fails in this scenario: the eviction rules are never put to the test, and the sweep says so.
    let never = t.lines().find(|l| l.starts_with("NEVER REACHED")).unwrap_or_else(|| panic!("{t}"));
    assert!(never.contains("early-eviction.evictions"), "{never}");
    let csv = std::fs::read_to_string(dir.path().join("coverage.csv")).unwrap();
    assert!(csv.starts_with("counter,seeds_reached,seeds,total\n"), "{csv}");
}
