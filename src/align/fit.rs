//! The fit driver: statistics pass, λ selection, solve, report.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::align::accumulate::accumulate;
use crate::align::map::FittedMap;
use crate::align::pairs::{check_shapes, collect_pairs_f64, Pairing};
use crate::align::preprocess::{prepare, Affine, Normalize, Prepared, Preprocess};
use crate::align::report::{residual_ss, FitReport, LambdaSelection, Timings};
use crate::align::robust::{robust_procrustes, RobustOptions};
use crate::backend::GramPrecision;
use crate::backend::Progress;
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

fn no_progress(_: u64, _: u64) {}

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

pub(super) fn validate(opts: &FitOptions) -> Result<()> {
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
/// `(rows read, rows to read)` of each statistics pass.
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
///
/// Four stages: the statistics pass (a second one with f64 products when `Auto` precision
/// finds f32 products could move `W` by more than [`AUTO_TOLERANCE`]), λ selection, the
/// solve, and the report.
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
    let pass = Pass::new(backend, opts, x.cols(), y.cols());
    let mut timings = Timings::default();
    let mut st = statistics(&pass, x, y, pairing, opts, progress)?;
    timings.gram_s = st.gram_s;
    let t = Instant::now();
    let selection = select_lambda(x, y, pairing, opts, &st, pass.chunk)?;
    timings.select_s = t.elapsed().as_secs_f64();
    let lambda = chosen_lambda(selection.as_ref(), &opts.lambda);
    let t = Instant::now();
    let solved = solve(&pass, x, y, pairing, opts, &mut st, lambda, &mut timings)?;
    timings.solve_s = t.elapsed().as_secs_f64() - timings.data_passes_s + st.amplification_s;
    timings.total_s = t_all.elapsed().as_secs_f64();
    let report = report(
        &pass,
        x.rows(),
        opts,
        &st,
        &solved,
        lambda,
        selection,
        timings,
    );
    Ok(FittedMap {
        method: opts.method,
        lambda: report.lambda,
        preprocess: opts.preprocess,
        affine: (!st.aff.is_identity()).then_some(st.aff),
        n: st.stats.n(),
        dx: pass.dx,
        dy: pass.dy,
        report,
        w: solved.w,
    })
}

/// λ of the solve: the selected one, else the fixed one, else 0 (methods without λ).
pub(super) fn chosen_lambda(selection: Option<&LambdaSelection>, lambda: &Lambda) -> f64 {
    match (selection, lambda) {
        (Some(s), _) => s.chosen,
        (None, Lambda::Fixed(l)) => *l,
        (None, _) => 0.0,
    }
}

/// What every pass over the data shares.
pub(super) struct Pass<'a> {
    backend: &'a Arc<dyn Backend>,
    dx: usize,
    dy: usize,
    chunk: usize,
    with_xtx: bool,
    folds: usize,
}

impl<'a> Pass<'a> {
    pub(super) fn new(
        backend: &'a Arc<dyn Backend>,
        opts: &FitOptions,
        dx: usize,
        dy: usize,
    ) -> Self {
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
        Pass {
            backend,
            dx,
            dy,
            chunk,
            with_xtx,
            folds,
        }
    }
}

/// The statistics of a fit and what the solve reuses from the precision check.
pub(super) struct Statistics {
    pub(super) folds: Vec<GramStats>,
    pub(super) stats: GramStats,
    pub(super) aff: Affine,
    pub(super) prep: Prepared,
    pub(super) precision: GramPrecision,
    pub(super) passes: usize,
    pub(super) gram_s: f64,
    /// `X̃ᵀỸ = U Σ Vᵀ` (Procrustes), `(U, σ, V)`.
    pub(super) svd_b: Option<(RowMatrix<f64>, Vec<f64>, RowMatrix<f64>)>,
    /// Eigenvalues of `X̃ᵀX̃` (normal equations).
    pub(super) eig_a: Option<Vec<f64>>,
    /// How much f32 rounding of the products can be amplified in `W`.
    pub(super) amplification: Option<f64>,
    pub(super) amplification_s: f64,
}

