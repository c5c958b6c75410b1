//! The numeric primitive of the search: a packed tile GEMM `S = Q · Dᵀ`.
//!
//! Queries are packed into panels of [`MR`] rows (`[k][MR]`, zero-padded), a run of [`NR`]
//! datastore rows into one panel (`[k][NR]`, zero-padded, f16 converted to f32 while
//! packing). The micro-kernel computes an `MR x NR` block of scores.
//!
//! **Every score is one fused multiply-add chain over the dimension in index order,
//! starting from 0**: `s = fma(q[d-1], x[d-1], … fma(q[1], x[1], fma(q[0], x[0], 0)))`.
//! The value of a (query, row) score therefore does not depend on where the pair falls in a
//! tile, on the block sizes or on the thread count; the AVX-512 kernel and the portable
//! kernel (`f32::mul_add`) give bit-identical results. This is what makes the search
//! deterministic.

use half::f16;

use crate::backend::StoredRows as RowsRef;

/// Queries per micro-panel (broadcast side of the micro-kernel).
pub const MR: usize = 14;
/// Datastore rows per micro-panel (vector side: two 16-lane registers).
pub const NR: usize = 32;

/// Columns per block when packing rows (32 rows x 64 columns = 8 KiB written at a time).
const PACK_K: usize = 64;

/// Pack `n` query rows (`rows[i*d..(i+1)*d]`) into `ceil(n / MR)` panels laid out `[k][MR]`.
/// `out` is resized to `panels * d * MR`; padding rows are zero.
pub fn pack_queries(rows: &[f32], d: usize, out: &mut Vec<f32>) {
    let n = rows.len().checked_div(d).unwrap_or(0);
    let panels = n.div_ceil(MR);
    out.clear();
    out.resize(panels * d * MR, 0.0);
    for (i, row) in rows.chunks_exact(d.max(1)).enumerate().take(n) {
        let base = (i / MR) * d * MR + i % MR;
        for (k, &v) in row.iter().enumerate() {
            out[base + k * MR] = v;
        }
    }
}

/// Pack datastore rows `start..start + n` (`n <= NR`) into one panel `[k][NR]` of `d * NR`
/// values (`out.len()` must be `d * NR`); rows past `n` are zero.
pub fn pack_rows(data: RowsRef<'_>, d: usize, start: usize, n: usize, out: &mut [f32]) {
    assert!(n <= NR && out.len() == d * NR && (start + n) * d <= data.len());
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512 F/BW/VL present; rows start..start+n exist (asserted) and `out` holds
            // d * NR values.
            unsafe { avx512::pack_rows(data, d, start, n, out) };
            return;
        }
    }
    pack_rows_portable(data, d, start, n, out);
}

/// [`pack_rows`] of the (not necessarily consecutive) rows `rows` (`rows.len() <= NR`, each
/// `< data.len() / d`), in that order: the same panel layout and values.
pub fn pack_rows_indexed(data: RowsRef<'_>, d: usize, rows: &[u32], out: &mut [f32]) {
    let n = rows.len();
    assert!(n <= NR && out.len() == d * NR);
    assert!(rows.iter().all(|&r| (r as usize + 1) * d <= data.len()));
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512 F/BW/VL present; every row exists (asserted) and `out` holds
            // d * NR values.
            unsafe { avx512::pack_rows_at(data, d, |j| rows[j] as usize, n, out) };
            return;
        }
    }
    if n < NR {
        out.fill(0.0);
    }
    for (j, &r) in rows.iter().enumerate() {
        let r = r as usize;
        let x = data.to_f32(r * d, (r + 1) * d);
        for (k, &v) in x.iter().enumerate() {
            out[k * NR + j] = v;
        }
    }
}

