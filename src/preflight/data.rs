//! Checks written as data: YAML files under `checks/` (shipped, embedded at build time) and in
//! the site's own checks dir (`~/.config/zkb/checks`, or `/etc/zkb/checks` in system mode), so a
//! lesson learned can become a check without a rebuild. Each reads one source (a file of the
//! host, or the output of a read-only command run as the zimbra user) and fails when a regex
//! matches it (`fail_if`) or when it does not (`fail_unless`); a source that is not there is
//! no finding. Its `tests` are run by `zkb check`. The checks that need code (mount topology,
//! ports and their owners) are the other modules of [`crate::preflight`].
//!
//! ```yaml
//! - id: postfix.hash-maps
//!   title: Postfix settings name hash tables
//!   severity: high
//!   file: /opt/zimbra/common/conf/main.cf      # or command: [postconf, -n]
//!   fail_if: '(?m)^[^#\n]*\bhash:'
//!   message: what a failure means and what to do
//!   kb: [upgrade/postfix-hash-maps-lost]
//!   tests: {fail: ['x = hash:/a'], pass: ['# x = hash:/a']}
//! ```

use std::path::PathBuf;

use regex::Regex;
use serde::Deserialize;

use super::{Finding, Host, Status};
use crate::rules::Severity;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSpec {
    id: String,
    title: String,
    severity: Severity,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    fail_if: Option<String>,
    #[serde(default)]
    fail_unless: Option<String>,
    message: String,
    #[serde(default)]
    kb: Vec<String>,
    #[serde(default)]
    tests: CheckTests,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckTests {
    #[serde(default)]
    fail: Vec<String>,
    #[serde(default)]
    pass: Vec<String>,
}

enum Source {
    File(String),
    Command(Vec<String>),
}

/// A loaded data check.
pub struct DataCheck {
    pub id: String,
    title: String,
    severity: Severity,
    source: Source,
    regex: Regex,
    /// Fail when the regex matches (`fail_if`), else when it does not (`fail_unless`).
    fail_on_match: bool,
    message: String,
    kb: Vec<String>,
    tests: CheckTests,
    /// `file: line` of its id.
    pub place: String,
}

impl DataCheck {
    /// Whether the source's text fails the check.
    fn fails(&self, text: &str) -> bool {
        self.regex.is_match(text) == self.fail_on_match
    }

    /// Its tests: what each `fail` and `pass` example gives, the wrong ones as messages.
    pub fn test(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        for t in &self.tests.fail {
            if !self.fails(t) {
                wrong.push(format!("{}: {}: should fail on {t:?}", self.place, self.id));
            }
        }
        for t in &self.tests.pass {
            if self.fails(t) {
                wrong.push(format!("{}: {}: should pass on {t:?}", self.place, self.id));
            }
        }
        if self.tests.fail.is_empty() {
            wrong.push(format!(
                "{}: {}: needs a `tests: fail:` example",
                self.place, self.id
            ));
        }
        wrong
    }
}

fn compile(spec: CheckSpec, place: String) -> Result<DataCheck, String> {
    let err = |m: String| format!("{place}: check {}: {m}", spec.id);
    let source = match (spec.file, spec.command) {
        (Some(f), None) => Source::File(f),
        (None, Some(c)) if !c.is_empty() => Source::Command(c),
        _ => return Err(err("needs exactly one of `file` or `command`".into())),
    };
    let (pattern, fail_on_match) = match (spec.fail_if, spec.fail_unless) {
        (Some(p), None) => (p, true),
        (None, Some(p)) => (p, false),
        _ => return Err(err("needs exactly one of `fail_if` or `fail_unless`".into())),
    };
    let regex = Regex::new(&pattern).map_err(|e| err(format!("bad regex: {e}")))?;
    Ok(DataCheck {
        id: spec.id,
        title: spec.title,
        severity: spec.severity,
        source,
        regex,
        fail_on_match,
        message: spec.message,
        kb: spec.kb,
        tests: spec.tests,
        place,
    })
}

/// The checks of one YAML text; errors name the file and line.
fn parse(name: &str, text: &str) -> (Vec<DataCheck>, Vec<String>) {
    let specs: Vec<CheckSpec> = match serde_yaml_ng::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let line = e.location().map_or(0, |l| l.line());
            return (Vec::new(), vec![format!("{name}: line {line}: {e}")]);
        }
    };
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    for spec in specs {
        let line = text
            .lines()
            .position(|l| l.trim_start_matches("- ").trim() == format!("id: {}", spec.id))
            .map_or(0, |i| i + 1);
        match compile(spec, format!("{name}:{line}")) {
            Ok(c) => checks.push(c),
            Err(e) => errors.push(e),
        }
    }
    (checks, errors)
}

/// The shipped checks and those of `dirs` (missing dirs are fine); a file that does not load is
/// an error, and the others still load.
pub fn load(dirs: &[PathBuf]) -> (Vec<DataCheck>, Vec<String>) {
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in crate::embedded::CHECKS {
        let (c, e) = parse(path, text);
        checks.extend(c);
        errors.extend(e);
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => {
                    let (c, e) = parse(&f.display().to_string(), &text);
                    checks.extend(c);
                    errors.extend(e);
                }
                Err(e) => errors.push(format!("{}: {e}", f.display())),
            }
        }
    }
    (checks, errors)
}

/// A string that lives for the run (preflight's findings name their check with `&'static`).
fn keep(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Runs the checks on the host: a finding for each whose source is there.
pub fn run(host: &Host, checks: &[DataCheck]) -> Vec<Finding> {
    checks.iter().filter_map(|c| run_one(host, c)).collect()
}

fn run_one(host: &Host, c: &DataCheck) -> Option<Finding> {
    let (text, subject) = match &c.source {
        Source::File(f) => (host.read(f)?, f.clone()),
        Source::Command(cmd) => {
            let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
            (host.zimbra_command(&cmd[0], &args)?, cmd.join(" "))
        }
    };
    let failed = c.fails(&text);
    Some(Finding {
        check: keep(&c.id),
        status: if failed { Status::Fail } else { Status::Pass },
        severity: if failed { c.severity.as_str() } else { "info" },
        subject,
        message: if failed {
            format!("{}: {}", c.title, c.message)
        } else {
            format!("{}: not the case", c.title)
        },
        kb: c.kb.iter().map(|k| keep(k)).collect(),
    })
}

/// The checks dir of the site (for `zkb check` and preflight).
pub fn user_dir() -> Option<PathBuf> {
    crate::state::config_dir("checks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_checks_load_and_pass_their_tests() {
        let (checks, errors) = load(&[]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!checks.is_empty());
        for c in &checks {
            assert!(c.test().is_empty(), "{:?}", c.test());
        }
    }

    #[test]
    fn a_broken_file_names_its_line_and_the_rest_loads() {
        let (checks, errors) = parse(
            "mine.yaml",
            "- id: a.b\n  title: t\n  severity: high\n  file: /etc/x\n  message: m\n",
        );
        assert!(checks.is_empty());
        assert_eq!(
            errors,
            ["mine.yaml:1: check a.b: needs exactly one of `fail_if` or `fail_unless`"]
        );
        let (_, errors) = parse("bad.yaml", "- id: [\n");
        assert!(errors[0].starts_with("bad.yaml: line "), "{errors:?}");
    }
}
