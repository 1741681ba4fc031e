//! The timeline vocabulary: entries read and write back as scenarios write
//! them; errors name their position and what was expected.

use super::*;

fn entries(yaml: &str) -> Result<Vec<TimelineEntry>, serde_yaml::Error> {
    serde_yaml::from_str(yaml)
}

#[test]
fn every_entry_round_trips_through_yaml() {
    let text = "\
- {at: 30s, scale: {kind: ReplicaSet, namespace: shop, name: web, replicas: 8}}
- {at: 1m, crashNode: {node: n1}}
- {at: 2m, partition: {nodes: [n1], components: [scheduler], for: 1m}}
- {at: 3m, etcdSlow: {latency: {constant: 2s}, for: 30s}}
- {at: 4m, healPartitions: {}}
- {at: 5m, crashContainers: {selector: {matchLabels: {app: web}}, exitCode: 1}}
";
    let parsed = entries(text).unwrap();
    let keys: Vec<&str> = parsed.iter().map(|e| e.action.key()).collect();
    assert_eq!(keys, ["scale", "crashNode", "partition", "etcdSlow", "healPartitions", "crashContainers"]);
    let written = serde_yaml::to_string(&parsed).unwrap();
    let again = entries(&written).unwrap();
    assert_eq!(serde_yaml::to_string(&again).unwrap(), written, "stable:\n{written}");
    assert!(written.contains("at: 2m") && written.contains("for: 1m"), "{written}");
}

#[test]
fn an_unknown_key_names_its_position_and_the_keys_expected() {
    let e = entries("- at: 10s\n  crashNodes: {node: n1}\n").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("unknown field `crashNodes`") && msg.contains("`crashNode`"), "{msg}");
    let loc = e.location().expect("a position");
    assert_eq!((loc.line(), loc.column()), (2, 3), "{msg}");
}

#[test]
fn an_entry_holds_exactly_one_action() {
    let msg = entries("- {at: 1s, crashNode: {node: a}, stopKubelet: {node: b}}\n").unwrap_err().to_string();
    assert!(msg.contains("exactly one action") && msg.contains("`crashNode` and `stopKubelet`"), "{msg}");
    let msg = entries("- {at: 1s}\n").unwrap_err().to_string();
    assert!(msg.contains("exactly one action") && msg.contains("found none"), "{msg}");
    let msg = entries("- {crashNode: {node: a}}\n").unwrap_err().to_string();
    assert!(msg.contains("missing field `at`"), "{msg}");
    let msg = entries("- {at: 1s, crashNode: {node: a, extra: 1}}\n").unwrap_err().to_string();
    assert!(msg.contains("unknown field `extra`"), "{msg}");
}

#[test]
fn each_type_says_whether_it_runs_live() {
    let live = live_keys();
    for k in ["apply", "scale", "patch", "delete", "rollback", "stopKubelet", "startKubelet", "crashContainers", "crashComponent", "restartComponent", "partition", "healPartitions"] {
        assert!(live.contains(&k), "{k} runs live");
    }
    for k in ["crashNode", "linkDelay", "linkLoss", "staleCache", "etcdSlow", "etcdUnavailable", "etcdCompact"] {
        assert!(!live.contains(&k), "{k} is simulated only");
    }
    let timed: Action = Partition { nodes: vec!["n".into()], duration: Some(Dur(std::time::Duration::from_secs(5))), ..Default::default() }.into();
    assert!(!timed.live(), "a partition with `for` is simulated only");
    assert!(Action::from(Partition::default()).live());
}
