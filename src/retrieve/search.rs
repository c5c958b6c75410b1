//! Exact blocked top-k search: tile GEMM fused with per-row selection.
//!
//! The work is split into tasks `(query block, datastore range)` run on the current rayon
//! pool. A task packs its query block once, then walks its datastore range [`NR`] rows at a
//! time: pack the rows, compute the `block x NR` score tile with the micro-kernel (it stays
//! in L1), and offer each score to its query's [`TopK`] only if it reaches the row's current
//! k-th best (one vector compare rejects almost all of them). Partial selections of the same
//! query block are merged at the end. Memory: the packed block, one row panel and one score
//! tile per running task, plus `q x k` results; never a `q x m` score matrix.
//!
//! Results do not depend on block sizes or thread count: every score is computed bit-for-bit
//! the same way wherever it falls (see [`super::kernel`]), and the top-k under the
//! order "higher score, then lower index" is unique, so merging in any order gives the same
//! rows.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::exclude::Exclusion;
use super::kernel::{self, RowsRef, MR, NR};
use super::topk::TopK;
use crate::error::{Error, Result};
use crate::matrix::{check_finite_rows, l2_normalize_rows, RowMatrix};

/// How a query and a datastore row are scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity: queries are L2-normalized (a zero query is an error) and the
    /// datastore rows must be unit-norm (a [`Datastore`](super::Datastore) built with
    /// normalization).
    #[default]
    Cosine,
    /// The raw inner product `q · x` of the rows as given.
    InnerProduct,
}

/// Progress callback: `(tasks done, tasks in all)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Options of a search. `Default` gives cosine, no exclusion, automatic blocking.
#[derive(Clone, Copy, Default)]
pub struct SearchOptions<'a> {
    /// Cosine (default) or raw inner product.
    pub metric: Metric,
    /// Datastore rows each query must skip.
    pub exclusion: Option<&'a Exclusion>,
    /// Queries per block (0 = automatic, 512). Results do not depend on it.
    pub query_block: usize,
    /// Datastore rows per task (0 = automatic). Results do not depend on it.
    pub rows_per_task: usize,
    /// Called after each finished task.
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for SearchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchOptions")
            .field("metric", &self.metric)
            .field("exclusion", &self.exclusion.map(|e| e.n_queries()))
            .field("query_block", &self.query_block)
            .field("rows_per_task", &self.rows_per_task)
            .finish()
    }
}

/// The result of a search: `q x k'` indices and scores, best first, where
/// `k' = min(k, m)`.
///
/// Row `i` holds the matches of query `i` in rank order (higher score first, ties by lower
/// datastore row). When exclusion leaves a query fewer than `k'` candidates, its row ends
/// with padding: index `-1` and score `-inf` (faiss's convention); [`Matches::count`] gives
/// the number of real matches. Without exclusion there is never padding.
#[derive(Clone, Debug, PartialEq)]
pub struct Matches {
    /// Datastore row of every match (`-1` = padding), int64 like faiss.
    pub indices: RowMatrix<i64>,
    /// Score of every match (`-inf` for padding), never NaN.
    pub scores: RowMatrix<f32>,
}

impl Matches {
    /// Number of queries.
    pub fn n_queries(&self) -> usize {
        self.indices.rows()
    }

    /// Number of real (non-padding) matches of query `query`.
    pub fn count(&self, query: usize) -> usize {
        self.indices
            .row(query)
            .iter()
            .take_while(|&&i| i >= 0)
            .count()
    }

    /// The real matches of query `query`: `(datastore row, score)` best first.
    pub fn row(&self, query: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let n = self.count(query);
        self.indices.row(query)[..n]
            .iter()
            .zip(&self.scores.row(query)[..n])
            .map(|(&i, &s)| (i as usize, s))
    }
}

/// Default queries per block.
pub const DEFAULT_QUERY_BLOCK: usize = 512;
/// Smallest automatic datastore range per task.
const MIN_ROWS_PER_TASK: usize = 8192;

/// Search `m` datastore rows of dimension `d` (stored row-major in `data`) for the `k` best
/// matches of every query row.
///
/// This is the low-level entry point: `data` is used as stored. With [`Metric::Cosine`] the
/// queries are L2-normalized (a copy) and the caller guarantees unit-norm rows;
/// [`Datastore::search`](super::Datastore::search) does that bookkeeping.
///
/// Errors: `k = 0`; `d = 0`; a query width other than `d`; a NaN/Inf query value
/// ([`Error::NonFinite`] naming the row); a zero query under cosine ([`Error::ZeroVector`]
/// naming the row); an exclusion of the wrong size.
pub fn search_rows(
    data: RowsRef<'_>,
    d: usize,
    queries: &RowMatrix<f32>,
    k: usize,
    opts: &SearchOptions<'_>,
) -> Result<Matches> {
    let q = queries.rows();
    let m = check_inputs(data, d, queries, k, opts)?;
    let normalized;
    let qdata: &[f32] = match opts.metric {
        Metric::Cosine => {
            let mut copy = queries.as_slice().to_vec();
            l2_normalize_rows(&mut copy, d, "queries", 0)?;
            normalized = copy;
            &normalized
        }
        Metric::InnerProduct => queries.as_slice(),
    };
    let k_eff = k.min(m);
    let plan = Plan::new(q, m, opts);
    let done = AtomicUsize::new(0);
    let n_tasks = plan.n_tasks();
    let partial: Vec<TopK> = (0..n_tasks)
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let top = run_task(data, d, &qdata[q0 * d..q1 * d], q0, r0, r1, k_eff, opts);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = opts.progress {
                p(finished, n_tasks);
            }
            top
        })
        .collect();
    Ok(assemble(q, k_eff, &plan, partial))
}