/// The portable packing (same output as the AVX-512 one).
pub fn pack_rows_portable(data: RowsRef<'_>, d: usize, start: usize, n: usize, out: &mut [f32]) {
    debug_assert!(n <= NR && out.len() == d * NR);
    if n < NR {
        out.fill(0.0);
    }
    match data {
        RowsRef::F32(v) => {
            // Blocks of PACK_K columns keep the written lines in L1.
            for k0 in (0..d).step_by(PACK_K) {
                let k1 = (k0 + PACK_K).min(d);
                for j in 0..n {
                    let row = &v[(start + j) * d + k0..(start + j) * d + k1];
                    for (kk, &x) in row.iter().enumerate() {
                        out[(k0 + kk) * NR + j] = x;
                    }
                }
            }
        }
        RowsRef::F16(v) => pack_rows_f16(v, d, start, n, out),
    }
}

fn pack_rows_f16(v: &[f16], d: usize, start: usize, n: usize, out: &mut [f32]) {
    let mut row32 = [0f32; 256];
    for j in 0..n {
        let row = &v[(start + j) * d..(start + j + 1) * d];
        for (c, chunk) in row.chunks(256).enumerate() {
            let buf = &mut row32[..chunk.len()];
            half::slice::HalfFloatSliceExt::convert_to_f32_slice(chunk, buf);
            for (kk, &x) in buf.iter().enumerate() {
                out[(c * 256 + kk) * NR + j] = x;
            }
        }
    }
}

/// Scores of one query panel against one row panel: `c[r * NR + j] = Σ_k a[k][r]·b[k][j]`
/// for `r < MR`, `j < NR`, each as one FMA chain in `k` order (see the module docs).
/// `a` is `d * MR` values, `b` is `d * NR`, `c` is `MR * NR`.
pub fn micro_kernel(d: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= d * MR && b.len() >= d * NR && c.len() >= MR * NR);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports AVX-512F (checked above) and the slice lengths were
            // asserted, so every load/store below stays inside `a`, `b` and `c`.
            unsafe { avx512::micro_kernel(d, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) };
            return;
        }
        if has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked above); lengths asserted above.
            unsafe { avx2::micro_kernel(d, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) };
            return;
        }
    }
    micro_kernel_portable(d, a, b, c);
}

/// Scores of one query against `np` packed row panels (`panels` = `np` panels of `d x NR`,
/// `np ≤ 4`): `out[p·NR + j] = Σ_k q[k]·panel_p[k][j]`, each one FMA chain in `k` order from
/// zero — bit-identical to [`micro_kernel`] (the rescoring of the screened search: one query,
/// many rows, without the `MR - 1` idle query rows of the micro-kernel).
pub fn query_panels(d: usize, q: &[f32], panels: &[f32], np: usize, out: &mut [f32]) {
    assert!((1..=4).contains(&np) && q.len() >= d);
    assert!(panels.len() >= np * d * NR && out.len() >= np * NR);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512F present; lengths asserted above.
            unsafe {
                let (q, b, o) = (q.as_ptr(), panels.as_ptr(), out.as_mut_ptr());
                match np {
                    1 => avx512::query_panels::<1>(d, q, b, o),
                    2 => avx512::query_panels::<2>(d, q, b, o),
                    3 => avx512::query_panels::<3>(d, q, b, o),
                    _ => avx512::query_panels::<4>(d, q, b, o),
                }
            }
            return;
        }
    }
    let mut packed = Vec::new();
    pack_queries(&q[..d], d, &mut packed);
    let mut tile = vec![0f32; MR * NR];
    for p in 0..np {
        micro_kernel(d, &packed, &panels[p * d * NR..(p + 1) * d * NR], &mut tile);
        out[p * NR..(p + 1) * NR].copy_from_slice(&tile[..NR]);
    }
}

