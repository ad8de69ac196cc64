//! What the dashboard shows, apart from drawing: findings aggregated into incidents (a rule and
//! its group key), severity counters, events per second, and the filters the admin sets.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::baseline::Live;
use crate::diff::Change;
use crate::rules::{Rule, Severity};
use crate::scan::{group_key, Finding};

/// Seconds of event rates kept for the sparkline.
const RATE_SECONDS: usize = 120;

/// One rule firing in one group (its `group_by` fields and host).
pub struct Incident {
    pub rule: usize,
    pub key: Vec<String>,
    pub count: u64,
    /// Wall-clock time of the latest finding (`HH:MM:SS` in the table).
    pub last_seen: jiff::Zoned,
    /// Order of the latest finding among all (newest first in the table).
    pub last_seq: u64,
    pub last: Finding,
    /// Acknowledged with `a`: what the table says (`ack #12 until 01:15`).
    pub acked: Option<String>,
    /// When a line that proves recovery came (a rule's `resolves`), until it fires again.
    pub resolved: Option<jiff::Zoned>,
    /// Against the baseline (`watch --baseline`): the latest finding's change.
    pub change: Option<Change>,
}

/// Which incidents are shown.
#[derive(Clone, Debug)]
pub struct Filter {
    pub min_severity: Severity,
    pub host: Option<String>,
    /// Case-insensitive text that the rule, title, group or event must contain.
    pub search: String,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            min_severity: Severity::Info,
            host: None,
            search: String::new(),
        }
    }
}

/// Incidents and counters.
#[derive(Default)]
pub struct Board {
    pub incidents: Vec<Incident>,
    by_key: HashMap<(usize, Vec<String>), usize>,
    /// Findings per severity, in [`Severity::ALL`] order.
    pub by_severity: [u64; 5],
    pub events: u64,
    /// Events per second, oldest first; the last entry is the second in progress.
    rates: VecDeque<u64>,
    second_started: Option<Instant>,
    pub hosts: BTreeSet<String>,
    seq: u64,
    /// Error events no rule knew (watched with the store, or `--unmatched`), and the latest.
    pub unknown: u64,
    pub last_unknown: Option<Finding>,
    /// `watch --baseline`: marks each finding NEW, ×N or usual; the usual ones are folded.
    pub baseline: Option<Live>,
}

impl Board {
    /// Adds the findings of one round.
    pub fn add(&mut self, rules: &[Rule], findings: &[Finding]) {
        for f in findings {
            let Some(r) = f.rule else {
                self.unknown += 1;
                self.last_unknown = Some(f.clone());
                continue;
            };
            let rule = &rules[r];
            if !rule.resolves.is_empty() {
                self.resolve(rules, rule, f);
            }
            if rule.resolve_only {
                continue;
            }
            self.seq += 1;
            self.by_severity[rule.severity as usize] += 1;
            if let Some(h) = &f.host {
                self.hosts.insert(h.clone());
            }
            let key = group_key(rule, f);
            let now = jiff::Zoned::now();
            let change = self.baseline.as_mut().map(|b| {
                let ts = f.parsed.ts.as_ref().map(|z| z.timestamp().as_millisecond());
                b.mark(&rule.id, f.host.as_deref(), ts)
            });
            match self.by_key.get(&(r, key.clone())) {
                Some(&i) => {
                    let inc = &mut self.incidents[i];
                    inc.count += 1;
                    inc.last_seen = now;
                    inc.last_seq = self.seq;
                    inc.last = f.clone();
                    inc.resolved = None;
                    inc.change = change;
                }
                None => {
                    self.by_key.insert((r, key.clone()), self.incidents.len());
                    self.incidents.push(Incident {
                        rule: r,
                        key,
                        count: 1,
                        last_seen: now,
                        last_seq: self.seq,
                        last: f.clone(),
                        acked: None,
                        resolved: None,
                        change,
                    });
                }
            }
        }
    }

    /// Marks the incidents that the finding `f` of `rule` resolves (same group and host).
    fn resolve(&mut self, rules: &[Rule], rule: &Rule, f: &Finding) {
        let key = group_key(rule, f);
        for inc in self
            .incidents
            .iter_mut()
            .filter(|i| i.key == key && rule.resolves.contains(&rules[i.rule].id))
        {
            inc.resolved = Some(jiff::Zoned::now());
        }
    }

    /// Moves the incidents from the indices of the rules `old` to those of `new` (the watch
    /// reloaded its rules), by rule id; the incidents of rules no longer there are dropped, the
    /// counters stay.
    pub fn rebase(&mut self, old: &[Rule], new: &[Rule]) {
        let index: HashMap<&str, usize> = new
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        self.incidents.retain_mut(|inc| {
            let moved = old.get(inc.rule).and_then(|r| index.get(r.id.as_str()));
            if let Some(&i) = moved {
                inc.rule = i;
            }
            moved.is_some()
        });
        self.by_key = self
            .incidents
            .iter()
            .enumerate()
            .map(|(i, inc)| ((inc.rule, inc.key.clone()), i))
            .collect();
    }

