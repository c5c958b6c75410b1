//! The fit driver: statistics pass, λ selection, solve, report.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::align::accumulate::{accumulate, Progress};
use crate::align::map::FittedMap;
use crate::align::pairs::{check_shapes, collect_pairs_f64, Pairing};
use crate::align::preprocess::{prepare, Affine, Normalize, Prepared, Preprocess};
use crate::align::report::{residual_ss, FitReport, LambdaSelection, Timings};
use crate::align::robust::{robust_procrustes, RobustOptions};
use crate::backend::GramPrecision;
use std::sync::Arc;

use crate::align::{lstsq, ols, procrustes, ridge, select, GramStats};
use crate::backend::cpu::linalg;
use crate::backend::{Backend, Device};
use crate::error::{Error, Result};
use crate::io::rows::{MemSource, RowSource};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// The solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Normal equations by Cholesky (`λ = 0`); rank problems are errors.
    Ols,
    /// `(X̃ᵀX̃ + λI)⁻¹X̃ᵀỸ` by Cholesky.
    Ridge,
    /// Householder QR on the data in memory.
    Lstsq,
    /// Orthogonal Procrustes `U Vᵀ`.
    Procrustes,
    /// IRLS-reweighted orthogonal Procrustes.
    RobustProcrustes,
}

impl Method {
    /// The name used on the command line and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Ols => "ols",
            Method::Ridge => "ridge",
            Method::Lstsq => "lstsq",
            Method::Procrustes => "procrustes",
            Method::RobustProcrustes => "robust-procrustes",
        }
    }
}

/// How to pick ridge's λ over a grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// Generalized cross-validation from the statistics (exact, no extra pass).
    Gcv,
    /// Exact leave-one-out (needs the pairs in memory).
    Loo,
    /// k-fold cross-validation from per-fold statistics (`k ≥ 2`).
    KFold(usize),
}

/// ridge's λ: fixed, or chosen over a grid.
#[derive(Clone, Debug, PartialEq)]
pub enum Lambda {
    /// None given: an error for ridge (never a silent 0), ignored by the other methods.
    Unset,
    /// This λ.
    Fixed(f64),
    /// The best λ of `grid` by `criterion`.
    Select {
        /// Candidate λ values.
        grid: Vec<f64>,
        /// Selection criterion.
        criterion: Criterion,
    },
}

/// Arithmetic of the statistics pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrecisionChoice {
    /// f32 products; if the problem is so ill-conditioned that their rounding could move
    /// `W` by more than [`AUTO_TOLERANCE`] (estimated as the amplification times
    /// [`F32_ERROR_NORMAL_EQ`] or [`F32_ERROR_PROCRUSTES`]), a second pass recomputes the
    /// statistics with f64 products.
    #[default]
    Auto,
    /// Always f32 products (summed in f64).
    F32,
    /// Always f64 products.
    F64,
}

/// Relative change of `W` per unit of `cond(X̃ᵀX̃)` caused by f32 products (normal
/// equations), calibrated on the steep-spectrum set (100k × 512, cond 1.2e5: ΔW/W = 1.4e-4).
pub const F32_ERROR_NORMAL_EQ: f64 = 1.2e-9;

/// Relative change of `W` per unit of `σ_max/σ_min(X̃ᵀỸ)` caused by f32 products
/// (Procrustes), calibrated on the same set (σ ratio 8.2e7: ΔW/W = 7.3e-5).
pub const F32_ERROR_PROCRUSTES: f64 = 0.9e-12;

/// The relative change of `W` that `PrecisionChoice::Auto` accepts from f32 products.
pub const AUTO_TOLERANCE: f64 = 2e-5;

/// Everything a fit needs besides the data.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// The solver.
    pub method: Method,
    /// λ for ridge (ignored by the other methods, which reject a grid).
    pub lambda: Lambda,
    /// Row normalization and centering.
    pub preprocess: Preprocess,
    /// IRLS options (robust Procrustes).
    pub robust: RobustOptions,
    /// Rows per streamed chunk (0: the device's choice, 4,096 on the CPU).
    pub chunk_rows: usize,
    /// Arithmetic of the statistics pass.
    pub precision: PrecisionChoice,
    /// Where the statistics pass and the IRLS passes run.
    pub device: Device,
}

