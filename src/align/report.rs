//! The fit report: what was fitted, how well, and how long each phase took.

use serde::{Deserialize, Serialize};

use crate::align::preprocess::Prepared;
use crate::matrix::RowMatrix;

/// One point of a λ-selection curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LambdaPoint {
    /// The λ.
    pub lambda: f64,
    /// The criterion (GCV score, LOO mean squared error or k-fold held-out MSE per pair).
    pub score: f64,
    /// Effective degrees of freedom `Σ s/(s+λ)` (GCV/LOO; `null` for k-fold).
    pub df: Option<f64>,
}

/// The λ-selection result: the criterion, the whole curve and the choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LambdaSelection {
    /// `"gcv"`, `"loo"` or `"kfold-K"`.
    pub criterion: String,
    /// Every grid point, in grid order.
    pub curve: Vec<LambdaPoint>,
    /// The λ with the lowest score (ties: the larger λ, the simpler model).
    pub chosen: f64,
}

/// Wall time of each phase, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading inputs and accumulating the statistics (streamed together).
    pub gram_s: f64,
    /// Extra data passes (robust iterations, in-memory lstsq/LOO).
    pub data_passes_s: f64,
    /// λ selection.
    pub select_s: f64,
    /// The solve (Cholesky / SVD / QR) and the report's residuals.
    pub solve_s: f64,
    /// Whole fit.
    pub total_s: f64,
}

/// Everything a user needs to judge a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Solver name.
    pub method: String,
    /// The λ used (ridge), else `null`.
    pub lambda: Option<f64>,
    /// Number of (image, caption) pairs.
    pub n: u64,
    /// Number of X rows read (images, for grouped fits).
    pub x_rows: usize,
    /// Dimension of X.
    pub dx: usize,
    /// Dimension of Y.
    pub dy: usize,
    /// `cond(X̃ᵀX̃ + λI)` from its extreme eigenvalues (OLS/ridge), `σ_max/σ_min` of `X̃ᵀỸ`
    /// (Procrustes).
    pub condition: Option<f64>,
    /// `‖X̃W − Ỹ‖_F / ‖Ỹ‖_F` on the (preprocessed) training pairs.
    pub relative_residual: f64,
    /// `1 − ‖X̃W − Ỹ‖²_F / ‖Ỹ − ȳ‖²_F` (variance-weighted over outputs).
    pub r2: f64,
    /// Procrustes: `‖WᵀW − I‖_F` (or `‖WWᵀ − I‖_F` when `d_x < d_y`).
    pub orthogonality_error: Option<f64>,
    /// Robust Procrustes: iterations run.
    pub iterations: Option<usize>,
    /// The λ selection, when a grid was given.
    pub selection: Option<LambdaSelection>,
    /// Wall time per phase.
    pub timings: Timings,
    /// Floating-point work the statistics pass needs: `n_x·d_x·(d_x + 1)` for one triangle of
    /// `XᵀX` (when accumulated) plus `2·n_x·d_x·d_y` for `XᵀY`, per pass. (The peers' tables
    /// count `XᵀX` as a full GEMM, `2·n_x·d_x²`; this counts only the arithmetic required, so
    /// the rate compares honestly with a GEMM's.)
    pub gram_gflop: f64,
    /// `gram_gflop / gram_s`.
    pub gram_gflops: f64,
    /// Arithmetic of the chunk products of the final statistics (`f32` or `f64`).
    pub gram_precision: String,
    /// Statistics passes over the data (2 when `auto` precision redid them in f64).
    pub gram_passes: usize,
    /// Row normalization used.
    pub normalize: String,
    /// Whether X and Y were centered.
    pub centered: bool,
}

/// `Σ_ij A_ij B_ij` (the trace of `AᵀB`).
pub fn frob_dot(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> f64 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x * y)
        .sum()
}

/// `‖X̃W − Ỹ‖²_F` from the statistics: `‖Ỹ‖² − 2 tr(WᵀX̃ᵀỸ) + tr(WᵀX̃ᵀX̃W)`.
/// Without `X̃ᵀX̃` (Procrustes with `d_x ≤ d_y`), `‖X̃W‖² = ‖X̃‖²` since `WWᵀ = I`.
pub fn residual_ss(p: &Prepared, w: &RowMatrix<f64>) -> f64 {
    let cross = frob_dot(w, &p.b);
    let quad = match &p.a {
        Some(a) => frob_dot(w, &crate::backend::cpu::linalg::matmul_f64(a, w)),
        None => p.xx,
    };
    (p.yy - 2.0 * cross + quad).max(0.0)
}

impl FitReport {
    /// A short human summary (a few lines for stderr).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}{}: n = {} pairs ({} X rows), d = {} -> {}, normalize {}{}\n",
            self.method,
            self.lambda
                .map(|l| format!(" (λ = {l:e})"))
                .unwrap_or_default(),
            self.n,
            self.x_rows,
            self.dx,
            self.dy,
            self.normalize,
            if self.centered { ", centered" } else { "" },
        );
        s += &format!(
            "  relative residual {:.6}, R² {:.6}{}{}\n",
            self.relative_residual,
            self.r2,
            self.condition
                .map(|c| format!(", cond {c:.3e}"))
                .unwrap_or_default(),
            self.orthogonality_error
                .map(|e| format!(", ‖WᵀW−I‖ {e:.2e}"))
                .unwrap_or_default(),
        );
        if let Some(sel) = &self.selection {
            s += &format!(
                "  λ chosen by {}: {:e} ({} grid points)\n",
                sel.criterion,
                sel.chosen,
                sel.curve.len()
            );
        }
        let t = &self.timings;
        s += &format!(
            "  time: stats {:.3} s ({:.1} GFLOP/s, {} products), passes {:.3} s, select {:.3} s, solve {:.3} s, total {:.3} s",
            t.gram_s, self.gram_gflops, self.gram_precision, t.data_passes_s, t.select_s, t.solve_s, t.total_s
        );
        s
    }
}
