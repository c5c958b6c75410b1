//! The numeric backend seam: a [`Device`] chosen at run time and the [`Backend`] primitives
//! the pipelines are built from.
//!
//! Everything numeric that may run on a GPU goes through [`Backend`]: Gram accumulation of
//! row chunks, f32 GEMM, Cholesky solve, symmetric eigendecomposition, thin SVD, top-k of a
//! score tile (and the tiled search built on it), and L2 row normalization. The CPU backend
//! ([`cpu::CpuBackend`], faer + rayon) is always there; the CUDA backend (`cuda` module,
//! cudarc) exists with the `cuda` (CUDA 12 library names) or `cuda-13` (CUDA 13 library
//! names) cargo feature. Nothing outside `backend/` names cudarc.
//!
//! ## Choosing a device
//!
//! ```
//! use recap::backend::Device;
//! let device: Device = "auto".parse()?;          // also "cpu", "cuda", "cuda:1"
//! let backend = device.resolve()?;               // auto: CUDA if usable, else CPU (stderr says why)
//! println!("computing on {}", backend.name());
//! # Ok::<(), recap::Error>(())
//! ```
//!
//! ## Data conventions
//!
//! - Matrices are row-major: data `n x d` as `f32` ([`RowsRef`]), statistics and dense
//!   solves in `f64`.
//! - Every primitive checks its shapes first and returns [`Error::Shape`](crate::Error::Shape) on mismatch.
//! - Top-k rank order: **higher score first, ties by lower global index**; NaN scores are
//!   never returned; excluded indices are never returned; `k > n` yields `n` results; `k = 0`
//!   is an error. Identical on every backend.
//!
//! ## How the CUDA libraries are found (feature `cuda` / `cuda-13`)
//!
//! See the `cuda` module docs (built with `--features cuda`): the driver (`libcuda.so.1`)
//! is probed first, then cuBLAS, cuSOLVER and NVRTC, by the names cudarc's dynamic loader
//! tries (`libcublas.so`, `libcublas.so.<major>`, ... on the loader path,
//! `LD_LIBRARY_PATH`). A missing piece is [`Error::CudaUnavailable`](crate::Error::CudaUnavailable) with the reason, never
//! a panic.

pub mod cpu;
#[cfg(any(feature = "cuda", feature = "cuda-13"))]
pub mod cuda;
mod device;
mod topk;
mod types;

pub use device::{BackendOptions, Device};
pub use topk::{ranks_before, Exclusions, TopK};
pub use types::{GramStats, Op, RowSource, RowsMut, RowsRef, SliceSource, Svd, SymEigen};

use crate::error::Result;
use crate::matrix::RowMatrix;

/// Tile width (datastore rows per score tile) of the default [`Backend::search`].
pub const SEARCH_TILE_COLS: usize = 4096;
/// Query rows per block of the default [`Backend::search`].
pub const SEARCH_TILE_ROWS: usize = 256;

/// The numeric primitives the pipelines need, on one device.
///
/// All methods check shapes and return [`crate::Error::Shape`] /
/// [`crate::Error::InvalidArgument`] rather than panicking.
pub trait Backend: Send + Sync {
    /// Human-readable device name (`"cpu (8 threads)"`, `"cuda:0 NVIDIA H100 (sm_90)"`).
    fn name(&self) -> String;

    /// Accumulate the Gram statistics of every chunk `source` yields into `stats`:
    /// `XᵀWX`, `XᵀWY`, `Σ wᵢxᵢ`, `Σ wᵢyᵢ`, `Σ wᵢ` (`W = diag(w)`, `w = 1` without weights),
    /// in f64.
    fn gram_accumulate(&self, source: &mut dyn RowSource, stats: &mut GramStats) -> Result<()>;

