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

/// Datastore rows as stored: f32 or f16, row-major `rows x cols` (the datastore knows the
/// shape). f16 values are widened to f32 exactly before any product.
#[derive(Clone, Copy, Debug)]
pub enum StoredRows<'a> {
    /// f32 rows.
    F32(&'a [f32]),
    /// f16 rows (widened to f32 while packing; products accumulate in f32).
    F16(&'a [half::f16]),
}

impl StoredRows<'_> {
    /// Number of stored values.
    pub fn len(&self) -> usize {
        match self {
            StoredRows::F32(v) => v.len(),
            StoredRows::F16(v) => v.len(),
        }
    }

    /// True when no values are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values `start..end` widened to f32 (a copy for f16, a borrow for f32).
    pub fn to_f32(&self, start: usize, end: usize) -> std::borrow::Cow<'_, [f32]> {
        match self {
            StoredRows::F32(v) => std::borrow::Cow::Borrowed(&v[start..end]),
            StoredRows::F16(v) => v[start..end].iter().map(|x| x.to_f32()).collect(),
        }
    }
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
