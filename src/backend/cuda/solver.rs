//! Safe wrappers over the few raw cuSOLVER dense calls recap needs: Cholesky
//! (`potrf`/`potrs`), symmetric eigendecomposition (`syevd`) and SVD (`gesvd`, which needs
//! `m ≥ n`: a wide matrix is decomposed through its transpose).
//!
//! Inputs and outputs are host row-major f64; each call checks shapes, queries the
//! workspace size, and turns `devInfo` into a typed error.

use std::os::raw::c_int;
use std::sync::Arc;

use cudarc::cusolver::sys::{self as cs, cusolverStatus_t};
use cudarc::cusolver::DnHandle;
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DevicePtrMut};

use super::driver_err;
use crate::backend::types::check_square;
use crate::backend::{RowsRef, Svd, SymEigen};
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// A cuSOLVER dense handle bound to one stream.
pub(crate) struct Solver {
    handle: DnHandle,
    stream: Arc<CudaStream>,
}

fn check(operation: &str, status: cusolverStatus_t) -> Result<()> {
    if status == cusolverStatus_t::CUSOLVER_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(Error::Cuda {
            operation: operation.into(),
            problem: format!("{status:?}"),
        })
    }
}

fn to_int(what: &str, v: usize) -> Result<c_int> {
    c_int::try_from(v)
        .map_err(|_| Error::invalid(what, format!("{v} exceeds cuSOLVER's 32-bit limit")))
}

/// Row-major `r x c` → column-major (`out[i + j*r] = a[i*c + j]`).
fn to_col_major(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i + j * r] = a[i * c + j];
        }
    }
    out
}

/// Column-major `r x c` (leading dimension `r`) → row-major `RowMatrix`.
fn from_col_major(a: &[f64], r: usize, c: usize) -> RowMatrix<f64> {
    let mut out = RowMatrix::zeros(r, c);
    for i in 0..r {
        for (j, v) in out.row_mut(i).iter_mut().enumerate() {
            *v = a[i + j * r];
        }
    }
    out
}

impl Solver {
    pub(crate) fn new(stream: Arc<CudaStream>) -> Result<Self> {
        let handle = DnHandle::new(stream.clone()).map_err(|e| Error::Cuda {
            operation: "cusolverDnCreate".into(),
            problem: format!("{e:?}"),
        })?;
        Ok(Solver { handle, stream })
    }

    fn upload(&self, data: &[f64]) -> Result<CudaSlice<f64>> {
        self.stream
            .clone_htod(data)
            .map_err(driver_err("copy to device"))
    }

    fn download<T: cudarc::driver::DeviceRepr + Default + Clone>(
        &self,
        d: &CudaSlice<T>,
    ) -> Result<Vec<T>> {
        self.stream
            .clone_dtoh(d)
            .map_err(driver_err("copy to host"))
    }

    fn info(&self, d: &CudaSlice<c_int>) -> Result<c_int> {
        Ok(self.download(d)?[0])
    }

    /// Solve `A·X = B` (`A` SPD `n x n`, `B` `n x r`), Cholesky by `potrf` then `potrs`.
    pub(crate) fn cholesky_solve(
        &self,
        a: RowsRef<'_, f64>,
        b: RowsRef<'_, f64>,
    ) -> Result<RowMatrix<f64>> {
        check_square("cholesky_solve: A", a)?;
        let (n, r) = (a.rows(), b.cols());
        if b.rows() != n {
            return Err(Error::shape(
                "cholesky_solve: B",
                format!("{n} rows"),
                format!("{} rows", b.rows()),
            ));
        }
        if n == 0 || r == 0 {
            return Ok(RowMatrix::zeros(n, r));
        }
        let ni = to_int("n", n)?;
        let ri = to_int("nrhs", r)?;
        // A symmetric: its row-major buffer is also its column-major buffer.
        let mut da = self.upload(a.as_slice())?;
        let mut db = self.upload(&to_col_major(b.as_slice(), n, r))?;
        let mut dinfo = self
            .stream
            .alloc_zeros::<c_int>(1)
            .map_err(driver_err("alloc devInfo"))?;
        let uplo = cs::cublasFillMode_t::CUBLAS_FILL_MODE_UPPER;
        let mut lwork: c_int = 0;
        {
            let (pa, _g) = da.device_ptr_mut(&self.stream);
            check("cusolverDnDpotrf_bufferSize", unsafe {
                cs::cusolverDnDpotrf_bufferSize(
                    self.handle.cu(),
                    uplo,
                    ni,
                    pa as *mut f64,
                    ni,
                    &mut lwork,
                )
            })?;
        }
        let mut work = self
            .stream
            .alloc_zeros::<f64>(lwork.max(1) as usize)
            .map_err(driver_err("alloc potrf workspace"))?;
        {
            let (pa, _ga) = da.device_ptr_mut(&self.stream);
            let (pw, _gw) = work.device_ptr_mut(&self.stream);
            let (pi, _gi) = dinfo.device_ptr_mut(&self.stream);
            check("cusolverDnDpotrf", unsafe {
                cs::cusolverDnDpotrf(
                    self.handle.cu(),
                    uplo,
                    ni,
                    pa as *mut f64,
                    ni,
                    pw as *mut f64,
                    lwork,
                    pi as *mut c_int,
                )
            })?;
        }
        match self.info(&dinfo)? {
            0 => {}
            i if i > 0 => {
                return Err(Error::NotPositiveDefinite {
                    operation: "Cholesky (cuSOLVER potrf)".into(),
                    pivot: i as usize - 1,
                })
            }
            i => {
                return Err(Error::Cuda {
                    operation: "cusolverDnDpotrf".into(),
                    problem: format!("parameter {} is invalid", -i),
                })
            }
        }
        {
            let (pa, _ga) = da.device_ptr(&self.stream);
            let (pb, _gb) = db.device_ptr_mut(&self.stream);
            let (pi, _gi) = dinfo.device_ptr_mut(&self.stream);
            check("cusolverDnDpotrs", unsafe {
                cs::cusolverDnDpotrs(
                    self.handle.cu(),
                    uplo,
                    ni,
                    ri,
                    pa as *const f64,
                    ni,
                    pb as *mut f64,
                    ni,
                    pi as *mut c_int,
                )
            })?;
        }
        let info = self.info(&dinfo)?;
        if info != 0 {
            return Err(Error::Cuda {
                operation: "cusolverDnDpotrs".into(),
                problem: format!("devInfo = {info}"),
            });
        }
        Ok(from_col_major(&self.download(&db)?, n, r))
    }

