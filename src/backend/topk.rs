//! Per-row top-k state, per-row exclusion sets, and the tie rule shared by every backend.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// The crate's rank order: `(score, index)` ranks before `(other_score, other_index)` if its
/// score is higher, or equal with a lower index. NaN never ranks before anything.
#[inline]
pub fn ranks_before(score: f32, index: usize, other_score: f32, other_index: usize) -> bool {
    score > other_score || (score == other_score && index < other_index)
}

/// Total order on `(score, index)` candidates (no NaN): best first.
#[inline]
pub(crate) fn rank_cmp(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// For every query row, a sorted set of global datastore indices it must never return
/// (CSR layout: `offsets` has one entry per row plus one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusions {
    offsets: Vec<usize>,
    indices: Vec<usize>,
}

impl Exclusions {
    /// Build from one list per query row (any order, duplicates allowed).
    pub fn per_query(lists: Vec<Vec<usize>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut indices = Vec::new();
        for mut list in lists {
            list.sort_unstable();
            list.dedup();
            indices.extend_from_slice(&list);
            offsets.push(indices.len());
        }
        Exclusions { offsets, indices }
    }

    /// Number of query rows covered.
    pub fn n_queries(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Excluded indices of query row `i`, ascending.
    pub fn rows_of(&self, i: usize) -> &[usize] {
        &self.indices[self.offsets[i]..self.offsets[i + 1]]
    }

    /// CSR offsets (`n_queries + 1` entries).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// All excluded indices, row after row.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The sets of query rows `start..end` as their own `Exclusions`.
    pub fn row_range(&self, start: usize, end: usize) -> Exclusions {
        let base = self.offsets[start];
        Exclusions {
            offsets: self.offsets[start..=end].iter().map(|o| o - base).collect(),
            indices: self.indices[base..self.offsets[end]].to_vec(),
        }
    }

    /// Fail unless these sets fit `n_queries` query rows and a base of `n_rows` rows.
    pub fn check(&self, n_queries: usize, n_rows: usize) -> Result<()> {
        if self.n_queries() != n_queries {
            return Err(Error::shape(
                "exclusion sets vs queries",
                format!("{n_queries} sets"),
                format!("{} sets", self.n_queries()),
            ));
        }
        if let Some(&r) = self.indices.iter().find(|&&r| r >= n_rows) {
            return Err(Error::IndexOutOfRange {
                what: "excluded datastore row".into(),
                index: r,
                len: n_rows,
            });
        }
        Ok(())
    }
}

/// Running top-k of `q` rows: each row holds up to `min(k, m)` `(score, index)` pairs in
/// rank order (see [`ranks_before`]). Rows with exclusions may hold fewer.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    k: usize,
    scores: Vec<f32>,
    indices: Vec<usize>,
    lens: Vec<usize>,
}

