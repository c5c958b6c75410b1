//! The numeric backend seam: a [`Device`] chosen at run time and the [`Backend`] primitives
//! the pipelines are built from.
//!
//! Every `O(n·d²)` step of recap runs here, behind one trait, on the device the user picks:
//! adding a chunk of rows to the [`GramStats`] of a fit, the exact top-k search of a
//! datastore, the rank counts of retrieval evaluation, GEMM (`X·W`), L2 row normalization,
//! and the dense `d x d` solves (Cholesky, symmetric eigen, SVD). `align` and `retrieve`
//! write each algorithm once over [`Backend`]; they never name a kernel.
//!
//! - [`CpuBackend`] is recap's tuned CPU path: the AVX-512 tile kernels (the fused Gram
//!   chunk, the search micro-kernel, packing) where the CPU has AVX-512 F/BW/VL, and faer
//!   (GEMM, triangular products, Cholesky, eigen, SVD) everywhere else: a CPU without
//!   AVX-512 gets the same results through the portable path, never a panic.
//! - `CudaBackend` (cargo feature `cuda`, CUDA 12 library names, or `cuda-13`) runs the same
//!   steps with cuBLAS, cuSOLVER and recap's NVRTC kernels (`kernels/*.cu`) through cudarc.
//!   Nothing outside `backend/cuda` names cudarc.
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
mod exclusion;
mod gram;
mod matches;
mod ranks;
pub(crate) mod topk;
mod types;

pub use cpu::screen::{
    QuantizedRows, ScreenMode, ScreenStats, CANDIDATE_CAP as SCREEN_CANDIDATE_CAP,
};
pub use cpu::CpuBackend;
pub use device::{BackendOptions, Device};
pub use exclusion::Exclusion;
pub use gram::{GramChunk, GramPrecision, GramStats};
pub use matches::Matches;
pub use topk::ranks_before;
pub use types::{Op, RowsMut, RowsRef, StoredRows, Svd, SymEigen};

use std::sync::Arc;

use crate::error::Result;
use crate::matrix::RowMatrix;

/// Progress of long work, called as `progress(done, total)` in the work's unit: rows read by
/// a fit's statistics pass, tasks finished by a search. `total` is known from the start.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// How a search is split into work (never what it returns: results are identical for every
/// setting). `Default`: automatic.
#[derive(Clone, Copy, Default)]
pub struct SearchTuning<'a> {
    /// Queries per block (0 = automatic).
    pub query_block: usize,
    /// Datastore rows per task (0 = automatic).
    pub rows_per_task: usize,
    /// Called after each finished task with `(done, total)` tasks.
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for SearchTuning<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchTuning")
            .field("query_block", &self.query_block)
            .field("rows_per_task", &self.rows_per_task)
            .finish()
    }
}

/// A datastore's rows as the backend sees them: `rows x dim`, stored f32 or f16.
#[derive(Clone, Copy, Debug)]
pub struct Base<'a> {
    /// The stored values, row-major.
    pub rows: StoredRows<'a>,
    /// Columns per row.
    pub dim: usize,
}

impl Base<'_> {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }
}

/// The numeric primitives of recap, on one device.
///
/// Every method checks its shapes first and returns [`crate::Error::Shape`] /
/// [`crate::Error::InvalidArgument`] rather than panicking.
pub trait Backend: Send + Sync {
    /// Human-readable device name (`"cpu (8 threads, AVX-512)"`, `"cuda:0 NVIDIA H200 (sm_90)"`).
    fn name(&self) -> String;

    /// Rows per chunk this device wants when a fit streams its input (larger chunks amortize
    /// host–device copies on a GPU).
    fn chunk_rows(&self) -> usize {
        crate::io::rows::DEFAULT_CHUNK_ROWS
    }

