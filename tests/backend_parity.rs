//! Every backend primitive, written once and run on every available device.
//!
//! The CPU backend always runs; CUDA runs when the crate is built with `cuda`/`cuda-13` and a
//! device is usable. Without one the CUDA part is SKIPPED loudly on stderr, and FAILS when
//! `RECAP_REQUIRE_GPU=1`. References: nalgebra (f64) and brute force.

use std::sync::Arc;

use nalgebra::DMatrix;
use recap::backend::{
    ranks_before, Backend, Device, Exclusions, GramStats, Op, RowsMut, RowsRef, SliceSource, TopK,
};
use recap::Error;

/// Relative tolerances (scaled by the largest reference magnitude) of one backend.
#[derive(Clone, Copy, Debug)]
struct Tol {
    /// Gram statistics (CPU: f64 products; CUDA: f32 products within a chunk of up to
    /// 65,536 rows, f64 across chunks: ~√rows · 2⁻²⁴).
    gram: f64,
    /// f32 results (GEMM, normalization) against an f64 reference.
    f32: f64,
    /// f64 dense solvers (Cholesky, eigen, SVD).
    f64: f64,
}

const CPU_TOL: Tol = Tol {
    gram: 1e-12,
    f32: 1e-5,
    f64: 1e-11,
};
const CUDA_TOL: Tol = Tol {
    gram: 3e-5,
    f32: 1e-5,
    f64: 1e-9,
};

/// The backends to test with their tolerances: the CPU always, CUDA device 0 when usable.
fn backends() -> Vec<(Arc<dyn Backend>, Tol)> {
    let mut out: Vec<(Arc<dyn Backend>, Tol)> = vec![(Device::Cpu.resolve().unwrap(), CPU_TOL)];
    let require = std::env::var("RECAP_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match Device::Cuda(0).resolve() {
        Ok(b) => out.push((b, CUDA_TOL)),
        Err(e) if require => panic!("RECAP_REQUIRE_GPU=1 but no CUDA device: {e}"),
        Err(e) => eprintln!("SKIPPED: no CUDA device: {e}"),
    }
    out
}

/// Run `body` on every backend, labelling failures with the backend name.
fn on_every_device(test: &str, body: impl Fn(&dyn Backend, Tol)) {
    for (b, tol) in backends() {
        eprintln!("{test}: on {}", b.name());
        body(b.as_ref(), tol);
    }
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift64*).
fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let v = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            (v as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

fn dmat(data: &[f32], rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(
        rows,
        cols,
        &data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    )
}

fn dmat64(data: &[f64], rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(rows, cols, data)
}

fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale,
            "{what}[{i}]: got {g}, want {w} (tolerance {} absolute)",
            rel * scale
        );
    }
}

fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    let mut v = Vec::with_capacity(m.len());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            v.push(m[(i, j)]);
        }
    }
    v
}

#[test]
fn device_strings_round_trip() {
    for s in ["cpu", "cuda:0", "cuda:3", "auto"] {
        let d: Device = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
    }
    assert_eq!("CUDA".parse::<Device>().unwrap(), Device::Cuda(0));
    for bad in ["", "tpu", "cuda:", "cuda:x", "cuda:-1"] {
        assert!(matches!(
            bad.parse::<Device>(),
            Err(Error::InvalidArgument { .. })
        ));
    }
    // auto always yields a backend (CPU at worst).
    assert!(!Device::Auto.resolve().unwrap().name().is_empty());
}

