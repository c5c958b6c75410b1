//! The AVX-512 micro-kernel of the Gram products: `C += Aᵀ B` over a block of rows.
//!
//! In `XᵀY` the summed index is the row, so for a block of `kb` rows the kernel reads, for
//! each row `k`, [`MR`] values of an A panel (`a[k][r]`, broadcast) and [`NR`] values of a
//! B panel (`b[k][j]`, two 16-lane vectors) and updates an `MR x NR` tile of `C` held in 28
//! registers: `C[r][j] += Σ_k a[k][r]·b[k][j]`, one FMA chain per entry in row order,
//! starting from zero, then added to the stored value. Panels are packed by [`crate::backend::cpu::fused`]; `C` is a
//! row-major f32 buffer with leading dimension `ldc`.

/// Columns of X per A panel (broadcast side); the retrieval kernel's tile height.
pub const MR: usize = crate::backend::cpu::kernel::MR;
/// Columns per B panel (vector side: two 16-lane registers).
pub const NR: usize = crate::backend::cpu::kernel::NR;

/// Whether the fused AVX-512 path can run on this CPU (AVX-512 F, BW and VL).
pub fn available() -> bool {
    crate::backend::cpu::kernel::has_avx512()
}

/// `C[r][j] += Σ_{k < kb} a[k·MR + r]·b[k·NR + j]` for `r < MR`, `j < NR`, with `C[r][j]` at
/// `c[r·ldc + j]`. The block's sum is one FMA chain from zero, added to `C` once: a chunk's
/// f32 sum is then a few block partials instead of one chain over all its rows (the rounding
/// error grows with the block length, not the chunk length).
///
/// # Panics
/// If AVX-512 is not available, or a slice is too short for `kb`, `ldc`.
#[cfg(test)]
pub fn kernel_acc(kb: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize) {
    assert!(available(), "the Gram tile kernel needs AVX-512");
    assert!(a.len() >= kb * MR && b.len() >= kb * NR);
    assert!(ldc >= NR && c.len() >= (MR - 1) * ldc + NR);
    // SAFETY: AVX-512F is present (asserted) and every access stays inside the asserted
    // lengths of `a`, `b` and `c`.
    unsafe { kernel_acc_raw(kb, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), ldc, true) }
}

/// [`kernel_acc`] on raw pointers, for the parallel driver whose tasks own disjoint tiles;
/// `accumulate = false` stores the block's sums over the tile instead of adding them.
///
/// # Safety
/// AVX-512F must be available; `a`, `b` must point to `kb·MR`, `kb·NR` readable values and
/// `c` to an `MR x NR` tile with leading dimension `ldc` that no other thread touches.
pub(crate) unsafe fn kernel_acc_raw(
    kb: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller's contract (the same micro-kernel as retrieval's).
    unsafe {
        crate::backend::cpu::kernel::micro_kernel_acc_raw(kb, a, b, c, ldc, accumulate)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("available() is false off x86_64 ({kb} {a:?} {b:?} {c:?} {ldc} {accumulate})")
}

/// Moments of packed values, summed in f64 lanes over one block:
/// `[Σ v, Σ w v, Σ w v²]` per column (A panels) or `[Σ v, Σ v²]` (B panels, unweighted).
pub type PanelMoments<const N: usize> = [f64; N];

/// Pack an A panel: `out[k·MR + r] = src[k·ld + r] − shift[r]` for `r < width`, zero for
/// `width ≤ r < MR`, rows `k < kb`; returns `[Σ v, Σ w v, Σ w v²]` of each of the `MR` columns
/// (`w` the row weights, 1 when `None`).
///
/// # Panics
/// If AVX-512 is missing or a slice is too short.
pub fn pack_a(
    kb: usize,
    src: &[f32],
    ld: usize,
    width: usize,
    shift: &[f32],
    w: Option<&[f32]>,
    out: &mut [f32],
) -> PanelMoments<{ 3 * MR }> {
    assert!(available() && width <= MR && shift.len() >= width && out.len() >= kb * MR);
    assert!(kb == 0 || src.len() >= (kb - 1) * ld + width);
    assert!(w.is_none_or(|w| w.len() >= kb));
    // SAFETY: AVX-512 present; reads of `src` rows stay within `(kb-1)·ld + width` (masked
    // loads touch only the `width` lanes), writes within `kb·MR` of `out` (asserted).
    unsafe {
        avx512::pack_a(
            kb,
            src.as_ptr(),
            ld,
            width,
            shift.as_ptr(),
            w,
            out.as_mut_ptr(),
        )
    }
}

