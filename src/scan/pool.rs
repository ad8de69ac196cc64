//! The scan's work queue: inputs, and the segments that large plain files are cut into, are
//! handed to worker threads smallest key first, and their results come back to the caller's
//! thread strictly in key order (input order, then file order). Workers stop taking new work
//! while too many finished results, or results too heavy (a flood of findings), wait for an
//! earlier one, so memory stays bounded however large the inputs are and however slow the
//! caller is with each result (as when it writes every finding to the incident store).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Condvar, Mutex};

/// (input index, segment index).
pub type Key = (usize, usize);

struct Shared<T> {
    queue: BTreeSet<Key>,
    /// First segments taken whose input's segment count is not known yet.
    undecided: usize,
    segments: HashMap<usize, usize>,
    done: BTreeMap<Key, (T, usize)>,
    /// The sum of the weights in `done`.
    weight: usize,
}

pub struct Pool<T> {
    shared: Mutex<Shared<T>>,
    changed: Condvar,
    inputs: usize,
    /// Finished results allowed to wait for an earlier one.
    backlog: usize,
    /// Their total weight allowed (see [`Pool::finish`]).
    max_weight: usize,
}

/// How many findings may wait in finished results before workers pause: each costs a few
/// hundred bytes to a few KiB, so this keeps a flood of matches to tens of MiB in flight.
pub const MAX_WEIGHT: usize = 20_000;

impl<T> Pool<T> {
    pub fn new(inputs: usize, threads: usize, max_weight: usize) -> Pool<T> {
        Pool {
            shared: Mutex::new(Shared {
                queue: (0..inputs).map(|i| (i, 0)).collect(),
                undecided: 0,
                segments: HashMap::new(),
                done: BTreeMap::new(),
                weight: 0,
            }),
            changed: Condvar::new(),
            inputs,
            backlog: threads * 2 + 2,
            max_weight,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<T>> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(
        &self,
        g: std::sync::MutexGuard<'a, Shared<T>>,
    ) -> std::sync::MutexGuard<'a, Shared<T>> {
        self.changed.wait(g).unwrap_or_else(|p| p.into_inner())
    }

    /// The next unit to work on, or `None` when there is no more work. A unit `(i, 0)` must be
    /// followed by [`Pool::segments`] for input `i`.
    pub fn take(&self) -> Option<Key> {
        let mut g = self.lock();
        loop {
            if let Some(&key) = g.queue.first() {
                let earliest_done = g.done.keys().next().copied();
                // A unit before every finished one is always taken: it may be the one they wait for.
                let room = g.done.len() < self.backlog && g.weight < self.max_weight;
                if room || earliest_done.is_none_or(|d| key < d) {
                    g.queue.pop_first();
                    if key.1 == 0 {
                        g.undecided += 1;
                    }
                    return Some(key);
                }
            } else if g.undecided == 0 {
                return None;
            }
            g = self.wait(g);
        }
    }

    /// Input `input` has `n` segments (at least 1); segments 1.. join the queue.
    pub fn segments(&self, input: usize, n: usize) {
        let mut g = self.lock();
        g.undecided -= 1;
        g.segments.insert(input, n.max(1));
        for s in 1..n {
            g.queue.insert((input, s));
        }
        self.changed.notify_all();
    }

    /// Hands in the result of `key`; `weight` is what it holds (findings, say).
    pub fn finish(&self, key: Key, result: T, weight: usize) {
        let mut g = self.lock();
        g.weight += weight;
        g.done.insert(key, (result, weight));
        self.changed.notify_all();
    }

    /// Calls `sink` with every result in key order, with whether it is its input's last
    /// segment; returns when all inputs are through.
    pub fn drain(&self, mut sink: impl FnMut(Key, T, bool)) {
        let mut head: Key = (0, 0);
        while head.0 < self.inputs {
            let mut g = self.lock();
            let result = loop {
                if let Some((r, weight)) = g.done.remove(&head) {
                    g.weight -= weight;
                    break r;
                }
                g = self.wait(g);
            };
            let n = g.segments.get(&head.0).copied().unwrap_or(1);
            self.changed.notify_all();
            drop(g);
            let key = head;
            let last = head.1 + 1 >= n;
            head = if last {
                (head.0 + 1, 0)
            } else {
                (head.0, head.1 + 1)
            };
            sink(key, result, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_with_segments_added_on_the_way() {
        for threads in 1..4 {
            let pool: Pool<Key> = Pool::new(5, threads, 3);
            let mut got = Vec::new();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        while let Some(key) = pool.take() {
                            if key.1 == 0 {
                                pool.segments(key.0, key.0 % 3 + 1);
                            }
                            pool.finish(key, key, key.1);
                        }
                    });
                }
                pool.drain(|key, r, last| got.push((key, r, last)));
            });
            let want: Vec<(Key, Key, bool)> = (0..5)
                .flat_map(|i| {
                    let n = i % 3 + 1;
                    (0..n).map(move |s| ((i, s), (i, s), s + 1 == n))
                })
                .collect();
            assert_eq!(got, want, "threads {threads}");
        }
    }
}