#[test]
fn gram_matches_nalgebra_with_and_without_weights() {
    on_every_device("gram", |b, tol| {
        let (n, dx, dy) = (10_007, 37, 23);
        let x = random(n * dx, 1);
        let y = random(n * dy, 2);
        let w: Vec<f32> = random(n, 3).iter().map(|v| v.abs() * 2.0).collect();
        for weights in [None, Some(&w[..])] {
            let xr = RowsRef::new(&x, n, dx).unwrap();
            let yr = RowsRef::new(&y, n, dy).unwrap();
            let mut src = SliceSource::new(xr, Some(yr), weights).unwrap();
            let mut st = GramStats::new(dx, dy);
            b.gram_accumulate(&mut src, &mut st).unwrap();
            let xm = dmat(&x, n, dx);
            let ym = dmat(&y, n, dy);
            let wv: Vec<f64> = (0..n)
                .map(|i| weights.map_or(1.0, |w| w[i] as f64))
                .collect();
            let wd = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(wv.clone()));
            let rel = tol.gram;
            assert_close(
                "xtx",
                &st.xtx,
                &row_major(&(xm.transpose() * &wd * &xm)),
                rel,
            );
            assert_close(
                "xty",
                &st.xty,
                &row_major(&(xm.transpose() * &wd * &ym)),
                rel,
            );
            let sx: Vec<f64> = (xm.transpose() * nalgebra::DVector::from_vec(wv.clone()))
                .iter()
                .copied()
                .collect();
            assert_close("sum_x", &st.sum_x, &sx, rel);
            let sy: Vec<f64> = (ym.transpose() * nalgebra::DVector::from_vec(wv.clone()))
                .iter()
                .copied()
                .collect();
            assert_close("sum_y", &st.sum_y, &sy, rel);
            assert_eq!(st.rows, n as u64);
            assert!((st.weight_sum - wv.iter().sum::<f64>()).abs() < 1e-9 * n as f64);
        }
    });
}

#[test]
fn gram_rejects_mismatched_stats_and_bad_weights() {
    on_every_device("gram errors", |b, _| {
        let x = random(40, 4);
        let xr = RowsRef::new(&x, 10, 4).unwrap();
        let mut src = SliceSource::new(xr, None, None).unwrap();
        let mut st = GramStats::new(5, 0);
        assert!(matches!(
            b.gram_accumulate(&mut src, &mut st),
            Err(Error::Shape { .. })
        ));
        let bad_w = [1.0f32, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert!(SliceSource::new(xr, None, Some(&bad_w)).is_err());
        let mut nan = x.clone();
        nan[4 * 7 + 2] = f32::NAN;
        let nr = RowsRef::new(&nan, 10, 4).unwrap();
        let mut src = SliceSource::new(nr, None, None).unwrap();
        let mut st = GramStats::new(4, 0);
        match b.gram_accumulate(&mut src, &mut st) {
            Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (7, 2)),
            other => panic!("expected NonFinite, got {other:?}"),
        }
    });
}

#[test]
fn gemm_all_transposes_match_reference() {
    on_every_device("gemm", |b, tol| {
        let (m, n, k) = (67, 45, 129);
        for (op_a, op_b) in [
            (Op::N, Op::N),
            (Op::N, Op::T),
            (Op::T, Op::N),
            (Op::T, Op::T),
        ] {
            let (ar, ac) = if op_a == Op::N { (m, k) } else { (k, m) };
            let (br, bc) = if op_b == Op::N { (k, n) } else { (n, k) };
            let a = random(ar * ac, 5);
            let bb = random(br * bc, 6);
            let c0 = random(m * n, 7);
            let mut c = c0.clone();
            b.gemm(
                0.5,
                RowsRef::new(&a, ar, ac).unwrap(),
                op_a,
                RowsRef::new(&bb, br, bc).unwrap(),
                op_b,
                2.0,
                RowsMut::new(&mut c, m, n).unwrap(),
            )
            .unwrap();
            let am = if op_a == Op::N {
                dmat(&a, ar, ac)
            } else {
                dmat(&a, ar, ac).transpose()
            };
            let bm = if op_b == Op::N {
                dmat(&bb, br, bc)
            } else {
                dmat(&bb, br, bc).transpose()
            };
            let want = (am * bm) * 0.5 + dmat(&c0, m, n) * 2.0;
            let got: Vec<f64> = c.iter().map(|&v| v as f64).collect();
            assert_close("gemm", &got, &row_major(&want), tol.f32);
        }
        let a = random(12, 8);
        let mut c = vec![0f32; 9];
        let err = b.gemm(
            1.0,
            RowsRef::new(&a, 3, 4).unwrap(),
            Op::N,
            RowsRef::new(&a, 3, 4).unwrap(),
            Op::N,
            0.0,
            RowsMut::new(&mut c, 3, 3).unwrap(),
        );
        assert!(matches!(err, Err(Error::Shape { .. })));
    });
}

