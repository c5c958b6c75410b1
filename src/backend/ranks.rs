//! Rank of the first hit, on any backend: score tiles by [`Backend::gemm`], then two passes
//! over them (the best hit's score, then the rows ranking before it). The CPU backend
//! overrides it with its fused tile pass (`cpu/ranks.rs`).

use super::topk::ranks_before;
use super::{Backend, Base, Op, RowsMut, RowsRef};
use crate::error::{Error, Result};

/// Base rows per score tile.
const TILE_ROWS: usize = 8192;
/// Queries per score tile.
const TILE_QUERIES: usize = 1024;

/// The checks of a rank computation; returns the number of base rows.
pub(crate) fn check_hits(
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    hits: &[&[usize]],
) -> Result<usize> {
    crate::backend::cpu::search::check_inputs(queries, base, 1, None)?;
    if hits.len() != queries.rows() {
        return Err(Error::shape(
            "hit lists vs queries",
            format!("{} lists", queries.rows()),
            format!("{} lists", hits.len()),
        ));
    }
    let m = base.n_rows();
    if let Some(&r) = hits.iter().flat_map(|h| h.iter()).find(|&&r| r >= m) {
        return Err(Error::IndexOutOfRange {
            what: "hit row".into(),
            index: r,
            len: m,
        });
    }
    Ok(m)
}

/// One pass over the score tiles of `queries x base`: `visit(q0, c0, tile, qb, w)`.
fn for_each_tile<B: Backend + ?Sized>(
    backend: &B,
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    mut visit: impl FnMut(usize, usize, &[f32], usize),
) -> Result<()> {
    let (q, d, m) = (queries.rows(), base.dim, base.n_rows());
    let mut tile = Vec::new();
    for c0 in (0..m).step_by(TILE_ROWS) {
        let w = TILE_ROWS.min(m - c0);
        let rows = base.rows.to_f32(c0 * d, (c0 + w) * d);
        let b = RowsRef::new(&rows, w, d)?;
        for q0 in (0..q).step_by(TILE_QUERIES) {
            let qb = TILE_QUERIES.min(q - q0);
            tile.clear();
            tile.resize(qb * w, 0.0);
            let out = RowsMut::new(&mut tile, qb, w)?;
            backend.gemm(
                1.0,
                queries.row_range(q0, q0 + qb),
                Op::N,
                b,
                Op::T,
                0.0,
                out,
            )?;
            visit(q0, c0, &tile, w);
        }
    }
    Ok(())
}

/// [`Backend::first_hit_ranks`] from GEMM score tiles (the default of every backend).
pub(crate) fn first_hit_ranks_by_gemm<B: Backend + ?Sized>(
    backend: &B,
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    hits: &[&[usize]],
) -> Result<Vec<Option<usize>>> {
    check_hits(queries, base, hits)?;
    let mut best: Vec<Option<(f32, usize)>> = vec![None; queries.rows()];
    for_each_tile(backend, queries, base, |q0, c0, tile, w| {
        for (r, row) in tile.chunks_exact(w).enumerate() {
            for &h in hits[q0 + r].iter().filter(|&&h| h >= c0 && h < c0 + w) {
                let s = row[h - c0];
                let b = &mut best[q0 + r];
                if b.is_none_or(|(bs, bi)| ranks_before(s, h, bs, bi)) {
                    *b = Some((s, h));
                }
            }
        }
    })?;
    let mut before = vec![0usize; queries.rows()];
    for_each_tile(backend, queries, base, |q0, c0, tile, w| {
        for (r, row) in tile.chunks_exact(w).enumerate() {
            if let Some((bs, bi)) = best[q0 + r] {
                let n = row
                    .iter()
                    .enumerate()
                    .filter(|&(j, &s)| ranks_before(s, c0 + j, bs, bi))
                    .count();
                before[q0 + r] += n;
            }
        }
    })?;
    Ok(best
        .iter()
        .zip(before)
        .map(|(b, n)| b.map(|_| n + 1))
        .collect())
}
