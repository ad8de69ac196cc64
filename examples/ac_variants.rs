//! Compares literal-search set-ups over one file (a tuning aid for the matcher).
use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use zkb::rules::RuleSet;

fn main() {
    let path = std::env::args().nth(1).expect("file");
    let bytes = std::fs::read(path).expect("read");
    let set = RuleSet::embedded();
    let mut lits: Vec<Vec<u8>> = set
        .rules
        .iter()
        .filter_map(|r| r.node.required())
        .flatten()
        .collect();
    if let Some(n) = std::env::args()
        .nth(2)
        .and_then(|n| n.parse::<usize>().ok())
    {
        for l in &mut lits {
            l.truncate(n);
        }
    }
    lits.sort();
    lits.dedup();
    println!("{} literals", lits.len());
    for (name, ci, kind, mk) in [
        (
            "dfa ci standard",
            true,
            AhoCorasickKind::DFA,
            MatchKind::Standard,
        ),
        (
            "dfa cs standard",
            false,
            AhoCorasickKind::DFA,
            MatchKind::Standard,
        ),
        (
            "dfa ci leftmost",
            true,
            AhoCorasickKind::DFA,
            MatchKind::LeftmostFirst,
        ),
        (
            "cnfa ci standard",
            true,
            AhoCorasickKind::ContiguousNFA,
            MatchKind::Standard,
        ),
    ] {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(ci)
            .kind(Some(kind))
            .match_kind(mk)
            .build(&lits)
            .unwrap();
        let t = Instant::now();
        let mut n = 0;
        let mut pos = 0;
        while let Some(m) = ac.find(Input::new(&bytes[..]).range(pos..)) {
            n += 1;
            pos = m.end();
        }
        let s = t.elapsed().as_secs_f64();
        println!("{name}: {n} hits, {:.0} MB/s", bytes.len() as f64 / 1e6 / s);
    }
    let alt = lits
        .iter()
        .map(|l| regex::escape(&String::from_utf8_lossy(l)))
        .collect::<Vec<_>>()
        .join("|");
    let re = regex::bytes::Regex::new(&format!("(?i){alt}")).unwrap();
    let t = Instant::now();
    let n = re.find_iter(&bytes).count();
    println!(
        "regex (?i) alternation: {n} hits, {:.0} MB/s",
        bytes.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
    );
    let re = regex::bytes::Regex::new(&alt).unwrap();
    let t = Instant::now();
    let n = re.find_iter(&bytes).count();
    println!(
        "regex cs alternation: {n} hits, {:.0} MB/s",
        bytes.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
    );
}