impl TopK {
    /// Empty state for `q` rows, `k` results per row over a base of `m` rows (`k > m`
    /// keeps `m`). `k = 0` is an error.
    pub fn new(q: usize, k: usize, m: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::invalid("k", "must be at least 1"));
        }
        let k = k.min(m);
        Ok(TopK {
            k,
            scores: vec![f32::NEG_INFINITY; q * k],
            indices: vec![usize::MAX; q * k],
            lens: vec![0; q],
        })
    }

    /// Number of query rows.
    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// Capacity per row: `min(k, m)`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Row `i`: scores (descending) and global indices, `len(i)` entries.
    pub fn row(&self, i: usize) -> (&[f32], &[usize]) {
        let s = i * self.k;
        let n = self.lens[i];
        (&self.scores[s..s + n], &self.indices[s..s + n])
    }

    /// Number of results held by row `i`.
    pub fn len(&self, i: usize) -> usize {
        self.lens[i]
    }

    /// Whether no row holds a result.
    pub fn is_empty(&self) -> bool {
        self.lens.iter().all(|&l| l == 0)
    }

    /// Raw parts `(k, scores q·k, indices q·k, lens q)`; unused slots are
    /// `(-inf, usize::MAX)`.
    pub fn parts(&self) -> (usize, &[f32], &[usize], &[usize]) {
        (self.k, &self.scores, &self.indices, &self.lens)
    }

    /// Build from raw parts (each row must already be in rank order).
    pub fn from_parts(
        k: usize,
        scores: Vec<f32>,
        indices: Vec<usize>,
        lens: Vec<usize>,
    ) -> Result<Self> {
        let q = lens.len();
        if scores.len() != q * k || indices.len() != q * k || lens.iter().any(|&l| l > k) {
            return Err(Error::shape(
                "TopK::from_parts",
                format!("{q} x {k} scores and indices, lens <= {k}"),
                format!("{} scores, {} indices", scores.len(), indices.len()),
            ));
        }
        Ok(TopK {
            k,
            scores,
            indices,
            lens,
        })
    }

    /// Copy the rows of `block` into rows `start..start + block.rows()`.
    pub fn set_rows(&mut self, start: usize, block: &TopK) -> Result<()> {
        if block.k != self.k || start + block.rows() > self.rows() {
            return Err(Error::shape(
                "TopK::set_rows",
                format!(
                    "k = {}, rows <= {}",
                    self.k,
                    self.rows() - start.min(self.rows())
                ),
                format!("k = {}, {} rows", block.k, block.rows()),
            ));
        }
        let (a, b) = (start * self.k, (start + block.rows()) * self.k);
        self.scores[a..b].copy_from_slice(&block.scores);
        self.indices[a..b].copy_from_slice(&block.indices);
        self.lens[start..start + block.rows()].copy_from_slice(&block.lens);
        Ok(())
    }

    /// CPU merge of a `q x w` score tile (global columns `col_offset..`) into this state.
    pub(crate) fn merge_tile_cpu(
        &mut self,
        tile: &[f32],
        w: usize,
        col_offset: usize,
        exclusions: Option<&Exclusions>,
    ) {
        let k = self.k;
        self.scores
            .par_chunks_mut(k)
            .zip(self.indices.par_chunks_mut(k))
            .zip(self.lens.par_iter_mut())
            .enumerate()
            .for_each_init(Vec::new, |buf, (i, ((scores, indices), len))| {
                let excluded = exclusions.map_or(&[][..], |e| e.rows_of(i));
                let row = RowState {
                    scores,
                    indices,
                    len,
                };
                row.merge(&tile[i * w..(i + 1) * w], col_offset, excluded, buf);
            });
    }
}

/// One row of a [`TopK`] during a merge.
struct RowState<'a> {
    scores: &'a mut [f32],
    indices: &'a mut [usize],
    len: &'a mut usize,
}

impl RowState<'_> {
    fn merge(
        self,
        tile_row: &[f32],
        col_offset: usize,
        excluded: &[usize],
        buf: &mut Vec<(f32, usize)>,
    ) {
        let k = self.scores.len();
        buf.clear();
        buf.extend((0..*self.len).map(|j| (self.scores[j], self.indices[j])));
        let mut worst = (buf.len() == k).then(|| buf[k - 1]);
        let prune_at = (2 * k).max(64);
        for (j, &s) in tile_row.iter().enumerate() {
            let g = col_offset + j;
            if s.is_nan() || worst.is_some_and(|(ws, wi)| !ranks_before(s, g, ws, wi)) {
                continue;
            }
            if excluded.binary_search(&g).is_ok() {
                continue;
            }
            buf.push((s, g));
            if buf.len() >= prune_at {
                keep_best(buf, k);
                worst = buf.iter().copied().max_by(rank_cmp);
            }
        }
        keep_best(buf, k);
        buf.sort_unstable_by(rank_cmp);
        for (j, &(s, g)) in buf.iter().enumerate() {
            self.scores[j] = s;
            self.indices[j] = g;
        }
        *self.len = buf.len();
    }
}

/// Keep the `k` best candidates (unordered).
fn keep_best(buf: &mut Vec<(f32, usize)>, k: usize) {
    if buf.len() > k {
        buf.select_nth_unstable_by(k - 1, rank_cmp);
        buf.truncate(k);
    }
}
