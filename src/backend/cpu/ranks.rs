//! Rank counts of retrieval evaluation on the CPU: one blocked pass of the search's tile
//! kernel counts, per query, the rows that rank before its best hit (no score matrix).

use rayon::prelude::*;

use super::kernel::{self, NR};
use super::search::{walk_tiles, Plan};
use crate::backend::ranks::check_hits;
use crate::backend::topk::ranks_before;
use crate::backend::{Base, RowsRef, SearchTuning, StoredRows};
use crate::error::{Error, Result};

/// [`Backend::first_hit_ranks`](crate::backend::Backend::first_hit_ranks) on the CPU: for every query row, the 1-based rank of its
/// best-ranked hit among all rows of `ds`, or `None` if it has no hit. `hits[i]` lists the
/// datastore rows that count as hits for query `i`.
pub(crate) fn first_hit_ranks(
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    hits: &[&[usize]],
) -> Result<Vec<Option<usize>>> {
    let (d, data) = (base.dim, base.rows);
    let m = check_hits(queries, base, hits)?;
    let best: Vec<Option<(f32, usize)>> = (0..queries.rows())
        .map(|i| best_hit(data, d, queries.row(i), hits[i], m))
        .collect::<Result<_>>()?;
    let plan = Plan::new(queries.rows(), m, &SearchTuning::default());
    let partial: Vec<(usize, Vec<usize>)> = (0..plan.n_tasks())
        .into_par_iter()
        .map(|t| {
            let (q0, q1, r0, r1) = plan.task(t);
            let block = &queries.as_slice()[q0 * d..q1 * d];
            (q0, count_before(data, d, block, &best[q0..q1], r0, r1))
        })
        .collect();
    let mut before = vec![0usize; queries.rows()];
    for (q0, counts) in partial {
        for (b, c) in before[q0..].iter_mut().zip(counts) {
            *b += c;
        }
    }
    Ok(best
        .iter()
        .zip(before)
        .map(|(b, n)| b.map(|_| n + 1))
        .collect())
}

/// The best-ranked hit of one query, scored exactly as the tile kernel does (one FMA chain
/// in dimension order from 0), so that it compares bit-for-bit with the tile scores.
fn best_hit(
    data: StoredRows<'_>,
    d: usize,
    query: &[f32],
    hits: &[usize],
    m: usize,
) -> Result<Option<(f32, usize)>> {
    let mut best: Option<(f32, usize)> = None;
    for &r in hits {
        if r >= m {
            return Err(Error::IndexOutOfRange {
                what: "hit row".into(),
                index: r,
                len: m,
            });
        }
        let s = match data {
            StoredRows::F32(v) => fma_chain(query, v[r * d..(r + 1) * d].iter().copied()),
            StoredRows::F16(v) => {
                fma_chain(query, v[r * d..(r + 1) * d].iter().map(|x| x.to_f32()))
            }
        };
        if best.is_none_or(|(bs, br)| ranks_before(s, r, bs, br)) {
            best = Some((s, r));
        }
    }
    Ok(best)
}

fn fma_chain(query: &[f32], row: impl Iterator<Item = f32>) -> f32 {
    query
        .iter()
        .zip(row)
        .fold(0f32, |acc, (&q, x)| q.mul_add(x, acc))
}

/// Per query of `block`, the number of rows in `r0..r1` that rank before its best hit.
fn count_before(
    data: StoredRows<'_>,
    d: usize,
    block: &[f32],
    best: &[Option<(f32, usize)>],
    r0: usize,
    r1: usize,
) -> Vec<usize> {
    let mut counts = vec![0usize; best.len()];
    walk_tiles(data, d, block, r0, r1, |j0, n, tile| {
        for (r, b) in best.iter().enumerate() {
            let Some((bs, bi)) = *b else { continue };
            let scores = &tile[r * NR..(r + 1) * NR];
            let valid = if n == NR { u32::MAX } else { (1u32 << n) - 1 };
            let mut mask = kernel::lanes_at_least(scores, bs) & valid;
            while mask != 0 {
                let j = mask.trailing_zeros() as usize;
                counts[r] += usize::from(ranks_before(scores[j], j0 + j, bs, bi));
                mask &= mask - 1;
            }
        }
    });
    counts
}
