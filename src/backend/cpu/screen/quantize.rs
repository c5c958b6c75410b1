//! Quantization of datastore rows (once, into the [`QuantizedRows`] copy) and of queries (per
//! search), with the measured error terms the bound ([`super::bound`]) is built from.
//!
//! **int8** (symmetric, per row): `s_x = max_i |x_i| / 127` rounded to f32,
//! `x̂_i = clamp(round(x_i / s_x), −127, 127)`, so `x̃ = s_x·x̂` approximates `x` with
//! `|x_i − x̃_i| ≤ s_x / 2`. Queries are quantized the same way (`s_q`, `q̂`) and stored as the
//! unsigned bytes `q̂_i + 128 ∈ [1, 255]` that `vpdpbusd` multiplies with the signed row bytes.
//!
//! **bf16**: `x̃_i = bf16(x_i)` (round to nearest even; values below the smallest normal f32
//! are flushed to ±0 here, so the kernel never sees a denormal input).
//!
//! Whatever rounding is used, the bound does not assume it: the error norms
//! `E_x = ‖x − x̃‖` and `E_q = ‖q − q̃‖` are **measured** in f64 and rounded up, together with
//! `N_x ≥ max(‖x‖, ‖x̃‖)` and `N̂_x ≥ ‖x̃‖` (see [`super::bound`]).
//!
//! Layout: rows are packed in panels of [`NR`] rows, `[group][NR]` 32-bit words, a group being
//! 4 consecutive columns (int8, byte `t` of a word = column `4g + t`) or 2 (bf16, low half =
//! column `2g`). Missing columns and rows are zero. Query panels are `[group][MR]` words.

use half::bf16;

use super::bound::{self, RowTerms};
use super::ScreenMode;
use crate::backend::cpu::kernel::{MR, NR};

/// Columns per 32-bit word.
pub(crate) fn per_word(mode: ScreenMode) -> usize {
    match mode {
        ScreenMode::Int8 => 4,
        ScreenMode::Bf16 => 2,
    }
}

/// Round an f32 to bf16 (nearest even), flushing values below the smallest normal f32 to ±0.
/// Finite inputs whose rounding would overflow are the caller's concern (rows outside the
/// norm range of [`bound`] are never quantized).
pub(crate) fn to_bf16(x: f32) -> bf16 {
    if x.abs() < f32::MIN_POSITIVE {
        return bf16::from_bits(((x.to_bits() >> 16) as u16) & 0x8000);
    }
    bf16::from_f32(x)
}

/// One row (or query) quantized: its words and its measured terms.
pub(crate) struct Quantized {
    /// `ceil(d / per_word)` words.
    pub words: Vec<u32>,
    /// int8 scale (`s`), 1 for bf16, 0 for a row outside the bound's range.
    pub scale: f32,
    /// Σ x̂ (int8 rows), 0 otherwise.
    pub sum: i32,
    /// Measured terms (norms rounded up).
    pub terms: RowTerms,
}

/// Quantize `x` (finite). `signed`: the int8 bytes are `x̂` (rows); else `x̂ + 128` (queries).
/// A vector whose norm is outside [`bound::NORM_RANGE`] is stored as zeros with
/// `terms.in_range = false`.
pub(crate) fn quantize(x: &[f32], mode: ScreenMode, signed: bool) -> Quantized {
    let d = x.len();
    let pw = per_word(mode);
    let groups = d.div_ceil(pw);
    let norm = x
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt();
    let in_range = bound::in_range(norm);
    let mut words = vec![0u32; groups];
    let mut sum = 0i32;
    let (mut err2, mut approx2) = (0f64, 0f64);
    if !in_range {
        // Stored as zeros; the bound then makes every pair a candidate.
        if !signed && mode == ScreenMode::Int8 {
            words.iter_mut().for_each(|w| *w = 0x8080_8080);
        }
        let terms = RowTerms::new(norm, norm, 0.0, false);
        return Quantized {
            words,
            scale: 0.0,
            sum: 0,
            terms,
        };
    }
    let scale = match mode {
        ScreenMode::Int8 => {
            let amax = x.iter().fold(0f32, |m, &v| m.max(v.abs()));
            let scale = (amax as f64 / 127.0) as f32;
            let inv = if scale > 0.0 { 1.0 / scale as f64 } else { 0.0 };
            for (i, &v) in x.iter().enumerate() {
                // Round half away from zero (`as` truncates toward zero; the clamp keeps
                // the cast in range). Any rounding would do: the error is measured below.
                let t = ((v as f64) * inv).clamp(-127.0, 127.0);
                let qv = (t.abs() + 0.5) as i32 * if t < 0.0 { -1 } else { 1 };
                let qv = qv.clamp(-127, 127);
                let approx = scale as f64 * qv as f64;
                err2 += (v as f64 - approx).powi(2);
                approx2 += approx * approx;
                sum += qv;
                let byte = if signed {
                    qv as i8 as u8
                } else {
                    (qv + 128) as u8
                };
                words[i / 4] |= (byte as u32) << (8 * (i % 4));
            }
            scale
        }
        ScreenMode::Bf16 => {
            for (i, &v) in x.iter().enumerate() {
                let b = to_bf16(v);
                let approx = b.to_f64();
                err2 += (v as f64 - approx).powi(2);
                approx2 += approx * approx;
                words[i / 2] |= (b.to_bits() as u32) << (16 * (i % 2));
            }
            1.0
        }
    };
    let terms = RowTerms::new(norm, approx2.sqrt(), err2.sqrt(), true);
    Quantized {
        words,
        scale,
        sum,
        terms,
    }
}

/// Pack `n ≤ MR` quantized queries (`groups` words each) into one `[group][MR]` panel.
/// Missing queries are zero words (their results are never read).
pub(crate) fn pack_query_panel(queries: &[&[u32]], groups: usize, out: &mut [u32]) {
    debug_assert!(queries.len() <= MR && out.len() >= groups * MR);
    out[..groups * MR].fill(0);
    for (r, words) in queries.iter().enumerate() {
        for (g, &w) in words.iter().enumerate() {
            out[g * MR + r] = w;
        }
    }
}

/// Write the words of row `j` of its panel (`[group][NR]`) into `panel`.
pub(crate) fn put_row(panel: &mut [u32], j: usize, words: &[u32]) {
    for (g, &w) in words.iter().enumerate() {
        panel[g * NR + j] = w;
    }
}
