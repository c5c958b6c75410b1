//! Shape-checked matrix views and the value types the [`Backend`](super::Backend) trades in.

use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// A borrowed row-major `rows x cols` matrix (shape checked on construction).
#[derive(Clone, Copy, Debug)]
pub struct RowsRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
}

/// A mutably borrowed row-major `rows x cols` matrix.
#[derive(Debug)]
pub struct RowsMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
}

fn check_len(what: &str, len: usize, rows: usize, cols: usize) -> Result<()> {
    if rows.checked_mul(cols) != Some(len) {
        return Err(Error::shape(
            what,
            format!("{rows} x {cols} = {} values", rows.saturating_mul(cols)),
            format!("{len} values"),
        ));
    }
    Ok(())
}

impl<'a, T> RowsRef<'a, T> {
    /// View `data` as `rows x cols`; fails unless `data.len() == rows * cols`.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        check_len("matrix view", data.len(), rows, cols)?;
        Ok(RowsRef { data, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major values.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }

    /// Row `i` (panics if `i >= rows`, like slice indexing).
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a view (panics if out of range).
    pub fn row_range(&self, start: usize, end: usize) -> RowsRef<'a, T> {
        RowsRef {
            data: &self.data[start * self.cols..end * self.cols],
            rows: end - start,
            cols: self.cols,
        }
    }
}

impl<'a, T> From<&'a RowMatrix<T>> for RowsRef<'a, T> {
    fn from(m: &'a RowMatrix<T>) -> Self {
        RowsRef {
            data: m.as_slice(),
            rows: m.rows(),
            cols: m.cols(),
        }
    }
}

impl<'a, T> RowsMut<'a, T> {
    /// View `data` as `rows x cols`; fails unless `data.len() == rows * cols`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        check_len("mutable matrix view", data.len(), rows, cols)?;
        Ok(RowsMut { data, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major values.
    pub fn as_slice(&self) -> &[T] {
        self.data
    }

    /// The row-major values, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data
    }

    /// Give the slice back.
    pub fn into_slice(self) -> &'a mut [T] {
        self.data
    }
}

impl<'a, T> From<&'a mut RowMatrix<T>> for RowsMut<'a, T> {
    fn from(m: &'a mut RowMatrix<T>) -> Self {
        let (rows, cols) = m.shape();
        RowsMut {
            data: m.as_mut_slice(),
            rows,
            cols,
        }
    }
}

/// Fail unless `a` and `b` have the same number of columns.
pub(crate) fn check_same_cols<T, U>(
    what: &str,
    a: RowsRef<'_, T>,
    b: RowsRef<'_, U>,
) -> Result<()> {
    if a.cols() != b.cols() {
        return Err(Error::shape(
            what,
            format!("{} columns", a.cols()),
            format!("{} columns", b.cols()),
        ));
    }
    Ok(())
}

/// Fail unless `a` is square.
pub(crate) fn check_square<T>(what: &str, a: RowsRef<'_, T>) -> Result<()> {
    if a.rows() != a.cols() {
        return Err(Error::shape(
            what,
            "a square matrix",
            format!("{} x {}", a.rows(), a.cols()),
        ));
    }
    Ok(())
}

/// A GEMM operand's operation: as stored, or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use its transpose.
    T,
}

impl Op {
    /// Shape of `op(M)` for `M` of shape `(rows, cols)`.
    pub fn shape(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Op::N => (rows, cols),
            Op::T => (cols, rows),
        }
    }
}

/// Check the shapes of `C ← op(A)·op(B)`; returns `(m, n, k)`.
pub(crate) fn gemm_dims<T>(
    a: RowsRef<'_, T>,
    op_a: Op,
    b: RowsRef<'_, T>,
    op_b: Op,
    c: &RowsMut<'_, T>,
) -> Result<(usize, usize, usize)> {
    let (m, k) = op_a.shape(a.rows(), a.cols());
    let (kb, n) = op_b.shape(b.rows(), b.cols());
    if k != kb {
        return Err(Error::shape(
            "gemm: inner dimensions of op(A)·op(B)",
            format!("op(B) with {k} rows"),
            format!("{kb} rows"),
        ));
    }
    if c.rows() != m || c.cols() != n {
        return Err(Error::shape(
            "gemm: output C",
            format!("{m} x {n}"),
            format!("{} x {}", c.rows(), c.cols()),
        ));
    }
    Ok((m, n, k))
}

