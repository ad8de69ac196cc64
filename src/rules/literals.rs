//! Required literals: from a regex (parsed with regex-syntax) the set of strings one of which
//! every match must contain. The matcher feeds them to one Aho-Corasick automaton, so a rule's
//! regex runs only on events that contain one of its literals. Literals are lower-cased and
//! searched ASCII-case-insensitively, which only ever adds candidates, never loses one.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Alternatives beyond this make a set useless as a prefilter.
const MAX_ALTERNATIVES: usize = 64;

/// One of these strings occurs in every match; `None` when no such set was found.
pub type Required = Option<Vec<Vec<u8>>>;

/// The required literals of a regex pattern, or `None` if it has none (or does not parse).
pub fn of_regex(pattern: &str) -> Required {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    of_hir(&hir)
}

/// The required literals of a parsed regex.
pub fn of_hir(hir: &Hir) -> Required {
    required(hir)
}

/// The literal of a `contains` match.
pub fn of_literal(s: &str) -> Required {
    (!s.is_empty()).then(|| vec![s.as_bytes().to_ascii_lowercase()])
}

/// Picks the better of two requirements: the one whose shortest alternative is longest.
pub fn better(a: Required, b: Required) -> Required {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
    }
}

/// Every branch must supply a literal, else there is no requirement.
pub fn union(sets: impl IntoIterator<Item = Required>) -> Required {
    let mut all: Vec<Vec<u8>> = Vec::new();
    for s in sets {
        all.extend(s?);
    }
    all.sort();
    all.dedup();
    (!all.is_empty() && all.len() <= MAX_ALTERNATIVES).then_some(all)
}

/// Shortest alternative first, then fewer alternatives.
fn score(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let min = set.iter().map(Vec::len).min().unwrap_or(0);
    (min, std::cmp::Reverse(set.len()))
}

fn required(h: &Hir) -> Required {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(lit) => Some(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(c) => class_chars(c).map(|cs| cs.into_iter().collect()),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Concat(subs) => concat(subs),
        HirKind::Alternation(subs) => union(subs.iter().map(required)),
    }
}

/// The best of: runs of adjacent exact pieces joined into one string, and each child's own set.
fn concat(subs: &[Hir]) -> Required {
    let mut best: Required = None;
    let mut run: Vec<u8> = Vec::new();
    for sub in subs {
        match exact(sub) {
            Some(bytes) => run.extend(bytes),
            None => {
                if !run.is_empty() {
                    best = better(best, Some(vec![std::mem::take(&mut run)]));
                }
                best = better(best, required(sub));
            }
        }
    }
    if !run.is_empty() {
        best = better(best, Some(vec![run]));
    }
    best
}

/// The single (lower-cased) string a piece matches, if it matches exactly one.
fn exact(h: &Hir) -> Option<Vec<u8>> {
    match h.kind() {
        HirKind::Literal(lit) => Some(lit.0.to_ascii_lowercase()),
        HirKind::Class(c) => match class_chars(c)?.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
        HirKind::Capture(c) => exact(&c.sub),
        HirKind::Concat(subs) => subs
            .iter()
            .map(exact)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat()),
        _ => None,
    }
}

/// A class of at most a few characters, as lower-cased strings. `[Aa]` (what `(?i)a` becomes)
/// is one string.
fn class_chars(c: &Class) -> Option<Vec<Vec<u8>>> {
    let mut chars: Vec<Vec<u8>> = Vec::new();
    match c {
        Class::Unicode(u) => {
            for r in u.ranges() {
                if (r.end() as u32 - r.start() as u32) > 4 {
                    return None;
                }
                for ch in r.start()..=r.end() {
                    let mut buf = [0u8; 4];
                    chars.push(ch.encode_utf8(&mut buf).as_bytes().to_ascii_lowercase());
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                if r.end() - r.start() > 4 {
                    return None;
                }
                for byte in r.start()..=r.end() {
                    chars.push(vec![byte.to_ascii_lowercase()]);
                }
            }
        }
    }
    chars.sort();
    chars.dedup();
    (chars.len() <= 4 && !chars.is_empty()).then_some(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Vec<String> {
        of_regex(p)
            .unwrap_or_default()
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn picks_the_longest_piece() {
        assert_eq!(
            lits(r"No such blob: mailbox=(?P<m>\d+), item=(?P<i>\d+)"),
            ["no such blob: mailbox="]
        );
        assert_eq!(
            lits(r"connect to (\S+)\[[\d.]+\]:7025: Connection refused"),
            ["]:7025: connection refused"]
        );
    }

    #[test]
    fn case_insensitive_and_alternation() {
        assert_eq!(lits(r"(?i)out of memory"), ["out of memory"]);
        assert_eq!(lits(r"(foo bar|baz qux) end"), ["baz qux", "foo bar"]);
    }

    #[test]
    fn none_when_nothing_is_required() {
        assert!(of_regex(r"\d+").is_none());
        assert!(of_regex(r"(abc)?\w+").is_none());
        assert!(of_regex(r"abc|\w+").is_none());
    }

    #[test]
    fn unicode_case_folding_is_not_taken_for_a_literal() {
        // (?i)k also matches U+212A KELVIN SIGN, so "k" alone is not a safe literal.
        assert_eq!(lits(r"(?i)ok then"), [" then"]);
    }
}
