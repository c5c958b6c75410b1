//! cuBLAS SGEMM/SSYRK on row-major data, with shape checks.
//!
//! cuBLAS is column-major; a row-major `r x c` matrix is its column-major transpose
//! (`c x r`, leading dimension `c`). So row-major `C = op(A)·op(B)` is computed as
//! column-major `Cᵀ = op(B)ᵀ·op(A)ᵀ`: swap the operands, keep each operand's op flag.

use std::sync::Arc;

use cudarc::cublas::sys::{self as cb, cublasOperation_t, cublasStatus_t};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaStream, DevicePtr, DevicePtrMut};

use crate::backend::Op;
use crate::error::{Error, Result};

/// A cuBLAS handle bound to one stream, with the math mode chosen at creation.
pub(crate) struct Blas {
    handle: CudaBlas,
    stream: Arc<CudaStream>,
}

fn check(operation: &str, status: cublasStatus_t) -> Result<()> {
    if status == cublasStatus_t::CUBLAS_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(Error::Cuda {
            operation: operation.into(),
            problem: format!("{status:?}"),
        })
    }
}

fn to_int(what: &str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::invalid(what, format!("{v} exceeds cuBLAS's 32-bit limit")))
}

fn need(what: &str, have: usize, rows: usize, cols: usize) -> Result<()> {
    if have < rows * cols {
        return Err(Error::shape(
            what,
            format!("at least {rows} x {cols} = {} device values", rows * cols),
            format!("{have} values"),
        ));
    }
    Ok(())
}

fn cublas_op(op: Op) -> cublasOperation_t {
    match op {
        Op::N => cublasOperation_t::CUBLAS_OP_N,
        Op::T => cublasOperation_t::CUBLAS_OP_T,
    }
}

impl Blas {
    /// A handle on `stream`; `tf32` lets SGEMM/SSYRK use TF32 tensor cores.
    pub(crate) fn new(stream: Arc<CudaStream>, tf32: bool) -> Result<Self> {
        let handle = CudaBlas::new(stream.clone()).map_err(|e| Error::Cuda {
            operation: "cublasCreate".into(),
            problem: format!("{e:?}"),
        })?;
        let mode = if tf32 {
            cb::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH
        } else {
            cb::cublasMath_t::CUBLAS_DEFAULT_MATH
        };
        check("cublasSetMathMode", unsafe {
            cb::cublasSetMathMode(*handle.handle(), mode)
        })?;
        Ok(Blas { handle, stream })
    }

    /// Row-major `C (m x n) ← α·op(A)·op(B) + β·C`, `A` stored `a_rows x a_cols`, `B`
    /// stored `b_rows x b_cols`, `C` contiguous `m x n`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sgemm<A: DevicePtr<f32>, B: DevicePtr<f32>, C: DevicePtrMut<f32>>(
        &self,
        alpha: f32,
        a: &A,
        (a_rows, a_cols): (usize, usize),
        op_a: Op,
        b: &B,
        (b_rows, b_cols): (usize, usize),
        op_b: Op,
        beta: f32,
        c: &mut C,
    ) -> Result<(usize, usize)> {
        let (m, k) = op_a.shape(a_rows, a_cols);
        let (kb, n) = op_b.shape(b_rows, b_cols);
        if k != kb {
            return Err(Error::shape(
                "sgemm: inner dimensions",
                format!("{k}"),
                format!("{kb}"),
            ));
        }
        need("sgemm: A", a.len(), a_rows, a_cols)?;
        need("sgemm: B", b.len(), b_rows, b_cols)?;
        need("sgemm: C", c.len(), m, n)?;
        if m == 0 || n == 0 {
            return Ok((m, n));
        }
        let (mi, ni, ki) = (to_int("m", m)?, to_int("n", n)?, to_int("k", k)?);
        let (lda, ldb) = (to_int("lda", a_cols.max(1))?, to_int("ldb", b_cols.max(1))?);
        let (pa, _ga) = a.device_ptr(&self.stream);
        let (pb, _gb) = b.device_ptr(&self.stream);
        let (pc, _gc) = c.device_ptr_mut(&self.stream);
        // Column-major: Cᵀ (n x m) = op(B)ᵀ (n x k) · op(A)ᵀ (k x m).
        let status = unsafe {
            cb::cublasSgemm_v2(
                *self.handle.handle(),
                cublas_op(op_b),
                cublas_op(op_a),
                ni,
                mi,
                ki,
                &alpha,
                pb as *const f32,
                ldb,
                pa as *const f32,
                lda,
                &beta,
                pc as *mut f32,
                ni,
            )
        };
        check("cublasSgemm", status)?;
        Ok((m, n))
    }

    /// `C ← XᵀX` for row-major `X` (`rows x cols`) into a contiguous `cols x cols` buffer.
    /// Only the row-major **upper** triangle (`i ≤ j`) is written (cuBLAS's column-major
    /// lower); the caller mirrors it.
    pub(crate) fn ssyrk_xtx<X: DevicePtr<f32>, C: DevicePtrMut<f32>>(
        &self,
        x: &X,
        rows: usize,
        cols: usize,
        c: &mut C,
    ) -> Result<()> {
        need("ssyrk: X", x.len(), rows, cols)?;
        need("ssyrk: C", c.len(), cols, cols)?;
        if cols == 0 {
            return Ok(());
        }
        let (n, k) = (to_int("cols", cols)?, to_int("rows", rows)?);
        let (alpha, beta) = (1.0f32, 0.0f32);
        let (px, _gx) = x.device_ptr(&self.stream);
        let (pc, _gc) = c.device_ptr_mut(&self.stream);
        // Column-major view of X is Xᵀ (cols x rows, ld = cols): C = (Xᵀ)(Xᵀ)ᵀ = XᵀX.
        let status = unsafe {
            cb::cublasSsyrk_v2(
                *self.handle.handle(),
                cb::cublasFillMode_t::CUBLAS_FILL_MODE_LOWER,
                cublasOperation_t::CUBLAS_OP_N,
                n,
                k,
                &alpha,
                px as *const f32,
                n,
                &beta,
                pc as *mut f32,
                n,
            )
        };
        check("cublasSsyrk", status)
    }
}
