//! Least squares by Householder QR **on the data, in memory** (f64).
//!
//! For ill-conditioned problems the normal equations square the condition number; QR of X̃
//! does not. It needs all pairs in memory as f64 (`8·n·(d_x + d_y)` bytes: 7 GB at
//! 566k × 768 × 2), and grouped data is expanded to one X row per pair. Returns `W` and the
//! residual sum of squares computed directly from the data.

use crate::backend::cpu::linalg;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// `argmin ‖X̃W − Ỹ‖_F` by QR; returns `(W, ‖X̃W − Ỹ‖²_F)`.
pub fn lstsq(x: &RowMatrix<f64>, y: &RowMatrix<f64>) -> Result<(RowMatrix<f64>, f64)> {
    let (n, d) = x.shape();
    if n < d {
        return Err(Error::numerical(
            "QR least squares",
            format!("{n} pairs < d_x = {d}: X has rank at most {n}; use --method ridge with --lambda > 0"),
        ));
    }
    let w = linalg::qr_lstsq(x, y)?;
    let pred = linalg::matmul_f64(x, &w);
    let rss = pred
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    Ok((w, rss))
}