    /// Counts `n` events read at `now` (for the rate sparkline).
    pub fn count_events(&mut self, n: u64, now: Instant) {
        self.events += n;
        self.tick(now);
        if let Some(last) = self.rates.back_mut() {
            *last += n;
        }
    }

    /// Moves the rate window on to `now` (seconds with no events count as zero).
    pub fn tick(&mut self, now: Instant) {
        let started = *self.second_started.get_or_insert(now);
        if self.rates.is_empty() {
            self.rates.push_back(0);
        }
        let elapsed = now.saturating_duration_since(started).as_secs();
        let due = elapsed.min(RATE_SECONDS as u64);
        for _ in 0..due {
            self.rates.push_back(0);
        }
        if elapsed > 0 {
            self.second_started = Some(started + Duration::from_secs(elapsed));
        }
        while self.rates.len() > RATE_SECONDS {
            self.rates.pop_front();
        }
    }

    /// Events per second, oldest first.
    pub fn rates(&self) -> Vec<u64> {
        self.rates.iter().copied().collect()
    }

    /// Events in the last whole second.
    pub fn current_rate(&self) -> u64 {
        let n = self.rates.len();
        if n >= 2 {
            self.rates[n - 2]
        } else {
            0
        }
    }

    /// The incidents the filter lets through: most severe first, then the most recent.
    pub fn visible(&self, rules: &[Rule], filter: &Filter) -> Vec<usize> {
        let needle = filter.search.to_lowercase();
        let mut out: Vec<usize> = (0..self.incidents.len())
            .filter(|&i| {
                let inc = &self.incidents[i];
                let rule = &rules[inc.rule];
                rule.severity >= filter.min_severity
                    && filter
                        .host
                        .as_ref()
                        .is_none_or(|h| inc.last.host.as_ref() == Some(h))
                    && (needle.is_empty() || matches_search(inc, rule, &needle))
                    && inc.change != Some(Change::Same)
            })
            .collect();
        // NEW first, then risen, against the baseline; then the worst, the newest.
        out.sort_by_key(|&i| {
            let inc = &self.incidents[i];
            (
                match inc.change {
                    Some(Change::New) => 0,
                    Some(Change::Up(_)) => 1,
                    _ => 2,
                },
                std::cmp::Reverse(rules[inc.rule].severity),
                std::cmp::Reverse(inc.last_seq),
            )
        });
        out
    }

    /// Incidents folded away as usual against the baseline.
    pub fn folded(&self) -> usize {
        self.incidents
            .iter()
            .filter(|i| i.change == Some(Change::Same))
            .count()
    }
}