/// Gram statistics of a (weighted) paired sample, accumulated in f64.
///
/// With row weights `wᵢ` (1 without): `xtx = Σ wᵢ xᵢxᵢᵀ` (`dx x dx`, full symmetric,
/// row-major), `xty = Σ wᵢ xᵢyᵢᵀ` (`dx x dy`), `sum_x = Σ wᵢxᵢ`, `sum_y = Σ wᵢyᵢ`,
/// `weight_sum = Σ wᵢ`, `rows` = number of rows seen. Two `GramStats` of disjoint row sets
/// [`merge`](GramStats::merge) into the statistics of their union.
#[derive(Clone, Debug, PartialEq)]
pub struct GramStats {
    /// Columns of X.
    pub dx: usize,
    /// Columns of Y (0 for an X-only Gram).
    pub dy: usize,
    /// Rows accumulated.
    pub rows: u64,
    /// `Σ wᵢ`.
    pub weight_sum: f64,
    /// `Σ wᵢxᵢ` (length `dx`).
    pub sum_x: Vec<f64>,
    /// `Σ wᵢyᵢ` (length `dy`).
    pub sum_y: Vec<f64>,
    /// `XᵀWX`, `dx x dx` row-major, both triangles filled.
    pub xtx: Vec<f64>,
    /// `XᵀWY`, `dx x dy` row-major.
    pub xty: Vec<f64>,
}

impl GramStats {
    /// Empty statistics for `dx` X columns and `dy` Y columns.
    pub fn new(dx: usize, dy: usize) -> Self {
        GramStats {
            dx,
            dy,
            rows: 0,
            weight_sum: 0.0,
            sum_x: vec![0.0; dx],
            sum_y: vec![0.0; dy],
            xtx: vec![0.0; dx * dx],
            xty: vec![0.0; dx * dy],
        }
    }

    /// Add the statistics of a disjoint set of rows.
    pub fn merge(&mut self, other: &GramStats) -> Result<()> {
        if (self.dx, self.dy) != (other.dx, other.dy) {
            return Err(Error::shape(
                "GramStats::merge",
                format!("dx = {}, dy = {}", self.dx, self.dy),
                format!("dx = {}, dy = {}", other.dx, other.dy),
            ));
        }
        self.rows += other.rows;
        self.weight_sum += other.weight_sum;
        add_into(&mut self.sum_x, &other.sum_x);
        add_into(&mut self.sum_y, &other.sum_y);
        add_into(&mut self.xtx, &other.xtx);
        add_into(&mut self.xty, &other.xty);
        Ok(())
    }

    /// Fail unless these statistics are for a source of `dx x dy` columns.
    pub(crate) fn check_source(&self, dx: usize, dy: usize) -> Result<()> {
        if (self.dx, self.dy) != (dx, dy) {
            return Err(Error::shape(
                "gram: statistics vs row source",
                format!("dx = {}, dy = {}", self.dx, self.dy),
                format!("dx = {dx}, dy = {dy}"),
            ));
        }
        Ok(())
    }
}

fn add_into(acc: &mut [f64], add: &[f64]) {
    acc.iter_mut().zip(add).for_each(|(a, b)| *a += b);
}

/// A stream of paired row chunks `(X, Y[, w])` for Gram accumulation.
///
/// The backend owns the buffers (the CUDA backend passes pinned host memory) and asks the
/// source to fill them, so a file reader can write straight into them while the device
/// computes on the previous chunk.
pub trait RowSource: Send {
    /// `(dx, dy)`: columns of X and of Y (`dy = 0`: X only).
    fn dims(&self) -> (usize, usize);

    /// Whether [`RowSource::fill`] writes row weights.
    fn weighted(&self) -> bool;

