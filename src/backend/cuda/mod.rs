//! The CUDA backend (features `cuda` / `cuda-13`): cuBLAS GEMM/SYRK, cuSOLVER
//! Cholesky/eigen/SVD, and recap's own NVRTC kernels (top-k, normalization, Gram helpers),
//! through cudarc.
//!
//! ## How the libraries are found
//!
//! Nothing is linked at build time: `cargo build --features cuda` works on a machine without
//! any CUDA toolkit. At run time cudarc `dlopen`s each library by name, so the system loader
//! searches `LD_LIBRARY_PATH`, the `ld.so` cache (`/etc/ld.so.conf.d`, where toolkit
//! installers register `/usr/local/cuda/lib64`) and the default folders. The names tried, in
//! order, are (Linux; `<M>` is the CUDA major this build is for: 12 with `cuda`, 13 with
//! `cuda-13`):
//!
//! | library | names tried |
//! |---|---|
//! | driver | `libcuda.so`, ..., `libcuda.so.1` (comes with the NVIDIA driver, any CUDA version) |
//! | cuBLAS | `libcublas.so`, `libcublas.so.<M>`, `libcublas.so.12`/`.11`/... |
//! | cuSOLVER | `libcusolver.so`, `libcusolver.so.<M>`, ... |
//! | NVRTC | `libnvrtc.so`, `libnvrtc.so.<M>`, ... |
//!
//! So: a CUDA 12 install (toolkit, or the `nvidia-*-cu12` pip wheels' `lib` folders on
//! `LD_LIBRARY_PATH`) works with `--features cuda`; a CUDA 13 install works with
//! `--features cuda-13`, and also with `--features cuda` when the unversioned development
//! names (`libcublas.so`, ... from the toolkit's `lib64`) are on the loader path — cuBLAS,
//! cuSOLVER and NVRTC keep the C ABI of the calls recap makes (`cublasSgemm_v2`,
//! `cublasSsyrk_v2`, `cusolverDnD{potrf,potrs,syevd,gesvd}`, `nvrtcCompileProgram`) across
//! 12 and 13. The driver (`libcuda.so.1`) of a CUDA 13 system runs CUDA 12 programs. When a
//! library is missing, [`Error::CudaUnavailable`] lists the names tried and, if a library of
//! another CUDA major is present, says which feature to build with.
//!
//! Both statements about CUDA 13 are checked as far as possible without a GPU: the same
//! Rust code compiles against cudarc's CUDA 12.8 and 13.0 bindings (so the signatures of
//! every call above are unchanged), and `kernels/check-nvrtc.sh` compiles every kernel with
//! NVRTC 12.9 and 13.x (also a `cuda` build loading `libnvrtc.so.13` through a `libnvrtc.so`
//! symlink). Loading cuBLAS/cuSOLVER 13 from a `cuda` build awaits a GPU run.
//!
//! ## Validating on a GPU
//!
//! Build on the development machine, run the binaries on the GPU machine:
//!
//! ```text
//! cargo build --release --features cuda-13          # cuda for a CUDA 12 machine
//! cargo test --release --features cuda-13 --no-run  # prints target/release/deps/backend_*-HASH
//! # on the GPU machine (no Rust needed):
//! RECAP_REQUIRE_GPU=1 ./backend_kernels-HASH
//! RECAP_REQUIRE_GPU=1 ./backend_parity-HASH
//! ./recap bench device --device cuda [--tf32] [--json]
//! ./recap fit --device cuda ...; ./recap retrieve --device cuda ...
//! python3 benches/gpu/torch_baseline.py             # PyTorch at the same shapes
//! ```
//!
//! ## Numerics
//!
//! - GEMM: f32 products with f32 accumulation (cuBLAS default math); TF32 tensor cores only
//!   with [`BackendOptions::allow_tf32`](crate::backend::BackendOptions).
//! - Gram: per chunk of [`GRAM_CHUNK_ROWS`] rows the host shifts the chunk by its column
//!   means (as the CPU's portable path does), the device runs f32 SSYRK/SGEMM on the shifted
//!   rows, and the host adds the products into the f64 statistics with the shift restored
//!   (see `gram.rs`); f64 products run on the CPU.
//! - Solvers: f64 cuSOLVER.
//! - Top-k: exact, same tie rule as the CPU (see `kernels/topk.cu`); scores are f32 GEMM
//!   results, so they can differ from the CPU's in the last bits and near-ties may order
//!   differently.

mod blas;
pub mod context;
mod gram;
pub mod kernels;
mod normalize;
mod solver;
mod topk;

