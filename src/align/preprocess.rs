//! Preprocessing of X and Y: row L2 normalization, centering, per-dimension z-scoring.
//!
//! - **L2** (CLIP's convention) scales every row to unit norm. It acts on rows, so it is
//!   applied to each chunk while streaming, before the statistics are accumulated.
//! - **Centering** (`--center`, an intercept) and **z-scoring** (per-dimension mean 0 and
//!   standard deviation 1, the ReCap authors' earlier convention; implies centering) are
//!   affine per column, so they are applied *algebraically to the statistics*: with shift
//!   `m` and scale `D = diag(1/σ)`,
//!   `X̃ᵀX̃ = D (XᵀX − s mᵀ − m sᵀ + n m mᵀ) D` where `s = Σ x` (and alike for `X̃ᵀỸ`).
//!   Streaming therefore needs one pass, and shards can be merged before the shift is known.
//!
//! The fitted `W` maps preprocessed X to preprocessed Y. [`Affine`] is stored with the map;
//! applying it computes `ŷ = ((x̂ − m_x) D_x W) D_y⁻¹ + m_y` where `x̂` is `x` after the row
//! normalization (so predictions come back in Y's coordinates, after Y's L2 normalization
//! when that was used).

use serde::{Deserialize, Serialize};

use crate::backend::GramStats;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Row normalization / per-dimension standardization of X and Y.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Use the rows as they are.
    #[default]
    None,
    /// Scale each row of X and of Y to unit L2 norm (zero rows are an error).
    L2,
    /// Per-dimension z-score of X and Y (mean 0, population std 1); implies centering.
    Zscore,
}

/// The preprocessing of one fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Preprocess {
    /// Row normalization / standardization.
    pub normalize: Normalize,
    /// Subtract the column means of X and Y (fit an intercept).
    pub center: bool,
}

impl Preprocess {
    /// Whether rows are L2-normalized while streaming.
    pub fn l2_rows(&self) -> bool {
        self.normalize == Normalize::L2
    }

    /// Whether column means are removed (explicitly or by z-scoring).
    pub fn centers(&self) -> bool {
        self.center || self.normalize == Normalize::Zscore
    }
}

/// The per-column affine part of the preprocessing: `x̃ = (x − shift_x) · scale_x` and
/// `ỹ = (y − shift_y) · scale_y` (scales are `1/σ` for z-scoring, else 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Column shift of X (its mean when centering, else zeros).
    pub shift_x: Vec<f64>,
    /// Column scale of X (`1/σ` when z-scoring, else ones).
    pub scale_x: Vec<f64>,
    /// Column shift of Y.
    pub shift_y: Vec<f64>,
    /// Column scale of Y.
    pub scale_y: Vec<f64>,
}

impl Affine {
    /// The identity transform.
    pub fn identity(dx: usize, dy: usize) -> Self {
        Affine {
            shift_x: vec![0.0; dx],
            scale_x: vec![1.0; dx],
            shift_y: vec![0.0; dy],
            scale_y: vec![1.0; dy],
        }
    }

    /// Whether this transform does nothing.
    pub fn is_identity(&self) -> bool {
        self.shift_x.iter().chain(&self.shift_y).all(|&v| v == 0.0)
            && self.scale_x.iter().chain(&self.scale_y).all(|&v| v == 1.0)
    }

    /// The transform that `pre` derives from the statistics of the whole training set.
    pub fn from_stats(pre: &Preprocess, stats: &GramStats) -> Result<Self> {
        let n = stats.n() as f64;
        let mut a = Affine::identity(stats.dx(), stats.dy());
        if !pre.centers() {
            return Ok(a);
        }
        if stats.n() == 0 {
            return Err(Error::invalid("data", "no rows: cannot center"));
        }
        a.shift_x = stats.sum_x().iter().map(|s| s / n).collect();
        a.shift_y = stats.sum_y().iter().map(|s| s / n).collect();
        if pre.normalize == Normalize::Zscore {
            a.scale_x = inv_std(stats.sq_x(), &a.shift_x, n, "X")?;
            a.scale_y = inv_std(stats.sq_y(), &a.shift_y, n, "Y")?;
        }
        Ok(a)
    }
}