pub(crate) fn check_inputs(
    data: RowsRef<'_>,
    d: usize,
    queries: &RowMatrix<f32>,
    k: usize,
    opts: &SearchOptions<'_>,
) -> Result<usize> {
    if k == 0 {
        return Err(Error::invalid("k", "must be at least 1"));
    }
    if d == 0 {
        return Err(Error::invalid("datastore", "dimension is 0"));
    }
    if queries.cols() != d {
        return Err(Error::shape(
            "queries vs datastore dimension",
            format!("{d} columns"),
            format!("{} columns", queries.cols()),
        ));
    }
    if !data.len().is_multiple_of(d) {
        return Err(Error::shape(
            "datastore buffer",
            format!("a multiple of {d} values"),
            format!("{} values", data.len()),
        ));
    }
    check_finite_rows(queries.as_slice(), d, "queries", 0)?;
    let m = data.len() / d;
    if let Some(ex) = opts.exclusion {
        ex.check(queries.rows(), m)?;
    }
    Ok(m)
}

/// The task grid: query blocks x datastore ranges (ranges are multiples of NR).
pub(crate) struct Plan {
    q: usize,
    m: usize,
    block: usize,
    range: usize,
    n_blocks: usize,
    n_ranges: usize,
}

impl Plan {
    pub(crate) fn new(q: usize, m: usize, opts: &SearchOptions<'_>) -> Self {
        let block = if opts.query_block == 0 {
            DEFAULT_QUERY_BLOCK
        } else {
            opts.query_block
        };
        let n_blocks = q.div_ceil(block).max(1);
        let range = if opts.rows_per_task > 0 {
            opts.rows_per_task.div_ceil(NR) * NR
        } else {
            // Enough tasks to keep every thread busy (4 per thread), none tiny.
            let want = (4 * rayon::current_num_threads()).div_ceil(n_blocks).max(1);
            let per = m.div_ceil(want).max(MIN_ROWS_PER_TASK);
            per.div_ceil(NR) * NR
        };
        let n_ranges = m.div_ceil(range).max(1);
        Plan {
            q,
            m,
            block,
            range,
            n_blocks,
            n_ranges,
        }
    }

    pub(crate) fn n_tasks(&self) -> usize {
        self.n_blocks * self.n_ranges
    }

    /// Task `t` → `(q0, q1, r0, r1)`.
    pub(crate) fn task(&self, t: usize) -> (usize, usize, usize, usize) {
        let (b, r) = (t / self.n_ranges, t % self.n_ranges);
        let q0 = (b * self.block).min(self.q);
        let r0 = (r * self.range).min(self.m);
        (
            q0,
            (q0 + self.block).min(self.q),
            r0,
            (r0 + self.range).min(self.m),
        )
    }
}

/// One task: the queries `block` (global rows `q0..`) against datastore rows `r0..r1`.
#[allow(clippy::too_many_arguments)]
fn run_task(
    data: RowsRef<'_>,
    d: usize,
    block: &[f32],
    q0: usize,
    r0: usize,
    r1: usize,
    k: usize,
    opts: &SearchOptions<'_>,
) -> TopK {
    let nq = block.len() / d;
    let mut top = TopK::new(nq, k);
    let mut cursors = ExclusionCursors::new(opts.exclusion, q0, nq, r0);
    let mut masks = vec![0u32; nq];
    walk_tiles(data, d, block, r0, r1, |j0, n, tile| {
        let valid = if n == NR { u32::MAX } else { (1u32 << n) - 1 };
        // A row's mask only depends on its own threshold, so computing all masks before
        // any push is the same as interleaving.
        kernel::tile_masks(tile, top.thresholds(), &mut masks);
        for (r, &mask) in masks.iter().enumerate() {
            let mask = cursors.mask(r, j0, j0 + n, mask & valid);
            if mask != 0 {
                select_lanes(&mut top, r, &tile[r * NR..(r + 1) * NR], j0, mask);
            }
        }
    });
    top
}

