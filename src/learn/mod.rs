//! Lessons learned: turning one log event into a rule (`zkb learn`) and showing the events no
//! rule knows yet (`zkb unknown`). This module owns the derivation: the event's message cut
//! into constant words and variable parts ([`template`]), the regex with a named capture per
//! variable part, the rule file with its match and no_match tests, and the KB note skeleton;
//! [`unknown`] owns the grouping of unknown events. The CLI (`cli::learn`) reads logs and files.

pub mod template;
pub mod unknown;

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::framing::frame_all;
use crate::kind::LogKind;
use crate::parse::{normalize_level, parse, Event, Parsed, TimeContext};
use crate::rules::Severity;
use template::{capture_names, pieces, Piece};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LearnError {
    #[error("the event is empty: give a log line (or - to read it from stdin)")]
    Empty,
    #[error("nothing in {0:?} is constant: every word looks like a value (number, id, address, path), so no rule can tell this event from others")]
    NothingConstant(String),
    #[error("rule id {id:?} is already taken by {place}; choose another with --id")]
    IdTaken { id: String, place: String },
    #[error("rule id {0:?} is not valid: use lower-case words, digits, '.', '-' and '_', with at least one '.' (local.frobnicator-lease)")]
    BadId(String),
}

/// A rule derived from one event.
#[derive(Clone, Debug)]
pub struct Derived {
    /// The whole event, as the rule's match test.
    pub text: String,
    pub kind: LogKind,
    pub level: Option<String>,
    pub regex: String,
    /// The capture names and the values they take in this event.
    pub fields: Vec<(String, String)>,
    /// The constant words of the matched line, for naming and for finding near misses.
    pub words: Vec<String>,
    /// The matched line with its variable parts as placeholders.
    pub template: String,
}

/// Constant words a line needs to be a usable anchor.
const MIN_CONSTANT_WORDS: usize = 1;

/// Derives a rule from the first event of `text` (read as `kind`, or as sniffed).
pub fn derive(text: &str, kind: Option<LogKind>) -> Result<Derived, LearnError> {
    let text = text.trim_matches(|c| c == '\n' || c == '\r');
    if text.trim().is_empty() {
        return Err(LearnError::Empty);
    }
    let kind = kind.unwrap_or_else(|| LogKind::sniff(text.as_bytes()));
    let (span, bytes) = frame_all(text.as_bytes(), kind, 1 << 16)
        .into_iter()
        .next()
        .ok_or(LearnError::Empty)?;
    let event = Event::from_bytes(kind, &bytes, span.line, span.offset, span.truncated);
    let parsed = parse(
        &event,
        &TimeContext::new(jiff::tz::TimeZone::UTC, None, None),
    );
    let line = anchor_line(&event, &parsed);
    let ps = pieces(line);
    let words = constant_words(&ps);
    if words.len() < MIN_CONSTANT_WORDS {
        return Err(LearnError::NothingConstant(line.to_string()));
    }
    let names = capture_names(&ps);
    let (regex, fields) = regex_of(&ps, &names);
    Ok(Derived {
        text: event.text.trim_end().to_string(),
        kind,
        level: parsed.level.as_deref().map(normalize_level),
        regex,
        fields,
        words,
        template: template::template(line),
    })
}

/// The line the rule anchors on: the message, unless it has fewer constant words than the
/// first continuation line that is not a stack frame (Java's exception line).
fn anchor_line<'a>(event: &'a Event<'_>, parsed: &'a Parsed) -> &'a str {
    let message = parsed.message.trim();
    let message = if message.is_empty() {
        event.text.lines().next().unwrap_or("").trim()
    } else {
        message
    };
    match exception_line(&event.text) {
        Some(s)
            if constant_words(&pieces(message)).len() < 2
                && constant_words(&pieces(s)).len() > constant_words(&pieces(message)).len() =>
        {
            // A continuation line is a slice of the event text, which outlives `parsed` too.
            s
        }
        _ => message,
    }
}

