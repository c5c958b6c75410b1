//! The numeric primitives of the alignment code, in one place with narrow signatures.
//!
//! Everything the solvers need from a linear-algebra library goes through these functions:
//! Gram accumulation of a row chunk, a general product, Cholesky factor/solve, symmetric
//! eigendecomposition, SVD and least squares by QR. They run on faer (CPU, rayon); a later
//! backend layer can put the same signatures on another device.
//!
//! Matrices cross this boundary as row-major `f64` buffers ([`RowMatrix<f64>`]), chunks of
//! data as row-major `f32` slices.
//!
//! ## Accuracy of the f32 Gram products
//! A chunk's product `XᵀX` runs in f32 (the machine's fast path) and is added into `f64`
//! accumulators. The products of two f32 values are exact; the f32 rounding comes only from
//! summing within one chunk, so the error of one chunk is about `eps32·√(kc)` relative (the
//! GEMM kernel's inner blocking), and chunks add their independent errors in f64. Chunks of a
//! few thousand rows keep the relative Gram error near 1e-7 while costing nothing extra
//! (the f32→f64 add is `d²` per chunk against `2·rows·d²` flops).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, MatRef, Par, Side};

use crate::backend::GramPrecision;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// The parallelism used by every primitive: all rayon threads.
pub fn par() -> Par {
    Par::rayon(0)
}

/// Scratch for the chunk products (kept between chunks to avoid re-allocation), and the
/// precision they run in.
#[derive(Debug, Default)]
pub struct ChunkScratch {
    /// Arithmetic of the products.
    pub precision: GramPrecision,
    xx: Option<Mat<f32>>,
    xy: Option<Mat<f32>>,
    xx64: Option<Mat<f64>>,
    xy64: Option<Mat<f64>>,
    /// Column means of the next X chunk, if the caller already has them (saves a pass).
    pub mean_x: Option<Vec<f64>>,
    /// Column means of the next Y chunk, if known.
    pub mean_y: Option<Vec<f64>>,
}

fn scratch<T: faer::traits::ComplexField>(
    slot: &mut Option<Mat<T>>,
    r: usize,
    c: usize,
) -> &mut Mat<T> {
    if slot
        .as_ref()
        .is_none_or(|m| m.nrows() != r || m.ncols() != c)
    {
        *slot = Some(Mat::zeros(r, c));
    }
    slot.as_mut().expect("just set")
}

/// A chunk with its column mean removed: `x̃ = fl(x − c)` with `c` the chunk's column mean
/// rounded to f32, and `s̃ = Σ_i w_i x̃_i` (f64), `Σ w_i`. Products of shifted chunks have
/// much smaller partial sums (the embeddings share a large common offset), so the f32
/// accumulation error shrinks with them; the shift is added back exactly in f64:
/// `AᵀWB = ÃᵀWB̃ + c_a s̃_bᵀ + s̃_a c_bᵀ + (Σw) c_a c_bᵀ`.
pub(crate) struct Shifted<T> {
    /// `(x − c)·√w` row-major.
    pub(crate) data: Vec<T>,
    /// The shift `c` (f32 values held in f64).
    pub(crate) shift: Vec<f64>,
    /// `Σ w (x − c)`.
    pub(crate) sum: Vec<f64>,
    /// `Σ w`.
    pub(crate) weight: f64,
}

/// Element type of the shifted copy: f32 (rounded `x − c`) or f64 (exact `x − c`).
pub(crate) trait Lane: Copy {
    /// `out = (row − c)·√w`, `sum += w·(row − c)` (the unscaled shifted values).
    fn shift_row(
        out: &mut [Self],
        row: &[f32],
        c32: &[f32],
        c64: &[f64],
        sum: &mut [f64],
        w: f64,
        weighted: bool,
    );
}

