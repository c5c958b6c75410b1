//! Exact blocked search vs a brute-force reference (f64 scores, full sort, same tie rule).

use proptest::prelude::*;
use recap::retrieve::{Datastore, Exclusion, Matches, SearchOptions, Storage};
use recap::{Error, RowMatrix};

/// Brute force: all scores in f64, full sort by (score desc, index asc), excluded rows
/// skipped, first `k` kept.
fn brute_force(
    data: &RowMatrix<f32>,
    queries: &RowMatrix<f32>,
    k: usize,
    ex: Option<&Exclusion>,
) -> Vec<Vec<(usize, f64)>> {
    (0..queries.rows())
        .map(|i| {
            let q = queries.row(i);
            let skip = ex.map(|e| e.rows_of(i)).unwrap_or(&[]);
            let mut all: Vec<(usize, f64)> = (0..data.rows())
                .filter(|r| skip.binary_search(r).is_err())
                .map(|r| {
                    let s = q
                        .iter()
                        .zip(data.row(r))
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum();
                    (r, s)
                })
                .collect();
            all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
            all.truncate(k);
            all
        })
        .collect()
}

/// Small-integer multiples of 1/4: every product and partial sum is exact in f32, so the
/// blocked f32 search must equal the f64 reference exactly, ties included (and ties are
/// frequent).
fn quantized(rows: usize, cols: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..rows * cols)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 5) as f32 * 0.25 - 0.5
        })
        .collect();
    RowMatrix::from_vec(rows, cols, data).unwrap()
}

fn gaussianish(rows: usize, cols: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed ^ 0x9E3779B97F4A7C15;
    let data = (0..rows * cols)
        .map(|_| {
            let mut acc = 0f32;
            for _ in 0..4 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                acc += (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            acc
        })
        .collect();
    RowMatrix::from_vec(rows, cols, data).unwrap()
}

fn assert_exact(got: &Matches, want: &[Vec<(usize, f64)>], k: usize) {
    for (i, w) in want.iter().enumerate() {
        assert_eq!(got.indices.cols(), k);
        assert_eq!(got.count(i), w.len(), "query {i}");
        for (c, &(idx, s)) in w.iter().enumerate() {
            assert_eq!(got.indices.row(i)[c], idx as i64, "query {i} rank {c}");
            assert_eq!(got.scores.row(i)[c] as f64, s, "query {i} rank {c}");
        }
        for c in w.len()..k {
            assert_eq!(got.indices.row(i)[c], -1);
            assert_eq!(got.scores.row(i)[c], f32::NEG_INFINITY);
        }
    }
}

fn opts(block: usize, rows: usize) -> SearchOptions<'static> {
    SearchOptions {
        query_block: block,
        rows_per_task: rows,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tie_heavy_inner_product_is_exact(
        m in 1usize..300, q in 1usize..40, d in 1usize..24, k in 1usize..40,
        block in 1usize..50, rows in 0usize..200, seed in any::<u64>(),
    ) {
        let data = quantized(m, d, seed);
        let queries = quantized(q, d, seed.wrapping_add(1));
        let ds = Datastore::inner_product(data.clone(), Storage::F32).unwrap();
        let got = ds.search_with(&queries, k, &opts(block, rows)).unwrap();
        assert_exact(&got, &brute_force(&data, &queries, k, None), k.min(m));
    }

    #[test]
    fn exclusion_is_exact_and_never_returns_excluded(
        m in 1usize..200, q in 1usize..30, d in 1usize..16, k in 1usize..30,
        block in 1usize..40, rows in 0usize..100, seed in any::<u64>(), every in 1usize..5,
    ) {
        let data = quantized(m, d, seed);
        let queries = quantized(q, d, seed.wrapping_add(7));
        let lists = (0..q).map(|i| (0..m).filter(|r| (r + i) % every == 0).collect()).collect();
        let ex = Exclusion::per_query(lists);
        let ds = Datastore::inner_product(data.clone(), Storage::F32).unwrap();
        let o = SearchOptions { exclusion: Some(&ex), ..opts(block, rows) };
        let got = ds.search_with(&queries, k, &o).unwrap();
        let want = brute_force(&data, &queries, k, Some(&ex));
        assert_exact(&got, &want, k.min(m));
        for i in 0..q {
            prop_assert_eq!(got.count(i), k.min(m - ex.rows_of(i).len()));
            for (r, _) in got.row(i) {
                prop_assert!(ex.rows_of(i).binary_search(&r).is_err());
            }
        }
    }

    #[test]
    fn cosine_matches_f64_reference(
        m in 1usize..400, q in 1usize..30, d in 2usize..70, k in 1usize..20, seed in any::<u64>(),
    ) {
        let data = gaussianish(m, d, seed);
        let queries = gaussianish(q, d, seed.wrapping_add(3));
        let ds = Datastore::cosine(data, Storage::F32).unwrap();
        let unit = ds.to_f32();
        let mut qn = queries.clone();
        qn.l2_normalize_rows("q").unwrap();
        let got = ds.search(&queries, k).unwrap();
        let want = brute_force(&unit, &qn, m, None);
        let tol = 1e-6 * (d as f64).sqrt() + 1e-6;
        for (i, all) in want.iter().enumerate() {
            let kth = all[k.min(m) - 1].1;
            for (c, (r, s)) in got.row(i).enumerate() {
                let exact = all.iter().find(|x| x.0 == r).unwrap().1;
                prop_assert!((s as f64 - exact).abs() <= tol, "score off: {s} vs {exact}");
                // A returned row is in the exact top-k unless it ties the boundary within tol.
                prop_assert!(exact >= kth - 2.0 * tol, "rank {c}: row {r} not in top-k");
            }
            // Descending scores.
            let s = got.scores.row(i);
            prop_assert!(s.windows(2).all(|w| w[0] >= w[1]));
        }
    }
}

#[test]
fn identical_for_every_block_size_and_thread_count() {
    let data = gaussianish(1500, 48, 11);
    let queries = gaussianish(70, 48, 12);
    let ds = Datastore::cosine(data, Storage::F32).unwrap();
    let reference = ds.search(&queries, 9).unwrap();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for (block, rows) in [(1, 32), (13, 100), (64, 0), (70, 1500), (1000, 7)] {
            let o = SearchOptions {
                query_block: block,
                rows_per_task: rows,
                ..Default::default()
            };
            let got = pool.install(|| ds.search_with(&queries, 9, &o)).unwrap();
            assert_eq!(
                got, reference,
                "threads {threads} block {block} rows {rows}"
            );
        }
    }
}

