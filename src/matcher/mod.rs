//! The matcher: runs every event through all rules at once. One Aho-Corasick automaton holds
//! the literals each rule requires; a region of events is searched as a whole, and only the
//! events that contain a literal are parsed and have their candidate rules' regexes run. Rules
//! without a usable literal are tried on every event (and `zkb check` warns about them).
//! Over long regions a [`fingerprint`] filter (or, for literals too short for it, one regex
//! alternation) finds the places worth giving to the automaton; it is built per log kind from
//! the literals of the rules that accept that kind.

pub mod fingerprint;

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

use crate::framing::Region;
use crate::kind::LogKind;
use crate::parse::{Event, Parsed};
use crate::rules::{Fields, Rule};
use fingerprint::Fingerprints;

/// Regions smaller than this are searched with the automaton alone.
const LOCATOR_MIN_REGION: usize = 64 * 1024;

/// Regex-locator literals are cut to this many bytes.
const LOCATOR_PREFIX: usize = 16;

const KINDS: usize = LogKind::ALL.len();

fn kind_index(kind: LogKind) -> usize {
    LogKind::ALL.iter().position(|&k| k == kind).unwrap_or(0)
}

/// How a long region is searched for the next place where a literal may start.
enum Locator {
    Fingerprints(Fingerprints),
    Regex(regex::bytes::Regex),
    /// No rule for this kind has a literal.
    Nothing,
}

impl Locator {
    /// The fingerprint filter when every literal is long enough, else a regex alternation.
    fn build(literals: &[&[u8]], sample: &[u8]) -> Locator {
        if literals.is_empty() {
            return Locator::Nothing;
        }
        if let Some(f) = Fingerprints::new(literals.iter().copied(), sample) {
            return Locator::Fingerprints(f);
        }
        build_regex_locator(literals).map_or(Locator::Nothing, Locator::Regex)
    }
}

fn build_regex_locator(patterns: &[&[u8]]) -> Option<regex::bytes::Regex> {
    let mut prefixes: Vec<&[u8]> = patterns
        .iter()
        .map(|p| &p[..p.len().min(LOCATOR_PREFIX)])
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let alternation: Vec<String> = prefixes.iter().map(|p| escape_bytes(p)).collect();
    regex::bytes::RegexBuilder::new(&format!("(?i:{})", alternation.join("|")))
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .ok()
}

/// A byte string as a regex that matches exactly it (ASCII escaped, other bytes as `\xNN`).
fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for &c in b {
        if c.is_ascii_alphanumeric() || c == b' ' {
            out.push(c as char);
        } else {
            out.push_str(&format!("\\x{c:02x}"));
        }
    }
    out
}

/// Pushes the index of each event of `region` in which `next(bytes, pos)` finds a place, in
/// order, skipping to the end of an event once it is taken.
fn events_with(
    region: &Region<'_>,
    out: &mut Vec<usize>,
    next: impl Fn(&[u8], usize) -> Option<usize>,
) {
    let bytes = region.bytes;
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(start) = next(bytes, pos) else {
            break;
        };
        let idx = region
            .events
            .partition_point(|e| e.start <= start)
            .saturating_sub(1);
        let Some(ev) = region.events.get(idx) else {
            break;
        };
        out.push(idx);
        pos = ev.end.max(start + 1);
    }
}

/// One rule that matched one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleHit {
    /// Index into [`Matcher::rules`].
    pub rule: usize,
    pub fields: Fields,
}

pub struct Matcher {
    pub rules: Vec<Rule>,
    ac: Option<AhoCorasick>,
    /// Per log kind, built from the first long region of that kind (its sample): finds the next
    /// place where one of the kind's literals may start. Only ever finds more than the
    /// automaton, which then decides per event.
    locators: [OnceLock<Locator>; KINDS],
    /// Per log kind, the automaton patterns of the rules that accept it.
    kind_patterns: [Vec<usize>; KINDS],
    /// Per log kind, whether a literal-free rule accepts it (then every event is a candidate).
    kind_every_event: [bool; KINDS],
    /// Per log kind with literal-free rules: one alternation of those rules' buffer
    /// prefilters (`None` when one of them has none, and then every event is a candidate).
    literal_free: [OnceLock<Option<regex::bytes::Regex>>; KINDS],
    /// Regions at least this long use the locator (tests lower it).
    locator_min_region: usize,
    /// For each automaton pattern, the rules that require it.
    pattern_rules: Vec<Vec<u32>>,
    /// Literals of the automaton, for `zkb explain`.
    patterns: Vec<Vec<u8>>,
    /// Rules with no usable literal: tried on every event.
    always: Vec<u32>,
}

