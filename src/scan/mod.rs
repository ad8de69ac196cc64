//! Scan: runs the whole pipeline over inputs once — open, frame, find candidate events, parse,
//! confirm rules, apply filters, thresholds and context — in parallel over files and over the
//! [`segment`]s of large plain files, handing the findings back in input order ([`pool`]).
//! Thresholds count across a whole file, so when a file is cut they are applied as its pieces
//! come back in order.

pub mod pool;
pub mod segment;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::error::Error;
use crate::framing::{EventSpan, Framer, DEFAULT_CHUNK};
use crate::kind::LogKind;
use crate::matcher::{Matcher, RuleHit};
use crate::parse::{parse, Event, Parsed, TimeContext};
use crate::rules::{Fields, Rule, Severity};
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
    /// Plain files are cut for parallel scanning about every this many bytes.
    pub segment: u64,
    /// Read files without keeping their pages in the page cache (see [`crate::priority`]).
    pub low_priority: bool,
    /// Match the `resolve_only` rules too: only what records incidents needs them (a store,
    /// a watch and its dashboard); a plain scan skips them, as every delivery line would match.
    pub resolutions: bool,
    /// Also report error-level events that no rule matched.
    pub unmatched: bool,
    /// With `unmatched`: warnings too, and lines without a level that say error, fail…
    /// (`zkb unknown`).
    pub unmatched_warnings: bool,
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
            resolutions: true,
            unmatched: false,
            unmatched_warnings: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            segment: segment::SEGMENT,
            low_priority: false,
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
    /// For a thresholded rule whose count is still to be checked: its group key.
    pub(crate) pending_threshold: Option<Vec<String>>,
}

/// What one input gave, or one segment of it: a large file comes back in several reports, the
/// last one `complete`.
#[derive(Default)]
pub struct FileReport {
    pub name: String,
    pub findings: Vec<Finding>,
    pub events: u64,
    pub bytes: u64,
    /// Lines read (for the line numbers of the next segment).
    pub lines: u64,
    /// This is the input's last (or only) report.
    pub complete: bool,
    pub errors: Vec<Error>,
    pub notes: Vec<String>,
    /// Notes shown only with -v.
    pub quiet_notes: Vec<String>,
}

/// Scans inputs in parallel; `sink` gets the reports in input order.
pub fn scan_inputs(
    inputs: &[Input],
    matcher: &Matcher,
    opts: &ScanOptions,
    index: Option<&KbIndex>,
    mut sink: impl FnMut(FileReport),
) {
    let threads = opts.threads.max(1);
    let pool: pool::Pool<FileReport> = pool::Pool::new(inputs.len(), threads, pool::MAX_WEIGHT);
    let plans: Mutex<HashMap<usize, Arc<Plan>>> = Mutex::new(HashMap::new());
    let unit = Unit {
        matcher,
        opts,
        index,
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(key) = pool.take() {
                    let report = match key {
                        (i, 0) => unit.first_segment(i, &inputs[i], &pool, &plans),
                        (i, k) => {
                            let plan = plans
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get(&i)
                                .cloned();
                            // Always there: it is stored before segment 1 is queued.
                            match plan {
                                Some(plan) => unit.later_segment(&plan, k),
                                None => FileReport::default(),
                            }
                        }
                    };
                    let weight = report.findings.len();
                    pool.finish(key, report, weight);
                }
            });
        }
        let mut file = InOrder::default();
        pool.drain(|key, mut report, last| {
            file.apply(key, &mut report, matcher);
            report.complete = last;
            sink(report);
        });
    });
}

/// What later segments of a cut file need to know.
struct Plan {
    path: PathBuf,
    name: String,
    kind: LogKind,
    host: Option<String>,
    mtime: Option<Timestamp>,
    cuts: Vec<u64>,
}

