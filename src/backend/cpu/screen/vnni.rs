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

/// The machine's int8 (`vpdpbusd`) or bf16 (`vdpbf16ps`) peak in GOP/s (2 operations per
/// multiply-add) on the current rayon pool: every thread runs 24 independent accumulator
/// chains in registers for `iters` steps. `None` without the instruction.
pub fn peak_gops(mode: super::ScreenMode, iters: usize) -> Option<f64> {
    use rayon::prelude::*;
    let ok = match mode {
        super::ScreenMode::Int8 => available(),
        super::ScreenMode::Bf16 => super::bf16::available(),
    };
    if !ok {
        return None;
    }
    let threads = rayon::current_num_threads();
    let t = std::time::Instant::now();
    let sum: i64 = (0..threads)
        .into_par_iter()
        .map(|_| {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: the instruction's CPU feature was checked above.
                unsafe { avx512::peak_loop(mode == super::ScreenMode::Bf16, iters) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            0
        })
        .sum();
    std::hint::black_box(sum);
    let macs_per_instr = match mode {
        super::ScreenMode::Int8 => 64.0,
        super::ScreenMode::Bf16 => 32.0,
    };
    let ops = 2.0 * macs_per_instr * 24.0 * iters as f64 * threads as f64;
    Some(ops / t.elapsed().as_secs_f64() / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX512-F and AVX512-VNNI (int8) or AVX512-BF16 (`bf16`) must be available.
    #[target_feature(enable = "avx512f,avx512vnni,avx512bf16")]
    pub unsafe fn peak_loop(bf16: bool, iters: usize) -> i64 {
        let mut acc = [_mm512_setzero_si512(); 24];
        let mut accf = [_mm512_setzero_ps(); 24];
        let a = _mm512_set1_epi32(0x0102_0304);
        let b = _mm512_set1_epi32(0x0506_0708);
        // SAFETY: register-only arithmetic; the transmutes reinterpret 64 bytes.
        let (ah, bh) = unsafe {
            (
                std::mem::transmute::<__m512i, __m512bh>(a),
                std::mem::transmute::<__m512i, __m512bh>(b),
            )
        };
        for _ in 0..iters {
            if bf16 {
                for f in accf.iter_mut() {
                    *f = _mm512_dpbf16_ps(*f, ah, bh);
                }
            } else {
                for v in acc.iter_mut() {
                    *v = _mm512_dpbusd_epi32(*v, a, b);
                }
            }
            // Keep the loop from being folded.
            // SAFETY: an empty asm block.
            unsafe { std::arch::asm!("", options(nomem, nostack)) };
        }
        let mut s = 0i64;
        for (v, f) in acc.iter().zip(&accf) {
            s += _mm512_reduce_add_epi32(*v) as i64 + _mm512_reduce_add_ps(*f) as i64;
        }
        s
    }

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