/// Whether the AVX2 + FMA micro-kernel can run (the search's fast path on CPUs without
/// AVX-512; without hardware FMA, `f32::mul_add` is a library call).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The micro-kernel on AVX2 + FMA: the `MR x NR` tile as register blocks of 5, 5 and 4 rows
/// times 16 columns (10, 10 and 8 independent accumulators: enough to cover the FMA
/// latency), walked in blocks of [`avx2::KC`] values of `k` so that the panel slices stay in
/// L1. A block continues each entry's FMA chain from the value stored after the previous
/// block, so every score is still one FMA chain over `k` from zero: bit-identical to the other
/// kernels.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// Values of `k` per pass over the tile: the `KC x NR` row panel (16 KiB) and the
    /// `KC x MR` query panel (7 KiB) stay in L1 while the six register blocks use them.
    pub const KC: usize = 128;

    /// # Safety
    /// AVX2 and FMA must be available; `a`, `b`, `c` must hold `d·MR`, `d·NR`, `MR·NR` values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn micro_kernel(d: usize, a: *const f32, b: *const f32, c: *mut f32) {
        let mut k0 = 0;
        loop {
            let k1 = (k0 + KC).min(d);
            let first = k0 == 0;
            for c0 in [0, 16] {
                // SAFETY: forwarded from the caller's contract; every block stays in the tile.
                unsafe {
                    block::<5>(k0, k1, a, b, c, 0, c0, first);
                    block::<5>(k0, k1, a, b, c, 5, c0, first);
                    block::<4>(k0, k1, a, b, c, 10, c0, first);
                }
            }
            if k1 >= d {
                break;
            }
            k0 = k1;
        }
    }

    /// Rows `r0..r0 + R`, columns `c0..c0 + 16` of the tile over `k0..k1`, starting from zero
    /// (`first`) or from the values stored in `c`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn block<const R: usize>(
        k0: usize,
        k1: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        r0: usize,
        c0: usize,
        first: bool,
    ) {
        // SAFETY: the caller guarantees `a`, `b` hold `k1` panel rows and `c` one tile.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            if !first {
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let at = c.add((r0 + r) * NR + c0);
                    *acc_r = [_mm256_loadu_ps(at), _mm256_loadu_ps(at.add(8))];
                }
            }
            for k in k0..k1 {
                let bp = b.add(k * NR + c0);
                let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
                let ap = a.add(k * MR + r0);
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*ap.add(r));
                    acc_r[0] = _mm256_fmadd_ps(av, b0, acc_r[0]);
                    acc_r[1] = _mm256_fmadd_ps(av, b1, acc_r[1]);
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let out = c.add((r0 + r) * NR + c0);
                _mm256_storeu_ps(out, acc_r[0]);
                _mm256_storeu_ps(out.add(8), acc_r[1]);
            }
        }
    }
}

/// The portable micro-kernel: the same FMA chains with `f32::mul_add`.
pub fn micro_kernel_portable(d: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let mut acc = [[0f32; NR]; MR];
    for k in 0..d {
        let bk = &b[k * NR..(k + 1) * NR];
        let ak = &a[k * MR..(k + 1) * MR];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = ak[r];
            for (j, s) in acc_r.iter_mut().enumerate() {
                *s = av.mul_add(bk[j], *s);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        c[r * NR..(r + 1) * NR].copy_from_slice(acc_r);
    }
}

/// `C[r][j] (+)= Σ_{k < d} a[k·MR + r]·b[k·NR + j]` on a tile of `c` with leading dimension
/// `ldc`: one FMA chain from zero per entry, added to the stored value once (`accumulate`)
/// or stored over it (the Gram statistics' block products, [`crate::backend::cpu::tile`]).
///
/// # Safety
/// AVX-512F must be available ([`has_avx512`]); `a`, `b` must point to `d·MR`, `d·NR` readable
/// values and `c` to an `MR x NR` tile with leading dimension `ldc >= NR` that no other thread
/// touches.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn micro_kernel_acc_raw(
    d: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    // SAFETY: forwarded from the caller's contract.
    unsafe { avx512::micro_kernel_ld(d, a, b, c, ldc, accumulate) }
}