impl Lane for f32 {
    fn shift_row(
        out: &mut [f32],
        row: &[f32],
        c32: &[f32],
        _: &[f64],
        sum: &mut [f64],
        w: f64,
        weighted: bool,
    ) {
        for ((o, &v), &c) in out.iter_mut().zip(row).zip(c32) {
            *o = v - c;
        }
        if weighted {
            sum.iter_mut()
                .zip(out.iter())
                .for_each(|(s, &t)| *s += w * t as f64);
            let root = w.sqrt() as f32;
            out.iter_mut().for_each(|o| *o *= root);
        } else {
            sum.iter_mut()
                .zip(out.iter())
                .for_each(|(s, &t)| *s += t as f64);
        }
    }
}

impl Lane for f64 {
    fn shift_row(
        out: &mut [f64],
        row: &[f32],
        _: &[f32],
        c64: &[f64],
        sum: &mut [f64],
        w: f64,
        weighted: bool,
    ) {
        for ((o, &v), &c) in out.iter_mut().zip(row).zip(c64) {
            *o = v as f64 - c;
        }
        sum.iter_mut()
            .zip(out.iter())
            .for_each(|(s, &t)| *s += w * t);
        if weighted {
            let root = w.sqrt();
            out.iter_mut().for_each(|o| *o *= root);
        }
    }
}

/// Rows per parallel task in the row passes.
const ROW_BLOCK: usize = 256;

