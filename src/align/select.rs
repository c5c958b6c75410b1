//! Choosing ridge's λ: closed-form GCV and leave-one-out over a grid, and k-fold CV from
//! per-fold statistics.
//!
//! All three start from one symmetric eigendecomposition `A = X̃ᵀX̃ = V diag(s) Vᵀ`
//! (`O(d³)` once); with `C = Vᵀ X̃ᵀỸ`, every λ then costs `O(d·d_y)`:
//!
//! - `W(λ) = V diag(1/(s+λ)) C`,
//! - `RSS(λ) = ‖Ỹ‖² − Σ_j (2/(s_j+λ) − s_j/(s_j+λ)²) ‖C_j‖²` (exact, from the statistics),
//! - `df(λ) = Σ_j s_j/(s_j+λ)`,
//! - **GCV** `(λ) = (RSS/n) / (1 − df/n)²` — exact from the statistics alone (it replaces each
//!   leverage `h_ii` by their mean `df/n`).
//! - **LOO** `(λ) = (1/n) Σ_i ‖r_i‖² / (1 − h_ii)²` with `h_ii = Σ_j (x̃_i v_j)²/(s_j+λ)` — the
//!   exact leave-one-out error (the Sherman–Morrison identity), but the leverages need the
//!   rows themselves: [`loo_curve`] takes the preprocessed data in memory (`O(n·d²)` once for
//!   `X̃V`, then `O(n·d·d_y)` per λ for the residuals).
//! - **k-fold** (`kfold_curve`): the training statistics of fold `k` are the total minus
//!   fold `k` (`GramStats::minus`), the held-out error `‖Ỹ_k − X̃_k W‖²` comes from fold
//!   `k`'s statistics (`residual_ss`): exact, one eigendecomposition per fold.
//!
//! The chosen λ minimizes the criterion; ties go to the larger λ.

use crate::align::preprocess::{self, Affine, Prepared};
use crate::align::report::{residual_ss, LambdaPoint, LambdaSelection};
use crate::align::ridge::check_lambda;
use crate::align::GramStats;
use crate::backend::cpu::linalg;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// The eigen-basis of `A` used for every λ.
pub struct Spectrum {
    /// Eigenvalues of `A`, ascending.
    pub s: Vec<f64>,
    /// Eigenvectors (columns), `d x d`.
    pub v: RowMatrix<f64>,
    /// `C = Vᵀ B` (`d x d_y`).
    pub c: RowMatrix<f64>,
}

impl Spectrum {
    /// Eigendecompose `p.a` and rotate `p.b`.
    pub fn new(p: &Prepared) -> Result<Self> {
        let a =
            p.a.as_ref()
                .ok_or_else(|| Error::invalid("lambda selection", "statistics lack XᵀX"))?;
        let (s, v) = linalg::sym_eigen(a)?;
        let c = linalg::matmul_f64(&crate::align::procrustes::transpose(&v), &p.b);
        Ok(Spectrum { s, v, c })
    }

    /// `W(λ) = V diag(1/(s+λ)) C`.
    pub fn ridge(&self, lambda: f64) -> RowMatrix<f64> {
        let mut scaled = self.c.clone();
        let dy = scaled.cols();
        for (j, row) in scaled
            .as_mut_slice()
            .chunks_exact_mut(dy.max(1))
            .enumerate()
        {
            let f = 1.0 / (self.s[j] + lambda);
            row.iter_mut().for_each(|v| *v *= f);
        }
        linalg::matmul_f64(&self.v, &scaled)
    }

    /// `(RSS(λ), df(λ))` from the statistics.
    pub fn rss_df(&self, yy: f64, lambda: f64) -> (f64, f64) {
        let dy = self.c.cols();
        let mut rss = yy;
        let mut df = 0.0;
        for (j, row) in self.c.as_slice().chunks_exact(dy.max(1)).enumerate() {
            let (s, g) = (self.s[j].max(0.0), 1.0 / (self.s[j].max(0.0) + lambda));
            let c2: f64 = row.iter().map(|v| v * v).sum();
            rss -= (2.0 * g - s * g * g) * c2;
            df += s * g;
        }
        (rss.max(0.0), df)
    }
}

fn check_grid(grid: &[f64]) -> Result<()> {
    if grid.is_empty() {
        return Err(Error::invalid("lambda-grid", "empty grid"));
    }
    grid.iter().try_for_each(|&l| check_lambda(l))
}

