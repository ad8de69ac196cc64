//! Scan: runs the whole pipeline over inputs once — open, frame, find candidate events, parse,
//! confirm rules, apply filters, thresholds and context — in parallel over files, handing each
//! file's findings back in input order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::error::Error;
use crate::framing::{EventSpan, Framer, DEFAULT_CHUNK};
use crate::kind::LogKind;
use crate::matcher::{Matcher, RuleHit};
use crate::parse::{parse, Event, Parsed, TimeContext};
use crate::rules::{Fields, Severity};
use crate::search::{mask_variables, Hit, KbIndex};
use crate::sources::{self, Input, Skip};

/// What to look for and how.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub kind: Option<LogKind>,
    pub tz: TimeZone,
    pub year: Option<i16>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub min_severity: Severity,
    /// Rule ids or `prefix*` patterns; empty = all.
    pub rule_filter: Vec<String>,
    pub before: usize,
    pub after: usize,
    pub chunk: usize,
    pub threads: usize,
    /// Also report error-level events that no rule matched.
    pub unmatched: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            kind: None,
            tz: TimeZone::system(),
            year: None,
            since: None,
            until: None,
            min_severity: Severity::Info,
            rule_filter: Vec::new(),
            before: 0,
            after: 0,
            chunk: DEFAULT_CHUNK,
            unmatched: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// One rule matched on one event.
#[derive(Clone, Debug)]
pub struct Finding {
    pub file: String,
    pub line: u64,
    pub offset: u64,
    pub kind: LogKind,
    pub host: Option<String>,
    pub parsed: Parsed,
    /// `None` for an error event that no rule matched (`--unmatched`).
    pub rule: Option<usize>,
    pub fields: Fields,
    pub text: String,
    pub truncated: bool,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// KB entries related to an unmatched event, from the index.
    pub related: Vec<Hit>,
}

/// What one input gave.
#[derive(Default)]
pub struct FileReport {
    pub name: String,
    pub findings: Vec<Finding>,
    pub events: u64,
    pub bytes: u64,
    pub errors: Vec<Error>,
    pub notes: Vec<String>,
    /// Notes shown only with -v.
    pub quiet_notes: Vec<String>,
}

/// Scans inputs in parallel; `sink` gets each file's report in input order.
pub fn scan_inputs(
    inputs: &[Input],
    matcher: &Matcher,
    opts: &ScanOptions,
    index: Option<&KbIndex>,
    mut sink: impl FnMut(FileReport),
) {
    let next = AtomicUsize::new(0);
    let threads = opts.threads.clamp(1, inputs.len().max(1));
    let (tx, rx) = mpsc::sync_channel::<(usize, FileReport)>(threads * 2);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(input) = inputs.get(i) else { break };
                let report = scan_input(input, matcher, opts, index);
                if tx.send((i, report)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: HashMap<usize, FileReport> = HashMap::new();
        let mut want = 0;
        for (i, report) in rx {
            pending.insert(i, report);
            while let Some(r) = pending.remove(&want) {
                sink(r);
                want += 1;
            }
        }
    });
}

/// Scans one input; never panics on bad data.
pub fn scan_input(
    input: &Input,
    matcher: &Matcher,
    opts: &ScanOptions,
    index: Option<&KbIndex>,
) -> FileReport {
    let mut report = FileReport {
        name: input.display(),
        ..FileReport::default()
    };
    let opened = match sources::open(input, opts.kind) {
        Ok(o) => o,
        Err(Skip::Quiet(note)) => {
            report.notes.push(note);
            return report;
        }
        Err(Skip::Silent(note)) => {
            report.quiet_notes.push(note);
            return report;
        }
        Err(Skip::Error(e)) => {
            report.errors.push(e);
            return report;
        }
    };
    let time = TimeContext::new(opts.tz.clone(), opts.year, opened.mtime);
    let mut scanner = FileScanner::new(
        matcher,
        opts,
        &time,
        opened.kind,
        opened.name.clone(),
        opened.host.clone(),
    );
    scanner.index = index;
    let mut framer = Framer::with_chunk(opened.reader, opened.kind, opts.chunk);
    let full = opts.before > 0 || opts.after > 0 || opts.unmatched;
    let mut candidate_events = Vec::new();
    while let Some(region) = framer.next_region() {
        scanner.events += region.events.len() as u64;
        if full {
            for span in region.events {
                scanner.event(region.bytes, span, true);
            }
        } else {
            matcher.candidate_events(&region, &mut candidate_events);
            for &i in &candidate_events {
                scanner.event(region.bytes, &region.events[i], false);
            }
        }
    }
    report.bytes = framer.bytes_read();
    if let Some(e) = framer.take_error() {
        report.errors.push(Error::Io {
            path: opened.name.clone(),
            source: std::io::Error::new(
                e.kind(),
                format!("read stopped early ({e}); findings up to there are kept"),
            ),
        });
    }
    report.events = scanner.events;
    report.findings = scanner.finish();
    report
}

