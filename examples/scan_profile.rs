//! Where scan time goes: framing alone, then framing plus the literal search.
//! `cargo run --release --example scan_profile -- FILE KIND`
use std::time::Instant;

use zkb::framing::Framer;
use zkb::kind::LogKind;
use zkb::matcher::Matcher;
use zkb::rules::RuleSet;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let kind = LogKind::parse(&args[2]).expect("kind");
    let bytes = std::fs::read(path).expect("read");
    let t = Instant::now();
    let mut framer = Framer::new(&bytes[..], kind);
    let mut events = 0;
    while let Some(r) = framer.next_region() {
        events += r.events.len();
    }
    let frame = t.elapsed();
    let mut set = RuleSet::embedded();
    set.dedup();
    let m = Matcher::new(set.rules);
    let t = Instant::now();
    let mut framer = Framer::new(&bytes[..], kind);
    let (mut cands, mut out) = (0, Vec::new());
    while let Some(r) = framer.next_region() {
        m.candidate_events(kind, &r, &mut out);
        cands += out.len();
    }
    let both = t.elapsed();
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{events} events, {cands} candidates; framing {:.0} MB/s; framing+literals {:.0} MB/s",
        mb / frame.as_secs_f64(),
        mb / both.as_secs_f64()
    );
}