    /// f32 GEMM `C ← α·op(A)·op(B) + β·C` (row-major; `op` is identity or transpose).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &self,
        alpha: f32,
        a: RowsRef<'_, f32>,
        op_a: Op,
        b: RowsRef<'_, f32>,
        op_b: Op,
        beta: f32,
        c: RowsMut<'_, f32>,
    ) -> Result<()>;

    /// Solve `A·X = B` for symmetric positive definite `A` (`n x n`) by Cholesky;
    /// `B` is `n x r`. Not positive definite is [`crate::Error::NotPositiveDefinite`] with
    /// the (0-based) pivot.
    fn cholesky_solve(&self, a: RowsRef<'_, f64>, b: RowsRef<'_, f64>) -> Result<RowMatrix<f64>>;

    /// Eigendecomposition of the symmetric `n x n` matrix `a` (only its lower triangle is
    /// read): eigenvalues ascending, eigenvectors as columns.
    fn sym_eigen(&self, a: RowsRef<'_, f64>) -> Result<SymEigen>;

    /// Thin SVD `A = U·diag(s)·Vᵀ` of the `m x n` matrix `a`, `p = min(m, n)` singular
    /// values descending.
    fn svd(&self, a: RowsRef<'_, f64>) -> Result<Svd>;

    /// Merge one score tile into the running per-row top-k: `tile` is `q x w` scores of
    /// global columns `col_offset .. col_offset + w`; `exclusions` (global indices per
    /// row) are skipped, NaN is skipped.
    fn topk_merge(
        &self,
        tile: RowsRef<'_, f32>,
        col_offset: usize,
        exclusions: Option<&Exclusions>,
        state: &mut TopK,
    ) -> Result<()>;

    /// Scale every row of `data` (`rows x cols`) to unit L2 norm (norm in f64). A zero row
    /// is [`crate::Error::ZeroVector`] naming `what` and the lowest such row
    /// (`+ row_offset`); NaN/Inf is [`crate::Error::NonFinite`]. On error the contents of
    /// `data` are unspecified (some rows may already be scaled).
    fn normalize_rows(&self, data: RowsMut<'_, f32>, what: &str, row_offset: usize) -> Result<()>;

    /// Exact top-`k` inner-product search of every query row over every base row, tiled so
    /// the `q x m` score matrix never exists. The default tiles with [`Backend::gemm`] and
    /// [`Backend::topk_merge`]; the CUDA backend overrides it with a device-resident loop.
    fn search(
        &self,
        queries: RowsRef<'_, f32>,
        base: RowsRef<'_, f32>,
        k: usize,
        exclusions: Option<&Exclusions>,
    ) -> Result<TopK> {
        search_tiled(self, queries, base, k, exclusions)
    }
}

/// The default tiled search: GEMM tiles of `SEARCH_TILE_ROWS x SEARCH_TILE_COLS`, each
/// merged into the per-row top-k.
pub fn search_tiled<B: Backend + ?Sized>(
    backend: &B,
    queries: RowsRef<'_, f32>,
    base: RowsRef<'_, f32>,
    k: usize,
    exclusions: Option<&Exclusions>,
) -> Result<TopK> {
    types::check_same_cols("search: queries vs base", queries, base)?;
    if let Some(ex) = exclusions {
        ex.check(queries.rows(), base.rows())?;
    }
    let mut all = TopK::new(queries.rows(), k, base.rows())?;
    let mut tile = Vec::new();
    for q0 in (0..queries.rows()).step_by(SEARCH_TILE_ROWS) {
        let qb = queries.row_range(q0, (q0 + SEARCH_TILE_ROWS).min(queries.rows()));
        let ex_block = exclusions.map(|e| e.row_range(q0, q0 + qb.rows()));
        let mut block = TopK::new(qb.rows(), k, base.rows())?;
        for c0 in (0..base.rows()).step_by(SEARCH_TILE_COLS) {
            let bb = base.row_range(c0, (c0 + SEARCH_TILE_COLS).min(base.rows()));
            tile.clear();
            tile.resize(qb.rows() * bb.rows(), 0.0);
            let out = RowsMut::new(&mut tile, qb.rows(), bb.rows())?;
            backend.gemm(1.0, qb, Op::N, bb, Op::T, 0.0, out)?;
            let scores = RowsRef::new(&tile, qb.rows(), bb.rows())?;
            backend.topk_merge(scores, c0, ex_block.as_ref(), &mut block)?;
        }
        all.set_rows(q0, &block)?;
    }
    Ok(all)
}
