//! Ordinary least squares by the normal equations: `W = (X̃ᵀX̃)⁻¹ X̃ᵀỸ` (Cholesky, f64).
//!
//! Rank problems are errors, never silent garbage: fewer pairs than dimensions, a Cholesky
//! that fails (XᵀX singular), or a Cholesky whose pivots span more than `1/√ε`-ish
//! (`cond(XᵀX)` estimated as `(max Lᵢᵢ / min Lᵢᵢ)²` above `1e12`: numerically singular, the
//! f32 inputs cannot determine W). Each error names the problem and suggests ridge.

use crate::align::preprocess::Prepared;
use crate::backend::cpu::linalg;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Largest `cond(XᵀX)` estimate accepted by OLS.
pub const MAX_COND: f64 = 1e12;

/// The OLS solution for the prepared statistics (needs `XᵀX`).
pub fn ols(p: &Prepared, centered: bool) -> Result<RowMatrix<f64>> {
    let a =
        p.a.as_ref()
            .ok_or_else(|| Error::invalid("ols", "statistics lack XᵀX"))?;
    let d = a.rows();
    let rank_cap = if centered { p.n.saturating_sub(1) } else { p.n };
    if (rank_cap as usize) < d {
        return Err(Error::numerical(
            "OLS",
            format!(
                "XᵀX is singular: {} pairs{} give rank at most {rank_cap} < d_x = {d}; \
                 use --method ridge with --lambda > 0",
                p.n,
                if centered { " (centered)" } else { "" }
            ),
        ));
    }
    let advice = "XᵀX is singular (rank < d_x: dependent or constant columns); \
                  use --method ridge with --lambda > 0";
    let (w, ldiag) = linalg::cholesky_solve(a, &p.b, "XᵀX", advice)?;
    let (lo, hi) = ldiag.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
        (lo.min(v.abs()), hi.max(v.abs()))
    });
    let cond = (hi / lo).powi(2);
    if !cond.is_finite() || cond > MAX_COND {
        return Err(Error::numerical(
            "OLS",
            format!(
                "XᵀX is numerically singular (condition estimate {cond:.2e} > {MAX_COND:.0e}: \
                 X is rank deficient in floating point); use --method ridge with --lambda > 0 \
                 (or --method lstsq)"
            ),
        ));
    }
    Ok(w)
}
