//! Micro-benchmarks of the scan pipeline's stages on seeded generated logs (divan):
//! `cargo bench` (not part of `cargo test`). Each stage is timed over the same 8 MB sample of
//! mailbox.log and zimbra.log, so the numbers compare as throughput.
use std::sync::OnceLock;

use zkb::framing::Framer;
use zkb::kind::LogKind;
use zkb::matcher::Matcher;
use zkb::parse::{parse, Event, TimeContext};
use zkb::rules::RuleSet;

fn main() {
    divan::main();
}

const KINDS: [(&str, LogKind); 2] = [
    ("mailbox.log", LogKind::Mailbox),
    ("zimbra.log", LogKind::Syslog),
];

fn sample(name: &str) -> &'static [u8] {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
        let rules = RuleSet::embedded_with_tests().rules;
        zkb::generate::generate(dir.path(), 18, 7, &rules, 10).expect("generate");
        KINDS
            .iter()
            .map(|(n, _)| {
                (
                    n.to_string(),
                    std::fs::read(dir.path().join(n)).expect("read"),
                )
            })
            .collect()
    });
    &files.iter().find(|(n, _)| n == name).expect("sample").1
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| Matcher::new(RuleSet::embedded().rules))
}

#[divan::bench(args = KINDS)]
fn framing(b: divan::Bencher, (name, kind): (&str, LogKind)) {
    let bytes = sample(name);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut framer = Framer::new(bytes, kind);
            let mut events = 0;
            while let Some(r) = framer.next_region() {
                events += r.events.len();
            }
            events
        });
}

#[divan::bench(args = KINDS)]
fn framing_and_literal_search(b: divan::Bencher, (name, kind): (&str, LogKind)) {
    let bytes = sample(name);
    let m = matcher();
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut framer = Framer::new(bytes, kind);
            let (mut n, mut out) = (0, Vec::new());
            while let Some(r) = framer.next_region() {
                m.candidate_events(kind, &r, &mut out);
                n += out.len();
            }
            n
        });
}

#[divan::bench(args = KINDS)]
fn parse_every_event(b: divan::Bencher, (name, kind): (&str, LogKind)) {
    let bytes = sample(name);
    let time = TimeContext::new(jiff::tz::TimeZone::UTC, Some(2026), None);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut framer = Framer::new(bytes, kind);
            let mut levels = 0;
            while let Some(r) = framer.next_region() {
                for s in r.events {
                    let e = Event::from_bytes(
                        kind,
                        &r.bytes[s.start..s.text_end],
                        s.line,
                        s.offset,
                        s.truncated,
                    );
                    levels += usize::from(parse(&e, &time).level.is_some());
                }
            }
            levels
        });
}

#[divan::bench(args = KINDS)]
fn match_candidates(b: divan::Bencher, (name, kind): (&str, LogKind)) {
    let bytes = sample(name);
    let m = matcher();
    let time = TimeContext::new(jiff::tz::TimeZone::UTC, Some(2026), None);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut framer = Framer::new(bytes, kind);
            let (mut evs, mut cands, mut hits) = (Vec::new(), Vec::new(), Vec::new());
            while let Some(r) = framer.next_region() {
                m.candidate_events(kind, &r, &mut evs);
                for &i in &evs {
                    let s = &r.events[i];
                    let e = Event::from_bytes(
                        kind,
                        &r.bytes[s.start..s.text_end],
                        s.line,
                        s.offset,
                        s.truncated,
                    );
                    m.candidates(kind, e.text.as_bytes(), &mut cands);
                    m.confirm(&e, &parse(&e, &time), &cands, &mut hits);
                }
            }
            hits.len()
        });
}
