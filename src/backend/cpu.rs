//! The CPU backend: faer (f32/f64 GEMM with rayon, Cholesky, self-adjoint eigen, SVD) and
//! plain Rust with rayon for top-k and normalization.
//!
//! Simple and exact rather than tuned: the align and retrieve modules carry their own tuned
//! CPU kernels and can stand behind this seam.

use faer::linalg::solvers::Solve;
use faer::{Accum, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::types::{check_square, gemm_dims};
use super::{Backend, Exclusions, GramStats, Op, RowSource, RowsMut, RowsRef, Svd, SymEigen, TopK};
use crate::error::{Error, Result};
use crate::matrix::{check_finite_rows, norm_f64, RowMatrix};

/// Rows per chunk the CPU Gram accumulation asks a [`RowSource`] for.
pub const CPU_GRAM_CHUNK_ROWS: usize = 4096;

/// The CPU backend (uses the global rayon pool).
#[derive(Clone, Debug)]
pub struct CpuBackend {
    par: Par,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// A CPU backend on all rayon threads.
    pub fn new() -> Self {
        CpuBackend { par: Par::rayon(0) }
    }
}

fn view<'a, T>(m: RowsRef<'a, T>, op: Op) -> MatRef<'a, T> {
    let r = MatRef::from_row_major_slice(m.as_slice(), m.rows(), m.cols());
    match op {
        Op::N => r,
        Op::T => r.transpose(),
    }
}

fn to_rows(m: MatRef<'_, f64>) -> RowMatrix<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut out = RowMatrix::zeros(r, c);
    for i in 0..r {
        let row = out.row_mut(i);
        for (j, v) in row.iter_mut().enumerate() {
            *v = m[(i, j)];
        }
    }
    out
}

/// Add `Σ wᵢxᵢ` (`wᵢ = 1` without weights) of a chunk to `sum`, in f64.
/// Shared with the CUDA backend's host path.
pub(crate) fn weighted_sums(x: &[f32], cols: usize, w: Option<&[f32]>, sum: &mut [f64]) {
    if cols == 0 {
        return;
    }
    for (i, row) in x.chunks_exact(cols).enumerate() {
        let wi = w.map_or(1.0, |w| w[i] as f64);
        sum.iter_mut()
            .zip(row)
            .for_each(|(s, &v)| *s += wi * v as f64);
    }
}

/// Widen a chunk to f64, scaling row `i` by `√wᵢ` (in f64) when weighted.
fn widen_scaled(x: &[f32], cols: usize, w: Option<&[f32]>) -> Vec<f64> {
    let mut out: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    if let (Some(w), true) = (w, cols > 0) {
        out.par_chunks_mut(cols)
            .zip(w.par_iter())
            .for_each(|(row, &wi)| {
                let s = (wi as f64).sqrt();
                row.iter_mut().for_each(|v| *v *= s);
            });
    }
    out
}

/// Validate a chunk's weights (finite, ≥ 0), naming the global row.
pub(crate) fn check_weights(w: &[f32], row_offset: usize) -> Result<()> {
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::invalid(
            "weights",
            format!(
                "row {} has weight {} (must be finite and >= 0)",
                row_offset + i,
                w[i]
            ),
        ));
    }
    Ok(())
}