    /// Add one chunk to `stats` (see [`GramChunk`] for what each kind adds). A non-finite
    /// value is [`crate::Error::NonFinite`] naming the row within the chunk, and then nothing
    /// is added.
    fn gram_chunk(&self, stats: &mut GramStats, chunk: GramChunk<'_>) -> Result<()>;

    /// Whether [`Backend::gram_chunk`] itself rejects non-finite values for statistics of
    /// this precision (else the caller checks each chunk first).
    fn gram_checks_finite(&self, precision: GramPrecision) -> bool {
        let _ = precision;
        false
    }

    /// Exact top-`k` inner-product search: for every query row (`q x dim`, used as given:
    /// the caller normalizes for cosine) the `min(k, m)` best rows of `base` in the crate's
    /// rank order (higher score first, ties by lower row), skipping `exclusion`'s rows
    /// (padding: index −1, score −inf). `k = 0`, a width mismatch, a non-finite query or an
    /// exclusion of the wrong shape are errors.
    fn search(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        k: usize,
        exclusion: Option<&Exclusion>,
        tuning: &SearchTuning<'_>,
    ) -> Result<Matches>;

    /// [`Backend::search`] screened by a low-precision copy of the rows (`quantized`, built
    /// from `base` by [`QuantizedRows::build`]): the same results, bit for bit, plus what the
    /// screen did. `Ok(None)` when this backend has no screened search (the caller then runs
    /// [`Backend::search`]).
    fn screened_search(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        quantized: &QuantizedRows,
        k: usize,
        exclusion: Option<&Exclusion>,
        tuning: &SearchTuning<'_>,
    ) -> Result<Option<(Matches, ScreenStats)>> {
        let _ = (queries, base, quantized, k, exclusion, tuning);
        Ok(None)
    }

    /// Whether [`Backend::screened_search`] is implemented (else a datastore does not build
    /// its low-precision copy for this backend).
    fn supports_screening(&self) -> bool {
        false
    }

    /// For every query (`q x dim`, used as given), the 1-based rank of its best-ranked hit
    /// among all rows of `base` (`None` without hits): one plus the number of rows that rank
    /// before it. `hits[i]` lists the rows that count as hits for query `i`.
    fn first_hit_ranks(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        hits: &[&[usize]],
    ) -> Result<Vec<Option<usize>>> {
        ranks::first_hit_ranks_by_gemm(self, queries, base, hits)
    }

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

    /// Scale every row of `data` (`rows x cols`) to unit L2 norm (norm in f64). A zero row
    /// is [`crate::Error::ZeroVector`] naming `what` and the lowest such row
    /// (`+ row_offset`); NaN/Inf is [`crate::Error::NonFinite`]. On error the contents of
    /// `data` are unspecified (some rows may already be scaled).
    fn normalize_rows(&self, data: RowsMut<'_, f32>, what: &str, row_offset: usize) -> Result<()>;
}

/// The CPU backend, shared (what every library call uses unless told otherwise).
pub fn cpu() -> Arc<dyn Backend> {
    static CPU: std::sync::OnceLock<Arc<dyn Backend>> = std::sync::OnceLock::new();
    CPU.get_or_init(|| Arc::new(CpuBackend::new())).clone()
}

/// `X @ W`: the query-side linear map of ReCap (`x` is `n x d_x`, `w` is `d_x x d_y`, numpy's
/// convention: `np.load("W.npy")`, applied as `X @ W`), an f32 GEMM on `backend`. The one
/// product behind every map in recap (retrieval queries, aCLIP-S, `FittedMap::apply`).
pub fn apply_map_on(
    backend: &dyn Backend,
    x: &RowMatrix<f32>,
    w: &RowMatrix<f32>,
) -> Result<RowMatrix<f32>> {
    if x.cols() != w.rows() {
        return Err(crate::Error::shape(
            "rows @ map W",
            format!("a map with {} rows (the row width)", x.cols()),
            format!("{} x {}", w.rows(), w.cols()),
        ));
    }
    w.check_finite("map W")?;
    let (n, dy) = (x.rows(), w.cols());
    let mut out = RowMatrix::zeros(n, dy);
    if n == 0 || dy == 0 {
        return Ok(out);
    }
    backend.gemm(
        1.0,
        x.into(),
        Op::N,
        w.into(),
        Op::N,
        0.0,
        (&mut out).into(),
    )?;
    Ok(out)
}

/// [`apply_map_on`] on the CPU.
pub fn apply_map(x: &RowMatrix<f32>, w: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
    apply_map_on(&CpuBackend::new(), x, w)
}
