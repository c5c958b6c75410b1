//! The screening bound holds for every pair (checked in f64 against the crate's f32 score),
//! and the SIMD screening kernels equal their scalar references.

use recap::retrieve::{Datastore, ScreenMode, Storage};
use recap::testing::screen::{bf16_tiles, epilogues, int8_tiles, pair, TILE};
use recap::RowMatrix;

fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed ^ 0x2545_F491_4F6C_DD1D;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// The crate's f32 score: one FMA chain over the dimension from zero.
fn f32_score(q: &[f32], x: &[f32]) -> f32 {
    q.iter().zip(x).fold(0f32, |s, (&a, &b)| a.mul_add(b, s))
}

/// Random and adversarial vectors of dimension `d`.
fn vectors(d: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut r = lcg(seed);
    let mut out = Vec::new();
    let gauss = |r: &mut dyn FnMut() -> f32| (0..d).map(|_| r() + r() + r()).collect::<Vec<_>>();
    for scale in [1.0f32, 1e-3, 1e3, 1e-17, 1e17, 1e-35] {
        out.push(gauss(&mut r).iter().map(|x| x * scale).collect());
    }
    // One spike: int8 rounds every other component to zero.
    let mut spike = gauss(&mut r).iter().map(|x| x * 1e-3).collect::<Vec<_>>();
    spike[d / 2] = 40.0;
    out.push(spike);
    // Constant, alternating, half-way values (ties in rounding), denormal components.
    out.push(vec![0.3; d]);
    out.push(
        (0..d)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect(),
    );
    out.push((0..d).map(|i| (i as f32 + 0.5) / 127.0).collect());
    out.push(
        (0..d)
            .map(|i| 1.0 + (i % 7) as f32 * f32::EPSILON * 64.0)
            .collect(),
    );
    let mut den = gauss(&mut r);
    for (i, v) in den.iter_mut().enumerate() {
        if i % 3 == 0 {
            *v = 1e-40;
        }
    }
    out.push(den);
    out
}

