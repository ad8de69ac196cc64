//! Quality of rules, KB and search, measured on `tests/eval/`: real lines from public sources
//! labelled with the KB entry that answers them, ordinary lines that must stay quiet, and
//! symptoms in an admin's words. Prints detection, right-KB rate, false alarms and recall@3
//! (the figures recorded in BENCHMARKS.md) and fails when they fall below the floors here.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;
use zkb::kb::Kb;
use zkb::kind::LogKind;
use zkb::matcher::{Matcher, RuleHit};
use zkb::parse::{parse, Event, TimeContext};
use zkb::rules::{RuleSet, Severity};
use zkb::search::{mask_variables, KbIndex};

fn load(name: &str) -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/eval")
        .join(name);
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn matcher() -> Matcher {
    let mut set = RuleSet::embedded();
    assert!(set.errors.is_empty());
    set.dedup();
    Matcher::new(set.rules)
}

fn hits(m: &Matcher, v: &Value) -> Vec<RuleHit> {
    let kind = LogKind::parse(v["kind"].as_str().unwrap()).unwrap();
    let text = v["text"].as_str().unwrap();
    let event = Event::from_bytes(kind, text.as_bytes(), 1, 0, false);
    let time = TimeContext::new(jiff::tz::TimeZone::UTC, None, None);
    let parsed = parse(&event, &time);
    let mut cands = Vec::new();
    m.candidates(kind, event.text.as_bytes(), &mut cands);
    let mut out = Vec::new();
    m.confirm(&event, &parsed, &cands, &mut out);
    out
}

fn pct(n: usize, d: usize) -> f64 {
    100.0 * n as f64 / d.max(1) as f64
}

#[test]
fn eval_lines_are_not_rule_tests() {
    let m = matcher();
    let mut templates = HashSet::new();
    for r in &m.rules {
        for t in &r.tests.matches {
            templates.insert(mask_variables(t.text.trim_end()));
        }
    }
    let mut same = Vec::new();
    for v in load("problems.jsonl")
        .iter()
        .chain(load("ordinary.jsonl").iter())
    {
        let t = mask_variables(v["text"].as_str().unwrap().trim_end());
        if templates.contains(&t) {
            if std::env::var_os("ZKB_EVAL_DUMP").is_some() {
                println!("SAME\t{}", serde_json::to_string(&v["text"]).unwrap());
            }
            same.push(t);
        }
    }
    assert!(
        same.is_empty(),
        "eval lines with the template of a rule test: {same:#?}"
    );
}

#[test]
fn quality_figures() {
    let m = matcher();
    let problems = load("problems.jsonl");
    let ordinary = load("ordinary.jsonl");
    let queries = load("queries.jsonl");
    let (mut detected, mut right_kb) = (0, 0);
    let (mut real, mut real_right) = (0, 0);
    let mut misses = Vec::new();
    for v in &problems {
        let hs = hits(&m, v);
        let want = v["kb"].as_str().unwrap();
        if !hs.is_empty() {
            detected += 1;
        }
        let is_real = v["note"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("real");
        real += usize::from(is_real);
        if hs
            .iter()
            .any(|h| m.rules[h.rule].kb.iter().any(|k| k == want))
        {
            right_kb += 1;
            real_right += usize::from(is_real);
        } else {
            let got: Vec<&str> = hs.iter().map(|h| m.rules[h.rule].id.as_str()).collect();
            misses.push(format!(
                "{want} <- {:?} got {got:?}",
                &v["text"].as_str().unwrap().lines().next().unwrap_or("")
            ));
        }
    }
    let mut alarms = Vec::new();
    for v in &ordinary {
        for h in hits(&m, v) {
            if m.rules[h.rule].severity > Severity::Low {
                alarms.push(format!(
                    "{} on {:?}",
                    m.rules[h.rule].id,
                    v["text"].as_str().unwrap()
                ));
            }
        }
    }
    let kb = Kb::embedded();
    let index = KbIndex::open(&kb, None).unwrap();
    let mut found = 0;
    let mut search_misses = Vec::new();
    for q in &queries {
        let text = q["query"].as_str().unwrap();
        let top = index.search(text, 3).unwrap();
        if top.iter().any(|h| h.id == q["kb"].as_str().unwrap()) {
            found += 1;
        } else {
            search_misses.push(format!(
                "{text:?} -> {:?} (want {})",
                top.iter().map(|h| &h.id).collect::<Vec<_>>(),
                q["kb"]
            ));
        }
    }
    let detection = pct(detected, problems.len());
    let right = pct(right_kb, problems.len());
    let false_alarms = pct(alarms.len(), ordinary.len());
    let recall = pct(found, queries.len());
    println!(
        "eval: {} problem events, {} ordinary events, {} queries",
        problems.len(),
        ordinary.len(),
        queries.len()
    );
    println!("eval: detection {detection:.1}%  right KB {right:.1}%  false alarms {false_alarms:.1}%  search recall@3 {recall:.1}%");
    println!(
        "eval: lines copied verbatim from a real admin's log (notes say real): {real}, right KB {:.1}%",
        pct(real_right, real)
    );
    for x in misses.iter().chain(&alarms).chain(&search_misses) {
        println!("eval miss: {x}");
    }
    // Floors: the figures measured when the set was added (see BENCHMARKS.md); the targets are
    // detection 95%, right KB 90%, false alarms under 2%, recall@3 90%.
    assert!(detection >= 85.0, "detection {detection:.1}%");
    assert!(right >= 80.0, "right KB {right:.1}%");
    assert!(
        false_alarms < 2.0,
        "false alarms {false_alarms:.1}%: {alarms:#?}"
    );
    assert!(recall >= 70.0, "recall@3 {recall:.1}%");
}