fn inv_std(sq: &[f64], mean: &[f64], n: f64, what: &str) -> Result<Vec<f64>> {
    sq.iter()
        .zip(mean)
        .enumerate()
        .map(|(j, (&q, &m))| {
            let var = (q / n - m * m).max(0.0);
            if var <= 1e-12 * (q / n).max(f64::MIN_POSITIVE) {
                return Err(Error::numerical(
                    "z-scoring",
                    format!("column {j} of {what} is constant (zero variance); use --normalize none or l2"),
                ));
            }
            Ok(1.0 / var.sqrt())
        })
        .collect()
}

/// Statistics after the affine preprocessing, ready for a solver: `A = X̃ᵀX̃` (if
/// accumulated), `B = X̃ᵀỸ`, `‖Ỹ‖²_F`, `‖X̃‖²_F`, the per-column sums of squares of `X̃`,
/// and the centered total sum of squares of `Ỹ` (for R²).
#[derive(Clone, Debug)]
pub struct Prepared {
    /// `X̃ᵀX̃` (`dx x dx`), when the statistics have it.
    pub a: Option<RowMatrix<f64>>,
    /// `X̃ᵀỸ` (`dx x dy`).
    pub b: RowMatrix<f64>,
    /// `‖Ỹ‖²_F`.
    pub yy: f64,
    /// `‖X̃‖²_F`.
    pub xx: f64,
    /// `‖Ỹ − 1 ȳᵀ‖²_F` (total sum of squares about the mean).
    pub tss: f64,
    /// Number of pairs.
    pub n: u64,
}

/// Apply `aff` to `stats`. `stats` may be any row subset (a fold) of the data `aff` was
/// derived from: the shift enters through the subset's own sums, so the result is exactly the
/// statistics of the transformed subset.
pub fn prepare(stats: &GramStats, aff: &Affine) -> Result<Prepared> {
    let n = stats.n() as f64;
    let (mx, my) = (&aff.shift_x, &aff.shift_y);
    let (sx, sy) = (stats.sum_x(), stats.sum_y());
    let a = if stats.has_xtx() {
        let mut a = stats.xtx()?;
        let d = stats.dx();
        let v = a.as_mut_slice();
        for i in 0..d {
            for j in 0..d {
                let c = v[i * d + j] - sx[i] * mx[j] - mx[i] * sx[j] + n * mx[i] * mx[j];
                v[i * d + j] = c * aff.scale_x[i] * aff.scale_x[j];
            }
        }
        Some(a)
    } else {
        None
    };
    let mut b = stats.xty();
    let dy = stats.dy();
    for (i, row) in b.as_mut_slice().chunks_exact_mut(dy.max(1)).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let c = *v - sx[i] * my[j] - mx[i] * sy[j] + n * mx[i] * my[j];
            *v = c * aff.scale_x[i] * aff.scale_y[j];
        }
    }
    let col_ss = |q: &[f64], s: &[f64], m: &[f64], k: &[f64]| -> f64 {
        q.iter()
            .zip(s)
            .zip(m)
            .zip(k)
            .map(|(((&q, &s), &m), &k)| (q - 2.0 * m * s + n * m * m) * k * k)
            .sum()
    };
    let yy = col_ss(stats.sq_y(), sy, my, &aff.scale_y);
    let xx = col_ss(stats.sq_x(), sx, mx, &aff.scale_x);
    // Centered TSS of Ỹ: Σ_j k_j² (Σ y² − (Σ y)²/n).
    let tss = if n > 0.0 {
        stats
            .sq_y()
            .iter()
            .zip(sy)
            .zip(&aff.scale_y)
            .map(|((&q, &s), &k)| (q - s * s / n) * k * k)
            .sum()
    } else {
        0.0
    };
    Ok(Prepared {
        a,
        b,
        yy,
        xx,
        tss,
        n: stats.n(),
    })
}

/// Apply the row normalization of `pre` to a chunk in place (L2: unit rows; a zero row is
/// [`Error::ZeroVector`] naming `what` and the row `row_offset + i`). Also checks finiteness.
pub fn rows_in_place(
    pre: &Preprocess,
    data: &mut [f32],
    cols: usize,
    what: &str,
    row_offset: usize,
) -> Result<()> {
    crate::matrix::check_finite_rows(data, cols, what, row_offset)?;
    if pre.l2_rows() {
        crate::matrix::l2_normalize_rows(data, cols, what, row_offset)?;
    }
    Ok(())
}
