//! `zkb check`: validates the rule set and the knowledge base — YAML with file and line,
//! regexes, duplicate ids, each rule's tests run through the real matcher, KB structure and
//! cross references, and the preflight checks written as data with their tests. Prints every
//! problem and exits 1 when there is an error.

use std::collections::BTreeSet;

use anyhow::Result;

use crate::cli::{load_kb_only, Global, Outcome};
use crate::kb::LOCAL_LESSON;
use crate::matcher::Matcher;
use crate::parse::{parse, Event, TimeContext};
use crate::rules::{self, Rule};

/// What a check found.
#[derive(Default)]
pub struct Report {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub rules: usize,
    pub tests: usize,
    pub kb_entries: usize,
    /// Preflight checks written as data (`checks/`, the site's checks dir).
    pub checks: usize,
}

pub fn run(g: &Global) -> Result<Outcome> {
    let report = check(g);
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    println!(
        "{} rules, {} tests, {} KB entries, {} preflight checks: {} errors, {} warnings",
        report.rules,
        report.tests,
        report.kb_entries,
        report.checks,
        report.errors.len(),
        report.warnings.len()
    );
    Ok(Outcome {
        code: if report.errors.is_empty() { 0 } else { 1 },
    })
}

pub fn check(g: &Global) -> Report {
    let mut report = Report::default();
    let mut set = rules::load(&g.rules, g.no_default_rules, rules::Tests::Load);
    report
        .errors
        .extend(set.errors.iter().map(|e| e.to_string()));
    for (id, places) in set.duplicates() {
        report
            .errors
            .push(format!("duplicate rule id {id}: {}", places.join(", ")));
    }
    set.dedup();
    report.rules = set.rules.len();
    let matcher = Matcher::new(set.rules);
    for (i, rule) in matcher.rules.iter().enumerate() {
        check_rule(&matcher, i, rule, &mut report);
    }
    for rule in matcher.literal_free_rules() {
        report.warnings.push(format!(
            "{}:{}: rule {}: no literal text of 4 or more bytes to prefilter on; its regex is searched through all the text of its log kinds, which slows every scan",
            rule.source, rule.line, rule.id
        ));
    }
    check_kb(g, &matcher, &mut report);
    check_data_checks(&mut report);
    report
}

/// The preflight checks written as data: they load, and their `tests` give what they say.
fn check_data_checks(report: &mut Report) {
    let dirs: Vec<_> = crate::preflight::data::user_dir().into_iter().collect();
    let (checks, errors) = crate::preflight::data::load(&dirs);
    report.errors.extend(errors);
    report.checks = checks.len();
    for c in &checks {
        report.tests += 1;
        report.errors.extend(c.test());
    }
}

pub fn check_rule(matcher: &Matcher, index: usize, rule: &Rule, report: &mut Report) {
    let at = format!("{}:{}: rule {}", rule.source, rule.line, rule.id);
    let mut compile = Vec::new();
    rule.node.compile_errors(&mut compile);
    for e in compile {
        report.errors.push(format!("{at}: {e}"));
    }
    if let Some(lits) = rule.node.required() {
        if let Some(short) = lits.iter().find(|l| l.len() < 3) {
            report.warnings.push(format!(
                "{at}: literal {:?} is under 3 bytes; it makes a poor prefilter",
                String::from_utf8_lossy(short)
            ));
        }
    }
    if rule.tests.matches.is_empty() {
        report.errors.push(format!("{at}: no `match` test"));
    }
    if rule.tests.no_match.is_empty() {
        report.errors.push(format!("{at}: no `no_match` test"));
    }
    if rule.kb.is_empty() {
        report
            .errors
            .push(format!("{at}: names no KB entry (`kb:`)"));
    }
    let time = TimeContext::new(jiff::tz::TimeZone::UTC, None, None);
    for (n, t) in rule.tests.matches.iter().enumerate() {
        report.tests += 1;
        let kind = rule.test_kind(t.kind);
        let text = t.text.trim_end_matches('\n');
        let Some(expected) = &t.fields else {
            report.errors.push(format!(
                "{at}: match test {} lists no `fields` (use `fields: {{}}` when it captures none)",
                n + 1
            ));
            continue;
        };
        match run_test(matcher, index, kind, text, &time) {
            Err(why) => report.errors.push(format!(
                "{at}: match test {} does not match: {why}: {:?}",
                n + 1,
                first_line(text)
            )),
            Ok(fields) => {
                for (k, v) in expected {
                    match fields.iter().find(|(fk, _)| fk == k) {
                        Some((_, got)) if got == v => {}
                        Some((_, got)) => report.errors.push(format!(
                            "{at}: match test {}: field {k} is {got:?}, expected {v:?}",
                            n + 1
                        )),
                        None => report.errors.push(format!(
                            "{at}: match test {}: field {k} not captured",
                            n + 1
                        )),
                    }
                }
            }
        }
    }
    for (n, t) in rule.tests.no_match.iter().enumerate() {
        report.tests += 1;
        let kind = rule.test_kind(t.kind());
        let text = t.text().trim_end_matches('\n');
        if run_test(matcher, index, kind, text, &time).is_ok() {
            report.errors.push(format!(
                "{at}: no_match test {} matches: {:?}",
                n + 1,
                first_line(text)
            ));
        }
    }
}

