//! `Y = X Wᵀ` for an activation `X` `(rows, in)` and a weight `W` `(out, in)` stored the way
//! PyTorch's `nn.Linear` stores it: the product every linear layer of the models runs.
//!
//! [`Linear`] picks one of three products by the number of rows, as measured on FLAN-T5-base
//! (2 threads; `examples/bench_t5.rs`, see `benches/models/README.md`):
//!
//! - **One row** (greedy decode step): [`times_transposed`]'s streaming dot kernel. `W` is read
//!   from memory once, its rows split across threads; this is the memory-bound shape of
//!   autoregressive decoding (FLAN-T5-base reads ~453 MB of weights per step), where a
//!   general GEMM's packing costs more than the arithmetic. Dot products accumulate in f32 in
//!   16 lanes (AVX2 + FMA when the CPU has them, detected at run time), then the lanes are
//!   summed.
//! - **2–16 rows** (beam hypotheses): candle's GEMM with the weight as the left operand,
//!   `(W Xᵀ)ᵀ`.
//! - **More rows** (prompt encoding, image towers): faer's blocked GEMM on all rayon threads,
//!   `Wᵀ` read in place (no transposed copy).
//!
//! Each sums in a different order than PyTorch's GEMM: equal within f32 rounding.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

/// A linear layer `y = x Wᵀ (+ b)` with `W` `(out, in)`, as PyTorch's `nn.Linear` (the
/// product chosen by the number of rows, see the module doc).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Wrap a contiguous f32 CPU `(out, in)` weight and an optional `(out,)` bias.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self { weight, bias }
    }

    /// `x Wᵀ` for `x` `(rows, k)`.
    fn product(&self, x: &Tensor, rows: usize, k: usize) -> Result<Tensor> {
        let (out, width) = self.weight.dims2()?;
        if width != k {
            candle_core::bail!("linear: input width {k}, weight expects {width}");
        }
        let x = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let (storage, layout) = self.weight.storage_and_layout();
        let w = match (&*storage, layout.contiguous_offsets()) {
            (candle_core::Storage::Cpu(cpu), Some((start, end))) => {
                &cpu.as_slice::<f32>()?[start..end]
            }
            _ => candle_core::bail!("linear: the weight must be a contiguous f32 CPU tensor"),
        };
        let y = times_transposed(&x, rows, w, out, k);
        Tensor::from_vec(y, (rows, out), &candle_core::Device::Cpu)
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (k, lead) = match dims.split_last() {
            Some((&k, lead)) => (k, lead.to_vec()),
            None => candle_core::bail!("linear: scalar input"),
        };
        let rows: usize = lead.iter().product();
        let x2 = x.reshape((rows, k))?;
        let mut y = if rows > 1 && rows <= FEW_ROWS {
            // (W x₂ᵀ)ᵀ: the weight is the large left operand, packed by rows once per call.
            // Measured on FLAN-T5-base with 8 hypotheses (Intel Xeon, 2 threads): 59 ms per
            // step, against 88 ms through faer's X Wᵀ and 161 ms through the dot kernel.
            self.weight.matmul(&x2.t()?)?.t()?.contiguous()?
        } else {
            self.product(&x2, rows, k)?
        };
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        let mut out = lead;
        out.push(self.weight.dim(0)?);
        y.reshape(out)
    }
}

/// `nn.Linear(in_dim, out_dim)` from `<vb>.weight` `(out, in)` and `<vb>.bias` `(out,)`.
pub fn linear_with_bias(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let w = vb.get((out_dim, in_dim), "weight")?;
    let b = vb.get(out_dim, "bias")?;
    Ok(Linear::new(w, Some(b)))
}

/// Output rows per parallel task (a 768-wide f32 weight block of 64 rows is 192 KiB).
const OUT_BLOCK: usize = 64;

/// Above this many rows, [`Linear`] runs faer's GEMM; [`times_transposed`] streams `W` up to it.
pub const FEW_ROWS: usize = 16;

/// `y[r·out + o] = Σ_i x[r·k + i] · w[o·k + i]`, `y` row-major `(rows, out)`.
///
/// `x.len()` must be `rows · k` and `w.len()` `out · k` (checked by the callers, which take
/// the shapes from the tensors).
pub fn times_transposed(x: &[f32], rows: usize, w: &[f32], out: usize, k: usize) -> Vec<f32> {
    if rows == 0 || out == 0 {
        return Vec::new();
    }
    if rows <= FEW_ROWS {
        few_rows_times_transposed(x, rows, w, out, k)
    } else {
        many_rows_times_transposed(x, rows, w, out, k)
    }
}

