//! Word interning and n-gram counts (n = 1..4) in first-occurrence order.
//!
//! pycocoevalcap keeps n-gram counts in Python dicts, whose iteration order is insertion
//! order: all unigrams by first position, then bigrams, and so on. Sums over n-grams follow
//! that order here too, so floating-point results match to the last bits. N-gram ids only
//! index per-set arrays (document frequencies, clipped counts): no sum runs in id order.

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

/// Word ids of many sentences, flat: sentence `i` is `ids[ends[i-1]..ends[i]]`.
struct Words {
    ids: Vec<u32>,
    ends: Vec<usize>,
}

impl Words {
    /// Intern the words of `sentences` (split as Python's `str.split()` does), dense ids
    /// from 0 in first-occurrence order.
    fn intern(sentences: &[&str]) -> Words {
        let mut table: FxMap<&str, u32> = FxMap::default();
        let mut ids = Vec::with_capacity(sentences.iter().map(|s| s.len() / 4).sum());
        let mut ends = Vec::with_capacity(sentences.len());
        for s in sentences {
            for w in split_whitespace(s) {
                let next = table.len() as u32;
                ids.push(*table.entry(w).or_insert(next));
            }
            ends.push(ids.len());
        }
        Words { ids, ends }
    }

    /// The word ids of each sentence, in order.
    fn sentences(&self) -> impl Iterator<Item = &[u32]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.ids[a..b])
    }
}

/// The n-grams of order `N` of every sentence: per sentence, (id, count) pairs in
/// first-occurrence order, ids dense from 0 in first-occurrence order over all sentences;
/// plus the number of distinct n-grams. N-grams are keyed by their word ids, so each order
/// is interned independently of the others.
fn count_order<const N: usize>(words: &Words) -> (Vec<Vec<(u32, u32)>>, usize) {
    let mut table: FxMap<[u32; N], u32> = FxMap::default();
    // For each n-gram id, 1 + its index in the sentence being counted (0 = absent).
    let mut pos: Vec<u32> = Vec::new();
    let per_sentence = words
        .sentences()
        .map(|ws| {
            let mut grams: Vec<(u32, u32)> = Vec::with_capacity((ws.len() + 1).saturating_sub(N));
            for w in ws.windows(N) {
                let next = table.len() as u32;
                let id = *table
                    .entry(w.try_into().expect("window of N words"))
                    .or_insert(next);
                if id == next {
                    pos.push(0);
                }
                match pos[id as usize] {
                    0 => {
                        grams.push((id, 1));
                        pos[id as usize] = grams.len() as u32;
                    }
                    p => grams[p as usize - 1].1 += 1,
                }
            }
            for &(id, _) in &grams {
                pos[id as usize] = 0;
            }
            grams
        })
        .collect();
    (per_sentence, table.len())
}

/// N-gram counts (n = 1..[`MAX_N`]) of every sentence, split as Python's `str.split()`
/// does, and the number of distinct n-grams: ids are dense in `0..n_grams`, unigrams first,
/// then bigrams, and so on; within an order, in first-occurrence order over `sentences`.
/// The orders are interned in parallel (their ids do not depend on the thread count).
pub fn count_all(sentences: &[&str]) -> (Vec<Counts>, usize) {
    let words = Words::intern(sentences);
    let ((o1, o4), (o2, o3)) = rayon::join(
        || rayon::join(|| count_order::<1>(&words), || count_order::<4>(&words)),
        || rayon::join(|| count_order::<2>(&words), || count_order::<3>(&words)),
    );
    let orders = [o1, o2, o3, o4];
    let mut offsets = [0u32; MAX_N];
    let mut n_grams = 0;
    for (off, (_, n)) in offsets.iter_mut().zip(&orders) {
        *off = n_grams as u32;
        n_grams += n;
    }
    let [i1, i2, i3, i4] = orders.map(|(per, _)| per.into_iter());
    let counts = i1
        .zip(i2)
        .zip(i3)
        .zip(i4)
        .zip(words.sentences())
        .map(|((((g1, g2), g3), g4), ws)| {
            let mut by_order = [g1, g2, g3, g4];
            for (grams, &off) in by_order.iter_mut().zip(&offsets) {
                grams.iter_mut().for_each(|(id, _)| *id += off);
            }
            Counts {
                by_order,
                len: ws.len(),
            }
        })
        .collect();
    (counts, n_grams)
}

/// N-gram counts of one sentence: per order n (index n-1), (n-gram id, count) pairs in
/// first-occurrence order; plus the sentence length in words.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// `by_order[n-1]` holds the n-grams (ids from [`count_all`]) with their counts.
    pub by_order: [Vec<(u32, u32)>; MAX_N],
    /// Number of words.
    pub len: usize,
}