/// Pack a B panel: `out[k·NR + j] = scale_k · (src[k·ld + j] − shift[j])` for `j < width`,
/// zero for `width ≤ j < NR`; returns `[Σ v, Σ v²]` of the unscaled values per column.
///
/// # Panics
/// If AVX-512 is missing or a slice is too short.
pub fn pack_b(
    kb: usize,
    src: &[f32],
    ld: usize,
    width: usize,
    shift: &[f32],
    scale: Option<&[f32]>,
    out: &mut [f32],
) -> PanelMoments<{ 2 * NR }> {
    assert!(available() && width <= NR && shift.len() >= width && out.len() >= kb * NR);
    assert!(kb == 0 || src.len() >= (kb - 1) * ld + width);
    assert!(scale.is_none_or(|w| w.len() >= kb));
    // SAFETY: as for `pack_a`.
    unsafe {
        avx512::pack_b(
            kb,
            src.as_ptr(),
            ld,
            width,
            shift.as_ptr(),
            scale,
            out.as_mut_ptr(),
        )
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    fn lane_mask(width: usize) -> __mmask16 {
        if width >= 16 {
            0xFFFF
        } else {
            ((1u32 << width) - 1) as __mmask16
        }
    }

    /// The 16 f32 lanes of `v` as two f64 vectors (lanes 0–7, 8–15).
    #[target_feature(enable = "avx512f")]
    fn widen(v: __m512) -> [__m512d; 2] {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        [
            _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
            _mm512_cvtps_pd(hi),
        ]
    }

    /// f64 lanes stored into `out` (`out.len()` ≤ 8 values are taken).
    #[target_feature(enable = "avx512f")]
    fn store_f64(v: __m512d, out: &mut [f64]) {
        let mut t = [0f64; 8];
        // SAFETY: `t` holds 8 values.
        unsafe { _mm512_storeu_pd(t.as_mut_ptr(), v) };
        let n = out.len().min(8);
        out[..n].copy_from_slice(&t[..n]);
    }

    /// # Safety
    /// See [`super::pack_a`] (its assertions).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pack_a(
        kb: usize,
        src: *const f32,
        ld: usize,
        width: usize,
        shift: *const f32,
        w: Option<&[f32]>,
        out: *mut f32,
    ) -> [f64; 3 * MR] {
        let m = lane_mask(width);
        let sh = _mm512_maskz_loadu_ps(m, shift);
        let z = _mm512_setzero_pd();
        // Σ v, Σ w v, Σ w v² in f64, lanes 0–7 and 8–15.
        let (mut s, mut sw, mut q) = ([z; 2], [z; 2], [z; 2]);
        for k in 0..kb {
            let v = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, src.add(k * ld)), sh);
            _mm512_mask_storeu_ps(out.add(k * MR), (1 << MR) - 1, v);
            let v = widen(v);
            for h in 0..2 {
                s[h] = _mm512_add_pd(s[h], v[h]);
                let wv = match w {
                    Some(w) => _mm512_mul_pd(v[h], _mm512_set1_pd(w[k] as f64)),
                    None => v[h],
                };
                sw[h] = _mm512_add_pd(sw[h], wv);
                q[h] = _mm512_fmadd_pd(wv, v[h], q[h]);
            }
        }
        let mut mom = [0f64; 3 * MR];
        for (part, acc) in [s, sw, q].into_iter().enumerate() {
            let o = &mut mom[part * MR..(part + 1) * MR];
            store_f64(acc[0], &mut o[..8]);
            store_f64(acc[1], &mut o[8..]);
        }
        mom
    }

    /// # Safety
    /// See [`super::pack_b`] (its assertions).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pack_b(
        kb: usize,
        src: *const f32,
        ld: usize,
        width: usize,
        shift: *const f32,
        scale: Option<&[f32]>,
        out: *mut f32,
    ) -> [f64; 2 * NR] {
        let (m0, m1) = (lane_mask(width), lane_mask(width.saturating_sub(16)));
        let (sh0, sh1) = (
            _mm512_maskz_loadu_ps(m0, shift),
            _mm512_maskz_loadu_ps(m1, shift.add(16)),
        );
        let z = _mm512_setzero_pd();
        // Σ v and Σ v² in f64 for the four 8-lane quarters of the panel row.
        let (mut s, mut q) = ([z; 4], [z; 4]);
        for k in 0..kb {
            let row = src.add(k * ld);
            let v0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m0, row), sh0);
            let v1 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m1, row.add(16)), sh1);
            let (o0, o1) = match scale {
                Some(w) => {
                    let wk = _mm512_set1_ps(w[k]);
                    (_mm512_mul_ps(v0, wk), _mm512_mul_ps(v1, wk))
                }
                None => (v0, v1),
            };
            _mm512_storeu_ps(out.add(k * NR), o0);
            _mm512_storeu_ps(out.add(k * NR + 16), o1);
            let [a, b] = widen(v0);
            let [c, d] = widen(v1);
            for (h, v) in [a, b, c, d].into_iter().enumerate() {
                s[h] = _mm512_add_pd(s[h], v);
                q[h] = _mm512_fmadd_pd(v, v, q[h]);
            }
        }
        let mut mom = [0f64; 2 * NR];
        for h in 0..4 {
            store_f64(s[h], &mut mom[8 * h..8 * h + 8]);
            store_f64(q[h], &mut mom[NR + 8 * h..NR + 8 * h + 8]);
        }
        mom
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::{MR, NR};
    const OFF: &str = "available() is false off x86_64";
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn pack_a(
        _: usize,
        _: *const f32,
        _: usize,
        _: usize,
        _: *const f32,
        _: Option<&[f32]>,
        _: *mut f32,
    ) -> [f64; 3 * MR] {
        unreachable!("{OFF}")
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn pack_b(
        _: usize,
        _: *const f32,
        _: usize,
        _: usize,
        _: *const f32,
        _: Option<&[f32]>,
        _: *mut f32,
    ) -> [f64; 2 * NR] {
        unreachable!("{OFF}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 31) % 1013) as f32 / 101.0 - 4.0)
            .collect()
    }

    #[test]
    fn packing_matches_scalar_reference() {
        if !available() {
            crate::testing::skip(
                "Gram tile kernel tests: no AVX-512 on this CPU (the fused path is not used here)",
            );
            return;
        }
        let (kb, ld) = (23, 50);
        let src = data(kb * ld, 1);
        let shift = data(NR, 2);
        let w: Vec<f32> = (0..kb).map(|k| (k % 5 + 1) as f32).collect();
        for width in [1, 7, MR] {
            for weights in [None, Some(&w[..])] {
                let mut out = vec![9f32; kb * MR];
                let mom = pack_a(kb, &src, ld, width, &shift, weights, &mut out);
                for r in 0..MR {
                    let (mut s, mut sw, mut q) = (0f64, 0f64, 0f64);
                    for k in 0..kb {
                        let v = if r < width {
                            src[k * ld + r] - shift[r]
                        } else {
                            0.0
                        };
                        assert_eq!(out[k * MR + r], v);
                        let wk = weights.map_or(1.0, |w| w[k] as f64);
                        (s, sw, q) = (s + v as f64, sw + wk * v as f64, q + wk * (v * v) as f64);
                    }
                    let tol = |a: f64| 1e-5 * (1.0 + a.abs());
                    assert!((mom[r] - s).abs() < tol(s), "r {r}");
                    assert!((mom[MR + r] - sw).abs() < tol(sw));
                    assert!((mom[2 * MR + r] - q).abs() < tol(q));
                }
            }
        }
        for width in [1, 16, 17, NR] {
            for scale in [None, Some(&w[..])] {
                let mut out = vec![9f32; kb * NR];
                let mom = pack_b(kb, &src, ld, width, &shift, scale, &mut out);
                for j in 0..NR {
                    let (mut s, mut q) = (0f64, 0f64);
                    for k in 0..kb {
                        let v = if j < width {
                            src[k * ld + j] - shift[j]
                        } else {
                            0.0
                        };
                        let wk = scale.map_or(1.0, |w| w[k]);
                        assert_eq!(out[k * NR + j], wk * v);
                        (s, q) = (s + v as f64, q + (v * v) as f64);
                    }
                    assert!((mom[j] - s).abs() < 1e-5 * (1.0 + s.abs()), "j {j}");
                    assert!((mom[NR + j] - q).abs() < 1e-5 * (1.0 + q.abs()));
                }
            }
        }
    }

    #[test]
    fn kernel_adds_one_fma_chain_per_block_to_the_stored_value() {
        if !available() {
            crate::testing::skip(
                "Gram tile kernel tests: no AVX-512 on this CPU (the fused path is not used here)",
            );
            return;
        }
        let (kb, ldc) = (37, NR + 5);
        let a: Vec<f32> = (0..kb * MR)
            .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..kb * NR)
            .map(|i| ((i * 104729) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let mut c: Vec<f32> = (0..MR * ldc).map(|i| i as f32 * 0.25).collect();
        let start = c.clone();
        kernel_acc(kb, &a, &b, &mut c, ldc);
        for r in 0..MR {
            for j in 0..ldc {
                let mut chain = start[r * ldc + j];
                if j < NR {
                    let mut block = 0f32;
                    for k in 0..kb {
                        block = a[k * MR + r].mul_add(b[k * NR + j], block);
                    }
                    chain += block;
                }
                assert_eq!(c[r * ldc + j].to_bits(), chain.to_bits(), "r {r} j {j}");
            }
        }
    }
}