use std::sync::{Arc, Mutex, MutexGuard};

use cudarc::driver::{CudaContext, CudaStream, DriverError};

use super::{
    Backend, BackendOptions, Base, CpuBackend, Exclusion, GramChunk, GramStats, Matches, Op,
    RowsMut, RowsRef, SearchTuning, Svd, SymEigen,
};
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;
use blas::Blas;
use kernels::Kernels;
use solver::Solver;

pub use context::nvrtc_available;
pub use gram::GRAM_CHUNK_ROWS;
pub use kernels::{compile_to_ptx, SOURCES};

/// Map a cudarc driver error to [`Error::Cuda`] naming the operation.
pub(crate) fn driver_err(operation: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| Error::Cuda {
        operation: operation.into(),
        problem: format!("{e:?}"),
    }
}

/// Handles that must not be used from two threads at once.
struct Handles {
    blas: Blas,
    solver: Solver,
    kernels: Option<Arc<Kernels>>,
}

/// One CUDA device: context, a compute stream, cuBLAS/cuSOLVER handles and
/// the kernels (compiled at first use).
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    cc: (i32, i32),
    label: String,
    handles: Mutex<Handles>,
}

impl CudaBackend {
    /// Probe and open device `ordinal` (see the module docs for what is checked).
    pub fn open(ordinal: usize, options: BackendOptions) -> Result<Self> {
        let ctx = context::open_context(ordinal)?;
        let cc = ctx
            .compute_capability()
            .map_err(driver_err("cuDeviceGetAttribute"))?;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let stream = ctx.new_stream().map_err(driver_err("cuStreamCreate"))?;
        let blas = context::guarded("cuBLAS init", || {
            Blas::new(stream.clone(), options.allow_tf32)
        })??;
        let solver = context::guarded("cuSOLVER init", || Solver::new(stream.clone()))??;
        let tf32 = if options.allow_tf32 { ", TF32" } else { "" };
        Ok(CudaBackend {
            label: format!("cuda:{ordinal} {name} (sm_{}{}{tf32})", cc.0, cc.1),
            ctx,
            stream,
            cc,
            handles: Mutex::new(Handles {
                blas,
                solver,
                kernels: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Handles> {
        // A panic while holding the lock leaves the handles usable: recover the guard.
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kernels, compiling them by NVRTC on first use.
    fn kernels(&self, h: &mut Handles) -> Result<Arc<Kernels>> {
        if let Some(k) = &h.kernels {
            return Ok(k.clone());
        }
        let k = Arc::new(Kernels::load(&self.ctx, self.cc)?);
        h.kernels = Some(k.clone());
        Ok(k)
    }

    fn sync(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(driver_err("cuStreamSynchronize"))
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn chunk_rows(&self) -> usize {
        GRAM_CHUNK_ROWS
    }

    fn gram_chunk(&self, stats: &mut GramStats, chunk: GramChunk<'_>) -> Result<()> {
        if !gram::on_device(stats.precision()) {
            return CpuBackend::portable().gram_chunk(stats, chunk);
        }
        let h = self.lock();
        gram::gram_chunk(&self.stream, &h.blas, stats, chunk)?;
        self.sync()
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
        super::types::gemm_dims(a, op_a, b, op_b, &c)?;
        let h = self.lock();
        let s = &self.stream;
        let da = s
            .clone_htod(a.as_slice())
            .map_err(driver_err("copy A to device"))?;
        let db = s
            .clone_htod(b.as_slice())
            .map_err(driver_err("copy B to device"))?;
        let mut dc = s
            .clone_htod(c.as_slice())
            .map_err(driver_err("copy C to device"))?;
        h.blas.sgemm(
            alpha,
            &da,
            (a.rows(), a.cols()),
            op_a,
            &db,
            (b.rows(), b.cols()),
            op_b,
            beta,
            &mut dc,
        )?;
        s.memcpy_dtoh(&dc, c.as_mut_slice())
            .map_err(driver_err("copy C to host"))?;
        self.sync()
    }

    fn cholesky_solve(&self, a: RowsRef<'_, f64>, b: RowsRef<'_, f64>) -> Result<RowMatrix<f64>> {
        self.lock().solver.cholesky_solve(a, b)
    }

    fn sym_eigen(&self, a: RowsRef<'_, f64>) -> Result<SymEigen> {
        self.lock().solver.sym_eigen(a)
    }

    fn svd(&self, a: RowsRef<'_, f64>) -> Result<Svd> {
        self.lock().solver.svd(a)
    }

    fn normalize_rows(
        &self,
        mut data: RowsMut<'_, f32>,
        what: &str,
        row_offset: usize,
    ) -> Result<()> {
        let mut h = self.lock();
        let k = self.kernels(&mut h)?;
        let (rows, cols) = (data.rows(), data.cols());
        let mut d = self
            .stream
            .clone_htod(data.as_slice())
            .map_err(driver_err("copy rows to device"))?;
        normalize::normalize_device(
            &self.stream,
            &k,
            &mut d,
            rows,
            cols,
            what,
            row_offset,
            Some(data.as_slice()),
        )?;
        self.stream
            .memcpy_dtoh(&d, data.as_mut_slice())
            .map_err(driver_err("copy rows to host"))?;
        self.sync()
    }

    fn search(
        &self,
        queries: RowsRef<'_, f32>,
        base: Base<'_>,
        k: usize,
        exclusion: Option<&Exclusion>,
        _tuning: &SearchTuning<'_>,
    ) -> Result<Matches> {
        let m = crate::backend::cpu::search::check_inputs(queries, base, k, exclusion)?;
        // f16 rows are widened on the host (exactly) before the upload.
        let rows = base.rows.to_f32(0, base.rows.len());
        let rows = RowsRef::new(&rows, m, base.dim)?;
        let mut h = self.lock();
        let kern = self.kernels(&mut h)?;
        topk::search(
            &self.stream,
            &h.blas,
            &kern,
            queries,
            topk::Base::Host(rows),
            k,
            exclusion,
            true,
        )
    }
}

/// Rows resident in device memory (a datastore uploaded once, searched many times).
pub struct DeviceRows {
    data: cudarc::driver::CudaSlice<f32>,
    rows: usize,
    cols: usize,
}

impl DeviceRows {
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

impl CudaBackend {
    /// Copy `rows` to device memory once, for [`CudaBackend::search_resident`].
    pub fn upload(&self, rows: RowsRef<'_, f32>) -> Result<DeviceRows> {
        let data = self
            .stream
            .clone_htod(rows.as_slice())
            .map_err(driver_err("copy rows to device"))?;
        self.sync()?;
        Ok(DeviceRows {
            data,
            rows: rows.rows(),
            cols: rows.cols(),
        })
    }

    /// [`Backend::search`] over a device-resident base (no per-call upload of the base).
    pub fn search_resident(
        &self,
        queries: RowsRef<'_, f32>,
        base: &DeviceRows,
        k: usize,
        exclusions: Option<&Exclusion>,
    ) -> Result<Matches> {
        let mut h = self.lock();
        let kern = self.kernels(&mut h)?;
        let b = topk::Base::Device(&base.data, base.rows, base.cols);
        topk::search(
            &self.stream,
            &h.blas,
            &kern,
            queries,
            b,
            k,
            exclusions,
            true,
        )
    }

    /// The GEMM-only part of [`CudaBackend::search_resident`] (same tiles, no top-k): the
    /// benchmark's baseline. Returns after the device finished.
    pub fn score_tiles_only(&self, queries: RowsRef<'_, f32>, base: &DeviceRows) -> Result<()> {
        let mut h = self.lock();
        let kern = self.kernels(&mut h)?;
        let b = topk::Base::Device(&base.data, base.rows, base.cols);
        topk::search(&self.stream, &h.blas, &kern, queries, b, 1, None, false)?;
        self.sync()
    }

    /// Seconds for one device-resident SGEMM `C (m x n) = A (m x k) · B (n x k)ᵀ` (inputs
    /// uninitialised-but-zeroed device buffers; the best of `reps` runs). The cuBLAS rate
    /// reference of the benchmark.
    pub fn time_sgemm(&self, m: usize, n: usize, k: usize, reps: usize) -> Result<f64> {
        let h = self.lock();
        let s = &self.stream;
        let a = s
            .alloc_zeros::<f32>((m * k).max(1))
            .map_err(driver_err("cuMemAlloc"))?;
        let b = s
            .alloc_zeros::<f32>((n * k).max(1))
            .map_err(driver_err("cuMemAlloc"))?;
        let mut c = s
            .alloc_zeros::<f32>((m * n).max(1))
            .map_err(driver_err("cuMemAlloc"))?;
        let mut best = f64::INFINITY;
        for _ in 0..reps.max(1) + 1 {
            self.sync()?;
            let t = std::time::Instant::now();
            h.blas
                .sgemm(1.0, &a, (m, k), Op::N, &b, (n, k), Op::T, 0.0, &mut c)?;
            self.sync()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    }
}