/// The GEMM path: faer, `Y = X · (W)ᵀ` with `W` viewed transposed in place.
fn many_rows_times_transposed(x: &[f32], rows: usize, w: &[f32], out: usize, k: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * out];
    let xm = faer::MatRef::from_row_major_slice(x, rows, k);
    let wm = faer::MatRef::from_row_major_slice(w, out, k);
    let ym = faer::MatMut::from_row_major_slice_mut(&mut y, rows, out);
    faer::linalg::matmul::matmul(
        ym,
        faer::Accum::Replace,
        xm,
        wm.transpose(),
        1.0f32,
        faer::Par::rayon(0),
    );
    y
}

/// The streaming path for `rows ≤ 16`.
fn few_rows_times_transposed(x: &[f32], rows: usize, w: &[f32], out: usize, k: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), rows * k);
    debug_assert_eq!(w.len(), out * k);
    let mut yt = vec![0f32; out * rows];
    yt.par_chunks_mut(OUT_BLOCK * rows)
        .enumerate()
        .for_each(|(block, dst)| {
            let first = block * OUT_BLOCK;
            for (j, cell) in dst.chunks_exact_mut(rows).enumerate() {
                dots(&w[(first + j) * k..(first + j + 1) * k], x, k, cell);
            }
        });
    let mut y = vec![0f32; rows * out];
    for o in 0..out {
        for r in 0..rows {
            y[r * out + o] = yt[o * rows + r];
        }
    }
    y
}

/// `out[r] = w · x_r` for every row `r` of `x`, each 16-float chunk of `w` loaded once for all
/// rows.
fn dots(w: &[f32], x: &[f32], k: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
        return unsafe { dots_avx2(w, x, k, out) };
    }
    dots_lanes::<false>(w, x, k, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_avx2(w: &[f32], x: &[f32], k: usize, out: &mut [f32]) {
    dots_lanes::<true>(w, x, k, out)
}

#[inline(always)]
fn dots_lanes<const FMA: bool>(w: &[f32], x: &[f32], k: usize, out: &mut [f32]) {
    const L: usize = 16;
    let rows = out.len();
    let mut acc = [[0f32; L]; 16];
    let full = k / L * L;
    for c in (0..full).step_by(L) {
        let wc: &[f32; L] = w[c..c + L].try_into().expect("16 floats");
        for (r, a) in acc.iter_mut().enumerate().take(rows) {
            let xc: &[f32; L] = x[r * k + c..r * k + c + L].try_into().expect("16 floats");
            for l in 0..L {
                a[l] = if FMA {
                    wc[l].mul_add(xc[l], a[l])
                } else {
                    a[l] + wc[l] * xc[l]
                };
            }
        }
    }
    for (r, y) in out.iter_mut().enumerate() {
        let tail: f32 = (full..k).map(|i| w[i] * x[r * k + i]).sum();
        *y = acc[r].iter().sum::<f32>() + tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rows_or_no_outputs_give_an_empty_product() {
        assert!(times_transposed(&[], 0, &[1.0; 6], 2, 3).is_empty());
        assert!(times_transposed(&[1.0; 3], 1, &[], 0, 3).is_empty());
    }

    #[test]
    fn few_rows_equal_the_f64_product() {
        check(3, 130, 77);
    }

    #[test]
    fn many_rows_equal_the_f64_product() {
        check(FEW_ROWS + 21, 130, 77);
    }

    fn check(rows: usize, out: usize, k: usize) {
        let x: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let w: Vec<f32> = (0..out * k)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 40.0)
            .collect();
        let y = times_transposed(&x, rows, &w, out, k);
        for r in 0..rows {
            for o in 0..out {
                let exact: f64 = (0..k)
                    .map(|i| f64::from(x[r * k + i]) * f64::from(w[o * k + i]))
                    .sum();
                assert!(
                    (f64::from(y[r * out + o]) - exact).abs() < 1e-4,
                    "({r}, {o})"
                );
            }
        }
    }
}