#[test]
fn k_larger_than_m_returns_m_and_k_zero_is_error() {
    let ds = Datastore::cosine(gaussianish(5, 8, 1), Storage::F32).unwrap();
    let queries = gaussianish(3, 8, 2);
    let got = ds.search(&queries, 50).unwrap();
    assert_eq!(got.indices.shape(), (3, 5));
    for i in 0..3 {
        let mut rows: Vec<i64> = got.indices.row(i).to_vec();
        rows.sort();
        assert_eq!(rows, vec![0, 1, 2, 3, 4]);
    }
    assert!(matches!(
        ds.search(&queries, 0),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn zero_and_nan_queries_name_their_rows() {
    let ds = Datastore::cosine(gaussianish(20, 4, 1), Storage::F32).unwrap();
    let mut queries = gaussianish(5, 4, 2);
    queries.row_mut(3).fill(0.0);
    match ds.search(&queries, 2) {
        Err(Error::ZeroVector { row, .. }) => assert_eq!(row, 3),
        other => panic!("expected ZeroVector, got {other:?}"),
    }
    // A zero query is fine for the raw inner product (all scores 0, lowest rows first).
    let ip = Datastore::inner_product(gaussianish(20, 4, 1), Storage::F32).unwrap();
    let got = ip.search_with(&queries, 2, &opts(0, 0)).unwrap();
    assert_eq!(got.indices.row(3), &[0, 1]);
    queries.row_mut(1)[2] = f32::NAN;
    match ds.search(&queries, 2) {
        Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (1, 2)),
        other => panic!("expected NonFinite, got {other:?}"),
    }
}

#[test]
fn nan_or_zero_datastore_rows_are_rejected_at_build() {
    let mut data = gaussianish(10, 4, 1);
    data.row_mut(6)[1] = f32::NAN;
    match Datastore::cosine(data.clone(), Storage::F32) {
        Err(Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (6, 1)),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    data.row_mut(6).fill(0.0);
    match Datastore::cosine(data.clone(), Storage::F16) {
        Err(Error::ZeroVector { row, .. }) => assert_eq!(row, 6),
        other => panic!("expected ZeroVector, got {other:?}"),
    }
    // Inner product keeps zero rows (they score 0).
    assert!(Datastore::inner_product(data, Storage::F32).is_ok());
}
