use super::*;

fn names(v: &[Arc<dyn Plugin>]) -> Vec<String> {
    v.iter().map(|p| p.name().to_string()).collect()
}

fn scores(p: &Profile) -> Vec<(String, i64)> {
    p.score.iter().map(|(p, w)| (p.name().to_string(), *w)).collect()
}

const HEAD: &str = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

#[test]
fn default_profile_matches_kube_scheduler() {
    let c = SchedulerConfig::default_config();
    let p = c.profile("default-scheduler").unwrap();
    assert_eq!(names(&p.pre_enqueue), vec!["SchedulingGates"]);
    assert_eq!(p.queue_sort.as_ref().map(|q| q.name().to_string()), Some("PrioritySort".into()));
    assert_eq!(names(&p.pre_filter), vec!["NodePorts", "PodTopologySpread", "InterPodAffinity"]);
    assert_eq!(
        names(&p.filter),
        vec!["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
    );
    assert_eq!(names(&p.post_filter), vec!["DefaultPreemption"]);
    assert_eq!(
        scores(p),
        vec![
            ("TaintToleration".into(), 3),
            ("NodeAffinity".into(), 2),
            ("NodeResourcesFit".into(), 1),
            ("PodTopologySpread".into(), 2),
            ("InterPodAffinity".into(), 2),
            ("NodeResourcesBalancedAllocation".into(), 1),
            ("ImageLocality".into(), 1),
        ]
    );
    assert_eq!(names(&p.bind), vec!["DefaultBinder"]);
    assert_eq!((c.pod_initial_backoff_s, c.pod_max_backoff_s), (1, 10));
}

#[test]
fn star_disables_all_then_one_plugin_is_enabled() {
    let text = format!(
        "{HEAD}profiles:\n- schedulerName: only-taints\n  plugins:\n    multiPoint:\n      enabled: [{{name: PrioritySort}}, {{name: DefaultBinder}}]\n      disabled: [{{name: '*'}}]\n    filter:\n      enabled: [{{name: TaintToleration}}]\n    score:\n      enabled: [{{name: TaintToleration, weight: 7}}]\n"
    );
    let c = parse(&text, "c.yaml").unwrap();
    let p = c.profile("only-taints").unwrap();
    assert_eq!(names(&p.filter), vec!["TaintToleration"]);
    assert_eq!(scores(p), vec![("TaintToleration".into(), 7)]);
    assert!(p.pre_filter.is_empty() && p.post_filter.is_empty());
}

#[test]
fn several_profiles_and_plugin_args() {
    let text = format!(
        "{HEAD}percentageOfNodesToScore: 30\nprofiles:\n- schedulerName: default-scheduler\n- schedulerName: bin-packing\n  percentageOfNodesToScore: 100\n  plugins:\n    score:\n      disabled: [{{name: NodeResourcesBalancedAllocation}}]\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: MostAllocated\n        resources: [{{name: cpu, weight: 1}}, {{name: memory, weight: 1}}]\n"
    );
    let c = parse(&text, "c.yaml").unwrap();
    assert_eq!(c.percentage_of_nodes_to_score, Some(30));
    assert_eq!(c.profiles.len(), 2);
    let bp = c.profile("bin-packing").unwrap();
    assert_eq!(bp.percentage_of_nodes_to_score, Some(100));
    assert!(!scores(bp).iter().any(|(n, _)| n == "NodeResourcesBalancedAllocation"));
    assert!(scores(c.profile("default-scheduler").unwrap()).iter().any(|(n, _)| n == "NodeResourcesBalancedAllocation"));
}

#[test]
fn errors_name_file_line_and_column() {
    let e = parse(&format!("{HEAD}profiles:\n- plugins:\n    filter:\n      enabled: [{{name: NodeResourcesFitt}}]\n"), "c.yaml").err().unwrap();
    assert_eq!((e.file.as_str(), e.line), ("c.yaml", 6), "{e}");
    assert!(e.message.contains("unknown plugin \"NodeResourcesFitt\""), "{e}");
    let e = parse(&format!("{HEAD}profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy: {{type: LeastAllocated}}\n      ignoredResourcez: [x]\n"), "c.yaml").err().unwrap();
    assert_eq!(e.line, 8, "{e}");
    assert!(e.message.contains("unknown field `ignoredResourcez`"), "{e}");
    let e = parse(&format!("{HEAD}profiles:\n- plugins:\n    score:\n      enabled: [{{name: NodeName}}]\n"), "c.yaml").err().unwrap();
    assert!(e.message.contains("plugin \"NodeName\" does not extend score"), "{e}");
    let e = parse(&format!("{HEAD}profiles:\n- plugins:\n    score:\n      enabled: [{{name: ImageLocality, weight: 0}}]\n"), "c.yaml").err().unwrap();
    assert!(e.message.contains("plugin weight must be in range [1, 100]"), "{e}");
    let e = parse(&format!("{HEAD}profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {{scoringStrategy: {{resources: [{{name: cpu, weight: 101}}]}}}}\n"), "c.yaml").err().unwrap();
    assert!(e.message.contains("scoringStrategy.resources[0].weight: Invalid value: 101"), "{e}");
    let e = parse(&format!("{HEAD}profiles:\n- schedulerName: a\n- schedulerName: a\n"), "c.yaml").err().unwrap();
    assert!(e.message.contains("Duplicate value: \"a\""), "{e}");
    let e = parse("apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n", "c.yaml").err().unwrap();
    assert_eq!(e.line, 1);
    let e = parse(&format!("{HEAD}profilez: []\n"), "c.yaml").err().unwrap();
    assert!(e.message.contains("unknown field `profilez`"), "{e}");
}