/// The first continuation line of an event that is not a stack frame: where Java puts the
/// exception and its message.
pub fn exception_line(text: &str) -> Option<&str> {
    text.lines()
        .skip(1)
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("at "))
}

/// The constant words of 3 or more letters.
fn constant_words(ps: &[Piece<'_>]) -> Vec<String> {
    ps.iter()
        .filter_map(|p| match p {
            Piece::Const(c) => Some(c.trim_matches(|c: char| !c.is_alphanumeric())),
            _ => None,
        })
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3)
        .map(str::to_string)
        .collect()
}

fn regex_of(ps: &[Piece<'_>], names: &[String]) -> (String, Vec<(String, String)>) {
    let start = ps.iter().position(|p| *p != Piece::Space).unwrap_or(0);
    let end = ps
        .iter()
        .rposition(|p| *p != Piece::Space)
        .map_or(0, |e| e + 1);
    let mut regex = String::new();
    let mut fields = Vec::new();
    let mut names = names.iter();
    for p in &ps[start..end.max(start)] {
        match p {
            Piece::Const(c) => regex.push_str(&regex::escape(c)),
            Piece::Space => regex.push_str(r"\s+"),
            Piece::Var(v, value) => {
                let name = names.next().cloned().unwrap_or_else(|| "v".into());
                regex.push_str(&format!("(?P<{name}>{})", v.pattern()));
                fields.push((name, value.to_string()));
            }
        }
    }
    (regex, fields)
}

/// A rule id from the constant words: `local.` and the first few words, lower-case.
pub fn suggested_id(d: &Derived) -> String {
    let words: Vec<String> = d
        .words
        .iter()
        .take(4)
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect();
    format!("local.{}", words.join("-"))
}

/// Whether `id` is a usable rule id.
pub fn check_id(id: &str) -> Result<(), LearnError> {
    let ok = id.contains('.')
        && !id.starts_with('.')
        && !id.ends_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LearnError::BadId(id.to_string()))
    }
}

/// The KB id of a rule's lesson note: `local/` and the id without its `local.` prefix.
pub fn kb_id_for(rule_id: &str) -> String {
    format!(
        "local/{}",
        rule_id
            .strip_prefix("local.")
            .unwrap_or(rule_id)
            .replace('.', "-")
    )
}

/// What the rule file says besides the derivation.
pub struct RuleMeta<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub severity: Severity,
    pub kb: &'a [String],
    /// A near miss for the `no_match` test.
    pub near_miss: &'a str,
    /// Where the event came from, for the file's comment.
    pub origin: &'a str,
}

#[derive(Serialize)]
struct RuleFile<'a> {
    id: &'a str,
    title: &'a str,
    severity: &'a str,
    tags: Vec<&'a str>,
    kinds: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    levels: Vec<String>,
    #[serde(rename = "match")]
    matcher: BTreeMap<&'a str, &'a str>,
    kb: &'a [String],
    tests: TestsFile<'a>,
}

#[derive(Serialize)]
struct TestsFile<'a> {
    #[serde(rename = "match")]
    matches: Vec<MatchTestFile<'a>>,
    no_match: Vec<NoMatchFile<'a>>,
}

#[derive(Serialize)]
struct MatchTestFile<'a> {
    text: &'a str,
    fields: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct NoMatchFile<'a> {
    text: &'a str,
}

/// The YAML of the rule file (one rule in a list), with a comment saying where it came from.
pub fn rule_yaml(d: &Derived, m: &RuleMeta<'_>) -> String {
    let file = [RuleFile {
        id: m.id,
        title: m.title,
        severity: m.severity.as_str(),
        tags: vec!["local", "learned"],
        kinds: vec![d.kind.as_str()],
        levels: d.level.iter().cloned().collect(),
        matcher: BTreeMap::from([("regex", d.regex.as_str())]),
        kb: m.kb,
        tests: TestsFile {
            matches: vec![MatchTestFile {
                text: &d.text,
                fields: d
                    .fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            }],
            no_match: vec![NoMatchFile { text: m.near_miss }],
        },
    }];
    let body = serde_yaml_ng::to_string(&file).unwrap_or_default();
    format!(
        "# Learned with `zkb learn` from {}.\n# Edit freely: `zkb check` runs its tests, and a running `zkb watch` reloads it.\n{body}",
        m.origin.replace('\n', " ")
    )
}

