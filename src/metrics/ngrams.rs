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

/// A small, fast, deterministic hasher for integer and short string keys (Fx-style
/// multiply-rotate, with a final avalanche).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        // Final avalanche (murmur3 fmix64): the multiply leaves the low bits, which pick the
        // bucket, depending on low input bits only; mixing spreads every input bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
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

/// Interns words (dense ids from 1) and n-grams (dense ids from 0) of a whole evaluated set,
/// so that per-set statistics (document frequencies, clipped counts) are plain arrays.
#[derive(Default)]
pub struct NgramTable {
    words: FxMap<Box<str>, u32>,
    /// Key of an n-gram: `(id of its (n-1)-gram prefix + 1) << 32 | last word id` (prefix 0 for
    /// unigrams), so every key is 64 bits whatever n is.
    grams: FxMap<u64, u32>,
    /// Scratch: for each n-gram id, 1 + its position in the sentence being counted (0 = absent).
    pos: Vec<u32>,
}

impl NgramTable {
    /// Number of distinct n-grams seen so far (ids are `0..n_grams()`).
    pub fn n_grams(&self) -> usize {
        self.grams.len()
    }

    fn word_id(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.words.get(w) {
            return id;
        }
        let id = self.words.len() as u32 + 1;
        self.words.insert(w.into(), id);
        id
    }

    fn gram_id(&mut self, g: u64) -> u32 {
        let next = self.grams.len() as u32;
        let id = *self.grams.entry(g).or_insert(next);
        if id as usize >= self.pos.len() {
            self.pos.resize(id as usize + 1, 0);
        }
        id
    }

    /// N-gram counts of a sentence split as Python's `str.split()` does.
    pub fn counts(&mut self, sentence: &str) -> Counts {
        let words: Vec<u32> = split_whitespace(sentence)
            .map(|w| self.word_id(w))
            .collect();
        let mut by_order: [Vec<(u32, u32)>; MAX_N] = Default::default();
        // prefix[i]: id + 1 of the (k)-gram starting at i (0 before unigrams).
        let mut prefix = vec![0u64; words.len()];
        for (k, slot) in by_order.iter_mut().enumerate() {
            let n_windows = (words.len() + 1).saturating_sub(k + 1);
            for i in 0..n_windows {
                let id = self.gram_id((prefix[i] << 32) | u64::from(words[i + k]));
                prefix[i] = u64::from(id) + 1;
                match self.pos[id as usize] {
                    0 => {
                        slot.push((id, 1));
                        self.pos[id as usize] = slot.len() as u32;
                    }
                    p => slot[p as usize - 1].1 += 1,
                }
            }
            for &(id, _) in slot.iter() {
                self.pos[id as usize] = 0;
            }
        }
        Counts {
            by_order,
            len: words.len(),
        }
    }
}

/// N-gram counts of one sentence: per order n (index n-1), (n-gram id, count) pairs in
/// first-occurrence order; plus the sentence length in words.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// `by_order[n-1]` holds the n-grams (ids from [`NgramTable`]) with their counts.
    pub by_order: [Vec<(u32, u32)>; MAX_N],
    /// Number of words.
    pub len: usize,
}