impl Matcher {
    pub fn new(rules: Vec<Rule>) -> Matcher {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            match rule.node.required() {
                // Literals too short for the fingerprint filter would slow the search for
                // every rule of the kind; such rules go with the literal-free ones instead.
                Some(lits) if lits.iter().all(|l| l.len() >= fingerprint::WINDOW) => {
                    for lit in lits {
                        let id = *index.entry(lit.clone()).or_insert_with(|| {
                            patterns.push(lit);
                            pattern_rules.push(Vec::new());
                            patterns.len() - 1
                        });
                        pattern_rules[id].push(i as u32);
                    }
                }
                _ => always.push(i as u32),
            }
        }
        let ac = (!patterns.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .expect("literal automaton builds")
        });
        let mut kind_patterns: [Vec<usize>; KINDS] = Default::default();
        let mut kind_every_event = [false; KINDS];
        for (k, &kind) in LogKind::ALL.iter().enumerate() {
            let accepts = |i: &u32| rules[*i as usize].accepts_kind(kind);
            kind_every_event[k] = always.iter().any(accepts);
            kind_patterns[k] = (0..patterns.len())
                .filter(|&p| pattern_rules[p].iter().any(accepts))
                .collect();
        }
        Matcher {
            rules,
            ac,
            locators: Default::default(),
            literal_free: Default::default(),
            kind_patterns,
            kind_every_event,
            locator_min_region: LOCATOR_MIN_REGION,
            pattern_rules,
            patterns,
            always,
        }
    }

    /// Uses the locator on regions of at least `bytes` (tests set it low to exercise it).
    pub fn with_locator_min_region(mut self, bytes: usize) -> Matcher {
        self.locator_min_region = bytes;
        self
    }

    /// Rules tried on every event because they have no literal.
    pub fn literal_free_rules(&self) -> impl Iterator<Item = &Rule> {
        self.always.iter().map(|&i| &self.rules[i as usize])
    }

    /// True when every event of this kind must be examined (a rule for it has no literal).
    pub fn needs_every_event(&self, kind: LogKind) -> bool {
        self.kind_every_event[kind_index(kind)]
    }

    /// Indices of the region's events that may match a rule for `kind` (a superset: every event
    /// that holds a literal, and some that only seem to), in order.
    pub fn candidate_events(&self, kind: LogKind, region: &Region<'_>, out: &mut Vec<usize>) {
        out.clear();
        if self.needs_every_event(kind) {
            // The buffer prefilter reads bytes; invalid UTF-8 would read differently in an
            // event's (lossily decoded) text, so such regions get every event.
            match self.literal_free_locator(kind) {
                Some(re) if std::str::from_utf8(region.bytes).is_ok() => {
                    events_with(region, out, |b, pos| re.find_at(b, pos).map(|m| m.start()));
                }
                _ => {
                    out.extend(0..region.events.len());
                    return;
                }
            }
        }
        let before = out.len();
        events_with(region, out, |b, pos| self.next_literal_start(kind, b, pos));
        if before > 0 {
            out.sort_unstable();
            out.dedup();
        }
    }

    fn literal_free_locator(&self, kind: LogKind) -> Option<&regex::bytes::Regex> {
        self.literal_free[kind_index(kind)]
            .get_or_init(|| {
                let parts = self
                    .always
                    .iter()
                    .map(|&i| &self.rules[i as usize])
                    .filter(|r| r.accepts_kind(kind))
                    .map(|r| r.node.buffer_prefilter().map(|p| format!("(?:{p})")))
                    .collect::<Option<Vec<_>>>()?;
                // The lazy DFA's cache is per thread: 8 MiB keeps memory flat with many rules.
                regex::bytes::RegexBuilder::new(&parts.join("|"))
                    .multi_line(true)
                    .size_limit(64 << 20)
                    .dfa_size_limit(8 << 20)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Where the next literal may start at or after `pos` (for the fingerprint filter: a
    /// position inside the literal, which is as good, since only the event around it counts).
    fn next_literal_start(&self, kind: LogKind, bytes: &[u8], pos: usize) -> Option<usize> {
        // Small regions (a one-line file, a live tail) do not repay building the locator.
        if bytes.len() < self.locator_min_region {
            let ac = self.ac.as_ref()?;
            return ac.find(Input::new(bytes).range(pos..)).map(|m| m.start());
        }
        let k = kind_index(kind);
        let locator = self.locators[k].get_or_init(|| {
            let literals: Vec<&[u8]> = self.kind_patterns[k]
                .iter()
                .map(|&p| self.patterns[p].as_slice())
                .collect();
            Locator::build(&literals, bytes)
        });
        match locator {
            Locator::Fingerprints(f) => f.find(bytes, pos),
            Locator::Regex(re) => re.find_at(bytes, pos).map(|m| m.start()),
            Locator::Nothing => None,
        }
    }

    /// Candidate rules for one event's text: those of its kind whose literal occurs in it
    /// (and perhaps some of other kinds), and the literal-free ones. Sorted, no duplicates.
    pub fn candidates(&self, kind: LogKind, text: &[u8], out: &mut Vec<u32>) {
        out.clear();
        let k = kind_index(kind);
        match (self.locators[k].get(), &self.ac) {
            // Built for this kind already: faster than the automaton over a long event.
            (Some(Locator::Fingerprints(f)), _) => f.each_literal(text, |id| {
                let pattern = self.kind_patterns[k][id];
                out.extend_from_slice(&self.pattern_rules[pattern]);
            }),
            (_, Some(ac)) => {
                for m in ac.find_overlapping_iter(text) {
                    out.extend_from_slice(&self.pattern_rules[m.pattern().as_usize()]);
                }
            }
            (_, None) => {}
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
    }

    /// The literals (lower-cased) of a rule that occur in `text`, for `zkb explain`.
    pub fn literals_found(&self, rule: usize, text: &[u8]) -> Vec<String> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        let mut found: Vec<String> = ac
            .find_overlapping_iter(text)
            .filter(|m| self.pattern_rules[m.pattern().as_usize()].contains(&(rule as u32)))
            .map(|m| String::from_utf8_lossy(&self.patterns[m.pattern().as_usize()]).into_owned())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Runs the candidate rules on one parsed event: kind, level and program filters, then the
    /// match tree; every rule that matches is pushed to `out`.
    pub fn confirm(
        &self,
        event: &Event<'_>,
        parsed: &Parsed,
        candidates: &[u32],
        out: &mut Vec<RuleHit>,
    ) {
        for &i in candidates {
            let rule = &self.rules[i as usize];
            if !rule.accepts_kind(event.kind) || !rule.accepts_fields(parsed) {
                continue;
            }
            if let Some(fields) = rule.node.eval(&event.text) {
                out.push(RuleHit {
                    rule: i as usize,
                    fields,
                });
            }
        }
    }

    /// Whether any candidate rule accepts this event's kind (cheap test before parsing).
    pub fn any_for_kind(&self, event: &Event<'_>, candidates: &[u32]) -> bool {
        candidates
            .iter()
            .any(|&i| self.rules[i as usize].accepts_kind(event.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{frame_all, Framer};
    use crate::kind::LogKind;
    use crate::parse::{parse, TimeContext};
    use crate::rules::RuleSet;
    use proptest::prelude::*;

    const RULES: &str = r#"
- id: t.blob
  title: blob
  severity: critical
  kinds: [mailbox]
  match: {regex: 'No such blob: mailbox=(?P<mailbox>\d+), item=(?P<item>\d+)'}
- id: t.refused
  title: refused
  severity: medium
  match: {regex: 'connect to (?P<host>[\w.-]+)\[[\d.]+\]:7025: Connection refused'}
- id: t.warn-anything
  title: any warn with a number
  severity: low
  levels: [WARN]
  match: {regex: 'elapsed=\d{3,}'}
- id: t.case
  title: case-insensitive
  severity: high
  match: {regex: '(?i)out of memory'}
- id: t.all
  title: all of
  severity: high
  match: {all: [{contains: 'license'}, {not: {contains: 'successfully'}}]}
- id: t.any
  title: any of
  severity: medium
  match: {any: [{contains: 'DOS ALERT'}, {regex: 'ldap_(?:bind|search): Can.t contact'}]}
- id: t.short
  title: literal too short for a fingerprint
  severity: low
  kinds: [nginx]
  match: {regex: 'ip=\d'}
- id: t.nolit
  title: no literal
  severity: info
  match: {regex: '^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} FATAL'}
"#;

    fn rules(no_literal_rule: bool) -> Vec<Rule> {
        let mut set = RuleSet::default();
        set.add_text("test.yaml", RULES);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        set.rules.retain(|r| no_literal_rule || r.id != "t.nolit");
        set.rules
    }

    fn tc() -> TimeContext {
        TimeContext::new(jiff::tz::TimeZone::UTC, Some(2026), None)
    }

    /// Fast path: region search, candidates, confirm.
    fn fast(m: &Matcher, input: &[u8], kind: LogKind, chunk: usize) -> Vec<(u64, Vec<RuleHit>)> {
        let mut framer = Framer::with_chunk(input, kind, chunk);
        let (mut evs, mut cands, mut out) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(region) = framer.next_region() {
            m.candidate_events(kind, &region, &mut evs);
            for &i in &evs {
                let s = &region.events[i];
                let event = Event::from_bytes(
                    kind,
                    &region.bytes[s.start..s.text_end],
                    s.line,
                    s.offset,
                    s.truncated,
                );
                m.candidates(kind, event.text.as_bytes(), &mut cands);
                let mut hits = Vec::new();
                m.confirm(&event, &parse(&event, &tc()), &cands, &mut hits);
                if !hits.is_empty() {
                    out.push((s.line, hits));
                }
            }
        }
        out
    }

    /// Reference: frame every event, run every rule's regex on it.
    fn slow(m: &Matcher, input: &[u8], kind: LogKind) -> Vec<(u64, Vec<RuleHit>)> {
        let mut out = Vec::new();
        for (span, bytes) in frame_all(input, kind, 1 << 20) {
            let event = Event::from_bytes(kind, &bytes, span.line, span.offset, span.truncated);
            let parsed = parse(&event, &tc());
            let hits: Vec<RuleHit> = m
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.accepts_kind(kind) && r.accepts_fields(&parsed))
                .filter_map(|(i, r)| {
                    r.node
                        .eval(&event.text)
                        .map(|fields| RuleHit { rule: i, fields })
                })
                .collect();
            if !hits.is_empty() {
                out.push((span.line, hits));
            }
        }
        out
    }

    const FRAGMENTS: &[&str] = &[
        "2026-03-14 23:10:01,001 INFO  [qtp1-2:https://x/service/soap/SearchRequest] [name=a@example.com;mid=4;] soap - SearchRequest elapsed=12\n",
        "2026-03-14 23:10:01,002 WARN  [qtp1-3] [name=b@example.com;] soap - SearchRequest elapsed=1234\n",
        "2026-03-14 23:10:02,003 ERROR [qtp1-4] [name=c@example.com;mid=41;] mailbox - Unable to get blob while encoding message\n",
        "com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=41, item=257, change=3\n",
        "\tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466) ~[zimbrastore.jar:10.1.9]\n",
        "Caused by: java.lang.OutOfMemoryError: Java heap space\n",
        "\t... 12 more\n",
        "2026-03-14 23:10:03,004 FATAL [main] [] system - OUT OF MEMORY, halting\n",
        "Mar 14 23:10:04 mta1 postfix/lmtp[123]: 4F1: to=<a@example.com>, relay=none, delay=1, status=deferred (connect to mbx1.example.com[10.0.0.11]:7025: Connection refused)\n",
        "Mar 14 23:10:05 mta1 postfix/smtpd[9]: connect from unknown[203.0.113.9]\n",
        "2026-03-14 23:10:06.001:WARN:oejs.DoSFilter:qtp1-190:https://x/: DOS ALERT: Request rejected ip=1.2.3.4\n",
        "Sat Mar 14 23:10:07 2026 Looking for valid license to activate...\n",
        "Sat Mar 14 23:10:08 2026 license successfully activated.\n",
        "       indented continuation with license word\n",
        "ldap_bind: Can't contact LDAP server (-1)\n",
        "\n",
        "xx\u{ff}bad utf8 No such \n",
        "blob: mailbox=9, item=9\n",
    ];

    fn input_from(indices: &[usize]) -> Vec<u8> {
        let mut s = String::new();
        for &i in indices {
            s.push_str(FRAGMENTS[i % FRAGMENTS.len()]);
        }
        s.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn fast_path_equals_framing_every_event(
            picks in proptest::collection::vec(0usize..64, 0..60),
            chunk in 64usize..4096,
            kind_i in 0usize..LogKind::ALL.len(),
            subset in proptest::collection::vec(any::<bool>(), 8),
            no_literal_rule in any::<bool>(),
            locator_min in prop_oneof![Just(0usize), Just(LOCATOR_MIN_REGION)],
        ) {
            let kind = LogKind::ALL[kind_i];
            let mut rs = rules(no_literal_rule);
            let mut keep = subset.into_iter();
            rs.retain(|_| keep.next().unwrap_or(true));
            let m = Matcher::new(rs).with_locator_min_region(locator_min);
            let input = input_from(&picks);
            prop_assert_eq!(fast(&m, &input, kind, chunk), slow(&m, &input, kind));
        }
    }

    #[test]
    fn finds_a_hit_in_a_continuation_line() {
        let m = Matcher::new(rules(false));
        let input = input_from(&[0, 2, 3, 4, 1]);
        let got = fast(&m, &input, LogKind::Mailbox, 64);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 2);
        assert_eq!(m.rules[got[0].1[0].rule].id, "t.blob");
        assert_eq!(
            got[0].1[0].fields,
            vec![
                ("mailbox".into(), "41".into()),
                ("item".into(), "257".into())
            ]
        );
        assert_eq!(m.rules[got[1].1[0].rule].id, "t.warn-anything");
    }
}
