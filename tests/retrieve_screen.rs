//! Screened search (int8 / bf16 screening, exact f32 rescoring) against the plain f32 search
//! (bit for bit: indices, scores, order, padding) and the f64 brute force, on random and
//! adversarial data: near-ties at the k-th score, duplicated rows, clusters where thousands of
//! rows fall inside the bound, rows of tiny and huge norm, f16 datastores, exclusion.

use proptest::prelude::*;
use recap::retrieve::{
    Datastore, Exclusion, Matches, Screen, ScreenMode, ScreenStats, SearchOptions, Storage,
};
use recap::RowMatrix;

fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

fn gaussianish(rows: usize, cols: usize, seed: u64) -> RowMatrix<f32> {
    let mut r = lcg(seed);
    let data = (0..rows * cols).map(|_| r() + r() + r() + r()).collect();
    RowMatrix::from_vec(rows, cols, data).unwrap()
}

/// The plain f32 search and each screened mode: identical results, every field.
fn check_modes(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    k: usize,
    ex: Option<&Exclusion>,
) -> Vec<ScreenStats> {
    let base = SearchOptions {
        exclusion: ex,
        ..Default::default()
    };
    check_modes_with(ds, queries, k, base)
}

fn check_modes_with(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    k: usize,
    base: SearchOptions<'_>,
) -> Vec<ScreenStats> {
    let (plain, none) = ds
        .search_report(queries, k, &base.screen(Screen::None))
        .unwrap();
    assert!(none.is_none());
    let mut stats = Vec::new();
    for screen in [Screen::Int8, Screen::Bf16, Screen::Auto] {
        let (got, st) = ds.search_report(queries, k, &base.screen(screen)).unwrap();
        assert_same(&got, &plain, screen);
        stats.extend(st);
    }
    stats
}

