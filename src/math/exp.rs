//! Vectorizable exponentials, with run-time dispatch to AVX2+FMA / AVX-512: DiCO's
//! log-softmax over a large vocabulary (one `eˣ` per logit: libm's scalar `exp` was the whole
//! cost) and the models' sigmoid activations ([`quick_gelu`]).
//!
//! Both exponentials reduce `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, rounding `n` to nearest with
//! the shifter trick (`x·log₂e + 1.5·2ᵖ − 1.5·2ᵖ`, p = 52 / 23), split `ln 2` in two parts
//! (Cody–Waite) so `r` carries no cancellation error, evaluate the Taylor series of `eʳ` by
//! Horner, and put `2ⁿ` in the exponent bits (the shifter leaves `n` in the low mantissa
//! bits, two's complement):
//! - [`exp_f64`]: degree 13, truncation `|r|¹⁴/14! < 4·10⁻¹⁸` → ≤ 2 ulp (tested);
//!   `x < −708` is clamped there (e⁻⁷⁰⁸ ≈ 3·10⁻³⁰⁸, below any sum it enters).
//! - [`exp_f32`]: degree 7, truncation `|r|⁸/8! < 6·10⁻¹⁰` → ≤ 2 f32 ulp (tested);
//!   `x < −87` is clamped there (e⁻⁸⁷ ≈ 1.6·10⁻³⁸).
//!
//! Inputs are `x ≤ 0` (logits minus their maximum or their log-normalizer).

/// `eˣ` in f64 for `x ≤ 0`; `FMA` fuses the Horner steps (only where the CPU has FMA).
#[inline(always)]
pub(crate) fn exp_f64<const FMA: bool>(x: f64) -> f64 {
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // fdlibm's ln2_hi
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // fdlibm's ln2_lo
    let x = if x < -708.0 { -708.0 } else { x };
    let t = x * std::f64::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let step = |p: f64, c: f64| if FMA { p.mul_add(r, c) } else { p * r + c };
    let mut p = 1.0 / 6_227_020_800.0;
    p = step(p, 1.0 / 479_001_600.0);
    p = step(p, 1.0 / 39_916_800.0);
    p = step(p, 1.0 / 3_628_800.0);
    p = step(p, 1.0 / 362_880.0);
    p = step(p, 1.0 / 40_320.0);
    p = step(p, 1.0 / 5_040.0);
    p = step(p, 1.0 / 720.0);
    p = step(p, 1.0 / 120.0);
    p = step(p, 1.0 / 24.0);
    p = step(p, 1.0 / 6.0);
    p = step(p, 0.5);
    p = step(p, 1.0);
    p = step(p, 1.0);
    p * f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
}

/// `eˣ` in f32 for `x ≤ 0`.
#[inline(always)]
pub(crate) fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = if x < -87.0 { -87.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let step = |p: f32, c: f32| if FMA { p.mul_add(r, c) } else { p * r + c };
    let mut p = 1.0 / 5_040.0;
    p = step(p, 1.0 / 720.0);
    p = step(p, 1.0 / 120.0);
    p = step(p, 1.0 / 24.0);
    p = step(p, 1.0 / 6.0);
    p = step(p, 0.5);
    p = step(p, 1.0);
    p = step(p, 1.0);
    p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

/// The largest value of a row, or `None` if any value is NaN or ±∞ (one pass: `x·0` is NaN
/// exactly for the non-finite `x`).
#[inline(always)]
fn max_if_finite(row: &[f32]) -> Option<f32> {
    let mut max = [f32::MIN; 8];
    let mut poison = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for ((m, p), &x) in max.iter_mut().zip(poison.iter_mut()).zip(c) {
            *m = if x > *m { x } else { *m };
            *p += x * 0.0;
        }
    }
    let mut m = max.iter().fold(f32::MIN, |a, &b| if b > a { b } else { a });
    let mut p: f32 = poison.iter().sum();
    for &x in tail {
        m = if x > m { x } else { m };
        p += x * 0.0;
    }
    (p == 0.0 && !row.is_empty()).then_some(m)
}

#[inline(always)]
fn log_sum_exp_impl<const FMA: bool>(row: &[f32]) -> f64 {
    let Some(m) = max_if_finite(row) else {
        return f64::NAN;
    };
    let m = f64::from(m);
    let mut acc = [0f64; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += exp_f64::<FMA>(f64::from(x) - m);
        }
    }
    let tail: f64 = tail.iter().map(|&x| exp_f64::<FMA>(f64::from(x) - m)).sum();
    m + (acc.iter().sum::<f64>() + tail).ln()
}