/// Runs one test event through the same path a scan takes: prefilter, filters, match.
fn run_test(
    matcher: &Matcher,
    index: usize,
    kind: crate::kind::LogKind,
    text: &str,
    time: &TimeContext,
) -> std::result::Result<rules::Fields, &'static str> {
    let event = Event::from_bytes(kind, text.as_bytes(), 1, 0, false);
    let rule = &matcher.rules[index];
    let mut cands = Vec::new();
    matcher.candidates(kind, event.text.as_bytes(), &mut cands);
    if !cands.contains(&(index as u32)) {
        return Err("none of its literals occurs (prefilter)");
    }
    if !rule.accepts_kind(kind) {
        return Err("kind filter");
    }
    let parsed = parse(&event, time);
    if !rule.accepts_fields(&parsed) {
        return Err("levels/programs filter");
    }
    rule.node.eval(&event.text).ok_or("pattern")
}

fn first_line(s: &str) -> &str {
    let l = s.lines().next().unwrap_or("");
    &l[..l.floor_char_boundary(120)]
}

fn check_kb(g: &Global, matcher: &Matcher, report: &mut Report) {
    let kb = load_kb_only(g);
    report.kb_entries = kb.entries.len();
    report
        .errors
        .extend(kb.errors.iter().map(|e| e.to_string()));
    for (id, places) in &kb.duplicates {
        report
            .errors
            .push(format!("duplicate KB id {id}: {places}"));
    }
    let named: BTreeSet<&str> = matcher
        .rules
        .iter()
        .flat_map(|r| r.kb.iter().map(String::as_str))
        .collect();
    for rule in &matcher.rules {
        for p in &rule.probes {
            if !crate::preflight::probe::KNOWN.contains(&p.as_str()) {
                report.errors.push(format!(
                    "{}:{}: rule {}: unknown probe {p:?} (known: {})",
                    rule.source,
                    rule.line,
                    rule.id,
                    crate::preflight::probe::KNOWN.join(", ")
                ));
            }
        }
        for id in &rule.resolves {
            if !matcher.rules.iter().any(|r| &r.id == id) {
                report.errors.push(format!(
                    "{}:{}: rule {}: `resolves` names rule {id}, which does not exist",
                    rule.source, rule.line, rule.id
                ));
            }
        }
        for id in &rule.kb {
            if kb.get(id).is_none() {
                report.errors.push(format!(
                    "{}:{}: rule {}: KB entry {id} does not exist",
                    rule.source, rule.line, rule.id
                ));
            }
        }
    }
    for e in kb.entries.values() {
        for p in e.lint() {
            report.errors.push(format!("{}: {p}", e.source));
        }
        let reference_only = e.front.tags.iter().any(|t| t == "reference-only");
        let lesson = e.front.tags.iter().any(|t| t == LOCAL_LESSON);
        if !named.contains(e.id()) && lesson {
            report.warnings.push(format!(
                "{}: no loaded rule names the lesson {}",
                e.source,
                e.id()
            ));
        } else if !named.contains(e.id()) && !reference_only {
            report.errors.push(format!(
                "{}: no rule names {} (tag it `reference-only` if none should)",
                e.source,
                e.id()
            ));
        }
    }
}
