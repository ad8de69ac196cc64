//! "What is new since the upgrade": the counts of two time windows compared per rule (or
//! unknown template) and host. A subject absent before is NEW, one absent after is GONE, one
//! whose hourly rate moved by at least [`FOLD_RATIO`] (and by at least [`MIN_CHANGE`]
//! occurrences) is ×N; the rest — chronic errors at their usual rate — are folded away.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rules::Severity;
use crate::store::counts::{Count, Subject};

/// A rate must grow or shrink by this factor to be reported.
pub const FOLD_RATIO: f64 = 2.0;
/// …and by this many occurrences against what the old rate predicts, so that 1 against 2
/// is not news.
pub const MIN_CHANGE: f64 = 3.0;

/// How a subject changed.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
pub enum Change {
    New,
    Up(f64),
    Gone,
    Down(f64),
    Same,
}

impl Change {
    fn order(self) -> u8 {
        match self {
            Change::New => 0,
            Change::Up(_) => 1,
            Change::Gone => 2,
            Change::Down(_) => 3,
            Change::Same => 4,
        }
    }

    /// `NEW`, `GONE`, `×3.5`, `×0.2`, `same`.
    pub fn label(self) -> String {
        match self {
            Change::New => "NEW".into(),
            Change::Gone => "GONE".into(),
            Change::Up(r) | Change::Down(r) => format!("×{}", round(r)),
            Change::Same => "same".into(),
        }
    }
}

fn round(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// One subject on one host, before and after.
#[derive(Clone, Debug)]
pub struct Row {
    pub subject: Subject,
    pub host: Option<String>,
    pub title: String,
    pub severity: String,
    pub before: i64,
    pub after: i64,
    pub before_per_hour: f64,
    pub after_per_hour: f64,
    /// Incidents (or unknown groups) the after-window occurrences belong to.
    pub incidents_after: i64,
    pub change: Change,
}

/// Compares the counts of a window of `before_hours` with one of `after_hours`; rows in the
/// order to show them: NEW, rising, GONE, falling, same; then by severity and count.
pub fn compare(before: &[Count], before_hours: f64, after: &[Count], after_hours: f64) -> Vec<Row> {
    type Key = (Subject, Option<String>);
    let mut both: BTreeMap<Key, (Option<&Count>, Option<&Count>)> = BTreeMap::new();
    for c in before {
        both.entry((c.subject.clone(), c.host.clone()))
            .or_default()
            .0 = Some(c);
    }
    for c in after {
        both.entry((c.subject.clone(), c.host.clone()))
            .or_default()
            .1 = Some(c);
    }
    let mut rows: Vec<Row> = both
        .into_iter()
        .map(|((subject, host), (b, a))| {
            let any = a.or(b).expect("one side is there");
            let (nb, na) = (b.map_or(0, |c| c.count), a.map_or(0, |c| c.count));
            let (rb, ra) = (
                nb as f64 / before_hours.max(1e-9),
                na as f64 / after_hours.max(1e-9),
            );
            Row {
                subject,
                host,
                title: any.title.clone(),
                severity: any.severity.clone(),
                before: nb,
                after: na,
                before_per_hour: rb,
                after_per_hour: ra,
                incidents_after: a.map_or(0, |c| c.groups),
                change: change(nb, na, rb, ra, after_hours),
            }
        })
        .collect();
    rows.sort_by(|x, y| {
        x.change
            .order()
            .cmp(&y.change.order())
            .then_with(|| rank(&y.severity).cmp(&rank(&x.severity)))
            .then_with(|| y.after.max(y.before).cmp(&x.after.max(x.before)))
            .then_with(|| x.subject.cmp(&y.subject))
            .then_with(|| x.host.cmp(&y.host))
    });
    rows
}

fn change(nb: i64, na: i64, rb: f64, ra: f64, after_hours: f64) -> Change {
    match (nb, na) {
        (0, 0) => Change::Same,
        (0, _) => Change::New,
        (_, 0) => Change::Gone,
        _ => {
            let ratio = ra / rb;
            let expected = rb * after_hours;
            if ratio >= FOLD_RATIO && na as f64 - expected >= MIN_CHANGE {
                Change::Up(ratio)
            } else if ratio <= 1.0 / FOLD_RATIO && expected - na as f64 >= MIN_CHANGE {
                Change::Down(ratio)
            } else {
                Change::Same
            }
        }
    }
}

/// A rule's severity rank; an unknown event's level counts as medium (error) or low.
fn rank(severity: &str) -> u8 {
    match Severity::parse(severity) {
        Some(s) => s as u8,
        None if matches!(severity, "ERROR" | "FATAL" | "CRIT" | "SEVERE") => Severity::Medium as u8,
        None => Severity::Low as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(rule: &str, severity: &str, n: i64) -> Count {
        Count {
            subject: Subject::Rule(rule.into()),
            host: Some("mbx1".into()),
            title: rule.into(),
            severity: severity.into(),
            count: n,
            groups: 1,
            first_ms: None,
            last_ms: None,
        }
    }

    #[test]
    fn new_comes_first_and_chronic_errors_are_same() {
        let before = [
            count("auth", "low", 72),
            count("old", "high", 9),
            count("dos", "medium", 10),
        ];
        let after = [
            count("auth", "low", 70),
            count("blob", "critical", 40),
            count("dos", "medium", 60),
            count("old", "high", 1),
        ];
        let rows = compare(&before, 12.0, &after, 12.0);
        let got: Vec<(String, String)> = rows
            .iter()
            .map(|r| match &r.subject {
                Subject::Rule(s) | Subject::Unknown(s) => (s.clone(), r.change.label()),
            })
            .collect();
        assert_eq!(
            got,
            [
                ("blob".into(), "NEW".into()),
                ("dos".into(), "×6.0".into()),
                ("old".into(), "×0.1".into()),
                ("auth".into(), "same".into()),
            ]
        );
    }

    #[test]
    fn small_numbers_are_not_news_and_rates_follow_window_lengths() {
        let rows = compare(&[count("a", "low", 1)], 1.0, &[count("a", "low", 2)], 1.0);
        assert_eq!(rows[0].change, Change::Same);
        let rows = compare(&[count("a", "low", 24)], 24.0, &[count("a", "low", 2)], 2.0);
        assert_eq!(rows[0].change, Change::Same, "one an hour both times");
    }
}