impl Plan {
    /// Start and length of segment `k` (the last one reads to the end, wherever that now is).
    fn range(&self, k: usize) -> (u64, u64) {
        let start = self.cuts[k];
        let len = self.cuts.get(k + 1).map_or(u64::MAX, |end| end - start);
        (start, len)
    }
}

/// Per-input state kept while a file's reports come back in order.
#[derive(Default)]
struct InOrder {
    lines_before: u64,
    thresholds: Thresholds,
}

impl InOrder {
    fn apply(&mut self, key: pool::Key, report: &mut FileReport, matcher: &Matcher) {
        if key.1 == 0 {
            *self = InOrder::default();
        }
        for f in &mut report.findings {
            f.line += self.lines_before;
        }
        report
            .findings
            .retain_mut(|f| match (f.pending_threshold.take(), f.rule) {
                (Some(key), Some(rule)) => {
                    let ts = f.parsed.ts.as_ref().map(|z| z.timestamp());
                    self.thresholds.pass(rule, &matcher.rules[rule], key, ts)
                }
                _ => true,
            });
        self.lines_before += report.lines;
    }
}

/// What every unit of work shares.
struct Unit<'a> {
    matcher: &'a Matcher,
    opts: &'a ScanOptions,
    index: Option<&'a KbIndex>,
}

impl Unit<'_> {
    /// Opens an input, decides whether to cut it (telling the pool how many segments it has),
    /// and scans its first segment.
    fn first_segment(
        &self,
        i: usize,
        input: &Input,
        pool: &pool::Pool<FileReport>,
        plans: &Mutex<HashMap<usize, Arc<Plan>>>,
    ) -> FileReport {
        let mut report = FileReport {
            name: input.display(),
            ..FileReport::default()
        };
        let opened = match sources::open(input, self.opts.kind, self.opts.low_priority) {
            Ok(o) => o,
            Err(skip) => {
                pool.segments(i, 1);
                match skip {
                    Skip::Quiet(note) => report.notes.push(note),
                    Skip::Silent(note) => report.quiet_notes.push(note),
                    Skip::Error(e) => report.errors.push(e),
                }
                return report;
            }
        };
        let plan = self.plan(input, &opened);
        let meta = Meta {
            name: opened.name.clone(),
            kind: opened.kind,
            host: opened.host.clone(),
            mtime: opened.mtime,
            tz: opened.tz.clone(),
        };
        match plan {
            Some(plan) => {
                let (n, (_, len)) = (plan.cuts.len(), plan.range(0));
                // The plan must be in place before its segments can be taken.
                plans
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(i, Arc::new(plan));
                pool.segments(i, n);
                self.scan_reader(&mut report, opened.reader.take(len), &meta, 0);
            }
            None => {
                pool.segments(i, 1);
                self.scan_reader(&mut report, opened.reader, &meta, 0);
            }
        }
        report
    }

    /// Where to cut a large plain file; `None` keeps it whole. Cuts fall on record starts, so
    /// every event stays whole (which is all `--unmatched` needs); context lines would not
    /// cross a cut, so `-B`/`-A` keep the file whole.
    fn plan(&self, input: &Input, opened: &sources::Opened) -> Option<Plan> {
        let o = self.opts;
        let whole_events_needed = o.before > 0 || o.after > 0;
        let size = opened.plain_size?;
        if whole_events_needed
            || o.threads < 2
            || size < 2 * o.segment
            || !segment::splittable(opened.kind)
        {
            return None;
        }
        let path = input.path.clone()?;
        let mut file = File::open(&path).ok()?;
        let cuts = segment::cut_points(&mut file, size, opened.kind, o.segment);
        (cuts.len() > 1).then(|| Plan {
            path,
            name: opened.name.clone(),
            kind: opened.kind,
            host: opened.host.clone(),
            mtime: opened.mtime,
            cuts,
        })
    }

    /// Scans segment `k` (≥ 1) of a cut file.
    fn later_segment(&self, plan: &Plan, k: usize) -> FileReport {
        let mut report = FileReport {
            name: plan.name.clone(),
            ..FileReport::default()
        };
        let (start, len) = plan.range(k);
        let opened = File::open(&plan.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(start))?;
            Ok(f)
        });
        let file = match opened {
            Ok(f) => f,
            Err(source) => {
                report.errors.push(Error::Io {
                    path: plan.name.clone(),
                    source,
                });
                return report;
            }
        };
        let meta = Meta {
            name: plan.name.clone(),
            kind: plan.kind,
            host: plan.host.clone(),
            mtime: plan.mtime,
            tz: None,
        };
        if self.opts.low_priority {
            let reader = crate::priority::CacheFriendly::new(file, start);
            self.scan_reader(&mut report, reader.take(len), &meta, start);
        } else {
            self.scan_reader(&mut report, file.take(len), &meta, start);
        }
        report
    }

    /// Frames and matches one stream whose first byte is at `offset` in its file.
    fn scan_reader(&self, report: &mut FileReport, reader: impl Read, meta: &Meta, offset: u64) {
        let (matcher, opts) = (self.matcher, self.opts);
        let tz = meta.tz.clone().unwrap_or_else(|| opts.tz.clone());
        let time = TimeContext::new(tz, opts.year, meta.mtime);
        // Setup logs are small, and a console capture's escapes can split a rule's literal,
        // so each of their events is matched whole.
        let full =
            opts.before > 0 || opts.after > 0 || opts.unmatched || meta.kind == LogKind::Setup;
        // Thresholds are counted here when context lines depend on them (such files are never
        // cut); otherwise in file order after the cuts come back together (InOrder).
        let inline_thresholds = opts.before > 0 || opts.after > 0 || meta.kind == LogKind::Setup;
        let mut scanner = FileScanner::new(matcher, opts, time, meta, offset, inline_thresholds);
        scanner.index = self.index;
        let mut framer = Framer::with_chunk(reader, meta.kind, opts.chunk);
        let mut candidate_events = Vec::new();
        while let Some(region) = framer.next_region() {
            scanner.events += region.events.len() as u64;
            if full {
                for span in region.events {
                    scanner.event(region.bytes, span, true);
                }
            } else {
                matcher.candidate_events(meta.kind, &region, &mut candidate_events);
                for &i in &candidate_events {
                    scanner.event(region.bytes, &region.events[i], false);
                }
            }
        }
        report.bytes = framer.bytes_read();
        report.lines = framer.lines_seen();
        if let Some(e) = framer.take_error() {
            report.errors.push(Error::Io {
                path: meta.name.clone(),
                source: std::io::Error::new(
                    e.kind(),
                    format!("read stopped early ({e}); findings up to there are kept"),
                ),
            });
        }
        report.events = scanner.events;
        report.findings = scanner.finish();
    }
}