fn choose(criterion: String, curve: Vec<LambdaPoint>) -> LambdaSelection {
    let mut best = 0;
    for (i, p) in curve.iter().enumerate() {
        let b = &curve[best];
        if p.score < b.score || (p.score == b.score && p.lambda > b.lambda) {
            best = i;
        }
    }
    LambdaSelection {
        criterion,
        chosen: curve[best].lambda,
        curve,
    }
}

/// GCV over `grid` from the prepared statistics (exact; no data pass).
pub fn gcv_curve(p: &Prepared, grid: &[f64]) -> Result<LambdaSelection> {
    check_grid(grid)?;
    let sp = Spectrum::new(p)?;
    let n = p.n as f64;
    let curve = grid
        .iter()
        .map(|&lambda| {
            let (rss, df) = sp.rss_df(p.yy, lambda);
            let denom = (1.0 - df / n).powi(2);
            let score = if denom > 0.0 {
                rss / n / denom
            } else {
                f64::INFINITY
            };
            LambdaPoint {
                lambda,
                score,
                df: Some(df),
            }
        })
        .collect();
    Ok(choose("gcv".into(), curve))
}

/// Exact leave-one-out over `grid` for preprocessed data in memory: `x` (`n x d`), `y`
/// (`n x d_y`), both already shifted/scaled, in f64; `p` their prepared statistics.
pub fn loo_curve(
    p: &Prepared,
    x: &RowMatrix<f64>,
    y: &RowMatrix<f64>,
    grid: &[f64],
) -> Result<LambdaSelection> {
    check_grid(grid)?;
    let sp = Spectrum::new(p)?;
    let proj = linalg::matmul_f64(x, &sp.v); // X̃V, n x d
    let n = x.rows();
    let mut curve = Vec::with_capacity(grid.len());
    for &lambda in grid {
        let g: Vec<f64> = sp.s.iter().map(|&s| 1.0 / (s.max(0.0) + lambda)).collect();
        let pred = linalg::matmul_f64(&proj, &scale_rows(&sp.c, &g));
        let mut total = 0.0;
        for i in 0..n {
            let h: f64 = proj.row(i).iter().zip(&g).map(|(q, g)| q * q * g).sum();
            let r2: f64 = y
                .row(i)
                .iter()
                .zip(pred.row(i))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let one_minus = 1.0 - h;
            total += if one_minus > 0.0 {
                r2 / (one_minus * one_minus)
            } else {
                f64::INFINITY
            };
        }
        let df = sp.s.iter().zip(&g).map(|(s, g)| s.max(0.0) * g).sum();
        curve.push(LambdaPoint {
            lambda,
            score: total / n as f64,
            df: Some(df),
        });
    }
    Ok(choose("loo".into(), curve))
}

fn scale_rows(m: &RowMatrix<f64>, f: &[f64]) -> RowMatrix<f64> {
    let mut out = m.clone();
    let c = out.cols();
    for (row, &fi) in out.as_mut_slice().chunks_exact_mut(c.max(1)).zip(f) {
        row.iter_mut().for_each(|v| *v *= fi);
    }
    out
}

/// k-fold cross-validation over `grid` from per-fold statistics (`folds`, disjoint, their
/// union the training data), with the preprocessing `aff` derived from the whole data.
/// The score is the held-out squared error per pair, summed over folds.
pub fn kfold_curve(folds: &[GramStats], aff: &Affine, grid: &[f64]) -> Result<LambdaSelection> {
    check_grid(grid)?;
    if folds.len() < 2 {
        return Err(Error::invalid(
            "folds",
            "k-fold cross-validation needs at least 2 folds",
        ));
    }
    let mut total = folds[0].clone();
    for f in &folds[1..] {
        total.merge(f)?;
    }
    let mut err = vec![0.0; grid.len()];
    for fold in folds {
        let train = preprocess::prepare(&total.minus(fold)?, aff)?;
        let test = preprocess::prepare(fold, aff)?;
        let sp = Spectrum::new(&train)?;
        for (e, &lambda) in err.iter_mut().zip(grid) {
            *e += residual_ss(&test, &sp.ridge(lambda));
        }
    }
    let n = total.n().max(1) as f64;
    let curve = grid
        .iter()
        .zip(err)
        .map(|(&lambda, e)| LambdaPoint {
            lambda,
            score: e / n,
            df: None,
        })
        .collect();
    Ok(choose(format!("kfold-{}", folds.len()), curve))
}