impl FitOptions {
    /// Options for `method` with no preprocessing and no λ (ridge needs one:
    /// [`FitOptions::lambda`] or a [`Lambda::Select`] grid, else fitting is an error).
    pub fn new(method: Method) -> Self {
        FitOptions {
            method,
            lambda: Lambda::Unset,
            preprocess: Preprocess::default(),
            robust: RobustOptions::default(),
            chunk_rows: 0,
            precision: PrecisionChoice::Auto,
            device: Device::Cpu,
        }
    }

    /// Set a fixed λ.
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = Lambda::Fixed(lambda);
        self
    }

    /// Set the preprocessing.
    pub fn preprocess(mut self, normalize: Normalize, center: bool) -> Self {
        self.preprocess = Preprocess { normalize, center };
        self
    }
}

fn no_progress(_: u64) {}

/// Fit on matrices in memory, row `i` of `x` with row `i` of `y`.
pub fn fit_matrices(
    x: &RowMatrix<f32>,
    y: &RowMatrix<f32>,
    opts: &FitOptions,
) -> Result<FittedMap> {
    fit(
        &mut MemSource::new(x, "x"),
        &mut MemSource::new(y, "y"),
        Pairing::Rows,
        opts,
        &no_progress,
    )
}

/// Fit pair-grouped data in memory: image rows, caption rows and their grouping.
pub fn fit_grouped_matrices(
    images: &RowMatrix<f32>,
    captions: &RowMatrix<f32>,
    grouping: &Grouping,
    opts: &FitOptions,
) -> Result<FittedMap> {
    fit(
        &mut MemSource::new(images, "images"),
        &mut MemSource::new(captions, "captions"),
        Pairing::Grouped(grouping),
        opts,
        &no_progress,
    )
}

fn validate(opts: &FitOptions) -> Result<()> {
    match (&opts.lambda, opts.method) {
        (Lambda::Unset, Method::Ridge) => Err(Error::invalid(
            "lambda",
            "ridge needs a λ (FitOptions::lambda, Ridge::new(λ), --lambda) or a grid to select \
             it from (--lambda-grid); for λ = 0 use ols",
        )),
        (Lambda::Unset, _) => Ok(()),
        (Lambda::Fixed(l), _) => ridge::check_lambda(*l),
        (Lambda::Select { .. }, Method::Ridge) => Ok(()),
        (Lambda::Select { .. }, m) => Err(Error::invalid(
            "lambda-grid",
            format!("λ selection applies to ridge, not {}", m.name()),
        )),
    }?;
    if let Lambda::Select {
        criterion: Criterion::KFold(k),
        ..
    } = opts.lambda
    {
        if k < 2 {
            return Err(Error::invalid(
                "folds",
                format!("need at least 2 folds, got {k}"),
            ));
        }
    }
    Ok(())
}

/// Fit a map from row sources (files or memory) on `opts.device`. `progress` is called with
/// the rows read.
pub fn fit(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    progress: Progress<'_>,
) -> Result<FittedMap> {
    let backend = opts.device.resolve()?;
    fit_on(&backend, x, y, pairing, opts, progress)
}

