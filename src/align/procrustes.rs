//! Orthogonal Procrustes: `W = argmin ‖X̃W − Ỹ‖_F` over `WᵀW = I` (or `WWᵀ = I`).
//!
//! With the SVD `X̃ᵀỸ = U Σ Vᵀ` (thin), `W = U Vᵀ` (scipy's `orthogonal_procrustes`). When
//! `d_x ≠ d_y`, `W` is semi-orthogonal: orthonormal columns if `d_x > d_y`, orthonormal rows
//! if `d_x < d_y`. Only `X̃ᵀỸ` is needed (no `XᵀX`).

use crate::backend::cpu::linalg;
use crate::error::Result;
use crate::matrix::RowMatrix;

/// `U Vᵀ` from the SVD of `b = X̃ᵀỸ`.
pub fn procrustes(b: &RowMatrix<f64>) -> Result<RowMatrix<f64>> {
    let (u, _, v) = linalg::svd(b)?;
    Ok(u_vt(&u, &v))
}

/// `U Vᵀ` for `U` (`dx x r`) and `V` (`dy x r`) (one f64 GEMM).
pub fn u_vt(u: &RowMatrix<f64>, v: &RowMatrix<f64>) -> RowMatrix<f64> {
    linalg::matmul_f64(u, &transpose(v))
}

/// `‖WᵀW − I‖_F` (or `‖WWᵀ − I‖_F` when `d_x < d_y`): how far `W` is from (semi-)orthogonal.
pub fn orthogonality_error(w: &RowMatrix<f64>) -> f64 {
    let (dx, dy) = w.shape();
    let g = if dx >= dy {
        let wt = transpose(w);
        linalg::matmul_f64(&wt, w)
    } else {
        linalg::matmul_f64(w, &transpose(w))
    };
    let k = g.rows();
    let mut s = 0.0;
    for i in 0..k {
        for j in 0..k {
            let e = g.as_slice()[i * k + j] - if i == j { 1.0 } else { 0.0 };
            s += e * e;
        }
    }
    s.sqrt()
}

/// Transpose of a row-major matrix.
pub fn transpose(m: &RowMatrix<f64>) -> RowMatrix<f64> {
    let (r, c) = m.shape();
    let mut t = RowMatrix::<f64>::zeros(c, r);
    for i in 0..r {
        for j in 0..c {
            t.as_mut_slice()[j * r + i] = m.as_slice()[i * c + j];
        }
    }
    t
}
