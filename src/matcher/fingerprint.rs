//! Fingerprint filter: answers "may one of these literals occur here?" for long buffers faster
//! than an automaton can. Each literal is stood for by one of its 4-byte windows — the one that
//! is rarest in a sample of the input — and the filter hashes every 4-byte window of the text
//! into a 64 Kbit table that holds those fingerprints. Windows are case-folded (each byte ORed
//! with 0x20) on both sides, so upper- and lower-case text meet the lower-cased literals. The
//! test never misses a literal; its false hits (other windows with the same hash) are left to
//! the automaton that checks each candidate event.

/// Literals must be at least this long to be fingerprinted.
pub const WINDOW: usize = 4;

const BITS: u32 = 16;
/// Windows are tested in blocks of this many start positions without branching.
const BLOCK: usize = 64;
/// How much of the input the fingerprint choice looks at.
const SAMPLE: usize = 1 << 20;

pub struct Fingerprints {
    table: Vec<u64>,
}

fn window(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) | 0x2020_2020
}

fn slot(w: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> (32 - BITS)) as usize
}

impl Fingerprints {
    /// A filter for `literals`, each represented by its window rarest in `sample`; `None` when
    /// a literal is shorter than [`WINDOW`].
    pub fn new<'a>(literals: impl IntoIterator<Item = &'a [u8]>, sample: &[u8]) -> Option<Self> {
        let sample = &sample[..sample.len().min(SAMPLE)];
        let mut counts = vec![0u32; 1 << BITS];
        for w in sample.windows(WINDOW) {
            counts[slot(window(w))] += 1;
        }
        let mut table = vec![0u64; (1 << BITS) / 64];
        for lit in literals {
            let rarest = lit
                .windows(WINDOW)
                .map(|w| slot(window(w)))
                .min_by_key(|&s| counts[s])?;
            table[rarest / 64] |= 1 << (rarest % 64);
        }
        Some(Fingerprints { table })
    }

    fn holds(&self, w: &[u8]) -> bool {
        let s = slot(window(w));
        self.table[s / 64] & (1 << (s % 64)) != 0
    }

    /// The first position at or after `from` where a fingerprint window starts.
    pub fn find(&self, bytes: &[u8], from: usize) -> Option<usize> {
        let mut start = from;
        while start + WINDOW <= bytes.len() {
            let end = (start + BLOCK + WINDOW - 1).min(bytes.len());
            let block = &bytes[start..end];
            if self.block_has_hit(block) {
                return block
                    .windows(WINDOW)
                    .position(|w| self.holds(w))
                    .map(|i| start + i);
            }
            start += BLOCK;
        }
        None
    }

    /// Whether any window of `block` is in the table, tested without a branch per window.
    fn block_has_hit(&self, block: &[u8]) -> bool {
        let mut any = 0u64;
        for w in block.windows(WINDOW) {
            let s = slot(window(w));
            any |= self.table[s / 64] >> (s % 64);
        }
        any & 1 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_literals_in_any_case_and_position() {
        let f = Fingerprints::new([&b"no such blob"[..], b"connection refused"], b"").unwrap();
        let text = b"2026 ERROR ... No Such Blob: mailbox=1";
        let at = f.find(text, 0).unwrap();
        assert!((15..=23).contains(&at), "{at}");
        assert_eq!(
            f.find(b"CONNECTION REFUSED", 0).map(|p| p <= 14),
            Some(true)
        );
        assert_eq!(f.find(b"abc", 0), None);
    }

    #[test]
    fn short_literals_cannot_be_fingerprinted() {
        assert!(Fingerprints::new([&b"abc"[..]], b"").is_none());
    }

    proptest! {
        #[test]
        fn never_misses_a_literal(
            lit in "[a-zA-Z :=.]{4,12}",
            pre in "[a-z ]{0,200}",
            post in "[a-z ]{0,80}",
            sample in "[a-zA-Z ]{0,300}",
            from_back in 0usize..3,
        ) {
            let lower = lit.to_ascii_lowercase();
            let f = Fingerprints::new([lower.as_bytes()], sample.as_bytes()).unwrap();
            let text = format!("{pre}{lit}{post}");
            let from = pre.len().saturating_sub(from_back);
            let found = f.find(text.as_bytes(), from);
            prop_assert!(found.is_some_and(|p| p <= pre.len() + lit.len() - WINDOW));
        }
    }
}
