//! Properties: Procrustes is orthogonal, fits do not depend on row order, ridge → OLS.

mod align_common;
use align_common::*;

use proptest::prelude::*;
use recap::align::{fit_matrices, procrustes::orthogonality_error, FitOptions, Method};
use recap::RowMatrix;

fn permuted(m: &RowMatrix<f32>, perm: &[usize]) -> RowMatrix<f32> {
    let v = perm.iter().flat_map(|&i| m.row(i).to_vec()).collect();
    RowMatrix::from_vec(m.rows(), m.cols(), v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn procrustes_is_orthogonal(seed in 0u64..1000, n in 20usize..80, dx in 2usize..9, dy in 2usize..9) {
        let (x, y) = (random(n, dx, seed, 0.2), random(n, dy, seed + 7, -0.1));
        let m = fit_matrices(&x, &y, &FitOptions::new(Method::Procrustes)).unwrap();
        prop_assert!(orthogonality_error(&m.w) < 1e-10);
    }

    #[test]
    fn fits_do_not_depend_on_row_order(seed in 0u64..1000, shift in 1usize..50) {
        let (x, y) = (random(60, 5, seed, 0.3), random(60, 4, seed + 3, 0.0));
        let perm: Vec<usize> = (0..60).map(|i| (i * 7 + shift) % 60).collect();
        let (xp, yp) = (permuted(&x, &perm), permuted(&y, &perm));
        for m in [Method::Ridge, Method::Procrustes, Method::Ols] {
            let o = FitOptions::new(m).lambda(0.3);
            let (a, b) = (fit_matrices(&x, &y, &o).unwrap(), fit_matrices(&xp, &yp, &o).unwrap());
            prop_assert!(rel_diff(&a.w, &b.w) < 1e-5, "{:?}", m);
        }
    }

    #[test]
    fn ridge_tends_to_ols(seed in 0u64..1000) {
        let (x, y) = (random(80, 4, seed, 0.0), random(80, 3, seed + 1, 0.0));
        let ols = fit_matrices(&x, &y, &FitOptions::new(Method::Ols)).unwrap();
        let mut prev = f64::INFINITY;
        for lambda in [1.0, 1e-2, 1e-4, 1e-6] {
            let r = fit_matrices(&x, &y, &FitOptions::new(Method::Ridge).lambda(lambda)).unwrap();
            let e = rel_diff(&r.w, &ols.w);
            prop_assert!(e <= prev * 1.0001 + 1e-12);
            prev = e;
        }
        prop_assert!(prev < 1e-5);
    }
}
