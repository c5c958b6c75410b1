//! Fitted maps against numpy / scipy / scikit-learn references (tests/data/align,
//! written by make_fixtures.py) and an in-test f64 reference.

mod align_common;
use align_common::*;

use recap::align::{fit_matrices, FitOptions, Method, Normalize};

/// W from f32 inputs: the Gram's f32 products carry ~1e-7 relative error, amplified by the
/// conditioning of these small, well-conditioned problems (cond(XᵀX) < 1e3).
const TOL: f64 = 2e-5;

fn fit(
    method: Method,
    lambda: f64,
    normalize: Normalize,
    center: bool,
    y: &str,
) -> recap::align::FittedMap {
    let (x, y) = (load_f32("X.npy"), load_f32(y));
    fit_matrices(
        &x,
        &y,
        &FitOptions::new(method)
            .lambda(lambda)
            .preprocess(normalize, center),
    )
    .unwrap()
}

#[test]
fn ols_matches_scipy_cho_solve() {
    let m = fit(Method::Ols, 0.0, Normalize::None, false, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_ols.npy"));
    assert!(e < TOL, "rel diff {e:e}");
    let be = ne_backward_error(
        &to64(&load_f32("X.npy")),
        &to64(&load_f32("Y.npy")),
        &m.w,
        0.0,
    );
    assert!(be < 50.0, "backward error {be} eps32");
}

#[test]
fn ridge_matches_sklearn() {
    let m = fit(Method::Ridge, 1.0, Normalize::None, false, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_ridge1.npy"));
    assert!(e < TOL, "rel diff {e:e}");
    let be = ne_backward_error(
        &to64(&load_f32("X.npy")),
        &to64(&load_f32("Y.npy")),
        &m.w,
        1.0,
    );
    assert!(be < 50.0, "backward error {be} eps32");
}

#[test]
fn ridge_centered_matches_sklearn_intercept() {
    let m = fit(Method::Ridge, 1.0, Normalize::None, true, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_ridge1_center.npy"));
    assert!(e < TOL, "rel diff {e:e}");
}

#[test]
fn ridge_zscore_matches_standard_scaler() {
    let m = fit(Method::Ridge, 1.0, Normalize::Zscore, false, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_ridge1_zscore.npy"));
    assert!(e < TOL, "rel diff {e:e}");
}

#[test]
fn ridge_l2_matches_normalized_rows() {
    let m = fit(Method::Ridge, 1.0, Normalize::L2, false, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_ridge1_l2.npy"));
    assert!(e < TOL, "rel diff {e:e}");
}

#[test]
fn lstsq_matches_numpy() {
    let m = fit(Method::Lstsq, 0.0, Normalize::None, false, "Y.npy");
    // QR in f64 on the f32 data: agrees with numpy's f64 SVD solver to f64 accuracy × cond.
    let e = rel_diff(&m.w, &load_f64("W_lstsq.npy"));
    assert!(e < 1e-10, "rel diff {e:e}");
}

#[test]
fn procrustes_matches_scipy() {
    let m = fit(Method::Procrustes, 0.0, Normalize::None, false, "Y.npy");
    let e = rel_diff(&m.w, &load_f64("W_procrustes.npy"));
    assert!(e < TOL, "rel diff {e:e}");
    assert!(m.report.orthogonality_error.unwrap() < 1e-12);
}

#[test]
fn semi_orthogonal_procrustes_matches_numpy_svd() {
    let m = fit(Method::Procrustes, 0.0, Normalize::None, false, "Y8.npy");
    assert_eq!(m.w.shape(), (16, 8));
    let e = rel_diff(&m.w, &load_f64("W_procrustes8.npy"));
    assert!(e < TOL, "rel diff {e:e}");
    assert!(m.report.orthogonality_error.unwrap() < 1e-12);
}

#[test]
fn report_residual_matches_direct_computation() {
    let m = fit(Method::Ridge, 1.0, Normalize::None, false, "Y.npy");
    let (x, y) = (to64(&load_f32("X.npy")), to64(&load_f32("Y.npy")));
    let pred = ab(&x, &m.w);
    let r: Vec<f64> = pred
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .map(|(a, b)| a - b)
        .collect();
    let rel = fro(&r) / fro(y.as_slice());
    assert!(
        (m.report.relative_residual - rel).abs() < 1e-6 * rel,
        "{} vs {rel}",
        m.report.relative_residual
    );
    // R² against the centered total sum of squares.
    let dy = y.cols();
    let mut tss = 0.0;
    for j in 0..dy {
        let mean: f64 = (0..y.rows()).map(|i| y.row(i)[j]).sum::<f64>() / y.rows() as f64;
        tss += (0..y.rows())
            .map(|i| (y.row(i)[j] - mean).powi(2))
            .sum::<f64>();
    }
    let r2 = 1.0 - fro(&r).powi(2) / tss;
    assert!((m.report.r2 - r2).abs() < 1e-6, "{} vs {r2}", m.report.r2);
    assert!(m.report.condition.unwrap() > 1.0);
}

#[test]
fn robust_procrustes_is_orthogonal_and_close_to_procrustes_on_clean_data() {
    let m = fit(
        Method::RobustProcrustes,
        0.0,
        Normalize::None,
        false,
        "Y.npy",
    );
    let p = load_f64("W_procrustes.npy");
    assert!(m.report.orthogonality_error.unwrap() < 1e-10);
    assert!(rel_diff(&m.w, &p) < 0.2);
    assert!(m.report.iterations.unwrap() >= 1);
}

#[test]
fn robust_procrustes_resists_outliers() {
    // Y = X Q for an orthogonal Q, then 10% of rows replaced by garbage.
    let x = random(400, 8, 3, 0.0);
    let q = recap::align::procrustes::procrustes(&at_b(
        &to64(&random(50, 8, 4, 0.0)),
        &to64(&random(50, 8, 5, 0.0)),
    ))
    .unwrap();
    let mut y = ab(&to64(&x), &q);
    let garbage = to64(&random(40, 8, 6, 0.0));
    for i in 0..40 {
        for j in 0..8 {
            y.as_mut_slice()[i * 10 * 8 + j] = 5.0 * garbage.row(i)[j];
        }
    }
    let yf = recap::RowMatrix::from_vec(400, 8, y.as_slice().iter().map(|&v| v as f32).collect())
        .unwrap();
    let plain = fit_matrices(&x, &yf, &FitOptions::new(Method::Procrustes)).unwrap();
    let mut opts = FitOptions::new(Method::RobustProcrustes);
    opts.robust.iterations = 50;
    let robust = fit_matrices(&x, &yf, &opts).unwrap();
    let (ep, er) = (rel_diff(&plain.w, &q), rel_diff(&robust.w, &q));
    assert!(er < ep / 5.0, "robust {er:e} vs plain {ep:e}");
    assert!(er < 1e-2, "robust {er:e}");
}