/// Per-file state: context ring, thresholds, findings.
struct FileScanner<'a> {
    matcher: &'a Matcher,
    opts: &'a ScanOptions,
    time: &'a TimeContext,
    kind: LogKind,
    file: String,
    host: Option<String>,
    events: u64,
    findings: Vec<Finding>,
    ring: VecDeque<String>,
    after_left: usize,
    cands: Vec<u32>,
    hits: Vec<RuleHit>,
    windows: HashMap<(usize, Vec<String>), VecDeque<Option<Timestamp>>>,
    index: Option<&'a KbIndex>,
    related_cache: HashMap<String, Vec<Hit>>,
}

impl<'a> FileScanner<'a> {
    fn new(
        matcher: &'a Matcher,
        opts: &'a ScanOptions,
        time: &'a TimeContext,
        kind: LogKind,
        file: String,
        host: Option<String>,
    ) -> Self {
        FileScanner {
            matcher,
            opts,
            time,
            kind,
            file,
            host,
            events: 0,
            findings: Vec::new(),
            ring: VecDeque::new(),
            after_left: 0,
            cands: Vec::new(),
            hits: Vec::new(),
            windows: HashMap::new(),
            index: None,
            related_cache: HashMap::new(),
        }
    }

    /// Handles one event; `keep_context` when -A/-B need every event's text.
    fn event(&mut self, bytes: &[u8], span: &EventSpan, keep_context: bool) {
        let event = Event::from_bytes(
            self.kind,
            &bytes[span.start..span.text_end],
            span.line,
            span.offset,
            span.truncated,
        );
        let mut matched = self.match_event(&event);
        if !matched && self.opts.unmatched {
            matched = self.unmatched_event(&event);
        }
        if keep_context {
            if !matched && self.after_left > 0 {
                self.after_left -= 1;
                if let Some(last) = self.findings.last_mut() {
                    last.after.push(event.text.to_string());
                }
            }
            if self.opts.before > 0 {
                self.ring.push_back(event.text.to_string());
                if self.ring.len() > self.opts.before {
                    self.ring.pop_front();
                }
            }
        }
    }

    fn match_event(&mut self, event: &Event<'_>) -> bool {
        self.matcher
            .candidates(event.text.as_bytes(), &mut self.cands);
        if self.cands.is_empty() || !self.matcher.any_for_kind(event, &self.cands) {
            return false;
        }
        let parsed = parse(event, self.time);
        if !self.in_time_range(&parsed) {
            return false;
        }
        self.hits.clear();
        self.matcher
            .confirm(event, &parsed, &self.cands, &mut self.hits);
        let hits = std::mem::take(&mut self.hits);
        let mut any = false;
        for hit in &hits {
            let rule = &self.matcher.rules[hit.rule];
            if rule.severity < self.opts.min_severity || !self.rule_selected(&rule.id) {
                continue;
            }
            if !self.passes_threshold(hit, &parsed) {
                continue;
            }
            any = true;
            let fields = with_context_fields(&hit.fields, &parsed);
            self.push_finding(event, parsed.clone(), Some(hit.rule), fields, Vec::new());
        }
        self.hits = hits;
        if any {
            self.after_left = self.opts.after;
        }
        any
    }