/// Bit mask of the lanes `j < NR` of `scores` (NR values) with `scores[j] >= threshold`
/// (NaN never passes).
pub fn lanes_at_least(scores: &[f32], threshold: f32) -> u32 {
    debug_assert!(scores.len() >= NR);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512F is present and `scores` holds at least NR = 32 values.
            return unsafe { avx512::lanes_at_least(scores.as_ptr(), threshold) };
        }
    }
    let mut mask = 0u32;
    for (j, &s) in scores[..NR].iter().enumerate() {
        mask |= u32::from(s >= threshold) << j;
    }
    mask
}

/// For every row `r < masks.len()` of a score tile (`tile[r * NR..(r + 1) * NR]`), the lanes
/// whose score is `>= thresholds[r]` (NaN never passes), as a bit mask.
pub fn tile_masks(tile: &[f32], thresholds: &[f32], masks: &mut [u32]) {
    let rows = masks.len();
    assert!(tile.len() >= rows * NR && thresholds.len() >= rows);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: AVX-512F present; `tile` holds `rows * NR` values (asserted).
            unsafe { avx512::tile_masks(tile.as_ptr(), thresholds, masks) };
            return;
        }
    }
    for (r, m) in masks.iter_mut().enumerate() {
        *m = lanes_at_least(&tile[r * NR..(r + 1) * NR], thresholds[r]);
    }
}

