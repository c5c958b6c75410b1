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

use super::kernel::{self, MR, NR};
use crate::backend::topk::TopK;
use crate::backend::{Base, Exclusion, Matches, RowsRef, SearchTuning, StoredRows};
use crate::error::{Error, Result};
use crate::matrix::{check_finite_rows, RowMatrix};

/// Default queries per block.
pub const DEFAULT_QUERY_BLOCK: usize = 512;
/// Smallest automatic datastore range per task.
const MIN_ROWS_PER_TASK: usize = 8192;

/// [`Backend::search`](crate::backend::Backend::search) on the CPU: the rows of `base` are
/// used as stored, queries as given.
pub(crate) fn search(
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    k: usize,
    exclusion: Option<&Exclusion>,
    tuning: &SearchTuning<'_>,
) -> Result<Matches> {
    let (q, d, data) = (queries.rows(), base.dim, base.rows);
    let m = check_inputs(queries, base, k, exclusion)?;
    let qdata = queries.as_slice();
    let k_eff = k.min(m);
    let plan = Plan::new(q, m, tuning);
    let done = AtomicUsize::new(0);
    let n_tasks = plan.n_tasks();
    let partial: Vec<TopK> = (0..n_tasks)
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let block = &qdata[q0 * d..q1 * d];
            let top = run_task(data, d, block, q0, r0, r1, k_eff, exclusion);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = tuning.progress {
                p(finished as u64, n_tasks as u64);
            }
            top
        })
        .collect();
    Ok(assemble(q, k_eff, &plan, partial))
}

/// The checks every search makes first; returns the number of base rows `m`.
pub(crate) fn check_inputs(
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    k: usize,
    exclusion: Option<&Exclusion>,
) -> Result<usize> {
    let d = base.dim;
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
    if !base.rows.len().is_multiple_of(d) {
        return Err(Error::shape(
            "datastore buffer",
            format!("a multiple of {d} values"),
            format!("{} values", base.rows.len()),
        ));
    }
    check_finite_rows(queries.as_slice(), d, "queries", 0)?;
    let m = base.n_rows();
    if let Some(ex) = exclusion {
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
    pub(crate) fn new(q: usize, m: usize, opts: &SearchTuning<'_>) -> Self {
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

    /// Number of query blocks.
    pub(crate) fn n_blocks(&self) -> usize {
        self.n_blocks
    }

    /// Number of datastore ranges per query block.
    pub(crate) fn n_ranges(&self) -> usize {
        self.n_ranges
    }

    /// Queries `(q0, q1)` of block `b`.
    pub(crate) fn block(&self, b: usize) -> (usize, usize) {
        let q0 = (b * self.block).min(self.q);
        (q0, (q0 + self.block).min(self.q))
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
    data: StoredRows<'_>,
    d: usize,
    block: &[f32],
    q0: usize,
    r0: usize,
    r1: usize,
    k: usize,
    exclusion: Option<&Exclusion>,
) -> TopK {
    let nq = block.len() / d;
    let mut top = TopK::new(nq, k);
    let mut cursors = ExclusionCursors::new(exclusion, q0, nq, r0);
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
pub(crate) fn walk_tiles(
    data: StoredRows<'_>,
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
/// micro-kernel as [`search`] over `queries` (used as given), without any selection.
/// Returns a checksum (the sum of each tile's first score) so the work cannot be skipped.
pub(crate) fn gemm_baseline(queries: RowsRef<'_, f32>, base: Base<'_>) -> Result<f64> {
    let m = check_inputs(queries, base, 1, None)?;
    let d = base.dim;
    let plan = Plan::new(queries.rows(), m, &SearchTuning::default());
    let qdata = queries.as_slice();
    let sums: Vec<f64> = (0..plan.n_tasks())
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let mut sum = 0f64;
            walk_tiles(
                base.rows,
                d,
                &qdata[q0 * d..q1 * d],
                r0,
                r1,
                |_, _, tile| sum += tile[0] as f64,
            );
            sum
        })
        .collect();
    Ok(sums.iter().sum())
}

/// Scores of every packed query panel against one packed row panel, into `tile`
/// (`panels*MR x NR`, row-major).
pub(crate) fn score_tile(d: usize, packed_q: &[f32], packed_rows: &[f32], tile: &mut [f32]) {
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
pub(crate) struct ExclusionCursors<'a> {
    lists: Vec<&'a [usize]>,
}

impl<'a> ExclusionCursors<'a> {
    pub(crate) fn new(ex: Option<&'a Exclusion>, q0: usize, nq: usize, r0: usize) -> Self {
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
    pub(crate) fn mask(&mut self, r: usize, j0: usize, j1: usize, mut mask: u32) -> u32 {
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
