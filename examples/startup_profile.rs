//! Start-up costs: loading the embedded rules and KB and building the matcher.
fn main() {
    let t = std::time::Instant::now();
    let kb = zkb::kb::Kb::embedded();
    let kb_t = t.elapsed();
    let t = std::time::Instant::now();
    let set = zkb::rules::RuleSet::embedded();
    let rules_t = t.elapsed();
    let t = std::time::Instant::now();
    let m = zkb::matcher::Matcher::new(set.rules);
    let matcher_t = t.elapsed();
    println!(
        "kb {kb_t:?} ({} entries), rules {rules_t:?}, matcher {matcher_t:?} ({} rules)",
        kb.entries.len(),
        m.rules.len()
    );
}