/// A line like the event's that the rule must not match: its longest constant word replaced.
pub fn synthetic_near_miss(d: &Derived) -> Option<String> {
    let word = d
        .words
        .iter()
        .max_by_key(|w| (w.len(), std::cmp::Reverse(w.as_str())))?;
    let replacement = if word.eq_ignore_ascii_case("other") {
        "another"
    } else {
        "other"
    };
    Some(d.text.replacen(word.as_str(), replacement, 1))
}

/// The skeleton of the lesson's KB note, for the admin to fill in.
pub fn kb_note(kb_id: &str, title: &str, d: &Derived, origin: &str) -> String {
    let signature = &d.template;
    let first = d.text.lines().next().unwrap_or("");
    format!(
        "---\nid: {kb_id}\ntitle: {title}\ncomponents: [local]\ntags: [local-lesson]\nversions: all\nreferences:\n  - {origin}\nsignatures:\n  - {sig}\n---\n\n\
## Symptoms\n\nThis event was seen (learned with `zkb learn` from {origin_text}):\n\n```\n{first}\n```\n\n\
## Cause\n\nNot written yet: what caused it here.\n\n\
## Fix\n\n1. Not written yet: the exact commands, and the user who runs them (root or zimbra).\n\n\
## Verify\n\nNot written yet: how to tell that the fix worked (a command and what it prints).\n",
        title = yaml_scalar(title),
        origin = yaml_scalar(origin),
        origin_text = origin.replace('\n', " "),
        sig = yaml_scalar(signature),
    )
}

/// A YAML scalar, quoted.
fn yaml_scalar(s: &str) -> String {
    serde_yaml_ng::to_string(&s)
        .map(|y| y.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const L1: &str = "2025-03-02 09:14:07,511 ERROR [MailboxPurge] [name=ann@example.com;mid=41;] purge - Frobnicator quota shard 17 refused lease for volume hsm-archive-3 after 5000 ms";

    #[test]
    fn the_regex_keeps_constant_words_and_captures_the_rest() {
        let d = derive(L1, None).unwrap();
        assert_eq!(d.kind, LogKind::Mailbox);
        assert_eq!(d.level.as_deref(), Some("ERROR"));
        let names: Vec<&str> = d.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["shard", "volume", "ms"]);
        let re = regex::Regex::new(&d.regex).unwrap();
        let other =
            "Frobnicator quota shard 4 refused lease for volume hsm-archive-12 after 12000 ms";
        let caps = re.captures(other).unwrap();
        assert_eq!(&caps["volume"], "hsm-archive-12");
        assert!(!re.is_match("Frobnicator quota shard 4 accepted lease for volume hsm-archive-12"));
        assert_eq!(suggested_id(&d), "local.frobnicator-quota-shard-refused");
    }

    #[test]
    fn empty_and_all_variable_lines_are_refused() {
        assert_eq!(derive(" \n", None).unwrap_err(), LearnError::Empty);
        assert!(matches!(
            derive("12 10.0.0.1 /opt/x 4f1a2b3c9d", None),
            Err(LearnError::NothingConstant(_))
        ));
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("local.frobnicator-lease").is_ok());
        assert!(check_id("Local Frob").is_err());
        assert!(check_id("nodot").is_err());
        assert_eq!(kb_id_for("local.frob.lease"), "local/frob-lease");
    }

    #[test]
    fn the_near_miss_changes_a_constant_word() {
        let d = derive(L1, None).unwrap();
        let miss = synthetic_near_miss(&d).unwrap();
        assert_ne!(miss, d.text);
        assert!(!regex::Regex::new(&d.regex).unwrap().is_match(&miss));
    }
}
