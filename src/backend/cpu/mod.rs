//! The CPU backend: recap's tuned kernels where the CPU has AVX-512, faer and portable Rust
//! everywhere else, all on the current rayon pool.
//!
//! | step | AVX-512 F/BW/VL | other CPUs |
//! |---|---|---|
//! | Gram chunk, f32 products | `fused` (shift, moments, finiteness in the packing) on the `tile` micro-kernel | `linalg`: faer products of mean-shifted copies |
//! | Gram chunk, f64 products | `linalg` | `linalg` |
//! | search, rank counts | `kernel` micro-kernel (AVX-512) in `search` / `ranks` | the same loops on the portable micro-kernel (`f32::mul_add`), bit-identical |
//! | screened search | `screen`: int8 `vpdpbusd` (AVX512-VNNI) or bf16 `vdpbf16ps` (AVX512-BF16) screening with a proven bound, f32 rescoring on the `kernel` micro-kernel | the portable screening kernels, same results |
//! | GEMM, Cholesky, eigen, SVD | faer | faer |
//!
//! The kernels are private to this module: `align` and `retrieve` reach them only through
//! [`Backend`].

pub(crate) mod fused;
pub(crate) mod gram_chunk;
pub(crate) mod kernel;
pub(crate) mod linalg;
pub(crate) mod ranks;
pub(crate) mod screen;
pub(crate) mod search;
pub(crate) mod tile;

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::types::{check_square, gemm_dims};
use super::{
    Backend, Base, Exclusion, GramChunk, GramPrecision, GramStats, Matches, Op, QuantizedRows,
    RowsMut, RowsRef, ScreenStats, SearchTuning, Svd, SymEigen,
};
use crate::error::{Error, Result};
use crate::matrix::{check_finite_rows, norm_f64, RowMatrix};

/// The CPU backend (uses the current rayon pool: set its size with `--threads` or
/// `rayon::ThreadPoolBuilder`).
#[derive(Clone, Debug)]
pub struct CpuBackend {
    par: Par,
    tuned: bool,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// A CPU backend on all rayon threads.
    pub fn new() -> Self {
        CpuBackend {
            par: Par::rayon(0),
            tuned: true,
        }
    }

    /// A CPU backend whose Gram chunks always take the portable faer path, also on an
    /// AVX-512 CPU (what a CPU without AVX-512 runs; for tests and comparisons).
    pub fn portable() -> Self {
        CpuBackend {
            par: Par::rayon(0),
            tuned: false,
        }
    }

    /// Whether the AVX-512 kernels run on this CPU (else the portable/faer path).
    pub fn has_avx512() -> bool {
        kernel::has_avx512()
    }

    /// The score-tile GEMM of a search without the selection (a benchmark baseline);
    /// returns a checksum so the work cannot be skipped.
    pub fn search_gemm_only(&self, queries: RowsRef<'_, f32>, base: Base<'_>) -> Result<f64> {
        search::gemm_baseline(queries, base)
    }
}

fn view<'a, T>(m: RowsRef<'a, T>, op: Op) -> MatRef<'a, T> {
    let r = MatRef::from_row_major_slice(m.as_slice(), m.rows(), m.cols());
    match op {
        Op::N => r,
        Op::T => r.transpose(),
    }
}

fn owned(m: RowsRef<'_, f64>) -> Result<RowMatrix<f64>> {
    RowMatrix::from_vec(m.rows(), m.cols(), m.as_slice().to_vec())
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        let isa = if kernel::has_avx512() {
            "AVX-512"
        } else if kernel::has_avx2_fma() {
            "AVX2+FMA search, faer Gram"
        } else {
            "portable"
        };
        let isa = if self.tuned { isa } else { "portable Gram" };
        format!("cpu ({} threads, {isa})", rayon::current_num_threads())
    }

    fn gram_chunk(&self, stats: &mut GramStats, chunk: GramChunk<'_>) -> Result<()> {
        gram_chunk::gram_chunk(stats, chunk, self.tuned)
    }

    fn gram_checks_finite(&self, precision: GramPrecision) -> bool {
        self.tuned && gram_chunk::fused_path(precision)
    }

    fn search(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        k: usize,
        exclusion: Option<&Exclusion>,
        tuning: &SearchTuning<'_>,
    ) -> Result<Matches> {
        search::search(queries, base, k, exclusion, tuning)
    }

    fn screened_search(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        quantized: &QuantizedRows,
        k: usize,
        exclusion: Option<&Exclusion>,
        tuning: &SearchTuning<'_>,
    ) -> Result<Option<(Matches, ScreenStats)>> {
        screen::search(queries, base, quantized, k, exclusion, tuning).map(Some)
    }

    fn supports_screening(&self) -> bool {
        true
    }

    fn first_hit_ranks(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        hits: &[&[usize]],
    ) -> Result<Vec<Option<usize>>> {
        ranks::first_hit_ranks(queries, base, hits)
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
        linalg::cholesky_solve_pivot(&owned(a)?, &owned(b)?)
    }

    fn sym_eigen(&self, a: RowsRef<'_, f64>) -> Result<SymEigen> {
        check_square("sym_eigen: A", a)?;
        let (values, vectors) = linalg::sym_eigen(&owned(a)?)?;
        Ok(SymEigen { values, vectors })
    }

    fn svd(&self, a: RowsRef<'_, f64>) -> Result<Svd> {
        let (u, s, v) = linalg::svd(&owned(a)?)?;
        Ok(Svd {
            u,
            s,
            vt: v.transpose(),
        })
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