/// One statistics pass with `precision`; `progress` sees `(rows read, rows to read)`.
#[allow(clippy::too_many_arguments)]
fn gram_pass(
    pass: &Pass<'_>,
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    precision: GramPrecision,
    progress: Progress<'_>,
) -> Result<Vec<GramStats>> {
    let total = match pairing {
        Pairing::Rows => x.rows(),
        Pairing::Grouped(_) => x.rows() + y.rows(),
    } as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let rows_read = |r: u64| {
        let d = done.fetch_add(r, std::sync::atomic::Ordering::Relaxed) + r;
        progress(d.min(total), total);
    };
    let pre = &opts.preprocess;
    let (with_xtx, folds, chunk) = (pass.with_xtx, pass.folds, pass.chunk);
    accumulate(
        x,
        y,
        pairing,
        pre,
        with_xtx,
        precision,
        folds,
        chunk,
        &rows_read,
        pass.backend,
    )
}

/// The statistics pass, repeated with f64 products when `Auto` precision asks for it.
fn statistics(
    pass: &Pass<'_>,
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    progress: Progress<'_>,
) -> Result<Statistics> {
    let t = Instant::now();
    let precision = match opts.precision {
        PrecisionChoice::F64 => GramPrecision::F64,
        _ => GramPrecision::F32,
    };
    let folds = gram_pass(pass, x, y, pairing, opts, precision, progress)?;
    let gram_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut st = analysed(folds, opts, precision, gram_s)?;
    st.amplification_s = t.elapsed().as_secs_f64();
    let too_coarse = st
        .amplification
        .is_some_and(|a| a * f32_error_per_unit(opts.method) > AUTO_TOLERANCE);
    if opts.precision == PrecisionChoice::Auto && opts.method != Method::Lstsq && too_coarse {
        let t = Instant::now();
        let folds = gram_pass(pass, x, y, pairing, opts, GramPrecision::F64, progress)?;
        let gram_s = st.gram_s + t.elapsed().as_secs_f64();
        let amplification_s = st.amplification_s;
        st = analysed(folds, opts, GramPrecision::F64, gram_s)?;
        st.passes = 2;
        st.amplification_s += amplification_s;
    }
    Ok(st)
}

/// Merge the folds, prepare the solve, and estimate how f32 rounding would be amplified:
/// one SVD of `X̃ᵀỸ` (Procrustes: it is also the solve) or the eigenvalues of `X̃ᵀX̃`.
pub(super) fn analysed(
    folds: Vec<GramStats>,
    opts: &FitOptions,
    precision: GramPrecision,
    gram_s: f64,
) -> Result<Statistics> {
    let (stats, aff, prep) = combine(&folds, &opts.preprocess)?;
    let procrustes_like = matches!(opts.method, Method::Procrustes | Method::RobustProcrustes);
    let svd_b = if procrustes_like {
        Some(linalg::svd(&prep.b)?)
    } else {
        None
    };
    let eig_a = eigenvalues_for(opts.method, &prep)?;
    let amplification = match (&svd_b, &eig_a) {
        (Some((_, s, _)), _) => Some(sigma_ratio(s)),
        (None, Some(ev)) => Some(cond_shifted(ev, 0.0).unwrap_or(f64::INFINITY)),
        (None, None) => None,
    };
    Ok(Statistics {
        folds,
        stats,
        aff,
        prep,
        precision,
        passes: 1,
        gram_s,
        svd_b,
        eig_a,
        amplification,
        amplification_s: 0.0,
    })
}

/// `W`, its residual sum of squares and the IRLS iterations (robust Procrustes).
pub(super) struct Solved {
    pub(super) w: RowMatrix<f64>,
    pub(super) rss: f64,
    pub(super) iterations: Option<usize>,
}

/// Procrustes' `U Vᵀ`, from the SVD the precision check already made when there is one.
pub(super) fn procrustes_w(st: &mut Statistics) -> Result<RowMatrix<f64>> {
    match st.svd_b.take() {
        Some((u, _, v)) => Ok(procrustes::u_vt(&u, &v)),
        None => procrustes::procrustes(&st.prep.b),
    }
}