/// Matches the events of a followed file one at a time (`zkb watch`): the same rules, filters
/// and thresholds as a scan, with thresholds counted across the life of the stream. With `-B`
/// the findings carry the events before them; the events after a finding (`-A`) come later, as
/// [`AfterContext`]s from [`EventMatcher::take_after`].
pub struct EventMatcher<'a> {
    scanner: FileScanner<'a>,
    /// The latest finding's after-context, still filling.
    filling: Option<AfterContext>,
    done: Vec<AfterContext>,
}

/// The events that followed the finding at `offset` of a followed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterContext {
    pub offset: u64,
    pub lines: Vec<String>,
}

impl<'a> EventMatcher<'a> {
    pub fn new(
        matcher: &'a Matcher,
        opts: &'a ScanOptions,
        name: String,
        kind: LogKind,
        host: Option<String>,
    ) -> Self {
        let time = TimeContext::new(opts.tz.clone(), opts.year, None);
        let meta = Meta {
            name,
            kind,
            host,
            mtime: None,
            tz: None,
        };
        EventMatcher {
            scanner: FileScanner::new(matcher, opts, time, &meta, 0, true),
            filling: None,
            done: Vec::new(),
        }
    }

    /// Matches one whole event (`text` without its last newline) that starts at `offset` on
    /// line `line`; the findings go to `out`.
    pub fn event(
        &mut self,
        text: &[u8],
        line: u64,
        offset: u64,
        truncated: bool,
        out: &mut Vec<Finding>,
    ) {
        let span = EventSpan {
            start: 0,
            text_end: text.len(),
            end: text.len(),
            line,
            offset,
            truncated,
        };
        self.scanner.events += 1;
        self.scanner
            .event(text, &span, self.scanner.opts.before > 0);
        let wanted = self.scanner.opts.after;
        match self.scanner.findings.last() {
            Some(last) if wanted > 0 => {
                self.done.extend(self.filling.take());
                self.filling = Some(AfterContext {
                    offset: last.offset,
                    lines: Vec::new(),
                });
            }
            Some(_) => {}
            None => {
                if let Some(f) = self.filling.as_mut() {
                    f.lines.push(String::from_utf8_lossy(text).into_owned());
                    if f.lines.len() >= wanted {
                        self.done.extend(self.filling.take());
                    }
                }
            }
        }
        out.append(&mut self.scanner.findings);
    }

