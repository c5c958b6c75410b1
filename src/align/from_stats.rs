//! Solving from statistics alone: the map from merged [`GramStats`] without touching the data
//! again, for fits whose statistics were accumulated elsewhere (other processes, other
//! machines, a distributed run) and merged.
//!
//! The solvers that need only `XᵀX`, `XᵀY` and the column moments work here: [`Method::Ols`],
//! [`Method::Ridge`] (λ fixed, or chosen by GCV over a grid) and [`Method::Procrustes`].
//! [`Method::Lstsq`], [`Method::RobustProcrustes`], exact LOO and k-fold selection need the
//! rows themselves and are errors. Row normalization happens while accumulating, so
//! `opts.preprocess.normalize` must say how the statistics were accumulated (it is recorded
//! in the map so that [`FittedMap::apply`] repeats it); centering is applied here from the
//! column sums.
//!
//! ```
//! use recap::align::{fit_stats, FitOptions, GramStats, Method};
//! let x = [1f32, 0., 0., 1., 1., 1., 2., 0.5];
//! let y = [2f32, 0., 0., 2., 2., 2., 4., 1.];
//! let mut a = GramStats::new(2, 2, true);
//! a.accumulate(&x[..4], &y[..4], 2)?;       // one shard
//! let mut b = GramStats::new(2, 2, true);
//! b.accumulate(&x[4..], &y[4..], 2)?;       // another
//! a.merge(&b)?;
//! let map = fit_stats(&a, &FitOptions::new(Method::Ridge).lambda(1e-9))?;
//! assert!((map.w.row(0)[0] - 2.0).abs() < 1e-6);
//! # Ok::<(), recap::Error>(())
//! ```

use std::time::Instant;

use crate::align::fit::{analysed, chosen_lambda, procrustes_w, report, validate, Pass, Solved};
use crate::align::report::{residual_ss, Timings};
use crate::align::{ols, ridge, select, Criterion, FitOptions, FittedMap, GramStats};
use crate::align::{Lambda, Method};
use crate::error::{Error, Result};

/// Fit the map from statistics already accumulated (and merged); see the module docs for
/// which methods and λ criteria can.
pub fn fit_stats(stats: &GramStats, opts: &FitOptions) -> Result<FittedMap> {
    let t_all = Instant::now();
    validate(opts)?;
    check_solvable(stats, opts)?;
    let backend = stats.backend().clone();
    let pass = Pass::new(&backend, opts, stats.dx(), stats.dy());
    let mut st = analysed(vec![stats.clone()], opts, stats.precision(), 0.0)?;
    let mut timings = Timings::default();
    let t = Instant::now();
    let selection = match &opts.lambda {
        Lambda::Select { grid, .. } => Some(select::gcv_curve(&st.prep, grid)?),
        _ => None,
    };
    timings.select_s = t.elapsed().as_secs_f64();
    let lambda = chosen_lambda(selection.as_ref(), &opts.lambda);
    let t = Instant::now();
    let w = match opts.method {
        Method::Ols => ols::ols(&st.prep, opts.preprocess.centers())?,
        Method::Ridge => ridge::ridge(&st.prep, lambda)?,
        _ => procrustes_w(&mut st)?,
    };
    let rss = residual_ss(&st.prep, &w);
    timings.solve_s = t.elapsed().as_secs_f64();
    timings.total_s = t_all.elapsed().as_secs_f64();
    let solved = Solved {
        w,
        rss,
        iterations: None,
    };
    let rows = usize::try_from(stats.n()).unwrap_or(usize::MAX);
    let report = report(&pass, rows, opts, &st, &solved, lambda, selection, timings);
    Ok(FittedMap {
        method: opts.method,
        lambda: report.lambda,
        preprocess: opts.preprocess,
        affine: (!st.aff.is_identity()).then_some(st.aff),
        n: stats.n(),
        dx: stats.dx(),
        dy: stats.dy(),
        report,
        w: solved.w,
    })
}

/// The method and λ criterion must be solvable from statistics, and the statistics must
/// hold what the method needs.
fn check_solvable(stats: &GramStats, opts: &FitOptions) -> Result<()> {
    let needs_rows = |what: &str| {
        Error::invalid(
            "method",
            format!(
                "{what} needs the rows themselves, not only their statistics: fit from the data"
            ),
        )
    };
    match opts.method {
        Method::Lstsq | Method::RobustProcrustes => return Err(needs_rows(opts.method.name())),
        Method::Ols | Method::Ridge if !stats.has_xtx() => {
            return Err(Error::invalid(
                "statistics",
                "ols and ridge need XᵀX: accumulate with with_xtx = true",
            ))
        }
        Method::Procrustes if !stats.has_xtx() && stats.dx() > stats.dy() => {
            return Err(Error::invalid(
                "statistics",
                "procrustes with dx > dy needs XᵀX: accumulate with with_xtx = true",
            ))
        }
        _ => {}
    }
    if let Lambda::Select { criterion, .. } = &opts.lambda {
        if *criterion != Criterion::Gcv {
            return Err(needs_rows("λ selection by LOO or k-fold"));
        }
    }
    if stats.n() == 0 {
        return Err(Error::invalid("statistics", "no rows were accumulated"));
    }
    Ok(())
}