/// Column reductions over the rows of `x` (`d` columns), in parallel over fixed row blocks
/// and summed in block order (deterministic): `f(acc, row_index, row)` adds into `acc`
/// (length `width`).
pub fn par_rows_fold<F>(x: &[f32], d: usize, width: usize, f: F) -> Vec<f64>
where
    F: Fn(&mut [f64], usize, &[f32]) + Sync,
{
    use rayon::prelude::*;
    let d = d.max(1);
    let parts: Vec<Vec<f64>> = x
        .par_chunks(ROW_BLOCK * d)
        .enumerate()
        .map(|(b, blk)| {
            let mut acc = vec![0.0; width];
            for (k, row) in blk.chunks_exact(d).enumerate() {
                f(&mut acc, b * ROW_BLOCK + k, row);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0; width];
    for p in parts {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

pub(crate) fn shifted<T: Lane + Send + Sync + Default>(
    x: &[f32],
    w: Option<&[f32]>,
    mean: Option<Vec<f64>>,
    rows: usize,
    d: usize,
) -> Shifted<T> {
    use rayon::prelude::*;
    // Any shift keeps the result exact (it is added back in f64); the chunk mean makes the
    // f32 partial sums small.
    let mean = mean.unwrap_or_else(|| {
        let sums = par_rows_fold(x, d, d, |acc, _, row| {
            acc.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64)
        });
        sums.iter().map(|m| m / rows.max(1) as f64).collect()
    });
    // The shift is an f32 value: `x − c` is exact in f64, and in f32 it is rounded once
    // (the same value as rounding the exact difference).
    let shift32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let shift: Vec<f64> = shift32.iter().map(|&c| c as f64).collect();
    let dd = d.max(1);
    let mut data = vec![T::default(); x.len()];
    let parts: Vec<(Vec<f64>, f64)> = data
        .par_chunks_mut(ROW_BLOCK * dd)
        .zip(x.par_chunks(ROW_BLOCK * dd))
        .enumerate()
        .map(|(b, (out, inp))| {
            let mut sum = vec![0f64; d];
            let mut weight = 0.0;
            for (k, (o, row)) in out
                .chunks_exact_mut(dd)
                .zip(inp.chunks_exact(dd))
                .enumerate()
            {
                let wi = w.map_or(1.0, |w| w[b * ROW_BLOCK + k] as f64);
                weight += wi;
                T::shift_row(o, row, &shift32, &shift, &mut sum, wi, w.is_some());
            }
            (sum, weight)
        })
        .collect();
    let mut sum = vec![0f64; d];
    let mut weight = 0.0;
    for (p, wt) in parts {
        sum.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        weight += wt;
    }
    Shifted {
        data,
        shift,
        sum,
        weight,
    }
}

/// `acc_lower += Xᵀ X` for a row-major chunk `x` (`rows x d`), lower triangle only.
///
/// `acc` is a `d x d` row-major f64 buffer; only entries `(i, j)` with `j <= i` are touched.
/// The product of the mean-shifted chunk runs in f32 (triangular GEMM: half the flops of a
/// full product), the sum and the shift correction in f64.
pub fn gram_lower_chunk(acc: &mut [f64], x: &[f32], rows: usize, d: usize, s: &mut ChunkScratch) {
    gram_lower_chunk_weighted(acc, x, None, rows, d, s)
}

/// `acc_lower += Xᵀ diag(w) X`; `w = None` means all ones (weights are counts ≥ 0).
pub fn gram_lower_chunk_weighted(
    acc: &mut [f64],
    x: &[f32],
    w: Option<&[f32]>,
    rows: usize,
    d: usize,
    s: &mut ChunkScratch,
) {
    debug_assert_eq!(acc.len(), d * d);
    let mean = s.mean_x.take();
    match s.precision {
        GramPrecision::F64 => {
            let sh = shifted::<f64>(x, w, mean, rows, d);
            add_lower_product(acc, &sh, rows, d, scratch(&mut s.xx64, d, d));
        }
        GramPrecision::F32 => {
            let sh = shifted::<f32>(x, w, mean, rows, d);
            add_lower_product(acc, &sh, rows, d, scratch(&mut s.xx, d, d));
        }
    }
}

/// `acc_lower += X̃ᵀX̃ + shift correction` for a mean-shifted chunk `X̃ = X − 1cᵀ`:
/// `XᵀWX = X̃ᵀWX̃ + c sᵀ + s cᵀ + (Σw) c cᵀ` with `s = Σ_r w_r x̃_r` (all in f64 but the
/// triangular product, which runs in `T`).
fn add_lower_product<T>(acc: &mut [f64], sh: &Shifted<T>, rows: usize, d: usize, dst: &mut Mat<T>)
where
    T: faer::traits::ComplexField + Copy + Into<f64> + From<f32>,
{
    let xm = MatRef::from_row_major_slice(&sh.data, rows, d);
    triangular::matmul(
        dst.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        xm.transpose(),
        BlockStructure::Rectangular,
        xm,
        BlockStructure::Rectangular,
        T::from(1.0f32),
        par(),
    );
    correct_lower(acc, sh, |i, j| dst[(i, j)].into());
}

/// `acc_lower += P + c sᵀ + s cᵀ + (Σw) c cᵀ` where `P(i, j)` (`j ≤ i`) is the product of the
/// shifted chunk `X̃ᵀWX̃` computed on any device.
pub(crate) fn correct_lower<T>(
    acc: &mut [f64],
    sh: &Shifted<T>,
    product: impl Fn(usize, usize) -> f64,
) {
    let (c, sm, wt) = (&sh.shift, &sh.sum, sh.weight);
    let d = c.len();
    for i in 0..d {
        for (j, a) in acc[i * d..i * d + i + 1].iter_mut().enumerate() {
            *a += product(i, j) + c[i] * sm[j] + sm[i] * c[j] + wt * c[i] * c[j];
        }
    }
}

/// `acc += Xᵀ Y` for row-major chunks `x` (`rows x dx`) and `y` (`rows x dy`); `acc` is
/// `dx x dy` row-major f64. Both chunks are mean-shifted, the product runs in f32, the sum
/// and the shift correction in f64.
pub fn cross_chunk(
    acc: &mut [f64],
    x: &[f32],
    y: &[f32],
    rows: usize,
    dx: usize,
    dy: usize,
    s: &mut ChunkScratch,
) {
    debug_assert_eq!(acc.len(), dx * dy);
    let (mean_x, mean_y) = (s.mean_x.take(), s.mean_y.take());
    match s.precision {
        GramPrecision::F64 => {
            let sx = shifted::<f64>(x, None, mean_x, rows, dx);
            let sy = shifted::<f64>(y, None, mean_y, rows, dy);
            add_cross_product(acc, &sx, &sy, rows, scratch(&mut s.xy64, dx, dy));
        }
        GramPrecision::F32 => {
            let sx = shifted::<f32>(x, None, mean_x, rows, dx);
            let sy = shifted::<f32>(y, None, mean_y, rows, dy);
            add_cross_product(acc, &sx, &sy, rows, scratch(&mut s.xy, dx, dy));
        }
    }
}

/// `acc += X̃ᵀỸ + shift correction` for mean-shifted chunks `X̃ = X − 1c_xᵀ`, `Ỹ = Y − 1c_yᵀ`:
/// `XᵀY = X̃ᵀỸ + c_x s_yᵀ + s_x c_yᵀ + r c_x c_yᵀ` (the product in `T`, the rest in f64).
fn add_cross_product<T>(
    acc: &mut [f64],
    sx: &Shifted<T>,
    sy: &Shifted<T>,
    rows: usize,
    dst: &mut Mat<T>,
) where
    T: faer::traits::ComplexField + Copy + Into<f64> + From<f32>,
{
    let (dx, dy) = (sx.shift.len(), sy.shift.len());
    let r = rows as f64;
    let xm = MatRef::from_row_major_slice(&sx.data, rows, dx);
    let ym = MatRef::from_row_major_slice(&sy.data, rows, dy);
    faer::linalg::matmul::matmul(
        dst.as_mut(),
        Accum::Replace,
        xm.transpose(),
        ym,
        T::from(1.0f32),
        par(),
    );
    correct_cross(acc, sx, sy, r, |i, j| dst[(i, j)].into());
}

/// `acc += P + c_x s_yᵀ + s_x c_yᵀ + r c_x c_yᵀ` where `P(i, j)` is the product `X̃ᵀỸ` of the
/// shifted chunks computed on any device (`r` rows).
pub(crate) fn correct_cross<T>(
    acc: &mut [f64],
    sx: &Shifted<T>,
    sy: &Shifted<T>,
    r: f64,
    product: impl Fn(usize, usize) -> f64,
) {
    let (dx, dy) = (sx.shift.len(), sy.shift.len());
    for i in 0..dx {
        for (j, a) in acc[i * dy..(i + 1) * dy].iter_mut().enumerate() {
            *a += product(i, j)
                + sx.shift[i] * sy.sum[j]
                + sx.sum[i] * sy.shift[j]
                + r * sx.shift[i] * sy.shift[j];
        }
    }
}

pub(crate) fn to_faer(m: &RowMatrix<f64>) -> Mat<f64> {
    Mat::from_fn(m.rows(), m.cols(), |i, j| m.as_slice()[i * m.cols() + j])
}

pub(crate) fn from_faer(m: MatRef<'_, f64>) -> RowMatrix<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut data = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            data.push(m[(i, j)]);
        }
    }
    RowMatrix::from_vec(r, c, data).expect("shape by construction")
}

/// `A B` in f64 (row-major in and out).
pub fn matmul_f64(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> RowMatrix<f64> {
    let (am, bm) = (to_faer(a), to_faer(b));
    let mut c = Mat::<f64>::zeros(a.rows(), b.cols());
    faer::linalg::matmul::matmul(
        c.as_mut(),
        Accum::Replace,
        am.as_ref(),
        bm.as_ref(),
        1.0,
        par(),
    );
    from_faer(c.as_ref())
}

/// Solve `A W = B` for symmetric positive definite `A` by Cholesky (`A = L Lᵀ`).
/// Returns `W` and the diagonal of `L`.
///
/// A failed factorization (a non-positive pivot) is [`Error::Numerical`] with `what` in the
/// operation and `advice` appended to the message.
pub fn cholesky_solve(
    a: &RowMatrix<f64>,
    b: &RowMatrix<f64>,
    what: &str,
    advice: &str,
) -> Result<(RowMatrix<f64>, Vec<f64>)> {
    let am = to_faer(a);
    let llt = am.llt(Side::Lower).map_err(|e| {
        Error::numerical(
            format!("Cholesky of {what}"),
            format!("the matrix is not positive definite ({e:?}); {advice}"),
        )
    })?;
    let l = llt.L();
    let diag = (0..l.nrows()).map(|i| l[(i, i)]).collect();
    let x = llt.solve(to_faer(b).as_ref());
    Ok((from_faer(x.as_ref()), diag))
}

/// Solve `A X = B` by Cholesky; a failed factorization is
/// [`Error::NotPositiveDefinite`] with the (0-based) pivot.
pub fn cholesky_solve_pivot(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> Result<RowMatrix<f64>> {
    let llt = to_faer(a).llt(Side::Lower).map_err(|e| match e {
        faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
            Error::NotPositiveDefinite {
                operation: "Cholesky (faer llt)".into(),
                pivot: index,
            }
        }
    })?;
    let x = llt.solve(to_faer(b).as_ref());
    Ok(from_faer(x.as_ref()))
}

/// Eigenvalues of a symmetric matrix, ascending (no eigenvectors).
pub fn sym_eigenvalues(a: &RowMatrix<f64>) -> Result<Vec<f64>> {
    to_faer(a)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::numerical("symmetric eigenvalues", format!("{e:?}")))
}

/// Symmetric eigendecomposition `A = V diag(s) Vᵀ`, eigenvalues ascending.
/// Returns `(s, V)` with eigenvectors as the columns of `V`.
pub fn sym_eigen(a: &RowMatrix<f64>) -> Result<(Vec<f64>, RowMatrix<f64>)> {
    let am = to_faer(a);
    let evd = am
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::numerical("symmetric eigendecomposition", format!("{e:?}")))?;
    let s = evd.S().column_vector().iter().copied().collect();
    Ok((s, from_faer(evd.U())))
}