    /// Eigendecomposition of symmetric `A` (row-major lower triangle read) by `syevd`.
    pub(crate) fn sym_eigen(&self, a: RowsRef<'_, f64>) -> Result<SymEigen> {
        check_square("sym_eigen: A", a)?;
        let n = a.rows();
        if n == 0 {
            return Ok(SymEigen {
                values: vec![],
                vectors: RowMatrix::zeros(0, 0),
            });
        }
        let ni = to_int("n", n)?;
        // Row-major lower triangle = column-major upper triangle.
        let uplo = cs::cublasFillMode_t::CUBLAS_FILL_MODE_UPPER;
        let jobz = cs::cusolverEigMode_t::CUSOLVER_EIG_MODE_VECTOR;
        let mut da = self.upload(a.as_slice())?;
        let mut dw = self
            .stream
            .alloc_zeros::<f64>(n)
            .map_err(driver_err("alloc eigenvalues"))?;
        let mut dinfo = self
            .stream
            .alloc_zeros::<c_int>(1)
            .map_err(driver_err("alloc devInfo"))?;
        let mut lwork: c_int = 0;
        {
            let (pa, _ga) = da.device_ptr(&self.stream);
            let (pw, _gw) = dw.device_ptr(&self.stream);
            check("cusolverDnDsyevd_bufferSize", unsafe {
                cs::cusolverDnDsyevd_bufferSize(
                    self.handle.cu(),
                    jobz,
                    uplo,
                    ni,
                    pa as *const f64,
                    ni,
                    pw as *const f64,
                    &mut lwork,
                )
            })?;
        }
        let mut work = self
            .stream
            .alloc_zeros::<f64>(lwork.max(1) as usize)
            .map_err(driver_err("alloc syevd workspace"))?;
        {
            let (pa, _ga) = da.device_ptr_mut(&self.stream);
            let (pw, _gw) = dw.device_ptr_mut(&self.stream);
            let (pk, _gk) = work.device_ptr_mut(&self.stream);
            let (pi, _gi) = dinfo.device_ptr_mut(&self.stream);
            check("cusolverDnDsyevd", unsafe {
                cs::cusolverDnDsyevd(
                    self.handle.cu(),
                    jobz,
                    uplo,
                    ni,
                    pa as *mut f64,
                    ni,
                    pw as *mut f64,
                    pk as *mut f64,
                    lwork,
                    pi as *mut c_int,
                )
            })?;
        }
        match self.info(&dinfo)? {
            0 => {}
            i if i > 0 => {
                return Err(Error::numerical(
                    "symmetric eigendecomposition (cuSOLVER syevd)",
                    format!("no convergence ({i} off-diagonal elements did not converge)"),
                ))
            }
            i => {
                return Err(Error::Cuda {
                    operation: "cusolverDnDsyevd".into(),
                    problem: format!("parameter {} is invalid", -i),
                })
            }
        }
        Ok(SymEigen {
            values: self.download(&dw)?,
            // Column j of the column-major result is eigenvector j.
            vectors: from_col_major(&self.download(&da)?, n, n),
        })
    }

