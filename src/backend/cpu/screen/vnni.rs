//! The AVX512-VNNI screening micro-kernel: an `MR x NR` tile of int8 dot products.
//!
//! Same blocking as the f32 micro-kernel ([`crate::backend::cpu::kernel`]): per group of 4
//! columns, two 16-lane row vectors (`NR` = 32 rows, 4 signed bytes per lane) and one
//! broadcast 4-byte query word per query row; `vpdpbusd` multiplies the unsigned query bytes
//! (`q̂ + 128`) with the signed row bytes and adds the four products to the i32 lane. 28
//! accumulators stay in registers. The result is exact (see [`super::bound`], step 3) and
//! therefore bit-identical to [`super::portable::kernel_int8`].

use crate::backend::cpu::kernel::{MR, NR};

/// Whether this CPU has AVX512-VNNI (and the AVX-512 F/BW/VL the search uses).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::backend::cpu::kernel::has_avx512()
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`super::portable::kernel_int8`] with `vpdpbusd`; falls back to it without VNNI.
pub fn kernel_int8(groups: usize, a: &[u32], b: &[u32], c: &mut [i32]) {
    assert!(a.len() >= groups * MR && b.len() >= groups * NR && c.len() >= MR * NR);
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX512-F/VNNI present; the slice lengths were asserted.
            unsafe { avx512::kernel(groups, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) };
            return;
        }
    }
    super::portable::kernel_int8(groups, a, b, c)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX512-F and AVX512-VNNI must be available; `a`, `b`, `c` must hold `groups·MR`,
    /// `groups·NR` and `MR·NR` values.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn kernel(groups: usize, a: *const u32, b: *const u32, c: *mut i32) {
        let mut acc0 = [_mm512_setzero_si512(); MR];
        let mut acc1 = [_mm512_setzero_si512(); MR];
        let (mut ap, mut bp) = (a, b);
        for _ in 0..groups {
            // SAFETY: `ap`, `bp` stay inside the `groups` panel rows of `a` and `b`.
            unsafe {
                let b0 = _mm512_loadu_si512(bp as *const _);
                let b1 = _mm512_loadu_si512(bp.add(16) as *const _);
                for r in 0..MR {
                    let av = _mm512_set1_epi32(*ap.add(r) as i32);
                    acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, b0);
                    acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, b1);
                }
                ap = ap.add(MR);
                bp = bp.add(NR);
            }
        }
        for r in 0..MR {
            // SAFETY: `c` holds MR·NR values.
            unsafe {
                _mm512_storeu_si512(c.add(r * NR) as *mut _, acc0[r]);
                _mm512_storeu_si512(c.add(r * NR + 16) as *mut _, acc1[r]);
            }
        }
    }
}