#[test]
fn the_bound_holds_on_random_and_adversarial_pairs() {
    let mut checked = 0;
    for d in [1usize, 2, 3, 5, 17, 64, 255, 768] {
        let vs = vectors(d, d as u64);
        for (a, q) in vs.iter().enumerate() {
            for (b, x) in vs.iter().enumerate() {
                let s = f32_score(q, x);
                let exact: f64 = q.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
                for mode in [ScreenMode::Int8, ScreenMode::Bf16] {
                    for simd in [true, false] {
                        let Some((s_hat, bnd)) = pair(q, x, mode, simd) else {
                            continue;
                        };
                        // What the search compares: fl(ŝ ± B), evaluated like the search.
                        let (lower, upper) = ((s_hat - bnd) as f64, (s_hat + bnd) as f64);
                        let ctx = format!(
                            "d {d} q {a} x {b} {mode:?} simd {simd}: s {s} ŝ {s_hat} B {bnd}"
                        );
                        assert!(lower <= s as f64 && s as f64 <= upper, "{ctx}");
                        assert!(lower <= exact && exact <= upper, "{ctx} exact {exact}");
                        assert!(bnd >= 0.0 && s_hat.is_finite(), "{ctx}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}

#[test]
fn the_bound_is_tight_enough_to_screen_unit_vectors() {
    // For unit vectors at d = 768 the bound must be far below the spread of scores
    // (else nothing is screened out): int8 ≤ 0.03, bf16 ≤ 0.005.
    let d = 768;
    let mut r = lcg(5);
    let mut unit = || {
        let v: Vec<f32> = (0..d).map(|_| r() + r() + r()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    for _ in 0..20 {
        let (q, x) = (unit(), unit());
        let (_, b8) = pair(&q, &x, ScreenMode::Int8, true).unwrap();
        let (_, b16) = pair(&q, &x, ScreenMode::Bf16, true).unwrap();
        assert!(b8 < 0.03 && b16 < 0.005, "{b8} {b16}");
    }
}

#[test]
fn the_reference_score_is_the_plain_search_score() {
    for d in [3usize, 64, 768] {
        let vs = vectors(d, 99);
        let rows = RowMatrix::from_vec(vs.len(), d, vs.concat()).unwrap();
        let ds = Datastore::inner_product(rows, Storage::F32).unwrap();
        let q = RowMatrix::from_vec(1, d, vs[0].clone()).unwrap();
        let opts = recap::retrieve::SearchOptions::default().screen(recap::retrieve::Screen::None);
        let found = ds.search_with(&q, vs.len(), &opts).unwrap();
        for (idx, s) in found.row(0) {
            assert_eq!(
                s.to_bits(),
                f32_score(&vs[0], &vs[idx]).to_bits(),
                "d {d} row {idx}"
            );
        }
    }
}

fn words(n: usize, seed: u64) -> Vec<u32> {
    let mut s = seed.wrapping_add(17);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 32) as u32
        })
        .collect()
}

#[test]
fn simd_kernels_equal_their_scalar_references() {
    let (vnni, bf16, _) = recap::testing::screen::simd_kernels();
    if !vnni {
        recap::testing::skip("int8 VNNI tile vs portable: no AVX512-VNNI (portable vs itself)");
    }
    if !bf16 {
        recap::testing::skip(
            "bf16 tile vs portable: no AVX512-BF16 (the exact-sum check still runs)",
        );
    }
    let (mr, nr) = TILE;
    for groups in [1usize, 2, 7, 192] {
        let a = words(groups * mr, groups as u64);
        let b = words(groups * nr, 1000 + groups as u64);
        // int8: exact integers, so bit-identical (extreme bytes included).
        let (x, y) = int8_tiles(groups, &a, &b);
        assert_eq!(x, y, "int8 groups {groups}");
        let ext_a = vec![0xFFFF_FFFFu32; groups * mr];
        let ext_b = vec![0x8181_8181u32; groups * nr];
        let (x, y) = int8_tiles(groups, &ext_a, &ext_b);
        assert_eq!(x, y);
        assert_eq!(x[0], -255 * 127 * 4 * groups as i32);
        // bf16: finite bf16 pairs (exponent bits limited); both within γ of the exact sum.
        let fin = |w: &u32| w & 0x3FFF_3FFF | 0x3C00_3C00 & !(w & 0x8000_8000) | w & 0x8000_8000;
        let a16: Vec<u32> = a.iter().map(fin).collect();
        let b16: Vec<u32> = b.iter().map(fin).collect();
        let (x, y) = bf16_tiles(groups, &a16, &b16);
        let half =
            |w: u32, hi: bool| f32::from_bits(if hi { w & 0xFFFF_0000 } else { w << 16 }) as f64;
        for r in 0..mr {
            for j in 0..nr {
                let (mut exact, mut abs) = (0f64, 0f64);
                for g in 0..groups {
                    for hi in [false, true] {
                        let p = half(a16[g * mr + r], hi) * half(b16[g * nr + j], hi);
                        exact += p;
                        abs += p.abs();
                    }
                }
                let tol = (2 * groups) as f64 * 2f64.powi(-24) * 1.01 * abs + 1e-30;
                for v in [x[r * nr + j], y[r * nr + j]] {
                    assert!(
                        (v as f64 - exact).abs() <= tol,
                        "bf16 groups {groups} r {r} j {j}"
                    );
                }
            }
        }
    }
}

#[test]
fn simd_epilogue_equals_the_scalar_one() {
    if !recap::testing::screen::simd_kernels().2 {
        recap::testing::skip("AVX-512 screening epilogue vs portable: no AVX-512F");
        return;
    }
    let (mr, nr) = TILE;
    let mut r = lcg(77);
    let acc: Vec<i32> = (0..mr * nr).map(|_| (r() * 4e6) as i32).collect();
    let colsum: Vec<i32> = (0..nr).map(|_| (r() * 1e5) as i32 * 128).collect();
    let mut pos = |n: usize, s: f32| (0..n).map(|_| (r() + 0.6) * s).collect::<Vec<f32>>();
    let (scale, alpha, beta) = (pos(nr, 1e-3), pos(nr, 1e-2), pos(nr, 1.0));
    let (sq, nq, eq) = (pos(mr, 1e-3), pos(mr, 1.0), pos(mr, 1e-2));
    let thr: Vec<f32> = (0..mr)
        .map(|i| {
            if i == 0 {
                f32::NEG_INFINITY
            } else {
                (i as f32 - 7.0) * 0.01
            }
        })
        .collect();
    let [simd, scalar] = epilogues(
        &acc,
        [&scale, &alpha, &beta],
        &colsum,
        [&sq, &nq, &eq, &thr],
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&simd.0), bits(&scalar.0));
    assert_eq!(bits(&simd.1), bits(&scalar.1));
    assert_eq!(simd.2, scalar.2);
    assert_eq!(simd.2[0], u32::MAX);
    assert!(simd.2.iter().any(|&m| m != 0 && m != u32::MAX));
}

#[test]
fn amx_tile_equals_its_scalar_reference() {
    let (_, nr) = TILE;
    let m = 32;
    for groups in [16usize, 32, 192] {
        let a = words(m * groups, 5 + groups as u64);
        let b = words(groups * nr, 9 + groups as u64);
        let Some((x, y)) = recap::testing::screen_amx_tiles(groups, &a, &b) else {
            recap::testing::skip("AMX int8 tile: no AMX (or not permitted) on this machine");
            return;
        };
        assert_eq!(x, y, "groups {groups}");
        let ext_a = vec![0xFFFF_FFFFu32; m * groups];
        let ext_b = vec![0x8181_8181u32; groups * nr];
        let (x, y) = recap::testing::screen_amx_tiles(groups, &ext_a, &ext_b).unwrap();
        assert_eq!(x, y);
        assert_eq!(x[0], -255 * 127 * 4 * groups as i32);
    }
}