impl CpuBackend {
    /// Add `XᵀWX` and `XᵀWY` of one chunk: rows are widened to f64 and scaled by `√wᵢ`
    /// in f64, so the products are f64-exact up to summation rounding.
    fn gram_chunk(&self, x: &[f32], y: &[f32], w: Option<&[f32]>, n: usize, st: &mut GramStats) {
        let (dx, dy) = (st.dx, st.dy);
        let x64 = widen_scaled(&x[..n * dx], dx, w);
        let y64 = widen_scaled(&y[..n * dy], dy, w);
        let xm = MatRef::from_row_major_slice(&x64, n, dx);
        let ym = MatRef::from_row_major_slice(&y64, n, dy);
        let xtx = MatMut::from_row_major_slice_mut(&mut st.xtx, dx, dx);
        faer::linalg::matmul::matmul(xtx, Accum::Add, xm.transpose(), xm, 1.0, self.par);
        if dy > 0 {
            let xty = MatMut::from_row_major_slice_mut(&mut st.xty, dx, dy);
            faer::linalg::matmul::matmul(xty, Accum::Add, xm.transpose(), ym, 1.0, self.par);
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn gram_accumulate(&self, source: &mut dyn RowSource, stats: &mut GramStats) -> Result<()> {
        let (dx, dy) = source.dims();
        stats.check_source(dx, dy)?;
        let cap = CPU_GRAM_CHUNK_ROWS;
        let (mut x, mut y, mut w) = (vec![0f32; cap * dx], vec![0f32; cap * dy], vec![0f32; cap]);
        loop {
            let start = source.position();
            let n = source.fill(cap, &mut x, &mut y, &mut w)?;
            if n == 0 {
                return Ok(());
            }
            check_finite_rows(&x[..n * dx], dx, "gram: X", start)?;
            check_finite_rows(&y[..n * dy], dy, "gram: Y", start)?;
            let wv = source.weighted().then(|| &w[..n]);
            if let Some(wv) = wv {
                check_weights(wv, start)?;
            }
            weighted_sums(&x[..n * dx], dx, wv, &mut stats.sum_x);
            weighted_sums(&y[..n * dy], dy, wv, &mut stats.sum_y);
            stats.weight_sum += wv.map_or(n as f64, |w| w.iter().map(|&v| v as f64).sum());
            stats.rows += n as u64;
            self.gram_chunk(&x, &y, wv, n, stats);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &self,
        alpha: f32,
        a: RowsRef<'_, f32>,
        op_a: Op,
        b: RowsRef<'_, f32>,
        op_b: Op,
        beta: f32,
        mut c: RowsMut<'_, f32>,
    ) -> Result<()> {
        let (m, n, _) = gemm_dims(a, op_a, b, op_b, &c)?;
        let accum = if beta == 0.0 {
            Accum::Replace
        } else {
            if beta != 1.0 {
                c.as_mut_slice().iter_mut().for_each(|v| *v *= beta);
            }
            Accum::Add
        };
        let cm = MatMut::from_row_major_slice_mut(c.as_mut_slice(), m, n);
        faer::linalg::matmul::matmul(cm, accum, view(a, op_a), view(b, op_b), alpha, self.par);
        Ok(())
    }

    fn cholesky_solve(&self, a: RowsRef<'_, f64>, b: RowsRef<'_, f64>) -> Result<RowMatrix<f64>> {
        check_square("cholesky_solve: A", a)?;
        if b.rows() != a.rows() {
            return Err(Error::shape(
                "cholesky_solve: B",
                format!("{} rows", a.rows()),
                format!("{} rows", b.rows()),
            ));
        }
        let llt = view(a, Op::N).llt(Side::Lower).map_err(|e| match e {
            faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
                Error::NotPositiveDefinite {
                    operation: "Cholesky (faer llt)".into(),
                    pivot: index,
                }
            }
        })?;
        let x = llt.solve(view(b, Op::N));
        Ok(to_rows(x.as_ref()))
    }

    fn sym_eigen(&self, a: RowsRef<'_, f64>) -> Result<SymEigen> {
        check_square("sym_eigen: A", a)?;
        let e = view(a, Op::N)
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| {
                Error::numerical("symmetric eigendecomposition (faer)", "no convergence")
            })?;
        let values = (0..a.rows()).map(|i| e.S().column_vector()[i]).collect();
        Ok(SymEigen {
            values,
            vectors: to_rows(e.U()),
        })
    }

    fn svd(&self, a: RowsRef<'_, f64>) -> Result<Svd> {
        let d = view(a, Op::N)
            .thin_svd()
            .map_err(|_| Error::numerical("SVD (faer)", "no convergence"))?;
        let p = a.rows().min(a.cols());
        Ok(Svd {
            u: to_rows(d.U()),
            s: (0..p).map(|i| d.S().column_vector()[i]).collect(),
            vt: to_rows(d.V().transpose()),
        })
    }

    fn topk_merge(
        &self,
        tile: RowsRef<'_, f32>,
        col_offset: usize,
        exclusions: Option<&Exclusions>,
        state: &mut TopK,
    ) -> Result<()> {
        if tile.rows() != state.rows() {
            return Err(Error::shape(
                "topk_merge: tile rows vs state rows",
                format!("{} rows", state.rows()),
                format!("{} rows", tile.rows()),
            ));
        }
        if let Some(ex) = exclusions {
            if ex.n_queries() != tile.rows() {
                return Err(Error::shape(
                    "topk_merge: exclusion sets",
                    format!("{} sets", tile.rows()),
                    format!("{} sets", ex.n_queries()),
                ));
            }
        }
        state.merge_tile_cpu(tile.as_slice(), tile.cols(), col_offset, exclusions);
        Ok(())
    }

    fn normalize_rows(
        &self,
        mut data: RowsMut<'_, f32>,
        what: &str,
        row_offset: usize,
    ) -> Result<()> {
        let cols = data.cols();
        if cols == 0 {
            return Ok(());
        }
        let bad = data
            .as_mut_slice()
            .par_chunks_mut(cols)
            .enumerate()
            .filter_map(|(i, row)| {
                let norm = norm_f64(row);
                if norm == 0.0 || !norm.is_finite() {
                    return Some(i);
                }
                let inv = (1.0 / norm) as f32;
                row.iter_mut().for_each(|v| *v *= inv);
                None
            })
            .min();
        if let Some(i) = bad {
            let row = &data.as_slice()[i * cols..(i + 1) * cols];
            check_finite_rows(row, cols, what, row_offset + i)?;
            return Err(Error::ZeroVector {
                what: what.to_string(),
                row: row_offset + i,
            });
        }
        Ok(())
    }
}
