//! Word interning and n-gram counts (n = 1..4) in first-occurrence order.
//!
//! pycocoevalcap keeps n-gram counts in Python dicts, whose iteration order is insertion
//! order: all unigrams by first position, then bigrams, and so on. Sums over n-grams follow
//! that order here too, so floating-point results match to the last bits.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::text::split_whitespace;

/// Maximum n-gram order of the COCO metrics.
pub const MAX_N: usize = 4;

/// An n-gram as a key: up to four word ids (ids start at 1; unused slots are 0).
pub type Gram = u128;

/// A small, fast, deterministic hasher for integer keys (Fx-style multiply-rotate).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_u128(&mut self, v: u128) {
        self.add(v as u64);
        self.add((v >> 64) as u64);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

impl FxHasher {
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// HashMap with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Maps words to dense ids (from 1).
#[derive(Default)]
pub struct Vocab {
    ids: HashMap<String, u32>,
}

impl Vocab {
    /// Word ids of a sentence split as Python's `str.split()` does.
    pub fn words(&mut self, sentence: &str) -> Vec<u32> {
        split_whitespace(sentence)
            .map(|w| {
                let next = self.ids.len() as u32 + 1;
                *self.ids.entry(w.to_owned()).or_insert(next)
            })
            .collect()
    }
}

/// The n-gram key of `words` (1 to 4 ids).
pub fn gram(words: &[u32]) -> Gram {
    words
        .iter()
        .fold(0u128, |acc, &w| (acc << 32) | u128::from(w))
}

/// N-gram counts of one sentence: per order n (index n-1), (gram, count) pairs in
/// first-occurrence order; plus the sentence length in words.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// `by_order[n-1]` holds the n-grams with their counts.
    pub by_order: [Vec<(Gram, u32)>; MAX_N],
    /// Number of words.
    pub len: usize,
}

impl Counts {
    /// Count the 1..4-grams of a sentence given as word ids.
    pub fn new(words: &[u32]) -> Counts {
        let mut by_order: [Vec<(Gram, u32)>; MAX_N] = Default::default();
        let mut pos: FxMap<Gram, usize> = FxMap::default();
        for (k, slot) in by_order.iter_mut().enumerate() {
            let n = k + 1;
            pos.clear();
            for window in words.windows(n) {
                let g = gram(window);
                match pos.get(&g) {
                    Some(&i) => slot[i].1 += 1,
                    None => {
                        pos.insert(g, slot.len());
                        slot.push((g, 1));
                    }
                }
            }
        }
        Counts {
            by_order,
            len: words.len(),
        }
    }

    /// Count of one n-gram of order `n` (1-based), 0 when absent.
    pub fn get(&self, n: usize, g: Gram) -> u32 {
        self.by_order[n - 1]
            .iter()
            .find(|(h, _)| *h == g)
            .map_or(0, |&(_, c)| c)
    }
}