/// [`fit`] on a backend already opened (`opts.device` is not consulted).
pub fn fit_on(
    backend: &Arc<dyn Backend>,
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    progress: Progress<'_>,
) -> Result<FittedMap> {
    let t_all = Instant::now();
    validate(opts)?;
    check_shapes(x, y, pairing)?;
    let (dx, dy) = (x.cols(), y.cols());
    let chunk = match opts.chunk_rows {
        0 => backend.chunk_rows(),
        n => n,
    };
    let with_xtx = match opts.method {
        Method::Ols | Method::Ridge => true,
        Method::Procrustes | Method::RobustProcrustes => dx > dy,
        Method::Lstsq => false,
    };
    let folds = match opts.lambda {
        Lambda::Select {
            criterion: Criterion::KFold(k),
            ..
        } => k,
        _ => 1,
    };
    let mut timings = Timings::default();
    let t = Instant::now();
    let mut precision = match opts.precision {
        PrecisionChoice::F64 => GramPrecision::F64,
        _ => GramPrecision::F32,
    };
    let pre = &opts.preprocess;
    let mut fold_stats = accumulate(
        x, y, pairing, pre, with_xtx, precision, folds, chunk, progress, backend,
    )?;
    let mut gram_s = t.elapsed().as_secs_f64();
    let first_pass_s = gram_s;
    let (mut stats, mut aff, mut prep) = combine(&fold_stats, pre)?;
    let mut gram_passes = 1;
    let t_amp = Instant::now();
    let procrustes_like = matches!(opts.method, Method::Procrustes | Method::RobustProcrustes);
    // Procrustes: one SVD of X̃ᵀỸ gives both the amplification estimate and W.
    let mut svd_b = if procrustes_like {
        Some(linalg::svd(&prep.b)?)
    } else {
        None
    };
    // Normal equations: one eigenvalue computation gives the amplification and the report's
    // condition estimate.
    let mut eig_a = eigenvalues_for(opts.method, &prep)?;
    let mut amplification = match (&svd_b, &eig_a) {
        (Some((_, s, _)), _) => Some(sigma_ratio(s)),
        (None, Some(ev)) => Some(cond_shifted(ev, 0.0).unwrap_or(f64::INFINITY)),
        (None, None) => None,
    };
    if opts.precision == PrecisionChoice::Auto
        && opts.method != Method::Lstsq
        && amplification.is_some_and(|a| a * f32_error_per_unit(opts.method) > AUTO_TOLERANCE)
    {
        precision = GramPrecision::F64;
        gram_passes = 2;
        let t2 = Instant::now();
        fold_stats = accumulate(
            x, y, pairing, pre, with_xtx, precision, folds, chunk, progress, backend,
        )?;
        gram_s += t2.elapsed().as_secs_f64();
        (stats, aff, prep) = combine(&fold_stats, pre)?;
        if procrustes_like {
            let svd = linalg::svd(&prep.b)?;
            amplification = Some(sigma_ratio(&svd.1));
            svd_b = Some(svd);
        }
        eig_a = eigenvalues_for(opts.method, &prep)?;
    }
    let amplification_s = t_amp.elapsed().as_secs_f64() - (gram_s - first_pass_s);
    timings.gram_s = gram_s;

    let t = Instant::now();
    let selection = select_lambda(x, y, pairing, opts, &aff, &prep, &fold_stats, chunk)?;
    timings.select_s = t.elapsed().as_secs_f64();
    let lambda = match (&selection, &opts.lambda) {
        (Some(s), _) => s.chosen,
        (None, Lambda::Fixed(l)) => *l,
        (None, _) => 0.0,
    };

    let t = Instant::now();
    let centered = opts.preprocess.centers();
    let (w, rss, iterations) = match opts.method {
        Method::Ols => {
            let w = ols::ols(&prep, centered)?;
            let rss = residual_ss(&prep, &w);
            (w, rss, None)
        }
        Method::Ridge => {
            let w = ridge::ridge(&prep, lambda)?;
            let rss = residual_ss(&prep, &w);
            (w, rss, None)
        }
        Method::Procrustes => {
            let w = match svd_b.take() {
                Some((u, _, v)) => procrustes::u_vt(&u, &v),
                None => procrustes::procrustes(&prep.b)?,
            };
            let rss = residual_ss(&prep, &w);
            (w, rss, None)
        }
        Method::RobustProcrustes => {
            let w0 = match svd_b.take() {
                Some((u, _, v)) => procrustes::u_vt(&u, &v),
                None => procrustes::procrustes(&prep.b)?,
            };
            let tp = Instant::now();
            let (w, it) = robust_procrustes(
                x,
                y,
                pairing,
                &opts.preprocess,
                &aff,
                w0,
                &opts.robust,
                chunk,
                backend,
            )?;
            timings.data_passes_s = tp.elapsed().as_secs_f64();
            let rss = residual_ss(&prep, &w);
            (w, rss, Some(it))
        }
        Method::Lstsq => {
            let tp = Instant::now();
            let (xm, ym) = collect_pairs_f64(x, y, pairing, &opts.preprocess, &aff, chunk)?;
            timings.data_passes_s = tp.elapsed().as_secs_f64();
            let (w, rss) = lstsq::lstsq(&xm, &ym)?;
            (w, rss, None)
        }
    };
    let condition = match &prep.a {
        _ if eig_a.is_some() => eig_a.as_deref().and_then(|ev| cond_shifted(ev, lambda)),
        _ => amplification,
    };
    let orthogonality_error = matches!(opts.method, Method::Procrustes | Method::RobustProcrustes)
        .then(|| procrustes::orthogonality_error(&w));
    timings.solve_s = t.elapsed().as_secs_f64() - timings.data_passes_s + amplification_s;
    timings.total_s = t_all.elapsed().as_secs_f64();

    let x_rows = x.rows() as f64;
    let triangle = if with_xtx {
        x_rows * dx as f64 * (dx + 1) as f64
    } else {
        0.0
    };
    let gram_gflop = gram_passes as f64 * (triangle + 2.0 * x_rows * dx as f64 * dy as f64) / 1e9;
    let report = FitReport {
        method: opts.method.name().into(),
        lambda: (opts.method == Method::Ridge).then_some(lambda),
        n: stats.n(),
        x_rows: x.rows(),
        dx,
        dy,
        condition,
        relative_residual: if prep.yy > 0.0 {
            (rss / prep.yy).sqrt()
        } else {
            0.0
        },
        r2: if prep.tss > 0.0 {
            1.0 - rss / prep.tss
        } else {
            f64::NAN
        },
        orthogonality_error,
        iterations,
        selection,
        gram_gflops: gram_gflop / timings.gram_s.max(1e-12),
        gram_gflop,
        timings,
        gram_precision: format!("{precision:?}").to_lowercase(),
        gram_passes,
        normalize: format!("{:?}", opts.preprocess.normalize).to_lowercase(),
        centered,
    };
    Ok(FittedMap {
        method: opts.method,
        lambda: report.lambda,
        preprocess: opts.preprocess,
        affine: (!aff.is_identity()).then_some(aff),
        n: stats.n(),
        dx,
        dy,
        report,
        w,
    })
}