/// Whether the AVX-512 kernels are used on this CPU (needs AVX-512 F, BW and VL).
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// AVX-512 micro-kernel: 28 accumulators (MR x 2 vectors), one broadcast per query.
    ///
    /// # Safety
    /// AVX-512F must be available; `a`, `b`, `c` must hold `d*MR`, `d*NR`, `MR*NR` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn micro_kernel(d: usize, a: *const f32, b: *const f32, c: *mut f32) {
        micro_kernel_ld(d, a, b, c, NR, false)
    }

    /// [`super::query_panels`] with `NP` panels: `2·NP` independent FMA chains per step.
    ///
    /// # Safety
    /// AVX-512F must be available; `q`, `b`, `out` must hold `d`, `NP·d·NR`, `NP·NR` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn query_panels<const NP: usize>(
        d: usize,
        q: *const f32,
        b: *const f32,
        out: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 2]; NP];
        for k in 0..d {
            // SAFETY: k < d and every panel holds d·NR values.
            unsafe {
                let qv = _mm512_set1_ps(*q.add(k));
                for (p, a) in acc.iter_mut().enumerate() {
                    let bp = b.add(p * d * NR + k * NR);
                    a[0] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(bp), a[0]);
                    a[1] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(bp.add(16)), a[1]);
                }
            }
        }
        for (p, a) in acc.iter().enumerate() {
            // SAFETY: `out` holds NP·NR values.
            unsafe {
                _mm512_storeu_ps(out.add(p * NR), a[0]);
                _mm512_storeu_ps(out.add(p * NR + 16), a[1]);
            }
        }
    }

    /// The micro-kernel with a leading dimension for `c`: every chain starts from zero and is
    /// stored (`accumulate = false`) or added to the stored value (`true`).
    ///
    /// # Safety
    /// AVX-512F must be available; `a`, `b` must hold `d*MR`, `d*NR` values and `c` an
    /// `MR x NR` tile with leading dimension `ldc`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn micro_kernel_ld(
        d: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let mut acc0 = [_mm512_setzero_ps(); MR];
        let mut acc1 = [_mm512_setzero_ps(); MR];
        let mut ap = a;
        let mut bp = b;
        for _ in 0..d {
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            for r in 0..MR {
                let av = _mm512_set1_ps(*ap.add(r));
                acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
            }
            ap = ap.add(MR);
            bp = bp.add(NR);
        }
        for r in 0..MR {
            let (p0, p1) = (c.add(r * ldc), c.add(r * ldc + 16));
            if accumulate {
                acc0[r] = _mm512_add_ps(_mm512_loadu_ps(p0), acc0[r]);
                acc1[r] = _mm512_add_ps(_mm512_loadu_ps(p1), acc1[r]);
            }
            _mm512_storeu_ps(p0, acc0[r]);
            _mm512_storeu_ps(p1, acc1[r]);
        }
    }

    /// Pack rows `start..start+n` into `[k][NR]`: 16 columns at a time, each half of the
    /// panel (rows 0–15, 16–31) is loaded as 16 vectors and transposed in registers.
    ///
    /// # Safety
    /// AVX-512F must be available; `data` must hold rows `start..start+n` of `d` values
    /// and `out` must hold `d * NR` values.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub unsafe fn pack_rows(
        data: super::RowsRef<'_>,
        d: usize,
        start: usize,
        n: usize,
        out: &mut [f32],
    ) {
        // SAFETY: forwarded.
        unsafe { pack_rows_at(data, d, |j| start + j, n, out) }
    }

    /// [`pack_rows`] of the rows `row(0), …, row(n - 1)`.
    ///
    /// # Safety
    /// As for [`pack_rows`], for every row `row(j)`, `j < n`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub unsafe fn pack_rows_at(
        data: super::RowsRef<'_>,
        d: usize,
        row: impl Fn(usize) -> usize,
        n: usize,
        out: &mut [f32],
    ) {
        let o = out.as_mut_ptr();
        for k0 in (0..d).step_by(16) {
            let w = 16.min(d - k0);
            let mask: __mmask16 = if w == 16 { 0xFFFF } else { (1u16 << w) - 1 };
            for half in 0..2 {
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, ri) in r.iter_mut().enumerate() {
                    let j = half * 16 + i;
                    if j < n {
                        let at = row(j) * d + k0;
                        *ri = match data {
                            super::RowsRef::F32(v) => {
                                _mm512_maskz_loadu_ps(mask, v.as_ptr().add(at))
                            }
                            super::RowsRef::F16(v) => {
                                let h = _mm256_maskz_loadu_epi16(
                                    mask,
                                    v.as_ptr().add(at) as *const i16,
                                );
                                _mm512_cvtph_ps(h)
                            }
                        };
                    }
                }
                transpose16(&mut r);
                for (kk, rk) in r.iter().enumerate().take(w) {
                    _mm512_storeu_ps(o.add((k0 + kk) * NR + half * 16), *rk);
                }
            }
        }
    }

    /// In-register 16x16 transpose: swap the off-diagonal b x b blocks for b = 8, 4, 2, 1.
    #[target_feature(enable = "avx512f")]
    fn transpose16(r: &mut [__m512; 16]) {
        for b in [8usize, 4, 2, 1] {
            let mut lo = [0i32; 16];
            let mut hi = [0i32; 16];
            for l in 0..16 {
                let first = (l / b) % 2 == 0;
                lo[l] = if first { l as i32 } else { (16 + l - b) as i32 };
                hi[l] = if first {
                    (l + b) as i32
                } else {
                    (16 + l) as i32
                };
            }
            // SAFETY: 16 i32 values are read from each array.
            let (lo, hi) = unsafe {
                (
                    _mm512_loadu_si512(lo.as_ptr() as *const _),
                    _mm512_loadu_si512(hi.as_ptr() as *const _),
                )
            };
            for i in 0..16 {
                if (i / b) % 2 == 0 {
                    let (x, y) = (r[i], r[i + b]);
                    r[i] = _mm512_permutex2var_ps(x, lo, y);
                    r[i + b] = _mm512_permutex2var_ps(x, hi, y);
                }
            }
        }
    }

    /// # Safety
    /// AVX-512F must be available and `tile` must point to `masks.len() * NR` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tile_masks(tile: *const f32, thresholds: &[f32], masks: &mut [u32]) {
        for (r, m) in masks.iter_mut().enumerate() {
            *m = lanes_at_least(tile.add(r * NR), thresholds[r]);
        }
    }

    /// # Safety
    /// AVX-512F must be available and `s` must point to NR = 32 readable f32 values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn lanes_at_least(s: *const f32, threshold: f32) -> u32 {
        let t = _mm512_set1_ps(threshold);
        let lo = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_loadu_ps(s), t) as u32;
        let hi = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_loadu_ps(s.add(16)), t) as u32;
        lo | (hi << 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_portable_kernels_agree_bitwise() {
        let d = 37;
        let a: Vec<f32> = (0..d * MR)
            .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..d * NR)
            .map(|i| ((i * 104729) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let mut c1 = vec![0f32; MR * NR];
        let mut c2 = vec![0f32; MR * NR];
        micro_kernel(d, &a, &b, &mut c1);
        micro_kernel_portable(d, &a, &b, &mut c2);
        assert_eq!(c1, c2);
        let mut chain = 0f32;
        for k in 0..d {
            chain = a[k * MR + 3].mul_add(b[k * NR + 5], chain);
        }
        assert_eq!(c1[3 * NR + 5].to_bits(), chain.to_bits());
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_kernel_is_bitwise_the_portable_kernel() {
        if !has_avx2_fma() {
            crate::testing::skip("AVX2 search kernel test: no AVX2+FMA on this CPU");
            return;
        }
        for d in [1usize, 2, 37, 127, 128, 129, 300, 768] {
            let a: Vec<f32> = (0..d * MR)
                .map(|i| ((i * 7919) % 101) as f32 / 13.0 - 3.9)
                .collect();
            let b: Vec<f32> = (0..d * NR)
                .map(|i| ((i * 104729) % 97) as f32 / 7.0 - 6.5)
                .collect();
            let (mut c1, mut c2) = (vec![0f32; MR * NR], vec![1f32; MR * NR]);
            // SAFETY: AVX2+FMA checked above; the buffers hold d panels and one tile.
            unsafe { avx2::micro_kernel(d, a.as_ptr(), b.as_ptr(), c1.as_mut_ptr()) };
            micro_kernel_portable(d, &a, &b, &mut c2);
            assert_eq!(c1, c2, "d = {d}");
        }
    }

    #[test]
    fn simd_and_portable_packing_agree() {
        for d in [1usize, 5, 16, 17, 40, 64] {
            let v: Vec<f32> = (0..40 * d).map(|i| i as f32 * 0.37 - 3.0).collect();
            let h: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
            for (start, n) in [(0usize, 32usize), (3, 7), (8, 32), (39, 1)] {
                for data in [RowsRef::F32(&v), RowsRef::F16(&h)] {
                    let mut a = vec![1f32; d * NR];
                    let mut b = vec![2f32; d * NR];
                    pack_rows(data, d, start, n, &mut a);
                    pack_rows_portable(data, d, start, n, &mut b);
                    assert_eq!(a, b, "d {d} start {start} n {n}");
                }
            }
        }
    }

    #[test]
    fn lanes_mask_matches_scalar() {
        let s: Vec<f32> = (0..NR)
            .map(|j| if j == 4 { f32::NAN } else { j as f32 })
            .collect();
        let m = lanes_at_least(&s, 10.0);
        let expected = (10..NR).fold(0u32, |m, j| m | (1 << j));
        assert_eq!(m, expected);
        assert_eq!(lanes_at_least(&s, f32::NEG_INFINITY), !(1u32 << 4));
        let mut tile = s.clone();
        tile.extend((0..NR).map(|j| -(j as f32)));
        let mut masks = [0u32; 2];
        tile_masks(&tile, &[10.0, -2.0], &mut masks);
        assert_eq!(masks, [expected, 0b111]);
    }
}
