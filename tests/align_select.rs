//! λ selection: closed-form LOO against scikit-learn's RidgeCV and brute-force refits, GCV
//! against its definition, k-fold against refits on the training folds (nalgebra f64).

mod align_common;
use align_common::*;

use nalgebra::DMatrix;
use recap::align::{fit_matrices, Criterion, FitOptions, Lambda, Method};
use recap::RowMatrix;

fn na(m: &RowMatrix<f32>) -> DMatrix<f64> {
    DMatrix::from_row_slice(m.rows(), m.cols(), &m.to_f64().into_vec())
}

fn ridge_na(x: &DMatrix<f64>, y: &DMatrix<f64>, lambda: f64) -> DMatrix<f64> {
    let d = x.ncols();
    let a = x.transpose() * x + DMatrix::identity(d, d) * lambda;
    a.cholesky().unwrap().solve(&(x.transpose() * y))
}

fn select(
    x: &RowMatrix<f32>,
    y: &RowMatrix<f32>,
    grid: &[f64],
    c: Criterion,
) -> recap::align::report::LambdaSelection {
    let mut o = FitOptions::new(Method::Ridge);
    o.lambda = Lambda::Select {
        grid: grid.to_vec(),
        criterion: c,
    };
    o.precision = recap::align::PrecisionChoice::F64;
    fit_matrices(x, y, &o).unwrap().report.selection.unwrap()
}

#[test]
fn loo_matches_sklearn_ridgecv() {
    let (x, y) = (load_f32("X.npy"), load_f32("Y.npy"));
    let grid = load_f64("loo_grid.npy").into_vec();
    let scores = load_f64("loo_scores.npy").into_vec();
    let sel = select(&x, &y, &grid, Criterion::Loo);
    for (p, s) in sel.curve.iter().zip(&scores) {
        let ours = p.score / y.cols() as f64; // sklearn averages over targets too
        assert!((ours - s).abs() < 1e-8 * s, "λ {}: {ours} vs {s}", p.lambda);
    }
    assert_eq!(sel.chosen, load_f64("loo_alpha.npy").into_vec()[0]);
}

#[test]
fn loo_equals_brute_force_refits() {
    let (x, y) = (random(40, 5, 21, 0.2), random(40, 3, 22, 0.0));
    let (xn, yn) = (na(&x), na(&y));
    let grid = [0.01, 0.1, 1.0, 10.0];
    let sel = select(&x, &y, &grid, Criterion::Loo);
    for (p, &lambda) in sel.curve.iter().zip(&grid) {
        let mut total = 0.0;
        for i in 0..40 {
            let keep: Vec<usize> = (0..40).filter(|&k| k != i).collect();
            let w = ridge_na(&xn.select_rows(&keep), &yn.select_rows(&keep), lambda);
            total += (xn.row(i) * &w - yn.row(i)).norm_squared();
        }
        let brute = total / 40.0;
        assert!(
            (p.score - brute).abs() < 1e-9 * brute,
            "λ {lambda}: {} vs {brute}",
            p.score
        );
    }
}

#[test]
fn gcv_matches_definition() {
    let (x, y) = (random(50, 6, 23, 0.1), random(50, 2, 24, 0.0));
    let (xn, yn) = (na(&x), na(&y));
    let grid = [1e-3, 0.1, 1.0, 30.0];
    let sel = select(&x, &y, &grid, Criterion::Gcv);
    let mut best = (f64::INFINITY, 0.0);
    for (p, &lambda) in sel.curve.iter().zip(&grid) {
        let d = xn.ncols();
        let inv = (xn.transpose() * &xn + DMatrix::identity(d, d) * lambda)
            .try_inverse()
            .unwrap();
        let hat = &xn * inv * xn.transpose();
        let rss = (&hat * &yn - &yn).norm_squared();
        let n = 50.0;
        let gcv = (rss / n) / (1.0 - hat.trace() / n).powi(2);
        assert!(
            (p.score - gcv).abs() < 1e-9 * gcv,
            "λ {lambda}: {} vs {gcv}",
            p.score
        );
        assert!((p.df.unwrap() - hat.trace()).abs() < 1e-9);
        if gcv < best.0 {
            best = (gcv, lambda);
        }
    }
    assert_eq!(sel.chosen, best.1);
}

#[test]
fn kfold_matches_refits_on_training_folds() {
    let (x, y) = (random(60, 4, 25, 0.0), random(60, 3, 26, 0.0));
    let (xn, yn) = (na(&x), na(&y));
    let grid = [0.01, 1.0, 100.0];
    let sel = select(&x, &y, &grid, Criterion::KFold(3));
    for (p, &lambda) in sel.curve.iter().zip(&grid) {
        let mut err = 0.0;
        for f in 0..3 {
            let test: Vec<usize> = (f * 20..(f + 1) * 20).collect();
            let train: Vec<usize> = (0..60).filter(|i| !test.contains(i)).collect();
            let w = ridge_na(&xn.select_rows(&train), &yn.select_rows(&train), lambda);
            err += (xn.select_rows(&test) * w - yn.select_rows(&test)).norm_squared();
        }
        let brute = err / 60.0;
        assert!(
            (p.score - brute).abs() < 1e-8 * brute,
            "λ {lambda}: {} vs {brute}",
            p.score
        );
    }
}

#[test]
fn selection_rejects_bad_grids() {
    let (x, y) = (random(30, 3, 27, 0.0), random(30, 2, 28, 0.0));
    let mut o = FitOptions::new(Method::Ridge);
    o.lambda = Lambda::Select {
        grid: vec![1.0, -1.0],
        criterion: Criterion::Gcv,
    };
    assert!(fit_matrices(&x, &y, &o).is_err());
    o.lambda = Lambda::Select {
        grid: vec![],
        criterion: Criterion::Gcv,
    };
    assert!(fit_matrices(&x, &y, &o).is_err());
    o.lambda = Lambda::Select {
        grid: vec![1.0],
        criterion: Criterion::KFold(1),
    };
    assert!(fit_matrices(&x, &y, &o).is_err());
    let mut p = FitOptions::new(Method::Procrustes);
    p.lambda = Lambda::Select {
        grid: vec![1.0],
        criterion: Criterion::Gcv,
    };
    assert!(fit_matrices(&x, &y, &p).is_err());
}
