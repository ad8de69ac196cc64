//! `zkb unknown`'s grouping: warning and error events that no rule matched, grouped by the
//! shape of their message ([`super::template`]), then — in the spirit of the Drain log-template
//! algorithm — templates of the same length and first word that differ in one position only are
//! merged when that position takes at least [`MIN_VALUES`] different words (a user name without
//! digits, a queue name), with `<*>` there. Two wordings that differ in one word seen only once
//! or twice each ("refused" against "accepted") stay apart: they are different problems.
//! Deterministic: the same events give the same groups in the same order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::template::template;
use crate::scan::Finding;

/// Different words a position must take before it is treated as variable.
pub const MIN_VALUES: usize = 3;

/// One group of events of one shape.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub template: String,
    pub count: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Option<Timestamp>,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Option<Timestamp>,
    pub hosts: BTreeSet<String>,
    pub kind: String,
    pub level: Option<String>,
    pub example: Example,
}

/// The first event seen of a group.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    pub file: String,
    pub line: u64,
    pub text: String,
}

fn ser_ts<S: serde::Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&t.to_string()),
        None => s.serialize_none(),
    }
}

/// The shape of an event: its message and, when there is one, the first continuation line that
/// is not a stack frame (where Java puts the exception and its message).
pub fn event_template(f: &Finding) -> String {
    match super::exception_line(&f.text) {
        Some(s) => format!("{} | {}", template(&f.parsed.message), template(s)),
        None => template(&f.parsed.message),
    }
}

/// Collects unknown events into groups.
#[derive(Default)]
pub struct Grouper {
    index: HashMap<String, usize>,
    groups: Vec<Group>,
}

impl Grouper {
    pub fn add(&mut self, f: &Finding) {
        let key = event_template(f);
        let ts = f.parsed.ts.as_ref().map(|z| z.timestamp());
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.groups.push(Group {
                    template: key.clone(),
                    count: 0,
                    first_seen: None,
                    last_seen: None,
                    hosts: BTreeSet::new(),
                    kind: f.kind.to_string(),
                    level: f.parsed.level.clone(),
                    example: Example {
                        file: f.file.clone(),
                        line: f.line,
                        text: f.text.clone(),
                    },
                });
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[i];
        g.count += 1;
        if let Some(t) = ts {
            g.first_seen = Some(g.first_seen.map_or(t, |s| s.min(t)));
            g.last_seen = Some(g.last_seen.map_or(t, |s| s.max(t)));
        }
        if let Some(h) = &f.host {
            if !g.hosts.contains(h) {
                g.hosts.insert(h.clone());
            }
        }
    }

    /// The groups, similar templates merged, most frequent first (then by template).
    pub fn finish(self) -> Vec<Group> {
        let mut groups = merge_similar(self.groups);
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template.cmp(&b.template))
        });
        groups
    }
}

/// Merges the templates that differ in one position holding at least [`MIN_VALUES`] words.
fn merge_similar(mut groups: Vec<Group>) -> Vec<Group> {
    groups.sort_by(|a, b| a.template.cmp(&b.template));
    loop {
        let Some(merge) = find_merge(&groups) else {
            return groups;
        };
        groups = apply_merge(groups, &merge);
    }
}

/// A set of groups to merge and the template they become.
struct Merge {
    members: Vec<usize>,
    template: String,
}

fn find_merge(groups: &[Group]) -> Option<Merge> {
    let tokens: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.template.split(' ').collect())
        .collect();
    let longest = tokens.iter().map(Vec::len).max().unwrap_or(0);
    // The first position that joins enough templates wins; positions go left to right, and
    // within one, blanked templates in sorted order, so the result does not depend on hashing.
    for p in 1..longest {
        let mut by_rest: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for (i, t) in tokens.iter().enumerate() {
            if t.len() > p && t[p] != "<*>" {
                let mut rest = t.clone();
                rest[p] = "<*>";
                by_rest.entry(rest).or_default().push(i);
            }
        }
        for (rest, members) in by_rest {
            let words: BTreeSet<&str> = members.iter().map(|&i| tokens[i][p]).collect();
            if words.len() >= MIN_VALUES {
                return Some(Merge {
                    members,
                    template: rest.join(" "),
                });
            }
        }
    }
    None
}

fn apply_merge(groups: Vec<Group>, merge: &Merge) -> Vec<Group> {
    let mut merged: Option<Group> = None;
    let mut rest = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        if !merge.members.contains(&i) {
            rest.push(g);
            continue;
        }
        merged = Some(match merged {
            None => Group {
                template: merge.template.clone(),
                ..g
            },
            Some(mut m) => {
                m.count += g.count;
                m.first_seen = min_opt(m.first_seen, g.first_seen, true);
                m.last_seen = min_opt(m.last_seen, g.last_seen, false);
                m.hosts.extend(g.hosts);
                if (g.example.file.as_str(), g.example.line)
                    < (m.example.file.as_str(), m.example.line)
                {
                    m.example = g.example;
                }
                m
            }
        });
    }
    rest.extend(merged);
    rest.sort_by(|a, b| a.template.cmp(&b.template));
    rest
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>, min: bool) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if min { a.min(b) } else { a.max(b) }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(template: &str, count: u64) -> Group {
        Group {
            template: template.into(),
            count,
            first_seen: None,
            last_seen: None,
            hosts: BTreeSet::new(),
            kind: "mailbox".into(),
            level: Some("ERROR".into()),
            example: Example {
                file: "f".into(),
                line: count,
                text: template.into(),
            },
        }
    }

    #[test]
    fn a_word_with_many_values_is_merged_and_one_with_two_is_not() {
        let merged = merge_similar(vec![
            group("queue alpha stalled", 1),
            group("queue beta stalled", 2),
            group("queue gamma stalled", 3),
            group("lease refused for <id>", 4),
            group("lease accepted for <id>", 5),
        ]);
        let t: Vec<(&str, u64)> = merged
            .iter()
            .map(|g| (g.template.as_str(), g.count))
            .collect();
        assert_eq!(
            t,
            [
                ("lease accepted for <id>", 5),
                ("lease refused for <id>", 4),
                ("queue <*> stalled", 6)
            ]
        );
        assert_eq!(merged[2].example.line, 1, "the earliest example is kept");
    }
}
