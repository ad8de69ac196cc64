//! Fingerprint filter: answers "may one of these literals occur here?" for long buffers faster
//! than an automaton can. Each literal is stood for by one of its 4-byte windows — the one that
//! is rarest in a sample of the input — and the filter hashes every 4-byte window of the text
//! into a 64 Kbit table that holds those fingerprints. Windows are case-folded (each byte ORed
//! with 0x20) on both sides, so upper- and lower-case text meet the lower-cased literals. The
//! test never misses a literal; on a hit the literals that own the slot are compared in place,
//! so false hits (other windows with the same hash) cost a lookup and go no further. Each
//! literal owns a run of consecutive windows, so only every few positions need testing.

/// Literals must be at least this long to be fingerprinted; `WINDOW + STRIDE - 1` for the
/// longest stride.
pub const WINDOW: usize = 4;

const BITS: u32 = 16;
/// Windows are tested in blocks of this many start positions without branching.
const BLOCK: usize = 64;
/// How much of the input the fingerprint choice looks at.
const SAMPLE: usize = 1 << 20;

/// Most windows a literal contributes; the filter then tests only every `STRIDE`-th position.
const STRIDE: usize = 4;

pub struct Fingerprints {
    table: Vec<u64>,
    /// For each table slot in use: the literals with a fingerprint window there, and that
    /// window's offset in the literal (to check the literal itself on a hit).
    owners: std::collections::HashMap<usize, Vec<(usize, usize)>>,
    literals: Vec<Vec<u8>>,
    /// Only positions that are multiples of this are tested: each literal put this many
    /// consecutive windows in the table, so one of them starts at a tested position.
    stride: usize,
}

fn window(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) | 0x2020_2020
}

fn slot(w: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> (32 - BITS)) as usize
}

impl Fingerprints {
    /// A filter for `literals`, each represented by the run of `stride` consecutive windows
    /// rarest in `sample`; `None` when a literal is shorter than [`WINDOW`].
    pub fn new<'a>(literals: impl IntoIterator<Item = &'a [u8]>, sample: &[u8]) -> Option<Self> {
        let literals: Vec<&[u8]> = literals.into_iter().collect();
        let shortest = literals.iter().map(|l| l.len()).min().unwrap_or(WINDOW);
        let stride = (shortest + 1).checked_sub(WINDOW)?.clamp(1, STRIDE);
        let sample = &sample[..sample.len().min(SAMPLE)];
        let mut counts = vec![0u32; 1 << BITS];
        for w in sample.windows(WINDOW) {
            counts[slot(window(w))] += 1;
        }
        let mut table = vec![0u64; (1 << BITS) / 64];
        let mut owners: std::collections::HashMap<usize, Vec<(usize, usize)>> = Default::default();
        for (id, lit) in literals.iter().enumerate() {
            let slots: Vec<usize> = lit.windows(WINDOW).map(|w| slot(window(w))).collect();
            let (first, _) = slots
                .windows(stride)
                .enumerate()
                .min_by_key(|(_, run)| run.iter().map(|&s| u64::from(counts[s])).sum::<u64>())?;
            for (off, &s) in slots.iter().enumerate().skip(first).take(stride) {
                table[s / 64] |= 1 << (s % 64);
                owners.entry(s).or_default().push((id, off));
            }
        }
        let literals = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
        Some(Fingerprints {
            table,
            owners,
            literals,
            stride,
        })
    }

    fn holds(&self, w: &[u8]) -> bool {
        let s = slot(window(w));
        self.table[s / 64] & (1 << (s % 64)) != 0
    }

    /// The start of a literal (ASCII case ignored) that starts at or after `from` — the first
    /// such literal found through its fingerprint, which is not always the leftmost one; `None`
    /// when there is none. A literal starting at `o` put `stride` consecutive windows in the
    /// table, one of which starts at a tested position (a multiple of `stride`) at or after `o`.
    pub fn find(&self, bytes: &[u8], from: usize) -> Option<usize> {
        let step = BLOCK - BLOCK % self.stride;
        let mut start = from.div_ceil(self.stride) * self.stride;
        while start + WINDOW <= bytes.len() {
            let end = (start + step + WINDOW - 1).min(bytes.len());
            let block = &bytes[start..end];
            if self.block_has_hit(block) {
                let found = (0..=block.len() - WINDOW)
                    .step_by(self.stride)
                    .filter(|&i| self.holds(&block[i..]))
                    .find_map(|i| self.literal_around(bytes, start + i, from));
                if found.is_some() {
                    return found;
                }
            }
            start += step;
        }
        None
    }

    /// Calls `found` with the index (in the order given to [`Fingerprints::new`]) of every
    /// literal that occurs in `text`, once or more.
    pub fn each_literal(&self, text: &[u8], mut found: impl FnMut(usize)) {
        let step = BLOCK - BLOCK % self.stride;
        let mut start = 0;
        while start + WINDOW <= text.len() {
            let end = (start + step + WINDOW - 1).min(text.len());
            let block = &text[start..end];
            if self.block_has_hit(block) {
                for i in (0..=block.len() - WINDOW).step_by(self.stride) {
                    self.each_literal_at(text, start + i, &mut found);
                }
            }
            start += step;
        }
    }

    fn each_literal_at(&self, text: &[u8], at: usize, found: &mut impl FnMut(usize)) {
        let Some(owners) = self.owners.get(&slot(window(&text[at..]))) else {
            return;
        };
        for &(id, off) in owners {
            let lit = &self.literals[id];
            let Some(s) = at.checked_sub(off) else {
                continue;
            };
            if text
                .get(s..s + lit.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(lit))
            {
                found(id);
            }
        }
    }

    /// The start of a literal, at or after `from`, whose fingerprint window is at `at`.
    fn literal_around(&self, bytes: &[u8], at: usize, from: usize) -> Option<usize> {
        let owners = self.owners.get(&slot(window(&bytes[at..])))?;
        owners.iter().find_map(|&(id, off)| {
            let lit = &self.literals[id];
            let s = at.checked_sub(off).filter(|&s| s >= from)?;
            bytes
                .get(s..s + lit.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(lit))
                .then_some(s)
        })
    }

    /// Whether a window at a tested position of `block` is in the table, without a branch per
    /// window.
    fn block_has_hit(&self, block: &[u8]) -> bool {
        let mut any = 0u64;
        let mut test = |w: &[u8]| {
            let s = slot(window(w));
            any |= self.table[s / 64] >> (s % 64);
        };
        match self.stride {
            // Windows at 0, 4, 8, …: the block's 4-byte chunks.
            4 => block.chunks_exact(WINDOW).for_each(test),
            1 => block.windows(WINDOW).for_each(test),
            _ => (0..=block.len() - WINDOW)
                .step_by(self.stride)
                .for_each(|i| test(&block[i..])),
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
    fn each_literal_reports_every_literal_present() {
        let lits: [&[u8]; 3] = [b"no such blob", b"connection refused", b"mailbox="];
        let f = Fingerprints::new(lits, b"").unwrap();
        let mut got = Vec::new();
        f.each_literal(
            b"Connection refused; No such blob: mailbox=1, mailbox=2",
            |i| got.push(i),
        );
        got.sort();
        got.dedup();
        assert_eq!(got, [0, 1, 2]);
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
            // The leftmost occurrence at or after `from`, or a later one (never a miss).
            let first = text.to_ascii_lowercase()[from..].find(&lower).map(|i| i + from);
            prop_assert!(first.is_some());
            prop_assert!(found.is_some_and(|p| p >= from
                && text[p..].to_ascii_lowercase().starts_with(&lower)));
        }
    }
}
