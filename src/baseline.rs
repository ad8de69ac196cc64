//! The baseline: how often each rule (and each template of errors no rule knew) fires on each
//! host in ordinary times, built from the incident store (`zkb baseline build`, saved as
//! `<data>/baseline.json`). `zkb watch --baseline` marks each finding against it, as
//! [`crate::diff`] compares two windows: NEW (never seen in the baseline), ×N (its rate moved
//! by [`crate::diff::FOLD_RATIO`] or more), or usual (chronic errors at their usual rate, folded
//! away).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diff::Change;
use crate::store::counts::{Count, Subject};

/// One subject on one host in the baseline.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// A rule id, or an unknown template.
    pub subject: String,
    /// `rule` or `unknown`.
    pub kind: String,
    pub host: Option<String>,
    pub count: i64,
    pub per_hour: f64,
}

/// The rates of a window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub since: String,
    pub until: String,
    pub hours: f64,
    pub entries: Vec<Entry>,
}

/// Why a baseline could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a baseline: {source}")]
    Format {
        path: String,
        source: serde_json::Error,
    },
}

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

impl Baseline {
    /// The baseline of `[since, until)` (ms) from the store's counts of that window.
    pub fn from_counts(counts: &[Count], since: i64, until: i64) -> Baseline {
        let hours = ((until - since) as f64 / 3_600_000.0).max(1.0 / 60.0);
        let mut entries: Vec<Entry> = counts
            .iter()
            .map(|c| {
                let (kind, subject) = match &c.subject {
                    Subject::Rule(r) => ("rule", r.clone()),
                    Subject::Unknown(t) => ("unknown", t.clone()),
                };
                Entry {
                    subject,
                    kind: kind.into(),
                    host: c.host.clone(),
                    count: c.count,
                    per_hour: c.count as f64 / hours,
                }
            })
            .collect();
        entries.sort_by(|a, b| b.count.cmp(&a.count).then(a.subject.cmp(&b.subject)));
        Baseline {
            since: time(since),
            until: time(until),
            hours,
            entries,
        }
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            path: name.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| BaselineError::Format { path: name, source })
    }

    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let io = |source| BaselineError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).expect("a baseline serialises");
        std::fs::write(path, text + "\n").map_err(io)
    }
}

/// Marks findings against a baseline as they come: each subject's count in the watch, over the
/// span of log time the watch has seen (at least an hour, so a first burst is not a rate).
pub struct Live {
    entries: Vec<Entry>,
    rates: HashMap<(String, Option<String>), f64>,
    counts: HashMap<(String, Option<String>), i64>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl Live {
    pub fn new(b: &Baseline) -> Live {
        Live {
            entries: b.entries.clone(),
            rates: b
                .entries
                .iter()
                .map(|e| ((e.subject.clone(), e.host.clone()), e.per_hour))
                .collect(),
            counts: HashMap::new(),
            first_ms: None,
            last_ms: None,
        }
    }

    /// Rule subjects of the baseline that the watch has not seen although, at their usual
    /// rate, at least [`crate::diff::MIN_CHANGE`] were due in the log time it covered: GONE.
    pub fn gone(&self) -> Vec<&Entry> {
        let hours = match (self.first_ms, self.last_ms) {
            (Some(f), Some(l)) => (l - f) as f64 / 3_600_000.0,
            _ => 0.0,
        };
        self.entries
            .iter()
            .filter(|e| e.kind == "rule")
            .filter(|e| {
                !self
                    .counts
                    .contains_key(&(e.subject.clone(), e.host.clone()))
            })
            .filter(|e| e.per_hour * hours >= crate::diff::MIN_CHANGE)
            .collect()
    }

    /// Counts one finding of `subject` on `host` at `ts_ms` and says how it stands.
    pub fn mark(&mut self, subject: &str, host: Option<&str>, ts_ms: Option<i64>) -> Change {
        if let Some(t) = ts_ms {
            self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
            self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
        }
        let key = (subject.to_string(), host.map(str::to_string));
        let n = {
            let c = self.counts.entry(key.clone()).or_default();
            *c += 1;
            *c
        };
        let Some(&before) = self.rates.get(&key) else {
            return Change::New;
        };
        let hours = match (self.first_ms, self.last_ms) {
            (Some(f), Some(l)) => ((l - f) as f64 / 3_600_000.0).max(1.0),
            _ => 1.0,
        };
        let ratio = (n as f64 / hours) / before.max(1e-9);
        let expected = before * hours;
        if ratio >= crate::diff::FOLD_RATIO && n as f64 - expected >= crate::diff::MIN_CHANGE {
            Change::Up(ratio)
        } else {
            Change::Same
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> Baseline {
        let count = |rule: &str, n: i64| Count {
            subject: Subject::Rule(rule.into()),
            host: Some("mbx1".into()),
            title: rule.into(),
            severity: "low".into(),
            count: n,
            groups: 1,
            first_ms: None,
            last_ms: None,
        };
        Baseline::from_counts(&[count("auth", 240), count("dos", 24)], 0, 24 * 3_600_000)
    }

    #[test]
    fn rates_per_hour_and_a_round_trip() {
        let b = baseline();
        assert_eq!(b.entries[0].per_hour, 10.0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        b.save(&path).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), b);
        std::fs::write(&path, "{").unwrap();
        let err = Baseline::load(&path).unwrap_err().to_string();
        assert!(err.contains("baseline.json: not a baseline"), "{err}");
    }

    #[test]
    fn new_usual_and_risen() {
        let mut live = Live::new(&baseline());
        let h = Some("mbx1");
        assert_eq!(live.mark("blob", h, Some(0)), Change::New);
        for i in 0..10 {
            assert_eq!(live.mark("auth", h, Some(i * 360_000)), Change::Same, "{i}");
        }
        let mut last = Change::Same;
        for i in 0..10 {
            last = live.mark("dos", h, Some(i * 360_000));
        }
        assert!(matches!(last, Change::Up(r) if r >= 9.0), "{last:?}");
        assert_eq!(
            live.mark("auth", Some("mbx2"), None),
            Change::New,
            "per host"
        );
    }
}