#[inline(always)]
fn scaled_softmax_impl<const FMA: bool>(out: &mut [f32], row: &[f32], lse: f64, scale: f64) {
    let (lse, scale) = (lse as f32, scale as f32);
    for (o, &x) in out.iter_mut().zip(row) {
        *o = scale * exp_f32::<FMA>(x - lse);
    }
}

/// `log Σ_v exp(x_v)` of a row of f32 logits, in f64 (`m + ln Σ exp(x_v − m)`, m the row's
/// maximum); NaN when a logit is not finite or the row is empty.
pub(crate) fn log_sum_exp(row: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked on the line above).
        return unsafe { x86::lse_avx512(row) };
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
        return unsafe { x86::lse_avx2(row) };
    }
    log_sum_exp_impl::<false>(row)
}

/// `out_v = scale · exp(x_v − lse)` (softmax times a scale, f32 arithmetic: the output is f32).
pub(crate) fn scaled_softmax(out: &mut [f32], row: &[f32], lse: f64, scale: f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked on the line above).
        return unsafe { x86::softmax_avx512(out, row, lse, scale) };
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
        return unsafe { x86::softmax_avx2(out, row, lse, scale) };
    }
    scaled_softmax_impl::<false>(out, row, lse, scale)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn lse_avx512(row: &[f32]) -> f64 {
        super::log_sum_exp_impl::<true>(row)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn lse_avx2(row: &[f32]) -> f64 {
        super::log_sum_exp_impl::<true>(row)
    }

    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn softmax_avx512(out: &mut [f32], row: &[f32], lse: f64, scale: f64) {
        super::scaled_softmax_impl::<true>(out, row, lse, scale)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn softmax_avx2(out: &mut [f32], row: &[f32], lse: f64, scale: f64) {
        super::scaled_softmax_impl::<true>(out, row, lse, scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst_f64<const FMA: bool>() -> f64 {
        let mut worst = 0f64;
        let mut x = -708.0;
        while x <= 0.0 {
            worst = worst.max(((exp_f64::<FMA>(x) - x.exp()) / x.exp()).abs());
            x += 0.000_731_3;
        }
        worst
    }

    fn worst_f32<const FMA: bool>() -> f64 {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let exact = f64::from(x).exp();
            worst = worst.max(((f64::from(exp_f32::<FMA>(x)) - exact) / exact).abs());
            x += 0.000_173;
        }
        worst
    }

    #[test]
    fn exponentials_are_within_two_ulp() {
        assert!(
            worst_f64::<false>() <= 2.0 * f64::EPSILON,
            "{:e}",
            worst_f64::<false>()
        );
        assert!(
            worst_f64::<true>() <= 2.0 * f64::EPSILON,
            "{:e}",
            worst_f64::<true>()
        );
        assert!(
            worst_f32::<false>() <= 2.0 * f64::from(f32::EPSILON),
            "{:e}",
            worst_f32::<false>()
        );
        assert!(
            worst_f32::<true>() <= 2.0 * f64::from(f32::EPSILON),
            "{:e}",
            worst_f32::<true>()
        );
        assert_eq!(exp_f64::<false>(0.0), 1.0);
        assert_eq!(exp_f32::<false>(0.0), 1.0);
        assert!(exp_f64::<false>(f64::NEG_INFINITY) < 1e-307);
    }

    #[test]
    fn log_sum_exp_matches_libm_and_flags_non_finite_rows() {
        let row: Vec<f32> = (0..1001)
            .map(|i| ((i as f32) * 0.731).sin() * 9.0)
            .collect();
        let m = f64::from(row.iter().fold(f32::MIN, |a, &b| a.max(b)));
        let exact = m + row
            .iter()
            .map(|&x| (f64::from(x) - m).exp())
            .sum::<f64>()
            .ln();
        assert!((log_sum_exp(&row) - exact).abs() < 1e-14 * exact.abs());
        assert!((log_sum_exp_impl::<false>(&row) - exact).abs() < 1e-14 * exact.abs());
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut r = row.clone();
            r[517] = bad;
            assert!(log_sum_exp(&r).is_nan());
            r.truncate(3);
            r[1] = bad;
            assert!(log_sum_exp(&r).is_nan());
        }
        assert!(log_sum_exp(&[]).is_nan());
    }
}