    /// The after-contexts completed so far (`-A` events seen, or a later finding began a new
    /// one); with `flush`, the one still filling too.
    pub fn take_after(&mut self, flush: bool) -> Vec<AfterContext> {
        if flush {
            self.done.extend(self.filling.take());
        }
        std::mem::take(&mut self.done)
    }

    /// Events seen so far.
    pub fn events(&self) -> u64 {
        self.scanner.events
    }

    /// Reads time stamps that carry no zone in `tz` (a relayed file's sender zone) rather
    /// than in `--tz`'s.
    pub fn zoned(mut self, tz: Option<TimeZone>) -> Self {
        if let Some(tz) = tz {
            self.scanner.time = TimeContext::new(tz, self.scanner.opts.year, None);
        }
        self
    }

    /// Sets the matcher aside while the rules are replaced (see [`Suspended`]).
    pub fn suspend(self) -> Suspended {
        let s = self.scanner;
        Suspended {
            thresholds: s.thresholds.map(|t| t.by_rule_id(&s.matcher.rules)),
            time: s.time,
            meta: Meta {
                name: s.file,
                kind: s.kind,
                host: s.host,
                mtime: None,
                tz: None,
            },
            events: s.events,
            offset: s.offset,
            ring: s.ring,
            after_left: s.after_left,
            filling: self.filling,
            done: self.done,
        }
    }

    /// Takes a suspended stream up again with a new set of rules.
    pub fn resume(suspended: Suspended, matcher: &'a Matcher, opts: &'a ScanOptions) -> Self {
        let s = suspended;
        let mut scanner = FileScanner::new(matcher, opts, s.time, &s.meta, s.offset, true);
        scanner.events = s.events;
        scanner.ring = s.ring;
        scanner.after_left = s.after_left;
        scanner.thresholds = s
            .thresholds
            .map(|by_id| Thresholds::from_rule_ids(by_id, &matcher.rules));
        EventMatcher {
            scanner,
            filling: s.filling,
            done: s.done,
        }
    }
}

/// What an [`EventMatcher`] knows about its stream, kept while `zkb watch` reloads its rules:
/// the events before the next finding (`-B`), the after-contexts still filling (`-A`) and the
/// threshold counts, these by rule id, since a rule's index changes with the set.
pub struct Suspended {
    time: TimeContext,
    meta: Meta,
    events: u64,
    offset: u64,
    ring: VecDeque<String>,
    after_left: usize,
    thresholds: Option<HashMap<(String, Vec<String>), Window>>,
    filling: Option<AfterContext>,
    done: Vec<AfterContext>,
}

