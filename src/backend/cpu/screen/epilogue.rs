//! The screening epilogue: from a tile of low-precision dot products to `ŝ`, the bound `B`
//! ([`super::bound`], step 5) and, per query, the lanes whose upper bound `ŝ + B` reaches the
//! query's current threshold. The AVX-512 version performs the same f32 operations in the
//! same order (`cvt`, two `mul`, two `fma`, `add`), so both give identical bits.

use crate::backend::cpu::kernel::{has_avx512, NR};

/// Per-row terms of one row panel (`NR` values each).
#[derive(Clone, Copy)]
pub(crate) struct RowPanel<'a> {
    /// int8 scale `s_x`.
    pub scale: &'a [f32],
    /// `128·Σ x̂` (int8).
    pub colsum128: &'a [i32],
    /// `α_x`.
    pub alpha: &'a [f32],
    /// `β_x`.
    pub beta: &'a [f32],
}

/// Per-query terms of one query panel (one value per query row of the tile).
#[derive(Clone, Copy)]
pub(crate) struct QueryPanel<'a> {
    /// int8 scale `s_q`.
    pub sq: &'a [f32],
    /// `N_q`.
    pub nq: &'a [f32],
    /// `E_q`.
    pub eq: &'a [f32],
    /// Current threshold (k-th largest lower bound so far, `−∞` before k).
    pub thr: &'a [f32],
}

/// The raw tile of a screening kernel.
#[derive(Clone, Copy)]
pub(crate) enum Acc<'a> {
    /// int8 dot products with the `+128` offset still in.
    Int8(&'a [i32]),
    /// bf16 dot products (already `ŝ`).
    Bf16(&'a [f32]),
}

/// For query rows `r < masks.len()`: `s_out[r·NR + j] = ŝ`, `b_out[r·NR + j] = B` and bit `j`
/// of `masks[r]` set when `ŝ + B ≥ thr[r]`.
pub(crate) fn epilogue(
    acc: Acc<'_>,
    rows: RowPanel<'_>,
    qs: QueryPanel<'_>,
    delta: f32,
    s_out: &mut [f32],
    b_out: &mut [f32],
    masks: &mut [u32],
) {
    let n = masks.len();
    assert!(s_out.len() >= n * NR && b_out.len() >= n * NR);
    assert!(rows.scale.len() >= NR && rows.colsum128.len() >= NR);
    assert!(rows.alpha.len() >= NR && rows.beta.len() >= NR);
    assert!(qs.sq.len() >= n && qs.nq.len() >= n && qs.eq.len() >= n && qs.thr.len() >= n);
    match acc {
        Acc::Int8(a) => assert!(a.len() >= n * NR),
        Acc::Bf16(a) => assert!(a.len() >= n * NR),
    }
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512F present; every slice was checked to hold the lanes read or
            // written.
            unsafe { avx512::epilogue(acc, rows, qs, delta, s_out, b_out, masks) };
            return;
        }
    }
    epilogue_portable(acc, rows, qs, delta, s_out, b_out, masks)
}

/// The scalar epilogue (the reference for the AVX-512 one).
pub(crate) fn epilogue_portable(
    acc: Acc<'_>,
    rows: RowPanel<'_>,
    qs: QueryPanel<'_>,
    delta: f32,
    s_out: &mut [f32],
    b_out: &mut [f32],
    masks: &mut [u32],
) {
    for (r, mask) in masks.iter_mut().enumerate() {
        let mut m = 0u32;
        for j in 0..NR {
            let at = r * NR + j;
            let s = match acc {
                Acc::Int8(a) => {
                    ((a[at].wrapping_sub(rows.colsum128[j])) as f32 * rows.scale[j]) * qs.sq[r]
                }
                Acc::Bf16(a) => a[at],
            };
            let b = super::bound::bound(qs.nq[r], qs.eq[r], rows.alpha[j], rows.beta[j], delta);
            s_out[at] = s;
            b_out[at] = b;
            m |= u32::from(s + b >= qs.thr[r]) << j;
        }
        *mask = m;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Acc, QueryPanel, RowPanel, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F must be available and the slices as checked by [`super::epilogue`].
    #[target_feature(enable = "avx512f")]
    pub unsafe fn epilogue(
        acc: Acc<'_>,
        rows: RowPanel<'_>,
        qs: QueryPanel<'_>,
        delta: f32,
        s_out: &mut [f32],
        b_out: &mut [f32],
        masks: &mut [u32],
    ) {
        // SAFETY: all loads and stores stay within the checked lengths (NR = 32 = 2 x 16
        // lanes per row of the tile).
        unsafe {
            let dl = _mm512_set1_ps(delta);
            let ld = |p: &[f32], h: usize| _mm512_loadu_ps(p.as_ptr().add(16 * h));
            let scale = [ld(rows.scale, 0), ld(rows.scale, 1)];
            let alpha = [ld(rows.alpha, 0), ld(rows.alpha, 1)];
            let beta = [ld(rows.beta, 0), ld(rows.beta, 1)];
            let cs = [
                _mm512_loadu_si512(rows.colsum128.as_ptr() as *const _),
                _mm512_loadu_si512(rows.colsum128.as_ptr().add(16) as *const _),
            ];
            for (r, mask) in masks.iter_mut().enumerate() {
                let sq = _mm512_set1_ps(qs.sq[r]);
                let nq = _mm512_set1_ps(qs.nq[r]);
                let eq = _mm512_set1_ps(qs.eq[r]);
                let thr = _mm512_set1_ps(qs.thr[r]);
                let mut m = 0u32;
                for h in 0..2 {
                    let at = r * NR + 16 * h;
                    let s = match acc {
                        Acc::Int8(a) => {
                            let v = _mm512_loadu_si512(a.as_ptr().add(at) as *const _);
                            let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(v, cs[h]));
                            _mm512_mul_ps(_mm512_mul_ps(f, scale[h]), sq)
                        }
                        Acc::Bf16(a) => _mm512_loadu_ps(a.as_ptr().add(at)),
                    };
                    let b = _mm512_fmadd_ps(nq, alpha[h], _mm512_fmadd_ps(eq, beta[h], dl));
                    _mm512_storeu_ps(s_out.as_mut_ptr().add(at), s);
                    _mm512_storeu_ps(b_out.as_mut_ptr().add(at), b);
                    let up = _mm512_add_ps(s, b);
                    let k = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(up, thr) as u32;
                    m |= k << (16 * h);
                }
                *mask = m;
            }
        }
    }
}