    /// Thin SVD of row-major `A` (`m x n`) by `gesvd` (jobu = jobvt = 'S').
    pub(crate) fn svd(&self, a: RowsRef<'_, f64>) -> Result<Svd> {
        let (m, n) = (a.rows(), a.cols());
        let p = m.min(n);
        if p == 0 {
            return Ok(Svd {
                u: RowMatrix::zeros(m, 0),
                s: vec![],
                vt: RowMatrix::zeros(0, n),
            });
        }
        if m >= n {
            // Column-major A (m x n, tall): decompose directly.
            let (u, s, vt) = self.gesvd_tall(&to_col_major(a.as_slice(), m, n), m, n)?;
            Ok(Svd {
                u: from_col_major(&u, m, p),
                s,
                vt: from_col_major(&vt, p, n),
            })
        } else {
            // The row-major buffer is column-major Aᵀ (n x m, tall): Aᵀ = U'SV'ᵀ, so
            // A = V'SU'ᵀ: U_A = V' = (V'ᵀ)ᵀ and V_Aᵀ = U'ᵀ.
            let (u1, s, vt1) = self.gesvd_tall(a.as_slice(), n, m)?;
            let u = from_col_major(&vt1, p, m);
            let vt = from_col_major(&u1, n, p);
            Ok(Svd {
                u: transpose(&u),
                s,
                vt: transpose(&vt),
            })
        }
    }

    /// `gesvd` of a column-major tall matrix (`r ≥ c`): column-major `U` (`r x c`), `s`,
    /// column-major `Vᵀ` (`c x c`).
    fn gesvd_tall(
        &self,
        colmajor: &[f64],
        r: usize,
        c: usize,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let (ri, ci) = (to_int("m", r)?, to_int("n", c)?);
        let mut da = self.upload(colmajor)?;
        let mut ds = self
            .stream
            .alloc_zeros::<f64>(c)
            .map_err(driver_err("alloc S"))?;
        let mut du = self
            .stream
            .alloc_zeros::<f64>(r * c)
            .map_err(driver_err("alloc U"))?;
        let mut dvt = self
            .stream
            .alloc_zeros::<f64>(c * c)
            .map_err(driver_err("alloc VT"))?;
        let mut rwork = self
            .stream
            .alloc_zeros::<f64>(c)
            .map_err(driver_err("alloc rwork"))?;
        let mut dinfo = self
            .stream
            .alloc_zeros::<c_int>(1)
            .map_err(driver_err("alloc devInfo"))?;
        let mut lwork: c_int = 0;
        check("cusolverDnDgesvd_bufferSize", unsafe {
            cs::cusolverDnDgesvd_bufferSize(self.handle.cu(), ri, ci, &mut lwork)
        })?;
        let mut work = self
            .stream
            .alloc_zeros::<f64>(lwork.max(1) as usize)
            .map_err(driver_err("alloc gesvd workspace"))?;
        {
            let (pa, _ga) = da.device_ptr_mut(&self.stream);
            let (ps, _gs) = ds.device_ptr_mut(&self.stream);
            let (pu, _gu) = du.device_ptr_mut(&self.stream);
            let (pv, _gv) = dvt.device_ptr_mut(&self.stream);
            let (pk, _gk) = work.device_ptr_mut(&self.stream);
            let (pr, _gr) = rwork.device_ptr_mut(&self.stream);
            let (pi, _gi) = dinfo.device_ptr_mut(&self.stream);
            check("cusolverDnDgesvd", unsafe {
                cs::cusolverDnDgesvd(
                    self.handle.cu(),
                    b'S' as _,
                    b'S' as _,
                    ri,
                    ci,
                    pa as *mut f64,
                    ri,
                    ps as *mut f64,
                    pu as *mut f64,
                    ri,
                    pv as *mut f64,
                    ci,
                    pk as *mut f64,
                    lwork,
                    pr as *mut f64,
                    pi as *mut c_int,
                )
            })?;
        }
        match self.info(&dinfo)? {
            0 => {}
            i if i > 0 => {
                return Err(Error::numerical(
                    "SVD (cuSOLVER gesvd)",
                    format!("no convergence ({i} superdiagonals did not converge)"),
                ))
            }
            i => {
                return Err(Error::Cuda {
                    operation: "cusolverDnDgesvd".into(),
                    problem: format!("parameter {} is invalid", -i),
                })
            }
        }
        Ok((
            self.download(&du)?,
            self.download(&ds)?,
            self.download(&dvt)?,
        ))
    }
}

fn transpose(m: &RowMatrix<f64>) -> RowMatrix<f64> {
    let (r, c) = m.shape();
    let mut out = RowMatrix::zeros(c, r);
    for i in 0..r {
        for (j, &v) in m.row(i).iter().enumerate() {
            out.row_mut(j)[i] = v;
        }
    }
    out
}
