//! T5's building blocks: the scale-only RMS norm and the feed-forward block.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::FeedForwardKind;

pub use crate::models::product::Linear;

/// A bias-free linear layer `y = x Wᵀ` reading `<prefix>.weight` of shape `(out, in)`.
pub fn linear(vb: &VarBuilder, in_dim: usize, out_dim: usize, name: &str) -> Result<Linear> {
    let w = vb.pp(name).get((out_dim, in_dim), "weight")?;
    Ok(Linear::new(w, None))
}

/// `T5LayerNorm`: `y = w ⊙ x / √(mean(x²) + ε)` (no mean subtraction, no bias; the mean of
/// squares in `f32`).
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    /// Read `<vb>.weight` of shape `(dim,)`.
    pub fn load(vb: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(dim, "weight")?,
            eps: eps as f32,
        })
    }
}

impl Module for RmsNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(x, &self.weight, self.eps)
    }
}

/// The feed-forward block's dense layers (`DenseReluDense`).
#[derive(Debug, Clone)]
pub enum FeedForward {
    /// `wo · relu(wi · x)`.
    Relu {
        /// `wi`.
        wi: Linear,
        /// `wo`.
        wo: Linear,
    },
    /// `wo · (gelu_new(wi_0 · x) ⊙ (wi_1 · x))`.
    GatedGelu {
        /// `wi_0` (gate, through gelu_new).
        wi0: Linear,
        /// `wi_1` (linear).
        wi1: Linear,
        /// `wo`.
        wo: Linear,
    },
}

impl FeedForward {
    /// Read `<vb>.wi(_0, _1).weight` `(d_ff, d_model)` and `<vb>.wo.weight` `(d_model, d_ff)`.
    pub fn load(
        vb: &VarBuilder,
        kind: FeedForwardKind,
        d_model: usize,
        d_ff: usize,
    ) -> Result<Self> {
        let wo = linear(vb, d_ff, d_model, "wo")?;
        Ok(match kind {
            FeedForwardKind::Relu => Self::Relu {
                wi: linear(vb, d_model, d_ff, "wi")?,
                wo,
            },
            FeedForwardKind::GatedGelu => Self::GatedGelu {
                wi0: linear(vb, d_model, d_ff, "wi_0")?,
                wi1: linear(vb, d_model, d_ff, "wi_1")?,
                wo,
            },
        })
    }
}

impl Module for FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Relu { wi, wo } => wo.forward(&wi.forward(x)?.relu()?),
            // candle's `gelu` is the tanh approximation, HF's `gelu_new`.
            Self::GatedGelu { wi0, wi1, wo } => {
                let gate = wi0.forward(x)?.gelu()?;
                wo.forward(&(gate * wi1.forward(x)?)?)
            }
        }
    }
}

/// Pre-norm residual feed-forward sub-layer: `x + ff(norm(x))` (`T5LayerFF`).
#[derive(Debug, Clone)]
pub struct FeedForwardLayer {
    norm: RmsNorm,
    ff: FeedForward,
}

impl FeedForwardLayer {
    /// Read `<vb>.layer_norm` and `<vb>.DenseReluDense`.
    pub fn load(
        vb: &VarBuilder,
        kind: FeedForwardKind,
        d_model: usize,
        d_ff: usize,
        eps: f64,
    ) -> Result<Self> {
        Ok(Self {
            norm: RmsNorm::load(&vb.pp("layer_norm"), d_model, eps)?,
            ff: FeedForward::load(&vb.pp("DenseReluDense"), kind, d_model, d_ff)?,
        })
    }
}

impl Module for FeedForwardLayer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x + self.ff.forward(&self.norm.forward(x)?)?
    }
}
