//! The row-major matrix type used for embeddings and maps.
//!
//! `RowMatrix<T>` holds `rows x cols` values in one contiguous row-major buffer: row `i` is
//! `data[i*cols .. (i+1)*cols]`. This is numpy's C order, so a `RowMatrix` maps 1:1 onto a
//! `.npy` file and onto `faer::MatRef::from_row_major_slice`.

use crate::error::{Error, Result};

/// A dense row-major matrix (`rows x cols`).
#[derive(Clone, Debug, PartialEq)]
pub struct RowMatrix<T = f32> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T: Copy + Default> RowMatrix<T> {
    /// A matrix of `rows x cols` default values (zeros for numbers).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        RowMatrix {
            rows,
            cols,
            data: vec![T::default(); rows * cols],
        }
    }
}

impl<T> RowMatrix<T> {
    /// Wrap a row-major buffer. Fails if `data.len() != rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        let expected = rows.checked_mul(cols);
        if expected != Some(data.len()) {
            return Err(Error::shape(
                "RowMatrix::from_vec",
                format!("{rows} x {cols} = {} values", rows.saturating_mul(cols)),
                format!("{} values", data.len()),
            ));
        }
        Ok(RowMatrix { rows, cols, data })
    }

    /// Number of rows (`n`).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (`d`).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The whole row-major buffer.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The whole row-major buffer, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consume the matrix and return its row-major buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// The transpose (`cols x rows`), a copy.
    pub fn transpose(&self) -> RowMatrix<T>
    where
        T: Copy,
    {
        let (r, c) = self.shape();
        let mut data = Vec::with_capacity(r * c);
        for j in 0..c {
            data.extend((0..r).map(|i| self.data[i * c + j]));
        }
        RowMatrix {
            rows: c,
            cols: r,
            data,
        }
    }

    /// Row `i` as a slice. Panics if `i >= rows` (an internal-invariant check, like slice
    /// indexing); use [`RowMatrix::get_row`] for user-supplied indices.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, or an [`Error::IndexOutOfRange`].
    pub fn get_row(&self, i: usize) -> Result<&[T]> {
        if i >= self.rows {
            return Err(Error::IndexOutOfRange {
                what: "matrix row".into(),
                index: i,
                len: self.rows,
            });
        }
        Ok(self.row(i))
    }

    /// Iterator over rows.
    pub fn iter_rows(&self) -> std::slice::ChunksExact<'_, T> {
        // `chunks_exact(0)` panics; a 0-column matrix has no data, so any chunk size works.
        self.data.chunks_exact(self.cols.max(1))
    }
}

impl RowMatrix<f32> {
    /// Fail with [`Error::NonFinite`] (naming `what`, the row and the column) if any value is
    /// NaN or infinite.
    pub fn check_finite(&self, what: &str) -> Result<()> {
        check_finite_rows(&self.data, self.cols, what, 0)
    }

    /// Euclidean norm of every row, computed in f64.
    pub fn row_norms(&self) -> Vec<f64> {
        self.iter_rows().map(norm_f64).collect()
    }

    /// Scale every row to unit L2 norm in place. A zero row is [`Error::ZeroVector`].
    pub fn l2_normalize_rows(&mut self, what: &str) -> Result<()> {
        l2_normalize_rows(&mut self.data, self.cols, what, 0)
    }

    /// Convert to f64.
    pub fn to_f64(&self) -> RowMatrix<f64> {
        RowMatrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| v as f64).collect(),
        }
    }
}

/// Euclidean norm of a row, accumulated in f64.
pub fn norm_f64(row: &[f32]) -> f64 {
    row.iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

/// Check a row-major buffer of `cols` columns for NaN/Inf. `row_offset` is added to the
/// reported row index (for chunks of a larger file).
pub fn check_finite_rows(data: &[f32], cols: usize, what: &str, row_offset: usize) -> Result<()> {
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        let cols = cols.max(1);
        return Err(Error::NonFinite {
            what: what.to_string(),
            row: row_offset + pos / cols,
            col: pos % cols,
        });
    }
    Ok(())
}

/// L2-normalize each row of a row-major buffer in place (norm computed in f64).
/// A zero-norm row is [`Error::ZeroVector`]; `row_offset` is added to the reported row.
pub fn l2_normalize_rows(
    data: &mut [f32],
    cols: usize,
    what: &str,
    row_offset: usize,
) -> Result<()> {
    if cols == 0 {
        return Ok(());
    }
    for (i, row) in data.chunks_exact_mut(cols).enumerate() {
        let norm = norm_f64(row);
        if norm == 0.0 || !norm.is_finite() {
            if !norm.is_finite() {
                check_finite_rows(row, cols, what, row_offset + i)?;
            }
            return Err(Error::ZeroVector {
                what: what.to_string(),
                row: row_offset + i,
            });
        }
        let inv = (1.0 / norm) as f32;
        row.iter_mut().for_each(|v| *v *= inv);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length() {
        assert!(RowMatrix::from_vec(2, 3, vec![0f32; 5]).is_err());
        let m = RowMatrix::from_vec(2, 3, vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
        assert_eq!(m.row(1), &[4., 5., 6.]);
    }

    #[test]
    fn normalize_zero_row_names_row() {
        let mut m = RowMatrix::from_vec(2, 2, vec![3f32, 4., 0., 0.]).unwrap();
        match m.l2_normalize_rows("x") {
            Err(Error::ZeroVector { row, .. }) => assert_eq!(row, 1),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_finite_names_row_and_col() {
        let m = RowMatrix::from_vec(2, 3, vec![0f32, 1., 2., 3., f32::NAN, 5.]).unwrap();
        match m.check_finite("x") {
            Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (1, 1)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
