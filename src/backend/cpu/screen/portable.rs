//! The portable screening kernels: the scalar reference every SIMD kernel is tested against,
//! and the path CPUs without AVX512-VNNI / AVX512-BF16 take.

use crate::backend::cpu::kernel::{MR, NR};

/// int8: `c[r·NR + j] = Σ_g Σ_t a_byte(g, r, t) · b_byte(g, j, t)` with the query bytes
/// unsigned (`q̂ + 128`) and the row bytes signed (`x̂`), summed exactly in i32: what
/// `vpdpbusd` computes.
pub fn kernel_int8(groups: usize, a: &[u32], b: &[u32], c: &mut [i32]) {
    assert!(a.len() >= groups * MR && b.len() >= groups * NR && c.len() >= MR * NR);
    c[..MR * NR].fill(0);
    for g in 0..groups {
        let ag = &a[g * MR..(g + 1) * MR];
        let bg = &b[g * NR..(g + 1) * NR];
        for (r, &aw) in ag.iter().enumerate() {
            let ab = aw.to_le_bytes().map(|v| v as i32);
            for (j, &bw) in bg.iter().enumerate() {
                let bb = bw.to_le_bytes().map(|v| v as i8 as i32);
                let dot = ab[0] * bb[0] + ab[1] * bb[1] + ab[2] * bb[2] + ab[3] * bb[3];
                c[r * NR + j] = c[r * NR + j].wrapping_add(dot);
            }
        }
    }
}

/// bf16: `c[r·NR + j] = Σ_g (a_lo·b_lo + a_hi·b_hi)` in f32 (each product exact in f32),
/// accumulated in group order.
pub fn kernel_bf16(groups: usize, a: &[u32], b: &[u32], c: &mut [f32]) {
    assert!(a.len() >= groups * MR && b.len() >= groups * NR && c.len() >= MR * NR);
    let wide = |w: u32| (f32::from_bits(w << 16), f32::from_bits(w & 0xFFFF_0000));
    c[..MR * NR].fill(0.0);
    for g in 0..groups {
        let ag = &a[g * MR..(g + 1) * MR];
        let bg = &b[g * NR..(g + 1) * NR];
        for (r, &aw) in ag.iter().enumerate() {
            let (a0, a1) = wide(aw);
            for (j, &bw) in bg.iter().enumerate() {
                let (b0, b1) = wide(bw);
                let s = &mut c[r * NR + j];
                *s = *s + a1 * b1 + a0 * b0;
            }
        }
    }
}
