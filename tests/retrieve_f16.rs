//! f16 storage: stated tolerance against the f32 datastore.
//!
//! Rule (documented on `Storage::F16`): rows are unit-norm before rounding and every value
//! is rounded to the nearest f16 (relative error ≤ 2⁻¹¹, absolute ≤ 2⁻²⁵ in the subnormal
//! range), so by Cauchy–Schwarz a cosine score moves by at most 2⁻¹¹ plus f32 rounding:
//! `tol = 2⁻¹¹ + 1e-6·√d`. Every f16 score is within `tol` of the f32 score of the same row,
//! and every returned row is in the exact top-k unless its exact score is within `2·tol`
//! of the exact k-th score (a near-tie).

use proptest::prelude::*;
use recap::retrieve::{Datastore, SearchOptions, Storage};
use recap::RowMatrix;

fn rows(n: usize, d: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed | 1;
    let data = (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    RowMatrix::from_vec(n, d, data).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn f16_within_stated_tolerance(
        m in 1usize..500, q in 1usize..20, d in 2usize..100, k in 1usize..15, seed in any::<u64>(),
    ) {
        let data = rows(m, d, seed);
        let queries = rows(q, d, seed.wrapping_add(5));
        let f32s = Datastore::cosine(data.clone(), Storage::F32).unwrap();
        let f16s = Datastore::cosine(data, Storage::F16).unwrap();
        prop_assert_eq!(f16s.embedding_bytes() * 2, f32s.embedding_bytes());
        let opts = SearchOptions::default();
        let all = f32s.search_with(&queries, m, &opts).unwrap();
        let got = f16s.search_with(&queries, k, &opts).unwrap();
        let tol = 2f64.powi(-11) + 1e-6 * (d as f64).sqrt();
        for i in 0..q {
            let exact: Vec<(usize, f32)> = all.row(i).collect();
            let kth = exact[k.min(m) - 1].1 as f64;
            prop_assert_eq!(got.count(i), k.min(m));
            for (r, s) in got.row(i) {
                let e = exact.iter().find(|x| x.0 == r).unwrap().1 as f64;
                prop_assert!((s as f64 - e).abs() <= tol, "score {s} vs f32 {e}");
                prop_assert!(e >= kth - 2.0 * tol, "row {r} outside the top-k");
            }
        }
    }
}

#[test]
fn f16_is_deterministic_across_blocks_and_threads() {
    let ds = Datastore::cosine(rows(900, 40, 3), Storage::F16).unwrap();
    let queries = rows(33, 40, 4);
    let reference = ds.search(&queries, 6).unwrap();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for (block, rows) in [(1, 32), (7, 64), (33, 900)] {
            let o = SearchOptions {
                query_block: block,
                rows_per_task: rows,
                ..Default::default()
            };
            assert_eq!(
                pool.install(|| ds.search_with(&queries, 6, &o)).unwrap(),
                reference
            );
        }
    }
}