/// The tile loop shared by every pass over the datastore: pack the query `block` once, then
/// for each run of up to [`NR`] rows `j0..j0+n` of `r0..r1`, compute the score tile
/// (`tile[r * NR + j]` = score of block row `r` with datastore row `j0 + j`; lanes `j >= n`
/// are padding) and hand it to `visit(j0, n, tile)`.
pub fn walk_tiles(
    data: RowsRef<'_>,
    d: usize,
    block: &[f32],
    r0: usize,
    r1: usize,
    mut visit: impl FnMut(usize, usize, &[f32]),
) {
    let nq = block.len() / d;
    if nq == 0 || r0 >= r1 {
        return;
    }
    let mut packed_q = Vec::new();
    kernel::pack_queries(block, d, &mut packed_q);
    let mut packed_rows = vec![0f32; d * NR];
    let mut tile = vec![0f32; nq.div_ceil(MR) * MR * NR];
    for j0 in (r0..r1).step_by(NR) {
        let n = NR.min(r1 - j0);
        kernel::pack_rows(data, d, j0, n, &mut packed_rows);
        score_tile(d, &packed_q, &packed_rows, &mut tile);
        visit(j0, n, &tile);
    }
}

/// The GEMM part alone, as a benchmark baseline: the same task grid, packing and
/// micro-kernel as [`search_rows`] over `queries` (used as given), without any selection.
/// Returns a checksum (the sum of each tile's first score) so the work cannot be skipped.
pub fn gemm_baseline(
    data: RowsRef<'_>,
    d: usize,
    queries: &RowMatrix<f32>,
    opts: &SearchOptions<'_>,
) -> Result<f64> {
    let m = check_inputs(data, d, queries, 1, opts)?;
    let plan = Plan::new(queries.rows(), m, opts);
    let qdata = queries.as_slice();
    let sums: Vec<f64> = (0..plan.n_tasks())
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let mut sum = 0f64;
            walk_tiles(data, d, &qdata[q0 * d..q1 * d], r0, r1, |_, _, tile| {
                sum += tile[0] as f64
            });
            sum
        })
        .collect();
    Ok(sums.iter().sum())
}

/// Scores of every packed query panel against one packed row panel, into `tile`
/// (`panels*MR x NR`, row-major).
pub fn score_tile(d: usize, packed_q: &[f32], packed_rows: &[f32], tile: &mut [f32]) {
    for (p, out) in tile.chunks_exact_mut(MR * NR).enumerate() {
        kernel::micro_kernel(d, &packed_q[p * d * MR..(p + 1) * d * MR], packed_rows, out);
    }
}

#[inline]
fn select_lanes(top: &mut TopK, row: usize, scores: &[f32], j0: usize, mut mask: u32) {
    while mask != 0 {
        let j = mask.trailing_zeros() as usize;
        top.push(row, scores[j], j0 + j);
        mask &= mask - 1;
    }
}

/// Walks each query's sorted exclusion list alongside the ascending row panels.
struct ExclusionCursors<'a> {
    lists: Vec<&'a [usize]>,
}

impl<'a> ExclusionCursors<'a> {
    fn new(ex: Option<&'a Exclusion>, q0: usize, nq: usize, r0: usize) -> Self {
        let lists = match ex {
            None => Vec::new(),
            Some(ex) => (q0..q0 + nq)
                .map(|i| {
                    let rows = ex.rows_of(i);
                    &rows[rows.partition_point(|&x| x < r0)..]
                })
                .collect(),
        };
        ExclusionCursors { lists }
    }

    /// Clear the lanes of `mask` (rows `j0..j1`) that query `r` excludes.
    #[inline]
    fn mask(&mut self, r: usize, j0: usize, j1: usize, mut mask: u32) -> u32 {
        if let Some(list) = self.lists.get_mut(r) {
            while let Some((&x, rest)) = list.split_first() {
                if x >= j1 {
                    break;
                }
                mask &= !(1u32 << (x - j0));
                *list = rest;
            }
        }
        mask
    }
}

/// Merge the partial selections of each query block and lay them out as [`Matches`].
fn assemble(q: usize, k: usize, plan: &Plan, partial: Vec<TopK>) -> Matches {
    let mut indices = vec![-1i64; q * k];
    let mut scores = vec![f32::NEG_INFINITY; q * k];
    let mut parts = partial.into_iter();
    for b in 0..plan.n_blocks {
        let Some(mut merged) = parts.next() else {
            break;
        };
        for _ in 1..plan.n_ranges {
            if let Some(p) = parts.next() {
                merged.merge(&p);
            }
        }
        let q0 = b * plan.block;
        for r in 0..merged.rows() {
            let (s, ix) = merged.row(r);
            let at = (q0 + r) * k;
            scores[at..at + s.len()].copy_from_slice(s);
            for (o, &i) in indices[at..at + ix.len()].iter_mut().zip(ix) {
                *o = i as i64;
            }
        }
    }
    Matches {
        indices: RowMatrix::from_vec(q, k, indices).expect("q x k by construction"),
        scores: RowMatrix::from_vec(q, k, scores).expect("q x k by construction"),
    }
}