    /// Fill up to `max_rows` rows: `x` has room for `max_rows * dx` values, `y` for
    /// `max_rows * dy`, `w` for `max_rows` (written only if [`RowSource::weighted`]).
    /// Returns the number of rows written; 0 means the source is exhausted.
    fn fill(
        &mut self,
        max_rows: usize,
        x: &mut [f32],
        y: &mut [f32],
        w: &mut [f32],
    ) -> Result<usize>;

    /// Rows already handed out (for error messages naming global rows).
    fn position(&self) -> usize;
}

/// An in-memory [`RowSource`] over `X` (`n x dx`), optional `Y` (`n x dy`) and optional
/// row weights (`n`, finite and `≥ 0`).
#[derive(Debug)]
pub struct SliceSource<'a> {
    x: RowsRef<'a, f32>,
    y: Option<RowsRef<'a, f32>>,
    weights: Option<&'a [f32]>,
    pos: usize,
}

impl<'a> SliceSource<'a> {
    /// Pair `x` with `y` (same number of rows) and optional weights (one per row).
    pub fn new(
        x: RowsRef<'a, f32>,
        y: Option<RowsRef<'a, f32>>,
        weights: Option<&'a [f32]>,
    ) -> Result<Self> {
        if let Some(y) = y {
            if y.rows() != x.rows() {
                return Err(Error::shape(
                    "gram source: rows of Y vs X",
                    format!("{} rows", x.rows()),
                    format!("{} rows", y.rows()),
                ));
            }
        }
        if let Some(w) = weights {
            if w.len() != x.rows() {
                return Err(Error::shape(
                    "gram source: weights vs rows of X",
                    format!("{} weights", x.rows()),
                    format!("{} weights", w.len()),
                ));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::invalid(
                    "weights",
                    format!("weight {i} is {} (must be finite and >= 0)", w[i]),
                ));
            }
        }
        Ok(SliceSource {
            x,
            y,
            weights,
            pos: 0,
        })
    }
}

impl RowSource for SliceSource<'_> {
    fn dims(&self) -> (usize, usize) {
        (self.x.cols(), self.y.map_or(0, |y| y.cols()))
    }

    fn weighted(&self) -> bool {
        self.weights.is_some()
    }

    fn fill(
        &mut self,
        max_rows: usize,
        x: &mut [f32],
        y: &mut [f32],
        w: &mut [f32],
    ) -> Result<usize> {
        let (dx, dy) = self.dims();
        let n = max_rows.min(self.x.rows() - self.pos);
        let end = self.pos + n;
        par_copy(&mut x[..n * dx], self.x.row_range(self.pos, end).as_slice());
        if let Some(ys) = self.y {
            par_copy(&mut y[..n * dy], ys.row_range(self.pos, end).as_slice());
        }
        if let Some(ws) = self.weights {
            w[..n].copy_from_slice(&ws[self.pos..end]);
        }
        self.pos = end;
        Ok(n)
    }

    fn position(&self) -> usize {
        self.pos
    }
}

/// `dst.copy_from_slice(src)` on all rayon threads (large chunks are memory-bound).
fn par_copy(dst: &mut [f32], src: &[f32]) {
    use rayon::prelude::*;
    const BLOCK: usize = 1 << 18;
    dst.par_chunks_mut(BLOCK)
        .zip(src.par_chunks(BLOCK))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// Symmetric eigendecomposition `A = V·diag(values)·Vᵀ`.
#[derive(Clone, Debug)]
pub struct SymEigen {
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// `n x n`, column `j` is the unit eigenvector of `values[j]`.
    pub vectors: RowMatrix<f64>,
}

/// Thin singular value decomposition `A = U·diag(s)·Vᵀ`, `p = min(m, n)`.
#[derive(Clone, Debug)]
pub struct Svd {
    /// `m x p`, orthonormal columns.
    pub u: RowMatrix<f64>,
    /// `p` singular values, descending, `≥ 0`.
    pub s: Vec<f64>,
    /// `p x n`, orthonormal rows (`Vᵀ`).
    pub vt: RowMatrix<f64>,
}