fn assert_same(got: &Matches, want: &Matches, screen: Screen) {
    assert_eq!(got.indices, want.indices, "{screen:?}: indices");
    let bits = |m: &Matches| {
        m.scores
            .as_slice()
            .iter()
            .map(|s| s.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(got), bits(want), "{screen:?}: scores");
}

/// f64 brute force: the top-k by f64 score; the f32 result must hold the same rows up to
/// near-ties (scores within `tol` of the k-th), in f64 order up to `tol`.
fn check_brute_force(
    data: &RowMatrix<f32>,
    queries: &RowMatrix<f32>,
    got: &Matches,
    normalize: bool,
) {
    let unit = |v: &[f32]| -> Vec<f64> {
        let n = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        v.iter()
            .map(|&x| if normalize { x as f64 / n } else { x as f64 })
            .collect()
    };
    for i in 0..queries.rows() {
        let q = unit(queries.row(i));
        let scores: Vec<f64> = (0..data.rows())
            .map(|r| unit(data.row(r)).iter().zip(&q).map(|(a, b)| a * b).sum())
            .collect();
        let mut order: Vec<usize> = (0..data.rows()).collect();
        order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap().then(a.cmp(&b)));
        let k = got.count(i);
        let kth = scores[order[k - 1]];
        let tol = 1e-5 * (1.0 + kth.abs());
        for (c, (idx, s)) in got.row(i).enumerate() {
            assert!((s as f64 - scores[idx]).abs() <= tol, "query {i} rank {c}");
            assert!(
                scores[idx] >= kth - tol,
                "query {i} rank {c}: row {idx} not in the top-k"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn screened_equals_plain_on_random_shapes(
        m in 1usize..260, q in 1usize..20, d in 1usize..40, k_frac in 0.0f64..1.2,
        seed in 0u64..1000, cosine in any::<bool>(), excl in any::<bool>(), f16 in any::<bool>(),
    ) {
        let data = gaussianish(m, d, seed);
        let queries = gaussianish(q, d, seed + 1);
        let k = ((k_frac * m as f64) as usize).max(1);
        let storage = if f16 { Storage::F16 } else { Storage::F32 };
        let ds = if cosine {
            Datastore::cosine(data.clone(), storage).unwrap()
        } else {
            Datastore::inner_product(data.clone(), storage).unwrap()
        };
        let ex = excl.then(|| {
            Exclusion::per_query((0..q).map(|i| (0..m).filter(|r| (r + i) % 3 == 0).collect()).collect())
        });
        check_modes(&ds, &queries, k, ex.as_ref());
        if !f16 && !excl {
            let found = ds.search(&queries, k).unwrap();
            check_brute_force(&data, &queries, &found, cosine);
        }
    }

    #[test]
    fn screened_equals_plain_on_near_ties_and_duplicates(
        m in 8usize..400, q in 1usize..8, d in 2usize..48, k in 1usize..20,
        eps_exp in 5i32..9, seed in 0u64..1000, dup in 1usize..6,
    ) {
        // Rows: a few base directions, each repeated `dup` times (exact ties) with
        // perturbations of 10^-eps_exp (near-ties far inside the bound).
        let bases = gaussianish(m.div_ceil(dup), d, seed);
        let noise = gaussianish(m, d, seed + 7);
        let eps = 10f32.powi(-eps_exp);
        let data: Vec<f32> = (0..m)
            .flat_map(|r| {
                let b = bases.row(r / dup);
                let n = noise.row(r);
                let jitter = if r % 2 == 0 { 0.0 } else { eps };
                b.iter().zip(n).map(move |(&x, &e)| x + jitter * e).collect::<Vec<_>>()
            })
            .collect();
        let data = RowMatrix::from_vec(m, d, data).unwrap();
        let queries = gaussianish(q, d, seed + 3);
        let ds = Datastore::cosine(data, Storage::F32).unwrap();
        check_modes(&ds, &queries, k, None);
    }
}

#[test]
fn clustered_rows_inside_the_bound_are_all_rescored() {
    // 3000 rows within 1e-5 of one direction: every one is a candidate for every query.
    let (m, d) = (3000, 64);
    let center = gaussianish(1, d, 11);
    let noise = gaussianish(m, d, 12);
    let data: Vec<f32> = (0..m)
        .flat_map(|r| {
            center
                .row(0)
                .iter()
                .zip(noise.row(r))
                .map(|(&c, &e)| c + 1e-5 * e)
                .collect::<Vec<_>>()
        })
        .collect();
    let data = RowMatrix::from_vec(m, d, data).unwrap();
    let queries = gaussianish(5, d, 13);
    let ds = Datastore::cosine(data, Storage::F32).unwrap();
    for k in [1, 7, 100] {
        let stats = check_modes(&ds, &queries, k, None);
        for s in &stats {
            assert!(s.rescored_mean > 1000.0, "{s:?}");
            assert!(s.rescored_max <= m);
        }
    }
}

#[test]
fn more_duplicates_than_the_candidate_cap_fall_back_to_the_plain_search() {
    let (m, d) = (recap::backend::SCREEN_CANDIDATE_CAP + 500, 4);
    let data = RowMatrix::from_vec(m, d, [0.5f32, -0.25, 1.0, 2.0].repeat(m)).unwrap();
    let queries = gaussianish(3, d, 5);
    let ds = Datastore::inner_product(data, Storage::F32).unwrap();
    // One task over all rows, so one candidate list per query sees every duplicate.
    let one_range = SearchOptions {
        rows_per_task: m,
        ..Default::default()
    };
    let stats = check_modes_with(&ds, &queries, 7, one_range);
    assert!(stats.iter().all(|s| s.plain_queries == 3), "{stats:?}");
    let found = ds.search(&queries, 7).unwrap();
    assert_eq!(found.indices.row(0), &[0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn tiny_and_huge_norms_and_exclusion_padding() {
    let (m, d, q) = (300, 24, 6);
    let mut data = gaussianish(m, d, 21);
    let scales = [1e-30f32, 1e-19, 1e-6, 1.0, 1e6, 1e17, 3e18];
    for r in 0..m {
        let s = scales[r % scales.len()];
        let row: Vec<f32> = data.row(r).iter().map(|&x| x * s).collect();
        data.as_mut_slice()[r * d..(r + 1) * d].copy_from_slice(&row);
    }
    let mut queries = gaussianish(q, d, 22);
    for (i, s) in [1e-25f32, 1.0, 1e10, 1e-3, 1e19, 1.0].iter().enumerate() {
        queries.as_mut_slice()[i * d..(i + 1) * d]
            .iter_mut()
            .for_each(|x| *x *= s);
    }
    let ds = Datastore::inner_product(data.clone(), Storage::F32).unwrap();
    // Query 5 may return only 4 rows: padding must match the plain search.
    let ex = Exclusion::per_query(
        (0..q)
            .map(|i| {
                if i == 5 {
                    (4..m).collect()
                } else {
                    vec![i, 2 * i]
                }
            })
            .collect(),
    );
    for k in [1, 5, 40, m] {
        check_modes(&ds, &queries, k, Some(&ex));
        check_modes(&ds, &queries, k, None);
    }
    let cos = Datastore::cosine(data, Storage::F32).unwrap();
    check_modes(&cos, &queries, 9, Some(&ex));
}

#[test]
fn f16_datastore_and_save_load_keep_the_screening_copies() {
    let (m, d) = (700, 48);
    let data = gaussianish(m, d, 31);
    let queries = gaussianish(20, d, 32);
    let ds = Datastore::cosine(data, Storage::F16).unwrap();
    check_modes(&ds, &queries, 10, None);
    assert!(ds.has_screen_copy(ScreenMode::Int8) && ds.has_screen_copy(ScreenMode::Bf16));
    let int8 = ds.screen_copy(ScreenMode::Int8).unwrap();
    // A quarter of the f32 bytes, plus 16 bytes of bound terms per (padded) row.
    let padded = m.div_ceil(32) * 32;
    assert!(int8.bytes() <= padded * (d + 16), "{}", int8.bytes());
    let dir = tempfile::tempdir().unwrap();
    ds.save(dir.path()).unwrap();
    let back = Datastore::load(dir.path()).unwrap();
    for mode in [ScreenMode::Int8, ScreenMode::Bf16] {
        assert!(back.has_screen_copy(mode));
        assert_eq!(
            back.screen_copy(mode).unwrap(),
            ds.screen_copy(mode).unwrap()
        );
    }
    check_modes(&back, &queries, 10, None);
    // A corrupted copy is an error, never a wrong bound.
    let path = dir.path().join("screen_int8.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert!(Datastore::load(dir.path()).is_err());
    std::fs::write(&path, &bytes[..100]).unwrap();
    assert!(Datastore::load(dir.path()).is_err());
}

#[test]
fn appended_rows_rebuild_the_copy_and_bad_input_is_an_error() {
    let d = 16;
    let mut ds = Datastore::cosine(gaussianish(100, d, 41), Storage::F32).unwrap();
    let queries = gaussianish(4, d, 42);
    check_modes(&ds, &queries, 3, None);
    // The appended rows are near-copies of the best row: they must show up.
    let best = ds.search(&queries, 1).unwrap().indices.row(0)[0] as usize;
    let copy = RowMatrix::from_vec(1, d, ds.row_f32(best).unwrap()).unwrap();
    ds.append(copy, None).unwrap();
    assert!(!ds.has_screen_copy(ScreenMode::Int8));
    check_modes(&ds, &queries, 3, None);
    let opts = SearchOptions::default().screen(Screen::Int8);
    assert!(ds.search_with(&queries, 0, &opts).is_err());
    assert!(ds.search_with(&gaussianish(2, d + 1, 1), 3, &opts).is_err());
    let mut nan = gaussianish(2, d, 1);
    nan.as_mut_slice()[5] = f32::NAN;
    assert!(ds.search_with(&nan, 3, &opts).is_err());
    let bad_ex = Exclusion::per_query(vec![vec![0]; 3]);
    assert!(ds
        .search_with(
            &queries,
            3,
            &SearchOptions {
                exclusion: Some(&bad_ex),
                ..opts
            }
        )
        .is_err());
    assert!("int4".parse::<Screen>().is_err());
}

#[test]
fn dimensions_of_the_amx_kernel_with_partial_query_tiles() {
    // d a multiple of 64 takes the AMX int8 kernel where the CPU has it (32-query tiles; 70
    // queries leave a partial one), near-duplicate rows put many rows inside the bound.
    for (d, seed) in [(64usize, 51u64), (128, 52), (192, 53)] {
        let m = 1500;
        let base = gaussianish(m / 10, d, seed);
        let noise = gaussianish(m, d, seed + 1);
        let data: Vec<f32> = (0..m)
            .flat_map(|r| {
                base.row(r % (m / 10))
                    .iter()
                    .zip(noise.row(r))
                    .map(|(&b, &e)| b + 1e-3 * e)
                    .collect::<Vec<_>>()
            })
            .collect();
        let data = RowMatrix::from_vec(m, d, data).unwrap();
        let queries = gaussianish(70, d, seed + 2);
        let ds = Datastore::cosine(data.clone(), Storage::F32).unwrap();
        let ex = Exclusion::per_query((0..70).map(|i| vec![i, i + 100, 1499]).collect());
        for k in [1, 7, 33] {
            let stats = check_modes(&ds, &queries, k, Some(&ex));
            assert!(stats.iter().all(|s| s.plain_queries == 0));
        }
        let found = ds.search(&queries, 7).unwrap();
        check_brute_force(&data, &queries, &found, true);
    }
}

#[test]
fn empty_queries_and_tiny_datastores() {
    let d = 64;
    let ds = Datastore::inner_product(gaussianish(3, d, 61), Storage::F32).unwrap();
    check_modes(&ds, &RowMatrix::from_vec(0, d, vec![]).unwrap(), 5, None);
    check_modes(&ds, &gaussianish(2, d, 62), 5, None);
    let zero_query = RowMatrix::from_vec(1, d, vec![0.0; d]).unwrap();
    let stats = check_modes(&ds, &zero_query, 2, None);
    assert!(stats.iter().all(|s| s.plain_queries == 1), "{stats:?}");
    if let Ok(empty) =
        Datastore::inner_product(RowMatrix::from_vec(0, d, vec![]).unwrap(), Storage::F32)
    {
        check_modes(&empty, &gaussianish(2, d, 63), 3, None);
    }
}
