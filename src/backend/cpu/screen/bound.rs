//! The screening bound: for every query `q` and datastore row `x`, a number `B(q, x)` with
//! `|s(q, x) − ŝ(q, x)| ≤ B(q, x)`, where `s` is the score the crate's f32 search returns (the
//! FMA chain of [`crate::backend::cpu::kernel`]) and `ŝ` the low-precision screening score as
//! computed.
//!
//! ## Notation
//!
//! `u = 2⁻²⁴` (f32 unit roundoff), `γ_n = n·u / (1 − n·u)`, `d` the dimension, `x̃`, `q̃` the
//! dequantized vectors ([`super::quantize`]): int8 `x̃ = s_x·x̂`, bf16 `x̃ = bf16(x)`.
//! Measured per vector, in f64 and rounded up: `E_x ≥ ‖x − x̃‖`, `N̂_x ≥ ‖x̃‖`,
//! `N_x ≥ max(‖x‖, ‖x̃‖)`; the same for `q`. `G = N_q·N_x`.
//!
//! ## Derivation
//!
//! 1. *Quantization* (exact algebra): `q·x − q̃·x̃ = q·(x − x̃) + (q − q̃)·x̃`, so by
//!    Cauchy–Schwarz `|q·x − q̃·x̃| ≤ ‖q‖‖x − x̃‖ + ‖q − q̃‖‖x̃‖ ≤ N_q·E_x + E_q·N̂_x`.
//! 2. *The f32 reference* `s` is one FMA chain of `d` steps (each step rounds once):
//!    `|s − q·x| ≤ γ_d·Σ|q_i x_i| + d·2⁻¹⁵⁰ ≤ γ_d·G + d·2⁻¹⁵⁰` (the absolute term covers
//!    results in the subnormal range, where a rounding errs by at most half of `2⁻¹⁴⁹`), as
//!    long as nothing overflows: `Σ|q_i x_i| ≤ G < 2¹²⁰` by the range check below.
//! 3. *The screening product.* int8: `D = q̂·x̂` is an exact integer — `vpdpbusd` (or AMX
//!    `tdpbusd`, or the portable kernel) computes `Σ (q̂_i + 128)·x̂_i` in i32 and
//!    `128·Σ x̂_i` (per row) is subtracted; every partial sum
//!    is at most `255·127·d < 2³¹` in magnitude for `d ≤` [`MAX_DIM_INT8`], so nothing wraps.
//!    Then `ŝ = (f32(D)·s_x)·s_q`: three roundings, `|ŝ − q̃·x̃| ≤ 3.01u·‖q̃‖‖x̃‖ + 2⁻¹⁵⁰`
//!    (`f32(D)·s_x` is zero or normal since `s_x ≥ 2⁻⁸²` in range; only the last product can
//!    be subnormal). bf16: the products of two bf16 values are exact in f32; `vdpbf16ps`
//!    adds them with round-to-nearest and flushes denormal results (and treats denormal
//!    inputs as zero — there are none, [`super::quantize::to_bf16`] flushed them), so
//!    `|ŝ − q̃·x̃| ≤ γ_d·Σ|q̃_i x̃_i| + 2d·2⁻¹²⁶ ≤ γ_d·G + 2d·2⁻¹²⁶` (the portable kernel, which
//!    does not flush, satisfies the same inequality).
//! 4. *Triangle inequality*: `|s − ŝ| ≤ N_q·E_x + E_q·N̂_x + c·G + δ` with `c = γ_d + 4u`
//!    (int8) or `2γ_d + 4u` (bf16), `δ = d·2⁻¹⁵⁰ + 2⁻¹⁵⁰` (int8) or `2d·2⁻¹²⁶ + d·2⁻¹⁵⁰`
//!    (bf16).
//! 5. *Evaluating the bound in f32.* The search computes `B = fma(N_q, α_x, fma(E_q, β_x, δ'))`
//!    with `α_x = up((E_x + c'·N_x)·(1 + 2⁻²⁰))`, `β_x = up(N̂_x·(1 + 2⁻²⁰))`,
//!    `c' = c + 60u`, `δ' = (2d + 64)·2⁻¹²⁶` (≥ `δ` + 64·2⁻¹²⁶, a normal number). All terms
//!    are ≥ 0 and the sums ≥ `δ'` are normal, so each `fma` errs by at most `u` relatively and
//!    `B ≥ (1 − u)²(1 + 2⁻²⁰)·(N_q E_x + E_q N̂_x + c'G + δ') ≥ N_q E_x + E_q N̂_x + c'G + δ'`.
//!    Then `upper = fl(ŝ + B)`, `lower = fl(ŝ − B)`: each rounding errs by at most
//!    `u·(|ŝ| + B) ≤ u·6G + 2⁻¹⁵⁰` (`|ŝ| ≤ 1.01G`, `B ≤ 4.1G + δ'` since `E ≤ 2N`). The extra
//!    `60u·G` and `64·2⁻¹²⁶` in `B` pay for these roundings, hence
//!    `lower ≤ s ≤ upper` — **for every pair, whatever the data**.
//!
//! ## Range
//!
//! Vectors with `‖·‖ ∉ [2⁻⁶⁰, 2⁶⁰]` ([`NORM_RANGE`]) are not quantized: such a row gets
//! `α_x = +∞` (`upper = +∞`, `lower = −∞`: always rescored, never used for the threshold);
//! such a query is searched by the plain f32 search.