fn spd(n: usize, seed: u64) -> Vec<f64> {
    let g = dmat(&random(n * n, seed), n, n);
    row_major(&(g.transpose() * &g + DMatrix::identity(n, n) * n as f64 * 0.1))
}

#[test]
fn cholesky_solves_and_reports_pivot() {
    on_every_device("cholesky", |b, tol| {
        let n = 60;
        let a = spd(n, 9);
        let rhs: Vec<f64> = random(n * 3, 10).iter().map(|&v| v as f64).collect();
        let x = b
            .cholesky_solve(
                RowsRef::new(&a, n, n).unwrap(),
                RowsRef::new(&rhs, n, 3).unwrap(),
            )
            .unwrap();
        let want = dmat64(&a, n, n)
            .cholesky()
            .unwrap()
            .solve(&dmat64(&rhs, n, 3));
        assert_close("cholesky x", x.as_slice(), &row_major(&want), tol.f64);
        // diag(1, 2, -1, 3): the third pivot (index 2) fails.
        let mut bad = vec![0.0; 16];
        for (i, v) in [1.0, 2.0, -1.0, 3.0].into_iter().enumerate() {
            bad[i * 4 + i] = v;
        }
        let one = vec![1.0; 4];
        match b.cholesky_solve(
            RowsRef::new(&bad, 4, 4).unwrap(),
            RowsRef::new(&one, 4, 1).unwrap(),
        ) {
            Err(Error::NotPositiveDefinite { pivot, .. }) => assert_eq!(pivot, 2),
            other => panic!("expected NotPositiveDefinite, got {other:?}"),
        }
    });
}

#[test]
fn symmetric_eigen_matches_nalgebra() {
    on_every_device("sym_eigen", |b, tol| {
        let n = 48;
        let a = spd(n, 11);
        let e = b.sym_eigen(RowsRef::new(&a, n, n).unwrap()).unwrap();
        let mut want: Vec<f64> = dmat64(&a, n, n)
            .symmetric_eigen()
            .eigenvalues
            .iter()
            .copied()
            .collect();
        want.sort_by(|x, y| x.partial_cmp(y).unwrap());
        assert_close("eigenvalues", &e.values, &want, tol.f64);
        let v = dmat64(e.vectors.as_slice(), n, n);
        let d = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(e.values.clone()));
        assert_close(
            "V diag V^T",
            &row_major(&(&v * d * v.transpose())),
            &a,
            tol.f64,
        );
        assert_close(
            "V^T V",
            &row_major(&(v.transpose() * &v)),
            &row_major(&DMatrix::identity(n, n)),
            tol.f64,
        );
    });
}

#[test]
fn thin_svd_matches_nalgebra_both_orientations() {
    on_every_device("svd", |b, tol| {
        for (m, n) in [(50, 20), (20, 50), (33, 33)] {
            let a: Vec<f64> = random(m * n, 12 + m as u64)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let s = b.svd(RowsRef::new(&a, m, n).unwrap()).unwrap();
            let p = m.min(n);
            assert_eq!((s.u.shape(), s.s.len(), s.vt.shape()), ((m, p), p, (p, n)));
            let want: Vec<f64> = dmat64(&a, m, n).singular_values().iter().copied().collect();
            assert_close("singular values", &s.s, &want, tol.f64);
            assert!(s.s.windows(2).all(|w| w[0] >= w[1]));
            let u = dmat64(s.u.as_slice(), m, p);
            let vt = dmat64(s.vt.as_slice(), p, n);
            let d = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(s.s.clone()));
            assert_close("U S V^T", &row_major(&(u * d * vt)), &a, tol.f64);
        }
    });
}

