//! `kubesim compare` on a shipped policy study: the table, compare.csv and the plot.

use std::process::Command;

#[test]
fn compare_prints_table_and_writes_csv_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args([
            "compare",
            "scenarios/policy-binpack-vs-spread.yaml",
            "--config",
            "scenarios/schedulers/least-allocated.yaml",
            "--config",
            "scenarios/schedulers/most-allocated.yaml",
            "--seeds",
            "1..2",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    for row in ["pods unschedulable", "scheduling latency p99 (s)", "cpu utilisation, fullest node", "free cpu fragmentation", "zone spread skew (pods)", "preemptions"] {
        assert!(out.contains(row), "{row} missing from:\n{out}");
    }
    let mut r = csv::Reader::from_path(dir.path().join("compare.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 4, "two configs × two seeds");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let unsched = |cfg: &str| rows.iter().filter(|r| &r[col("config")] == cfg).map(|r| r[col("unschedulable")].parse::<u64>().unwrap()).sum::<u64>();
    assert!(unsched("most-allocated") < unsched("least-allocated"), "bin-packing leaves room for the large batch pods");
    let svg = std::fs::read_to_string(dir.path().join("compare.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("least-allocated") && svg.contains("<rect"));
}