use super::ScreenMode;

/// f32 unit roundoff.
pub const U: f64 = 1.0 / 16_777_216.0;

/// Norms inside this range are screened (see the module docs).
pub const NORM_RANGE: (f64, f64) = (8.673_617_379_884_035e-19, 1.152_921_504_606_847e18);

/// Largest dimension whose int8 dot products cannot overflow i32 (`255·127·d < 2³¹`).
pub const MAX_DIM_INT8: usize = ((1u64 << 31) / (255 * 127) - 4) as usize;

/// Whether a vector of this norm is screened.
pub fn in_range(norm: f64) -> bool {
    norm >= NORM_RANGE.0 && norm <= NORM_RANGE.1
}

/// `γ_n = n·u / (1 − n·u)`.
pub fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    nu / (1.0 - nu)
}

/// The coefficient `c'` of `G = N_q·N_x` in the bound.
pub fn g_coefficient(mode: ScreenMode, d: usize) -> f64 {
    let gammas = match mode {
        ScreenMode::Int8 => 1.0,
        ScreenMode::Bf16 => 2.0,
    };
    gammas * gamma(d) + 64.0 * U
}

/// The absolute term `δ'` of the bound (see step 5).
pub fn delta(d: usize) -> f32 {
    ((2 * d + 64) as f64 * f64::powi(2.0, -126)) as f32
}

/// `x` rounded up to an f32 (`≥ x`), for nonnegative `x`.
pub fn up(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) < x {
        f.next_up()
    } else {
        f
    }
}

/// Inflation of f64-computed norms before rounding up (covers their f64 rounding).
const INFLATE: f64 = 1.0 + 1.0 / 1_048_576.0;

/// Measured norms of one quantized vector, rounded up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowTerms {
    /// `N ≥ max(‖v‖, ‖ṽ‖)`.
    pub n: f64,
    /// `N̂ ≥ ‖ṽ‖`.
    pub n_hat: f64,
    /// `E ≥ ‖v − ṽ‖`.
    pub e: f64,
    /// Whether the norm is inside [`NORM_RANGE`].
    pub in_range: bool,
}

impl RowTerms {
    /// From f64-computed norms. Sums of `d` squares in f64 err by at most `γ_d` (f64
    /// roundoff) relatively, in any order; the factor `1 + 2⁻²⁰` covers it for `d < 2³⁰`.
    pub fn new(norm: f64, approx: f64, err: f64, in_range: bool) -> Self {
        RowTerms {
            n: norm.max(approx) * INFLATE,
            n_hat: approx * INFLATE,
            e: err * INFLATE,
            in_range,
        }
    }

    /// `α_x = up((E_x + c'·N_x)·(1 + 2⁻²⁰))`, `+∞` out of range.
    pub fn alpha(&self, mode: ScreenMode, d: usize) -> f32 {
        if !self.in_range {
            return f32::INFINITY;
        }
        up((self.e + g_coefficient(mode, d) * self.n) * INFLATE)
    }

    /// `β_x = up(N̂_x·(1 + 2⁻²⁰))`.
    pub fn beta(&self) -> f32 {
        up(self.n_hat * INFLATE)
    }

    /// Query side: `(N_q, E_q)` rounded up.
    pub fn query(&self) -> (f32, f32) {
        (up(self.n).max(f32::MIN_POSITIVE), up(self.e))
    }
}

/// `B = fma(N_q, α_x, fma(E_q, β_x, δ'))` (step 5).
#[inline]
pub fn bound(nq: f32, eq: f32, alpha: f32, beta: f32, delta: f32) -> f32 {
    nq.mul_add(alpha, eq.mul_add(beta, delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert!(255 * 127 * (MAX_DIM_INT8 as u64 + 4) < (1u64 << 31));
        assert_eq!(NORM_RANGE.0, f64::powi(2.0, -60));
        assert_eq!(NORM_RANGE.1, f64::powi(2.0, 60));
        assert!(delta(1) >= f32::MIN_POSITIVE);
        assert!(up(0.1) as f64 >= 0.1 && up(0.5) == 0.5);
    }
}
