//! The AVX512-BF16 screening micro-kernel: an `MR x NR` tile of bf16 dot products
//! accumulated in f32 by `vdpbf16ps` (two exact bf16 products added per lane and step,
//! round-to-nearest-even, denormal results flushed; the error is bounded in
//! [`super::bound`], step 3). Same register blocking as the int8 kernel.

use crate::backend::cpu::kernel::{MR, NR};

/// Whether this CPU has AVX512-BF16 (and the AVX-512 F/BW/VL the search uses).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::backend::cpu::kernel::has_avx512()
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`super::portable::kernel_bf16`] with `vdpbf16ps` (results may differ from the portable
/// kernel's in the last bits, both within the bound); falls back to it without AVX512-BF16.
pub fn kernel_bf16(groups: usize, a: &[u32], b: &[u32], c: &mut [f32]) {
    assert!(a.len() >= groups * MR && b.len() >= groups * NR && c.len() >= MR * NR);
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX512-F/BF16 present; the slice lengths were asserted.
            unsafe { avx512::kernel(groups, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) };
            return;
        }
    }
    super::portable::kernel_bf16(groups, a, b, c)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX512-F and AVX512-BF16 must be available; `a`, `b`, `c` must hold `groups·MR`,
    /// `groups·NR` and `MR·NR` values.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn kernel(groups: usize, a: *const u32, b: *const u32, c: *mut f32) {
        let mut acc0 = [_mm512_setzero_ps(); MR];
        let mut acc1 = [_mm512_setzero_ps(); MR];
        let (mut ap, mut bp) = (a, b);
        for _ in 0..groups {
            // SAFETY: `ap`, `bp` stay inside the `groups` panel rows of `a` and `b`; the
            // transmutes reinterpret 64 bytes as 32 bf16 values.
            unsafe {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp as *const _));
                let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(16) as *const _));
                for r in 0..MR {
                    let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*ap.add(r) as i32));
                    acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
                    acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
                }
                ap = ap.add(MR);
                bp = bp.add(NR);
            }
        }
        for r in 0..MR {
            // SAFETY: `c` holds MR·NR values.
            unsafe {
                _mm512_storeu_ps(c.add(r * NR), acc0[r]);
                _mm512_storeu_ps(c.add(r * NR + 16), acc1[r]);
            }
        }
    }
}
