//! Activations over contiguous f32 buffers, vectorized and parallel.
//!
//! **QuickGELU** (CLIP's `quick_gelu`): `x · σ(1.702 x)` with `σ(z) = 1 / (1 + e⁻ᶻ)`. The
//! sigmoid is evaluated from `e = e^(−|z|) ∈ (0, 1]` only ([`super::exp`]'s `exp_f32`, ≤ 2 ulp,
//! argument clamped at −87 so `e` is never subnormal): `σ(z) = 1/(1+e)` for `z ≥ 0`, `e/(1+e)`
//! for `z < 0`. No overflow, no subnormal slow path (the scalar libm route through candle's
//! `sigmoid` spent ~100 ns per element there on large activations), NaN stays NaN. Results
//! equal PyTorch's within f32 rounding; for `z < −87` the factor is `≈1.6·10⁻³⁸` instead of
//! smaller, an absolute difference below `|x|·2·10⁻³⁸`.

use rayon::prelude::*;

use super::exp::exp_f32;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

#[inline(always)]
fn sigmoid<const FMA: bool>(z: f32) -> f32 {
    let e = exp_f32::<FMA>(-z.abs());
    let s = 1.0 / (1.0 + e);
    if z >= 0.0 {
        s
    } else {
        e * s
    }
}

#[inline(always)]
fn quick_gelu_impl<const FMA: bool>(xs: &mut [f32]) {
    for x in xs {
        *x *= sigmoid::<FMA>(1.702 * *x);
    }
}

fn quick_gelu_chunk(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked on the line above).
        return unsafe { x86::quick_gelu_avx512(xs) };
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
        return unsafe { x86::quick_gelu_avx2(xs) };
    }
    quick_gelu_impl::<false>(xs)
}

/// `x ← x · σ(1.702 x)` for every element, in parallel chunks.
pub(crate) fn quick_gelu(xs: &mut [f32]) {
    xs.par_chunks_mut(CHUNK).for_each(quick_gelu_chunk);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn quick_gelu_avx512(xs: &mut [f32]) {
        super::quick_gelu_impl::<true>(xs)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quick_gelu_avx2(xs: &mut [f32]) {
        super::quick_gelu_impl::<true>(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against f64 `x / (1 + exp(−z))`, `z = 1.702 x` in f32, over a wide range, every dispatch
    /// path.
    #[test]
    fn quick_gelu_matches_the_f64_formula() {
        let xs: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 1e-3).collect();
        let want: Vec<f64> = xs
            .iter()
            // z = 1.702·x rounded to f32 first, as PyTorch computes it in f32 too.
            .map(|&x| x as f64 / (1.0 + (-((1.702 * x) as f64)).exp()))
            .collect();
        let mut paths: Vec<Vec<f32>> = vec![xs.clone(), xs.clone()];
        quick_gelu(&mut paths[0]);
        quick_gelu_impl::<false>(&mut paths[1]);
        for got in &paths {
            for ((&g, &w), &x) in got.iter().zip(&want).zip(&xs) {
                let err = (g as f64 - w).abs();
                assert!(
                    err <= 4.0 * f32::EPSILON as f64 * w.abs() + 1e-30 * (x as f64).abs() + 1e-37,
                    "x = {x}: {g} vs {w}"
                );
            }
        }
        let mut special = vec![f32::NAN, 0.0, -0.0, 1e30, -1e30];
        quick_gelu(&mut special);
        assert!(special[0].is_nan());
        assert_eq!(&special[1..4], &[0.0, -0.0, 1e30]);
        assert!(special[4] <= 0.0 && special[4] > -1e-6);
    }
}