fn matches_search(inc: &Incident, rule: &Rule, needle: &str) -> bool {
    rule.id.to_lowercase().contains(needle)
        || rule.title.to_lowercase().contains(needle)
        || inc.key.iter().any(|k| k.to_lowercase().contains(needle))
        || inc.last.text.to_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Matcher;
    use crate::scan::{EventMatcher, ScanOptions};

    fn findings(matcher: &Matcher, texts: &[&str]) -> Vec<Finding> {
        let opts = ScanOptions::default();
        let mut m = EventMatcher::new(
            matcher,
            &opts,
            "mailbox.log".into(),
            crate::kind::LogKind::Mailbox,
            Some("mbx1".into()),
        );
        let mut out = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            m.event(t.as_bytes(), i as u64 + 1, 0, false, &mut out);
        }
        out
    }

    fn blob(item: u32, mailbox: u32) -> String {
        format!(
            "2026-03-01 02:14:07,511 WARN  [qtp1-1] [name=u@example.com;mid={mailbox};] mailbox - Unable to get blob for item {item}\n\
             com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {item}, change: 1"
        )
    }

    #[test]
    fn a_delivery_resolves_the_refused_deliveries_and_is_no_row() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let matcher = Matcher::new(set.rules);
        let opts = ScanOptions::default();
        let mut m = EventMatcher::new(
            &matcher,
            &opts,
            "zimbra.log".into(),
            crate::kind::LogKind::Syslog,
            None,
        );
        let mut fs = Vec::new();
        let refused = "Mar 14 23:10:00 mta1 postfix/lmtp[8812]: 4B1B2C3D4E: to=<a@example.com>, relay=none, delay=3, delays=3/0/0/0, dsn=4.4.1, status=deferred (connect to mbx1.example.com[10.0.0.5]:7025: Connection refused)";
        let sent = "Mar 14 23:15:00 mta1 postfix/lmtp[8990]: 4B1B2C3D4E: to=<a@example.com>, relay=mbx1.example.com[10.0.0.5]:7025, delay=900, delays=899/0/0.01/0.2, dsn=2.1.5, status=sent (250 2.1.5 Delivery OK)";
        m.event(refused.as_bytes(), 1, 0, false, &mut fs);
        let mut board = Board::default();
        board.add(&matcher.rules, &fs);
        assert!(board.incidents[0].resolved.is_none());
        fs.clear();
        m.event(sent.as_bytes(), 2, 0, false, &mut fs);
        m.event(
            b"Mar 14 23:16:00 mta1 postfix/qmgr[1]: x: removed",
            3,
            0,
            false,
            &mut fs,
        );
        board.add(&matcher.rules, &fs);
        assert_eq!(
            board.incidents.len(),
            1,
            "the delivery is no row of its own"
        );
        assert!(board.incidents[0].resolved.is_some());
        fs.clear();
        m.event(refused.as_bytes(), 4, 0, false, &mut fs);
        m.event(
            b"Mar 14 23:16:00 mta1 postfix/qmgr[1]: x: removed",
            5,
            0,
            false,
            &mut fs,
        );
        board.add(&matcher.rules, &fs);
        assert!(board.incidents[0].resolved.is_none(), "open again");
    }

    #[test]
    fn against_a_baseline_new_comes_first_and_the_usual_is_folded() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let matcher = Matcher::new(set.rules);
        let usual = crate::store::counts::Count {
            subject: crate::store::counts::Subject::Rule("store.missing-blob-for-id".into()),
            host: Some("mbx1".into()),
            title: String::new(),
            severity: "critical".into(),
            count: 48,
            groups: 1,
            first_ms: None,
            last_ms: None,
        };
        let b = crate::baseline::Baseline::from_counts(&[usual], 0, 24 * 3_600_000);
        let mut board = Board {
            baseline: Some(Live::new(&b)),
            ..Board::default()
        };
        let old = blob(1, 5);
        let fs = findings(&matcher, &[&old]);
        board.add(&matcher.rules, &fs);
        assert_eq!(board.folded(), 1, "the chronic blob at its usual rate");
        assert!(board.visible(&matcher.rules, &Filter::default()).is_empty());
        let new_blob = "2025-08-21 13:50:01,123 WARN  [qtp1-1] [name=a@example.com;] mailbox - No such blob: mailbox=9, item=1, change=1";
        let fresh = findings(&matcher, &[new_blob]);
        board.add(&matcher.rules, &fresh);
        let visible = board.visible(&matcher.rules, &Filter::default());
        assert_eq!(visible.len(), 1);
        assert_eq!(board.incidents[visible[0]].change, Some(Change::New));
    }

    #[test]
    fn findings_of_one_group_are_one_incident() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let matcher = Matcher::new(set.rules);
        let (a, b, c) = (blob(1, 5), blob(2, 5), blob(3, 6));
        let fs = findings(&matcher, &[&a, &b, &c]);
        assert_eq!(fs.len(), 3);
        let mut board = Board::default();
        board.add(&matcher.rules, &fs);
        assert_eq!(board.incidents.len(), 2, "mailbox 5 and mailbox 6");
        let visible = board.visible(&matcher.rules, &Filter::default());
        assert_eq!(board.incidents[visible[0]].last.text, c, "newest first");
        assert_eq!(board.incidents[visible[1]].count, 2);
        assert_eq!(board.by_severity[Severity::Critical as usize], 3);
        let search = Filter {
            search: "ITEM 2".into(),
            ..Filter::default()
        };
        assert_eq!(board.visible(&matcher.rules, &search).len(), 1);
        let high_host = Filter {
            host: Some("other".into()),
            ..Filter::default()
        };
        assert!(board.visible(&matcher.rules, &high_host).is_empty());
    }

    #[test]
    fn a_reload_moves_incidents_to_the_new_rule_indices() {
        let mut set = crate::rules::RuleSet::embedded();
        set.dedup();
        let old = Matcher::new(set.rules.clone());
        let blob_rule = "store.missing-blob-for-id";
        let mut board = Board::default();
        board.add(&old.rules, &findings(&old, &[&blob(1, 5)]));
        // The same rules in another order, one of them gone.
        let mut rules = set.rules;
        rules.reverse();
        rules.retain(|r| r.id != "auth.failed-login");
        let new = Matcher::new(rules);
        board.rebase(&old.rules, &new.rules);
        assert_eq!(new.rules[board.incidents[0].rule].id, blob_rule);
        board.add(&new.rules, &findings(&new, &[&blob(2, 5)]));
        assert_eq!(board.incidents.len(), 1, "still the one incident");
        assert_eq!(board.incidents[0].count, 2);

        let without: Vec<Rule> = new
            .rules
            .iter()
            .filter(|r| r.id != blob_rule)
            .cloned()
            .collect();
        board.rebase(&new.rules, &without);
        assert!(board.incidents.is_empty(), "its rule is gone");
        assert_eq!(board.by_severity[Severity::Critical as usize], 2);
    }

    #[test]
    fn event_rates_per_second() {
        let mut board = Board::default();
        let t0 = Instant::now();
        board.count_events(5, t0);
        board.count_events(7, t0 + Duration::from_millis(500));
        board.count_events(1, t0 + Duration::from_millis(1200));
        board.tick(t0 + Duration::from_millis(3100));
        assert_eq!(board.rates(), [12, 1, 0, 0]);
        assert_eq!(board.current_rate(), 0);
        assert_eq!(board.events, 13);
    }
}
