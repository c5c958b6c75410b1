//! The optional query-side linear map: `X @ W` before searching.
//!
//! ReCap maps CLIP image embeddings into the text space with a fitted `W` (`d_x x d_y`,
//! numpy convention: `np.load("W.npy")`, applied as `X @ W`). This is the plain matrix
//! product; a fitted map with stored preprocessing plugs in by producing the mapped rows.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// `X @ W` (f32, faer GEMM on the current rayon pool). `x` is `n x d_x`, `w` is `d_x x d_y`.
pub fn apply_map(x: &RowMatrix<f32>, w: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
    if x.cols() != w.rows() {
        return Err(Error::shape(
            "queries @ map",
            format!("map with {} rows (the query width)", x.cols()),
            format!("{} x {}", w.rows(), w.cols()),
        ));
    }
    w.check_finite("map")?;
    let (n, dx, dy) = (x.rows(), x.cols(), w.cols());
    let mut out = RowMatrix::zeros(n, dy);
    if n == 0 || dy == 0 {
        return Ok(out);
    }
    let a = MatRef::from_row_major_slice(x.as_slice(), n, dx);
    let b = MatRef::from_row_major_slice(w.as_slice(), dx, dy);
    let c = MatMut::from_row_major_slice_mut(out.as_mut_slice(), n, dy);
    let par = Par::rayon(rayon::current_num_threads());
    matmul(c, Accum::Replace, a, b, 1.0f32, par);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product() {
        let x = RowMatrix::from_vec(2, 3, vec![1f32, 2., 3., -1., 0., 2.]).unwrap();
        let w = RowMatrix::from_vec(3, 2, vec![1f32, 0., 0., 1., 2., -1.]).unwrap();
        let y = apply_map(&x, &w).unwrap();
        assert_eq!(y.as_slice(), &[7., -1., 3., -2.]);
        assert!(apply_map(&w, &w).is_err());
    }
}