#[allow(clippy::too_many_arguments)]
fn solve(
    pass: &Pass<'_>,
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    st: &mut Statistics,
    lambda: f64,
    timings: &mut Timings,
) -> Result<Solved> {
    let w = match opts.method {
        Method::Ols => ols::ols(&st.prep, opts.preprocess.centers())?,
        Method::Ridge => ridge::ridge(&st.prep, lambda)?,
        Method::Procrustes => procrustes_w(st)?,
        Method::RobustProcrustes => {
            let w0 = procrustes_w(st)?;
            let t = Instant::now();
            let (pre, aff, chunk) = (&opts.preprocess, &st.aff, pass.chunk);
            let robust = &opts.robust;
            let (w, it) =
                robust_procrustes(x, y, pairing, pre, aff, w0, robust, chunk, pass.backend)?;
            timings.data_passes_s = t.elapsed().as_secs_f64();
            let rss = residual_ss(&st.prep, &w);
            return Ok(Solved {
                w,
                rss,
                iterations: Some(it),
            });
        }
        Method::Lstsq => {
            let t = Instant::now();
            let (pre, aff, chunk) = (&opts.preprocess, &st.aff, pass.chunk);
            let (xm, ym) = collect_pairs_f64(x, y, pairing, pre, aff, chunk)?;
            timings.data_passes_s = t.elapsed().as_secs_f64();
            let (w, rss) = lstsq::lstsq(&xm, &ym)?;
            return Ok(Solved {
                w,
                rss,
                iterations: None,
            });
        }
    };
    let rss = residual_ss(&st.prep, &w);
    Ok(Solved {
        w,
        rss,
        iterations: None,
    })
}

/// The fit report: residuals, condition, the statistics pass's arithmetic and rate.
#[allow(clippy::too_many_arguments)]
pub(super) fn report(
    pass: &Pass<'_>,
    x_rows: usize,
    opts: &FitOptions,
    st: &Statistics,
    solved: &Solved,
    lambda: f64,
    selection: Option<LambdaSelection>,
    timings: Timings,
) -> FitReport {
    let (dx, dy, prep) = (pass.dx, pass.dy, &st.prep);
    let condition = match &st.eig_a {
        Some(ev) => cond_shifted(ev, lambda),
        None => st.amplification,
    };
    let rows = x_rows as f64;
    // The arithmetic needed: one triangle of XᵀX (n·d·(d+1)) plus XᵀY (2·n·dx·dy).
    let triangle = if pass.with_xtx {
        rows * dx as f64 * (dx + 1) as f64
    } else {
        0.0
    };
    let gram_gflop = st.passes as f64 * (triangle + 2.0 * rows * dx as f64 * dy as f64) / 1e9;
    let rss = solved.rss;
    FitReport {
        method: opts.method.name().into(),
        lambda: (opts.method == Method::Ridge).then_some(lambda),
        n: st.stats.n(),
        x_rows,
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
        orthogonality_error: matches!(opts.method, Method::Procrustes | Method::RobustProcrustes)
            .then(|| procrustes::orthogonality_error(&solved.w)),
        iterations: solved.iterations,
        selection,
        gram_gflops: gram_gflop / timings.gram_s.max(1e-12),
        gram_gflop,
        timings,
        gram_precision: format!("{:?}", st.precision).to_lowercase(),
        gram_passes: st.passes,
        normalize: format!("{:?}", opts.preprocess.normalize).to_lowercase(),
        centered: opts.preprocess.centers(),
    }
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

fn select_lambda(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    opts: &FitOptions,
    st: &Statistics,
    chunk: usize,
) -> Result<Option<LambdaSelection>> {
    let Lambda::Select { grid, criterion } = &opts.lambda else {
        return Ok(None);
    };
    let sel = match criterion {
        Criterion::Gcv => select::gcv_curve(&st.prep, grid)?,
        Criterion::KFold(_) => select::kfold_curve(&st.folds, &st.aff, grid)?,
        Criterion::Loo => {
            let (xm, ym) = collect_pairs_f64(x, y, pairing, &opts.preprocess, &st.aff, chunk)?;
            select::loo_curve(&st.prep, &xm, &ym, grid)?
        }
    };
    Ok(Some(sel))
}