/// Brute-force top-k with the crate's tie rule.
fn brute_topk(
    q: &[f32],
    x: &[f32],
    d: usize,
    k: usize,
    ex: Option<&Exclusions>,
) -> Vec<Vec<(f32, usize)>> {
    let m = x.len() / d;
    q.chunks(d)
        .enumerate()
        .map(|(i, qr)| {
            let mut all: Vec<(f32, usize)> = (0..m)
                .filter(|j| ex.is_none_or(|e| !e.rows_of(i).contains(j)))
                .map(|j| {
                    let s: f32 = qr
                        .iter()
                        .zip(&x[j * d..(j + 1) * d])
                        .map(|(a, b)| a * b)
                        .sum();
                    (s, j)
                })
                .collect();
            all.sort_by(|a, b| {
                if ranks_before(a.0, a.1, b.0, b.1) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            all.truncate(k);
            all
        })
        .collect()
}

/// Compare a search result with brute force: same indices where scores are clearly apart,
/// scores within `tol`, rank order by the tie rule.
fn check_topk(got: &TopK, want: &[Vec<(f32, usize)>], tol: f32) {
    for (i, w) in want.iter().enumerate() {
        let (s, idx) = got.row(i);
        assert_eq!(s.len(), w.len(), "row {i}: result count");
        for j in 0..s.len() {
            assert!(
                (s[j] - w[j].0).abs() <= tol,
                "row {i} rank {j}: score {} vs {}",
                s[j],
                w[j].0
            );
            if j > 0 {
                assert!(
                    ranks_before(s[j - 1], idx[j - 1], s[j], idx[j]),
                    "row {i}: rank order at {j}"
                );
            }
        }
        if tol == 0.0 {
            assert_eq!(
                idx,
                w.iter().map(|p| p.1).collect::<Vec<_>>().as_slice(),
                "row {i}: indices"
            );
        }
    }
}

#[test]
fn search_matches_brute_force_with_ties_exclusions_and_large_k() {
    on_every_device("search", |b, _| {
        let (q, m, d) = (37, 9_001, 24);
        // Quantized values make many exact score ties.
        let quant = |v: Vec<f32>| {
            v.into_iter()
                .map(|x| (x * 4.0).round() / 4.0)
                .collect::<Vec<_>>()
        };
        let qs = quant(random(q * d, 13));
        let xs = quant(random(m * d, 14));
        let ex = Exclusions::per_query((0..q).map(|i| vec![i, i * 3 + 1, m - 1 - i]).collect());
        let qr = RowsRef::new(&qs, q, d).unwrap();
        let xr = RowsRef::new(&xs, m, d).unwrap();
        // Quarter-integer inputs make every product and sum exact in f32: every backend
        // must agree bit for bit, ties included.
        let exact = 0.0;
        for k in [1, 7, 300, 3_000] {
            for exs in [None, Some(&ex)] {
                let got = b.search(qr, xr, k, exs).unwrap();
                check_topk(&got, &brute_topk(&qs, &xs, d, k, exs), exact);
            }
        }
        // k > m returns m.
        let small = RowsRef::new(&xs[..5 * d], 5, d).unwrap();
        let got = b.search(qr, small, 10, None).unwrap();
        assert_eq!(got.k(), 5);
        assert!((0..q).all(|i| got.len(i) == 5));
        assert!(matches!(
            b.search(qr, xr, 0, None),
            Err(Error::InvalidArgument { .. })
        ));
        let bad = Exclusions::per_query(vec![vec![m]; q]);
        assert!(matches!(
            b.search(qr, xr, 3, Some(&bad)),
            Err(Error::IndexOutOfRange { .. })
        ));
    });
}

#[test]
fn topk_merge_skips_nan_and_keeps_lower_index_on_ties() {
    on_every_device("topk_merge", |b, _| {
        let mut st = TopK::new(2, 3, 100).unwrap();
        let t1 = [
            0.5f32,
            f32::NAN,
            0.5,
            0.9,
            /* row 1 */ 0.1,
            0.2,
            0.3,
            0.4,
        ];
        b.topk_merge(RowsRef::new(&t1, 2, 4).unwrap(), 10, None, &mut st)
            .unwrap();
        let t2 = [
            0.5f32,
            0.95,
            f32::NAN,
            0.0,
            /* row 1 */ 0.4,
            0.4,
            f32::NAN,
            0.1,
        ];
        let ex = Exclusions::per_query(vec![vec![], vec![20]]);
        b.topk_merge(RowsRef::new(&t2, 2, 4).unwrap(), 20, Some(&ex), &mut st)
            .unwrap();
        assert_eq!(
            st.row(0),
            (&[0.95f32, 0.9, 0.5][..], &[21usize, 13, 10][..])
        );
        assert_eq!(st.row(1), (&[0.4f32, 0.4, 0.3][..], &[13usize, 21, 12][..]));
        let all_nan = [f32::NAN; 4];
        let mut st = TopK::new(1, 2, 4).unwrap();
        b.topk_merge(RowsRef::new(&all_nan, 1, 4).unwrap(), 0, None, &mut st)
            .unwrap();
        assert_eq!(st.len(0), 0);
    });
}

#[test]
fn normalize_names_the_first_zero_row() {
    on_every_device("normalize", |b, tol| {
        let (n, d) = (1000, 17);
        let mut x = random(n * d, 15);
        let want: Vec<f64> = x
            .chunks(d)
            .flat_map(|r| {
                let norm = r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
                r.iter().map(move |&v| v as f64 / norm).collect::<Vec<_>>()
            })
            .collect();
        b.normalize_rows(RowsMut::new(&mut x, n, d).unwrap(), "x", 0)
            .unwrap();
        let got: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        assert_close("normalized", &got, &want, tol.f32);
        for r in [700, 300] {
            x[r * d..(r + 1) * d].iter_mut().for_each(|v| *v = 0.0);
        }
        match b.normalize_rows(RowsMut::new(&mut x, n, d).unwrap(), "x", 5000) {
            Err(Error::ZeroVector { row, .. }) => assert_eq!(row, 5300),
            other => panic!("expected ZeroVector, got {other:?}"),
        }
        x[400 * d + 3] = f32::INFINITY;
        x[300 * d..301 * d].iter_mut().for_each(|v| *v = 1.0);
        x[700 * d..701 * d].iter_mut().for_each(|v| *v = 1.0);
        match b.normalize_rows(RowsMut::new(&mut x, n, d).unwrap(), "x", 0) {
            Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (400, 3)),
            other => panic!("expected NonFinite, got {other:?}"),
        }
    });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Random shapes, k and exclusions; small integer data makes ties common and the
        /// arithmetic exact, so every backend must match brute force exactly.
        #[test]
        fn search_equals_brute_force(
            q in 1usize..9, m in 1usize..700, d in 1usize..9, k in 1usize..800,
            seed in 0u64..1000, excl in 0usize..4,
        ) {
            let ints = |v: Vec<f32>| v.into_iter().map(|x| (x * 3.0).round()).collect::<Vec<_>>();
            let qs = ints(random(q * d, seed));
            let xs = ints(random(m * d, seed + 1));
            let ex = Exclusions::per_query((0..q).map(|i| (0..excl).map(|j| (i * 7 + j * 13) % m).collect()).collect());
            let want = brute_topk(&qs, &xs, d, k, Some(&ex));
            for (b, _) in backends() {
                let got = b
                    .search(RowsRef::new(&qs, q, d).unwrap(), RowsRef::new(&xs, m, d).unwrap(), k, Some(&ex))
                    .unwrap();
                check_topk(&got, &want, 0.0);
            }
        }
    }
}

#[test]
fn signed_zero_ties_by_index_for_small_and_large_k() {
    on_every_device("signed zeros", |b, _| {
        let mut tile = vec![-1.0f32; 3000];
        tile[5] = 0.0;
        tile[2] = -0.0;
        tile[2999] = 0.0;
        for k in [3, 1500] {
            let mut st = TopK::new(1, k, 3000).unwrap();
            b.topk_merge(RowsRef::new(&tile, 1, 3000).unwrap(), 0, None, &mut st)
                .unwrap();
            let (s, i) = st.row(0);
            assert_eq!(&i[..3], &[2, 5, 2999], "k = {k}");
            assert!(s[..3].iter().all(|&v| v == 0.0));
            // Then the -1 entries by index.
            assert_eq!(&i[3..k.min(6)], &[0usize, 1, 3][..k.min(6) - 3]);
        }
    });
}
