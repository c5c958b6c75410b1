//! Ridge regression from the statistics: `W = (X̃ᵀX̃ + λI)⁻¹ X̃ᵀỸ`.
//!
//! `λ` is scikit-learn's `alpha` (`Ridge(alpha=λ, fit_intercept=False)` on the preprocessed
//! data): it is **not** scaled by `n`. Solved by Cholesky in f64.

use crate::align::preprocess::Prepared;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Check that `λ` is a finite, non-negative number.
pub fn check_lambda(lambda: f64) -> Result<()> {
    if !lambda.is_finite() || lambda < 0.0 {
        return Err(Error::invalid(
            "lambda",
            format!("must be finite and >= 0, got {lambda}"),
        ));
    }
    Ok(())
}

/// `A + λI` for a square row-major `A`.
pub fn shifted(a: &RowMatrix<f64>, lambda: f64) -> RowMatrix<f64> {
    let mut m = a.clone();
    let d = m.cols();
    for i in 0..d {
        m.as_mut_slice()[i * d + i] += lambda;
    }
    m
}

/// The ridge solution for the prepared statistics (needs `XᵀX`).
pub fn ridge(p: &Prepared, lambda: f64) -> Result<RowMatrix<f64>> {
    check_lambda(lambda)?;
    let a =
        p.a.as_ref()
            .ok_or_else(|| Error::invalid("ridge", "statistics lack XᵀX"))?;
    let advice = "X has (numerically) dependent columns at this λ; increase --lambda";
    let (w, _) =
        crate::backend::cpu::linalg::cholesky_solve(&shifted(a, lambda), &p.b, "XᵀX + λI", advice)?;
    Ok(w)
}
