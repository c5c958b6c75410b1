//! Every backend primitive, written once and run on every available device.
//!
//! The CPU backend always runs; CUDA runs when the crate is built with `cuda`/`cuda-13` and a
//! device is usable. Without one the CUDA part is SKIPPED loudly on stderr, and FAILS when
//! `RECAP_REQUIRE_GPU=1`. References: nalgebra (f64) and brute force.

use std::sync::Arc;

use nalgebra::DMatrix;
use recap::backend::{
    ranks_before, Backend, Base, CpuBackend, Device, Exclusion, GramPrecision, GramStats, Matches,
    Op, RowsMut, RowsRef, SearchTuning, StoredRows,
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

/// The backends to test with their tolerances: the CPU (tuned, and portable: the faer Gram
/// path forced even on an AVX-512 machine) always, CUDA device 0 when usable.
fn backends() -> Vec<(Arc<dyn Backend>, Tol)> {
    let mut out: Vec<(Arc<dyn Backend>, Tol)> = vec![
        (Device::Cpu.resolve().unwrap(), CPU_TOL),
        (Arc::new(CpuBackend::portable()), CPU_TOL),
    ];
    if let Some(b) = cuda() {
        out.push((b, CUDA_TOL));
    }
    out
}

/// CUDA device 0, opened once per test binary (the skip is recorded once, not per call).
fn cuda() -> Option<Arc<dyn Backend>> {
    static CUDA: std::sync::OnceLock<Option<Arc<dyn Backend>>> = std::sync::OnceLock::new();
    CUDA.get_or_init(|| {
        let require = std::env::var("RECAP_REQUIRE_GPU").is_ok_and(|v| v == "1");
        match Device::Cuda(0).resolve() {
            Ok(b) => Some(b),
            Err(e) if require => panic!("RECAP_REQUIRE_GPU=1 but no CUDA device: {e}"),
            Err(e) => {
                recap::testing::skip(&format!(
                    "backend parity on CUDA (every test of backend_parity): {e}"
                ));
                None
            }
        }
    })
    .clone()
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

/// f64 reference of the statistics a chunk adds: `Σ w x xᵀ`, `Σ x yᵀ`, `Σ w x`, `Σ w x²`.
fn reference_stats(
    x: &[f32],
    y: &[f32],
    w: &[f64],
    (n, dx, dy): (usize, usize, usize),
) -> [Vec<f64>; 4] {
    let xm = dmat(x, n, dx);
    let mut xs = xm.clone();
    for (i, wi) in w.iter().enumerate() {
        xs.row_mut(i).scale_mut(*wi);
    }
    let xtx = row_major(&(xm.transpose() * &xs));
    let xty = row_major(&(xm.transpose() * dmat(y, n, dy)));
    let sum_x = (0..dx)
        .map(|j| (0..n).map(|i| w[i] * xm[(i, j)]).sum())
        .collect();
    let sq_x = (0..dx)
        .map(|j| (0..n).map(|i| w[i] * xm[(i, j)].powi(2)).sum())
        .collect();
    [xtx, xty, sum_x, sq_x]
}

/// An owned handle on the backend under test (the helpers hand out `&dyn Backend`).
fn clone_backend(b: &dyn Backend) -> Arc<dyn Backend> {
    backends()
        .into_iter()
        .map(|(a, _)| a)
        .find(|a| a.name() == b.name())
        .expect("the backend under test is listed")
}

#[test]
fn gram_chunks_match_nalgebra_for_pairs_and_grouped_images() {
    on_every_device("gram", |b, tol| {
        let (n, dx, dy) = (3000, 37, 29);
        let x: Vec<f32> = random(n * dx, 1).iter().map(|v| v + 0.7).collect();
        let y = random(n * dy, 2);
        let counts: Vec<u32> = (0..n).map(|i| (i % 5) as u32).collect();
        for precision in [GramPrecision::F32, GramPrecision::F64] {
            // f32 products of shifted chunks: ~1e-7 relative; f64 products: f64 rounding.
            let rel = match precision {
                GramPrecision::F32 => 2e-6,
                GramPrecision::F64 => tol.gram.max(1e-12),
            };
            let mut plain = GramStats::new(dx, dy, true)
                .with_precision(precision)
                .on(clone_backend(b));
            let mut grouped = plain.clone();
            for c0 in (0..n).step_by(1024) {
                let r = 1024.min(n - c0);
                let (xc, yc) = (&x[c0 * dx..(c0 + r) * dx], &y[c0 * dy..(c0 + r) * dy]);
                plain.accumulate(xc, yc, r).unwrap();
                grouped
                    .accumulate_images(xc, &counts[c0..c0 + r], yc, r)
                    .unwrap();
            }
            let ones = vec![1.0; n];
            let w: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            for (what, st, weights) in [("pairs", &plain, &ones), ("images", &grouped, &w)] {
                let [xtx, xty, sx, qx] = reference_stats(&x, &y, weights, (n, dx, dy));
                let label = |m: &str| format!("{what} {precision:?} {m}");
                assert_close(&label("XᵀX"), st.xtx().unwrap().as_slice(), &xtx, rel);
                assert_close(&label("XᵀY"), st.xty().as_slice(), &xty, rel);
                assert_close(&label("Σx"), st.sum_x(), &sx, rel);
                assert_close(&label("Σx²"), st.sq_x(), &qx, rel);
            }
            assert_eq!(plain.n(), n as u64);
            assert_eq!(grouped.n(), counts.iter().map(|&c| c as u64).sum::<u64>());
        }
    });
}

#[test]
fn gram_rejects_bad_shapes_and_names_non_finite_rows() {
    on_every_device("gram errors", |b, _| {
        let mut st = GramStats::new(4, 3, true).on(clone_backend(b));
        assert!(matches!(
            st.accumulate(&[0.0; 8], &[0.0; 3], 2),
            Err(Error::Shape { .. })
        ));
        let mut x = random(40, 3);
        x[4 * 4 + 1] = f32::NAN;
        let y = random(30, 4);
        if st.checks_finite() {
            match st.accumulate(&x, &y, 10) {
                Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (4, 1)),
                other => panic!("expected NonFinite, got {other:?}"),
            }
            assert_eq!(st.n(), 0, "nothing is added from a chunk with a NaN");
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
    ex: Option<&Exclusion>,
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

/// Compare a search result with brute force: scores within `tol`, rank order by the tie
/// rule, padding (-1, -inf) after the matches, and (`tol = 0`) the same indices.
fn check_topk(got: &Matches, want: &[Vec<(f32, usize)>], tol: f32) {
    for (i, w) in want.iter().enumerate() {
        let row: Vec<(usize, f32)> = got.row(i).collect();
        assert_eq!(row.len(), w.len(), "row {i}: result count");
        for j in 0..row.len() {
            assert!(
                (row[j].1 - w[j].0).abs() <= tol,
                "row {i} rank {j}: score {} vs {}",
                row[j].1,
                w[j].0
            );
            if j > 0 {
                assert!(
                    ranks_before(row[j - 1].1, row[j - 1].0, row[j].1, row[j].0),
                    "row {i}: rank order at {j}"
                );
            }
        }
        for j in row.len()..got.indices.cols() {
            assert_eq!(got.indices.row(i)[j], -1, "row {i}: padding index");
            assert_eq!(got.scores.row(i)[j], f32::NEG_INFINITY, "row {i}: padding");
        }
        if tol == 0.0 {
            let idx: Vec<usize> = row.iter().map(|p| p.0).collect();
            let want_idx: Vec<usize> = w.iter().map(|p| p.1).collect();
            assert_eq!(idx, want_idx, "row {i}: indices");
        }
    }
}

fn base(x: &[f32], d: usize) -> Base<'_> {
    Base {
        rows: StoredRows::F32(x),
        dim: d,
    }
}

fn search(
    b: &dyn Backend,
    q: &[f32],
    x: &[f32],
    d: usize,
    k: usize,
    ex: Option<&Exclusion>,
) -> recap::Result<Matches> {
    let qr = RowsRef::new(q, q.len() / d, d)?;
    b.search(qr, base(x, d), k, ex, &SearchTuning::default())
}

#[test]
fn search_matches_brute_force_with_ties_exclusions_and_large_k() {
    on_every_device("search", |b, _| {
        // Small integers: exact arithmetic on every device, many ties.
        let (q, m, d) = (37, 5000, 12);
        let ints = |v: Vec<f32>| v.into_iter().map(|x| (x * 2.0).round()).collect::<Vec<_>>();
        let qs = ints(random(q * d, 21));
        let xs = ints(random(m * d, 22));
        let ex = Exclusion::per_query((0..q).map(|i| vec![i, (i * 31) % m, 4999]).collect());
        for k in [1, 7, 100, 4096] {
            for exs in [None, Some(&ex)] {
                let got = search(b, &qs, &xs, d, k, exs).unwrap();
                check_topk(&got, &brute_topk(&qs, &xs, d, k, exs), 0.0);
            }
        }
        let got = search(b, &qs, &xs[..3 * d], d, 10, None).unwrap();
        assert_eq!(got.indices.cols(), 3, "k > m returns m columns");
        assert!(matches!(
            search(b, &qs, &xs, d, 0, None),
            Err(Error::InvalidArgument { .. })
        ));
        let bad = Exclusion::per_query(vec![vec![m]; q]);
        assert!(search(b, &qs, &xs, d, 3, Some(&bad)).is_err());
    });
}

#[test]
fn first_hit_ranks_match_brute_force() {
    on_every_device("ranks", |b, _| {
        let (q, m, d) = (23, 3000, 8);
        let ints = |v: Vec<f32>| v.into_iter().map(|x| (x * 2.0).round()).collect::<Vec<_>>();
        let qs = ints(random(q * d, 31));
        let xs = ints(random(m * d, 32));
        let hits: Vec<Vec<usize>> = (0..q)
            .map(|i| vec![(i * 97) % m, (i * 13 + 5) % m])
            .collect();
        let hit_refs: Vec<&[usize]> = hits.iter().map(|h| &h[..]).collect();
        let qr = RowsRef::new(&qs, q, d).unwrap();
        let got = b.first_hit_ranks(qr, base(&xs, d), &hit_refs).unwrap();
        let all = brute_topk(&qs, &xs, d, m, None);
        for i in 0..q {
            let rank = all[i].iter().position(|p| hits[i].contains(&p.1)).unwrap() + 1;
            assert_eq!(got[i], Some(rank), "query {i}");
        }
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
            let ex = Exclusion::per_query((0..q).map(|i| (0..excl).map(|j| (i * 7 + j * 13) % m).collect()).collect());
            let want = brute_topk(&qs, &xs, d, k, Some(&ex));
            for (b, _) in backends() {
                let got = search(b.as_ref(), &qs, &xs, d, k, Some(&ex)).unwrap();
                check_topk(&got, &want, 0.0);
            }
        }
    }
}

#[test]
fn signed_zero_ties_by_index_for_small_and_large_k() {
    on_every_device("signed zeros", |b, _| {
        // The query 1 against rows scoring -1, except rows 2 (-0), 5 and 2999 (+0).
        let mut xs = vec![-1.0f32; 3000];
        xs[5] = 0.0;
        xs[2] = -0.0;
        xs[2999] = 0.0;
        for k in [3, 1500] {
            let got = search(b, &[1.0], &xs, 1, k, None).unwrap();
            let idx = got.indices.row(0);
            assert_eq!(&idx[..3], &[2, 5, 2999], "k = {k}");
            assert!(got.scores.row(0)[..3].iter().all(|&v| v == 0.0));
            // Then the -1 entries by index.
            assert_eq!(&idx[3..k.min(6)], &[0i64, 1, 3][..k.min(6) - 3]);
        }
    });
}