/// Thin SVD `A = U diag(s) Vᵀ`; returns `(U, s, V)`, singular values descending.
pub fn svd(a: &RowMatrix<f64>) -> Result<(RowMatrix<f64>, Vec<f64>, RowMatrix<f64>)> {
    let am = to_faer(a);
    let svd = am
        .thin_svd()
        .map_err(|e| Error::numerical("SVD", format!("{e:?}")))?;
    let s = svd.S().column_vector().iter().copied().collect();
    Ok((from_faer(svd.U()), s, from_faer(svd.V())))
}

/// Least squares `min ‖A W − B‖` by Householder QR of `A` (`n x d`, `n ≥ d`), in f64.
/// Fails with [`Error::Numerical`] when `R` has a zero (or negligible) diagonal entry.
pub fn qr_lstsq(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> Result<RowMatrix<f64>> {
    let am = to_faer(a);
    let qr = am.qr();
    let r = qr.thin_R();
    let d = r.ncols();
    let rmax = (0..d).map(|i| r[(i, i)].abs()).fold(0.0, f64::max);
    let tiny = rmax * f64::EPSILON * (a.rows().max(d) as f64);
    if let Some(k) = (0..d).find(|&i| r[(i, i)].abs() <= tiny) {
        return Err(Error::numerical(
            "QR least squares",
            format!(
                "X is rank deficient: R[{k},{k}] = {:.3e} is negligible against max {rmax:.3e}; \
                 use --method ridge with a small --lambda",
                r[(k, k)]
            ),
        ));
    }
    use faer::linalg::solvers::SolveLstsq;
    let x = qr.solve_lstsq(to_faer(b).as_ref());
    Ok(from_faer(x.as_ref()))
}