fn sigma_ratio(s: &[f64]) -> f64 {
    let lo = s.last().copied().unwrap_or(0.0);
    if lo > 0.0 {
        s[0] / lo
    } else {
        f64::INFINITY
    }
}

fn f32_error_per_unit(method: Method) -> f64 {
    match method {
        Method::Procrustes | Method::RobustProcrustes => F32_ERROR_PROCRUSTES,
        _ => F32_ERROR_NORMAL_EQ,
    }
}

fn combine(folds: &[GramStats], pre: &Preprocess) -> Result<(GramStats, Affine, Prepared)> {
    let mut stats = folds[0].clone();
    for f in &folds[1..] {
        stats.merge(f)?;
    }
    let aff = Affine::from_stats(pre, &stats)?;
    let prep = prepare(&stats, &aff)?;
    Ok((stats, aff, prep))
}

/// Eigenvalues of `X̃ᵀX̃` for the normal-equation solvers (`None` for the others).
fn eigenvalues_for(method: Method, prep: &Prepared) -> Result<Option<Vec<f64>>> {
    match (&prep.a, method) {
        (Some(a), Method::Ols | Method::Ridge) => Ok(Some(linalg::sym_eigenvalues(a)?)),
        _ => Ok(None),
    }
}

/// `cond(A + λI)` from the eigenvalues of `A` (`None` if the smallest is not positive).
fn cond_shifted(ev: &[f64], lambda: f64) -> Option<f64> {
    let (lo, hi) = (ev.first()? + lambda, ev.last()? + lambda);
    (lo > 0.0).then(|| hi / lo)
}

#[allow(clippy::too_many_arguments)]
fn select_lambda(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    aff: &Affine,
    prep: &Prepared,
    folds: &[GramStats],
    chunk: usize,
) -> Result<Option<LambdaSelection>> {
    let Lambda::Select { grid, criterion } = &opts.lambda else {
        return Ok(None);
    };
    let sel = match criterion {
        Criterion::Gcv => select::gcv_curve(prep, grid)?,
        Criterion::KFold(_) => select::kfold_curve(folds, aff, grid)?,
        Criterion::Loo => {
            let (xm, ym) = collect_pairs_f64(x, y, pairing, &opts.preprocess, aff, chunk)?;
            select::loo_curve(prep, &xm, &ym, grid)?
        }
    };
    Ok(Some(sel))
}