/// What the scanner of one stream knows about its file.
struct Meta {
    name: String,
    kind: LogKind,
    host: Option<String>,
    mtime: Option<Timestamp>,
    /// The file's own zone for time stamps that carry none (relayed lines), else `--tz`'s.
    tz: Option<TimeZone>,
}

/// Counts of thresholded rules: a rule with `threshold` reports only once `count` occurrences of
/// the same group fall within `window`.
#[derive(Default)]
struct Thresholds {
    windows: HashMap<(usize, Vec<String>), Window>,
}

/// The times of the occurrences of one group still within its rule's window.
type Window = VecDeque<Option<Timestamp>>;

/// The incident a finding belongs to: its rule's `group_by` fields and its host.
pub fn group_key(rule: &Rule, finding: &Finding) -> Vec<String> {
    Thresholds::key(rule, &finding.fields, &finding.parsed)
}

impl Thresholds {
    /// The group a hit counts in: its `group_by` fields and its host.
    fn key(rule: &Rule, fields: &Fields, parsed: &Parsed) -> Vec<String> {
        let mut key: Vec<String> = rule
            .group_by
            .iter()
            .map(|g| {
                fields
                    .iter()
                    .find(|(k, _)| k == g)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        key.push(parsed.host.clone().unwrap_or_default());
        key
    }

    /// The counts keyed by the id of their rule instead of its index in `rules`.
    fn by_rule_id(self, rules: &[Rule]) -> HashMap<(String, Vec<String>), Window> {
        self.windows
            .into_iter()
            .filter_map(|((index, key), w)| Some(((rules.get(index)?.id.clone(), key), w)))
            .collect()
    }

    /// Counts keyed by rule id, on the indices of `rules`; those of rules no longer there are
    /// dropped.
    fn from_rule_ids(by_id: HashMap<(String, Vec<String>), Window>, rules: &[Rule]) -> Self {
        if by_id.is_empty() {
            return Thresholds::default();
        }
        let index: HashMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let windows = by_id
            .into_iter()
            .filter_map(|((id, key), w)| Some(((*index.get(id.as_str())?, key), w)))
            .collect();
        Thresholds { windows }
    }

    /// Counts one hit; true when its group has reached the rule's count within the window.
    fn pass(&mut self, index: usize, rule: &Rule, key: Vec<String>, ts: Option<Timestamp>) -> bool {
        let Some(th) = &rule.threshold else {
            return true;
        };
        let window = self.windows.entry((index, key)).or_default();
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
}

/// Per-file state: context ring, thresholds, findings.
struct FileScanner<'a> {
    matcher: &'a Matcher,
    opts: &'a ScanOptions,
    time: TimeContext,
    kind: LogKind,
    file: String,
    host: Option<String>,
    events: u64,
    findings: Vec<Finding>,
    ring: VecDeque<String>,
    after_left: usize,
    cands: Vec<u32>,
    hits: Vec<RuleHit>,
    /// Applied here when the whole file is scanned in one pass with context; otherwise left to
    /// [`InOrder`] (a finding carries its group key).
    thresholds: Option<Thresholds>,
    /// Offset in the file of the stream's first byte.
    offset: u64,
    index: Option<&'a KbIndex>,
    related_cache: HashMap<String, Vec<Hit>>,
}

impl<'a> FileScanner<'a> {
    fn new(
        matcher: &'a Matcher,
        opts: &'a ScanOptions,
        time: TimeContext,
        meta: &Meta,
        offset: u64,
        inline_thresholds: bool,
    ) -> Self {
        FileScanner {
            matcher,
            opts,
            time,
            kind: meta.kind,
            file: meta.name.clone(),
            host: meta.host.clone(),
            events: 0,
            findings: Vec::new(),
            ring: VecDeque::new(),
            after_left: 0,
            cands: Vec::new(),
            hits: Vec::new(),
            thresholds: inline_thresholds.then(Thresholds::default),
            offset,
            index: None,
            related_cache: HashMap::new(),
        }
    }

    /// Handles one event; `keep_context` when -A/-B need every event's text.
    fn event(&mut self, bytes: &[u8], span: &EventSpan, keep_context: bool) {
        let raw = &bytes[span.start..span.text_end];
        // A console capture (`script`, `tee`) keeps the installer's colours and progress
        // redraws: match what the admin saw.
        let cleaned;
        let text = if self.kind == LogKind::Setup && memchr::memchr2(0x1b, b'\r', raw).is_some() {
            cleaned = crate::run::clean::clean_bytes(raw);
            cleaned.as_bytes()
        } else {
            raw
        };
        let event = Event::from_bytes(self.kind, text, span.line, span.offset, span.truncated);
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
            .candidates(self.kind, event.text.as_bytes(), &mut self.cands);
        if !self.opts.resolutions {
            let rules = &self.matcher.rules;
            self.cands.retain(|&r| !rules[r as usize].resolve_only);
        }
        if self.cands.is_empty() || !self.matcher.any_for_kind(event, &self.cands) {
            return false;
        }
        let parsed = parse(event, &self.time);
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
            let mut pending = None;
            if rule.threshold.is_some() {
                let key = Thresholds::key(rule, &hit.fields, &parsed);
                let ts = parsed.ts.as_ref().map(|z| z.timestamp());
                match self.thresholds.as_mut() {
                    Some(t) => {
                        if !t.pass(hit.rule, rule, key, ts) {
                            continue;
                        }
                    }
                    None => pending = Some(key),
                }
            }
            any = true;
            let fields = with_context_fields(&hit.fields, &parsed);
            self.push_finding(event, parsed.clone(), Some(hit.rule), fields, Vec::new());
            if let Some(last) = self.findings.last_mut() {
                last.pending_threshold = pending;
            }
        }
        self.hits = hits;
        if any {
            self.after_left = self.opts.after;
        }
        any
    }

    /// An error-level event no rule matched: reported with related KB entries.
    fn unmatched_event(&mut self, event: &Event<'_>) -> bool {
        let parsed = parse(event, &self.time);
        if !self.unknown_level(&parsed) || !self.in_time_range(&parsed) {
            return false;
        }
        let related = self.related(event, &parsed);
        let fields = with_context_fields(&Fields::new(), &parsed);
        self.push_finding(event, parsed, None, fields, related);
        self.after_left = self.opts.after;
        true
    }

    /// Whether an event no rule matched is reported: error levels, and with
    /// `unmatched_warnings` warnings and level-less lines with an error word.
    fn unknown_level(&self, parsed: &Parsed) -> bool {
        let warnings = self.opts.unmatched_warnings;
        match parsed.level.as_deref().map(crate::parse::normalize_level) {
            Some(l) => {
                matches!(
                    l.as_str(),
                    "ERROR" | "FATAL" | "CRIT" | "ALERT" | "EMERG" | "SEVERE"
                ) || (warnings && l == "WARN")
            }
            None => warnings && has_error_word(&parsed.message),
        }
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
            offset: self.offset + event.offset,
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
            pending_threshold: None,
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

    fn finish(self) -> Vec<Finding> {
        self.findings
    }
}

/// The captured fields, plus the account (`name`) of a mailbox.log context when no capture
/// already names it.
/// Whether a line without a level says something went wrong.
fn has_error_word(message: &str) -> bool {
    const WORDS: &[&str] = &[
        "error",
        "fail",
        "fatal",
        "panic",
        "refused",
        "denied",
        "timed out",
        "timeout",
        "cannot",
        "can't",
        "unable",
        "critical",
        "warning",
        "corrupt",
        "abort",
    ];
    let lower = message.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

fn with_context_fields(fields: &Fields, parsed: &Parsed) -> Fields {
    let mut out = fields.clone();
    if let Some(name) = parsed.context_value("name") {
        if !out.iter().any(|(k, _)| k == "name" || k == "account") {
            out.push(("name".to_string(), name.to_string()));
        }
    }
    out
}
