//! The bundled upgrade night (`examples/upgrade-night`): every planted problem listed in its
//! `expected.tsv` is found at its file and line with the right KB entry, and nothing on the
//! thousands of ordinary lines raises an alarm above `low`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

struct Expected {
    file: String,
    line: u64,
    kb: String,
}

fn expected(root: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(root.join("expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("file\t") && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Expected {
                file: cols[0].to_string(),
                line: cols[1].parse().unwrap(),
                kb: cols[2].to_string(),
            }
        })
        .collect()
}

#[test]
fn every_planted_problem_is_found_and_ordinary_lines_stay_quiet() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/upgrade-night");
    let out = Command::cargo_bin("zkb")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["scan", "--format", "json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut at: HashMap<(String, u64), Vec<&Value>> = HashMap::new();
    for f in &findings {
        let file = f["file"].as_str().unwrap();
        let rel = file.split("upgrade-night/").nth(1).unwrap().to_string();
        at.entry((rel, f["line"].as_u64().unwrap()))
            .or_default()
            .push(f);
    }
    let expected = expected(&root);
    assert!(expected.len() > 100);
    let mut missed = Vec::new();
    for e in &expected {
        let hits = at
            .get(&(e.file.clone(), e.line))
            .cloned()
            .unwrap_or_default();
        let found = hits.iter().any(|h| {
            h["kb"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["id"] == e.kb.as_str())
        });
        if !found {
            missed.push(format!("{}:{} {}", e.file, e.line, e.kb));
        }
    }
    assert!(missed.is_empty(), "not found: {missed:#?}");
    let planted: HashSet<(String, u64)> =
        expected.iter().map(|e| (e.file.clone(), e.line)).collect();
    let alarms: Vec<String> = at
        .iter()
        .filter(|(k, _)| !planted.contains(*k))
        .flat_map(|(k, v)| v.iter().map(move |f| (k, f)))
        .filter(|(_, f)| !matches!(f["severity"].as_str(), Some("info" | "low")))
        .map(|(k, f)| format!("{}:{} {} {}", k.0, k.1, f["rule"], f["severity"]))
        .collect();
    assert!(alarms.is_empty(), "alarms on ordinary lines: {alarms:#?}");
    let hosts: HashSet<&str> = findings.iter().filter_map(|f| f["host"].as_str()).collect();
    for h in ["ldap1", "mbx1", "mbx2", "archive1", "mta1", "proxy1"] {
        assert!(hosts.contains(h), "no finding from {h}: {hosts:?}");
    }
}