    /// An error-level event no rule matched: reported with related KB entries.
    fn unmatched_event(&mut self, event: &Event<'_>) -> bool {
        let parsed = parse(event, self.time);
        let is_error = parsed
            .level
            .as_deref()
            .map(crate::parse::normalize_level)
            .is_some_and(|l| {
                matches!(
                    l.as_str(),
                    "ERROR" | "FATAL" | "CRIT" | "ALERT" | "EMERG" | "SEVERE"
                )
            });
        if !is_error || !self.in_time_range(&parsed) {
            return false;
        }
        let related = self.related(event, &parsed);
        let fields = with_context_fields(&Fields::new(), &parsed);
        self.push_finding(event, parsed, None, fields, related);
        self.after_left = self.opts.after;
        true
    }

    /// Records a finding for `event`, with the events before it when -B asks for them.
    fn push_finding(
        &mut self,
        event: &Event<'_>,
        parsed: Parsed,
        rule: Option<usize>,
        fields: Fields,
        related: Vec<Hit>,
    ) {
        let before = if self.opts.before > 0 {
            self.ring.iter().cloned().collect()
        } else {
            Vec::new()
        };
        self.findings.push(Finding {
            file: self.file.clone(),
            line: event.line,
            offset: event.offset,
            kind: event.kind,
            host: parsed.host.clone().or_else(|| self.host.clone()),
            parsed,
            rule,
            fields,
            text: event.text.to_string(),
            truncated: event.truncated,
            before,
            after: Vec::new(),
            related,
        });
    }

    /// Related KB entries for an event: its message and the first continuation line (where
    /// Java puts the exception), variable parts masked; cached per masked text.
    fn related(&mut self, event: &Event<'_>, parsed: &Parsed) -> Vec<Hit> {
        let Some(index) = self.index else {
            return Vec::new();
        };
        let second = event.text.lines().nth(1).unwrap_or("");
        let query = mask_variables(&format!("{} {}", parsed.message, second));
        if let Some(hits) = self.related_cache.get(&query) {
            return hits.clone();
        }
        let hits = index.search(&query, 3).unwrap_or_default();
        self.related_cache.insert(query, hits.clone());
        hits
    }

    fn in_time_range(&self, p: &Parsed) -> bool {
        let Some(ts) = p.ts.as_ref().map(|z| z.timestamp()) else {
            return true;
        };
        self.opts.since.is_none_or(|s| ts >= s) && self.opts.until.is_none_or(|u| ts <= u)
    }

    fn rule_selected(&self, id: &str) -> bool {
        self.opts.rule_filter.is_empty()
            || self
                .opts
                .rule_filter
                .iter()
                .any(|f| match f.strip_suffix('*') {
                    Some(prefix) => id.starts_with(prefix),
                    None => id == f,
                })
    }

    /// Thresholded rules report only once `count` occurrences of the same group fall within
    /// `window`.
    fn passes_threshold(&mut self, hit: &RuleHit, parsed: &Parsed) -> bool {
        let rule = &self.matcher.rules[hit.rule];
        let Some(th) = &rule.threshold else {
            return true;
        };
        let mut key: Vec<String> = rule
            .group_by
            .iter()
            .map(|g| {
                hit.fields
                    .iter()
                    .find(|(k, _)| k == g)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        key.push(parsed.host.clone().unwrap_or_default());
        let ts = parsed.ts.as_ref().map(|z| z.timestamp());
        let window = self.windows.entry((hit.rule, key)).or_default();
        window.push_back(ts);
        if let Some(now) = ts {
            let limit =
                jiff::SignedDuration::try_from(th.window).unwrap_or(jiff::SignedDuration::MAX);
            while let Some(Some(first)) = window.front() {
                if now.duration_since(*first) > limit {
                    window.pop_front();
                } else {
                    break;
                }
            }
        }
        window.len() >= th.count as usize
    }

    fn finish(self) -> Vec<Finding> {
        self.findings
    }
}

/// The captured fields, plus the account (`name`) of a mailbox.log context when no capture
/// already names it.
fn with_context_fields(fields: &Fields, parsed: &Parsed) -> Fields {
    let mut out = fields.clone();
    if let Some(name) = parsed.context_value("name") {
        if !out.iter().any(|(k, _)| k == "name" || k == "account") {
            out.push(("name".to_string(), name.to_string()));
        }
    }
    out
}
