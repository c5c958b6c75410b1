//! GPT-2's building blocks: `Conv1D` (a linear layer whose weight is stored `(in, out)`),
//! layer norm and the MLP.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::Activation;

/// GPT-2's `Conv1D`: `y = x·W + b` with `W` stored `(in, out)` (the transpose of a
/// `nn.Linear` weight).
#[derive(Debug, Clone)]
pub struct Conv1D {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1D {
    /// Read `weight (n_in, n_out)` and `bias (n_out)` under `vb`.
    pub fn load(vb: VarBuilder, n_in: usize, n_out: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((n_in, n_out), "weight")?,
            bias: vb.get(n_out, "bias")?,
        })
    }

    /// `x (..., n_in) → (..., n_out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let n_in = dims.pop().unwrap_or(1);
        let rows = x.elem_count() / n_in.max(1);
        let y = matmul_rows(&x.reshape((rows, n_in))?, &self.weight)?.broadcast_add(&self.bias)?;
        dims.push(self.bias.dim(0)?);
        y.reshape(dims)
    }
}

/// Below this many rows, `x·W` runs one row at a time: a single row takes gemm's
/// matrix–vector path, a few rows would pay for packing the whole of `W` (decoding steps).
const ROWWISE_BELOW: usize = 8;

/// `x (m, k) · w (k, n)`, row by row for small `m` (same result, see [`ROWWISE_BELOW`]).
pub fn matmul_rows(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let m = x.dim(0)?;
    if m <= 1 || m >= ROWWISE_BELOW {
        return x.matmul(w);
    }
    let rows = (0..m)
        .map(|i| x.narrow(0, i, 1)?.matmul(w))
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&rows, 0)
}

/// Layer norm over the last dim: `(x − mean)/√(var + ε)·γ + β` (biased variance).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Read `weight (d)` and `bias (d)` under `vb`.
    pub fn load(vb: VarBuilder, d: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(d, "weight")?,
            bias: vb.get(d, "bias")?,
            eps: eps as f32,
        })
    }

    /// Normalize the last dim of `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps)
    }
}

/// GPT-2's MLP: `c_proj(act(c_fc(x)))`, `d → inner → d`.
#[derive(Debug, Clone)]
pub struct Mlp {
    c_fc: Conv1D,
    c_proj: Conv1D,
    act: Activation,
}

impl Mlp {
    /// Read `c_fc` and `c_proj` under `vb`.
    pub fn load(vb: VarBuilder, d: usize, inner: usize, act: Activation) -> Result<Self> {
        Ok(Self {
            c_fc: Conv1D::load(vb.pp("c_fc"), d, inner)?,
            c_proj: Conv1D::load(vb.pp("c_proj"), inner, d)?,
            act,
        })
    }

    /// `x (..., d) → (..., d)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.c_fc.forward(x)?;
        let h = match self.act {
            Activation::GeluTanh => h.gelu()?,
            Activation::GeluErf => h.gelu_erf()?,
            Activation::Relu => h.relu()?,
        };
        self.c_proj.forward(&h)
    }
}
