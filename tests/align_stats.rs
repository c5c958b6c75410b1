//! GramStats: accuracy against an f64 reference, merge of shards, save/load, pair-grouped
//! statistics equal to explicitly repeated rows.

mod align_common;
use align_common::*;

use recap::align::{
    fit_grouped_matrices, fit_matrices, FitOptions, GramPrecision, GramStats, Method, Normalize,
};
use recap::io::Grouping;
use recap::RowMatrix;

fn stats_of(x: &RowMatrix<f32>, y: &RowMatrix<f32>, chunk: usize, p: GramPrecision) -> GramStats {
    let mut s = GramStats::new(x.cols(), y.cols(), true).with_precision(p);
    let (dx, dy) = (x.cols(), y.cols());
    for start in (0..x.rows()).step_by(chunk) {
        let r = chunk.min(x.rows() - start);
        s.accumulate(
            &x.as_slice()[start * dx..(start + r) * dx],
            &y.as_slice()[start * dy..(start + r) * dy],
            r,
        )
        .unwrap();
    }
    s
}

#[test]
fn gram_matches_f64_reference() {
    // Rows with a large common offset (like CLIP embeddings), 3000 x 24.
    let (x, y) = (random(3000, 24, 1, 0.5), random(3000, 10, 2, -0.3));
    let (x64, y64) = (to64(&x), to64(&y));
    for p in [GramPrecision::F32, GramPrecision::F64] {
        let s = stats_of(&x, &y, 700, p);
        let tol = if p == GramPrecision::F32 { 1e-6 } else { 1e-13 };
        let e = rel_diff(&s.xtx().unwrap(), &at_b(&x64, &x64));
        assert!(e < tol, "{p:?} XᵀX rel err {e:e}");
        let e = rel_diff(&s.xty(), &at_b(&x64, &y64));
        assert!(e < tol, "{p:?} XᵀY rel err {e:e}");
        assert_eq!(s.n(), 3000);
        let sx: Vec<f64> = (0..24)
            .map(|j| (0..3000).map(|i| x64.row(i)[j]).sum())
            .collect();
        let e: f64 = s
            .sum_x()
            .iter()
            .zip(&sx)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // f32 products use x̃ = fl(x − c), rounded once (≤ eps32/2·|x̃|), and the moments are
        // those of the values the products used: error ≤ n·eps32·max|x|, relative ~1e-8.
        let scale = match p {
            GramPrecision::F32 => 3000.0 * f32::EPSILON as f64 * 1.5,
            GramPrecision::F64 => 1e-9,
        };
        assert!(e < scale, "sum_x err {e:e}");
        let q: f64 = (0..3000).map(|i| y64.row(i)[3].powi(2)).sum();
        let tol = match p {
            GramPrecision::F32 => 4.0 * f32::EPSILON as f64 * q,
            GramPrecision::F64 => 1e-9 * q,
        };
        assert!((s.sq_y()[3] - q).abs() < tol, "sq_y err");
    }
}

#[test]
fn merge_of_shards_equals_whole() {
    let (x, y) = (random(1000, 12, 3, 0.2), random(1000, 7, 4, 0.0));
    let whole = stats_of(&x, &y, 1000, GramPrecision::F64);
    let mut merged = GramStats::new(12, 7, true).with_precision(GramPrecision::F64);
    for (a, b) in [(0, 137), (137, 600), (600, 1000)] {
        let xs = RowMatrix::from_vec(b - a, 12, x.as_slice()[a * 12..b * 12].to_vec()).unwrap();
        let ys = RowMatrix::from_vec(b - a, 7, y.as_slice()[a * 7..b * 7].to_vec()).unwrap();
        merged
            .merge(&stats_of(&xs, &ys, 100, GramPrecision::F64))
            .unwrap();
    }
    assert_eq!(merged.n(), whole.n());
    assert!(rel_diff(&merged.xtx().unwrap(), &whole.xtx().unwrap()) < 1e-14);
    assert!(rel_diff(&merged.xty(), &whole.xty()) < 1e-14);
    // merge refuses other shapes
    assert!(merged.merge(&GramStats::new(12, 8, true)).is_err());
}

#[test]
fn save_load_roundtrip() {
    let (x, y) = (random(300, 9, 5, 0.1), random(300, 4, 6, 0.0));
    let s = stats_of(&x, &y, 64, GramPrecision::F32);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stats.npz");
    s.save(&p).unwrap();
    let t = GramStats::load(&p).unwrap();
    assert_eq!(t.n(), s.n());
    assert_eq!(t.xtx().unwrap(), s.xtx().unwrap());
    assert_eq!(t.xty(), s.xty());
    assert_eq!(
        (t.sum_x(), t.sum_y(), t.sq_x(), t.sq_y()),
        (s.sum_x(), s.sum_y(), s.sq_x(), s.sq_y())
    );
}

#[test]
fn grouped_fit_equals_repeated_rows() {
    // 60 images with 1..=4 captions each, caption rows interleaved (not sorted by image).
    let images = random(60, 8, 7, 0.3);
    let counts: Vec<usize> = (0..60).map(|i| 1 + (i * 7) % 4).collect();
    let mut image_of: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(i, c))
        .collect();
    image_of.reverse();
    image_of.rotate_left(17);
    let n_cap = image_of.len();
    let captions = random(n_cap, 6, 8, -0.1);
    let g = Grouping::new(image_of.clone(), 60).unwrap();
    let repeated: Vec<f32> = image_of
        .iter()
        .flat_map(|&i| images.row(i).to_vec())
        .collect();
    let xr = RowMatrix::from_vec(n_cap, 8, repeated).unwrap();
    for (method, norm, center) in [
        (Method::Ridge, Normalize::None, false),
        (Method::Ridge, Normalize::Zscore, false),
        (Method::Ols, Normalize::L2, true),
        (Method::Procrustes, Normalize::None, true),
        (Method::Lstsq, Normalize::None, false),
        (Method::RobustProcrustes, Normalize::None, false),
    ] {
        let o = FitOptions::new(method).lambda(0.5).preprocess(norm, center);
        let a = fit_grouped_matrices(&images, &captions, &g, &o).unwrap();
        let b = fit_matrices(&xr, &captions, &o).unwrap();
        assert_eq!(a.n, n_cap as u64);
        let e = rel_diff(&a.w, &b.w);
        assert!(e < 1e-5, "{method:?} {norm:?}: grouped vs repeated {e:e}");
        assert!((a.report.r2 - b.report.r2).abs() < 1e-6);
    }
}

#[test]
fn recovers_ground_truth_map() {
    // Y = X W* + small noise: ridge with a tiny λ recovers W*.
    let x = random(4000, 10, 9, 0.0);
    let wt = to64(&random(10, 10, 10, 0.0));
    let noise = random(4000, 10, 11, 0.0);
    let y64 = ab(&to64(&x), &wt);
    let y: Vec<f32> = y64
        .as_slice()
        .iter()
        .zip(noise.as_slice())
        .map(|(&a, &e)| (a + 1e-3 * e as f64) as f32)
        .collect();
    let y = RowMatrix::from_vec(4000, 10, y).unwrap();
    let m = fit_matrices(&x, &y, &FitOptions::new(Method::Ridge).lambda(1e-6)).unwrap();
    let e = rel_diff(&m.w, &wt);
    assert!(e < 1e-3, "ground truth error {e:e}");
}
