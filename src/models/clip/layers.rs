//! The pre-LayerNorm transformer block both towers share (`CLIPEncoderLayer`):
//! `h = h + out(attn(ln1(h)))`, `h = h + fc2(act(fc1(ln2(h))))`, attention
//! `softmax(q kᵀ / √d_head + mask) v` per head.

use candle_core::{Module, Tensor};
use candle_nn::{layer_norm, LayerNorm, LayerNormConfig, VarBuilder};

use crate::models::product::{linear_with_bias as linear, Linear};

use super::config::Activation;

/// Shapes of one tower's blocks.
#[derive(Debug, Clone, Copy)]
pub struct BlockShape {
    /// Width of the residual stream.
    pub hidden: usize,
    /// Width of the MLP.
    pub intermediate: usize,
    /// Attention heads.
    pub heads: usize,
    /// LayerNorm epsilon.
    pub eps: f64,
    /// MLP activation.
    pub act: Activation,
}

/// A LayerNorm whose weight and bias must both be present with shape `[n]`.
pub fn norm(n: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    layer_norm(
        n,
        LayerNormConfig {
            eps,
            ..Default::default()
        },
        vb,
    )
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    scale: f64,
}

impl Attention {
    fn load(s: &BlockShape, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = s.hidden;
        Ok(Attention {
            q: linear(h, h, vb.pp("q_proj"))?,
            k: linear(h, h, vb.pp("k_proj"))?,
            v: linear(h, h, vb.pp("v_proj"))?,
            out: linear(h, h, vb.pp("out_proj"))?,
            heads: s.heads,
            scale: ((h / s.heads) as f64).powf(-0.5),
        })
    }

    /// `x`: `(b, s, h)`; `mask`: additive `(s, s)` or none.
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, s, h) = x.dims3()?;
        let dh = h / self.heads;
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((b, s, self.heads, dh))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q.forward(x)?)?;
        let k = split(self.k.forward(x)?)?;
        let v = split(self.v.forward(x)?)?;
        let mut w = (q.matmul(&k.t()?)? * self.scale)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        let o = w.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        self.out.forward(&o)
    }
}

struct Mlp {
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.fc1.forward(x)?;
        let x = match self.act {
            Activation::QuickGelu => quick_gelu(&x)?,
            Activation::Gelu => x.gelu_erf()?,
        };
        self.fc2.forward(&x)
    }
}

struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn load(s: &BlockShape, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Block {
            ln1: norm(s.hidden, s.eps, vb.pp("layer_norm1"))?,
            attn: Attention::load(s, vb.pp("self_attn"))?,
            ln2: norm(s.hidden, s.eps, vb.pp("layer_norm2"))?,
            mlp: Mlp {
                fc1: linear(s.hidden, s.intermediate, vb.pp("mlp.fc1"))?,
                fc2: linear(s.intermediate, s.hidden, vb.pp("mlp.fc2"))?,
                act: s.act,
            },
        })
    }

    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, mask)?)?;
        &x + self.mlp.forward(&self.ln2.forward(&x)?)?
    }
}

/// `CLIPEncoder`: `layers.{i}` blocks in order.
pub struct Encoder {
    blocks: Vec<Block>,
}

impl Encoder {
    /// Load `n` blocks from `vb` (`layers.0`, `layers.1`, ...).
    pub fn load(s: &BlockShape, n: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let blocks = (0..n)
            .map(|i| Block::load(s, vb.pp(format!("layers.{i}"))))
            .collect::<candle_core::Result<_>>()?;
        Ok(Encoder { blocks })
    }

    /// Run all blocks over `(b, s, h)`.
    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            x = b.forward(&x, mask)?;
        }
        Ok(x)
    }
}

/// The additive causal mask `(s, s)`: `0` on and below the diagonal, `-inf` above.
pub fn causal_mask(s: usize, device: &candle_core::Device) -> candle_core::Result<Tensor> {
    let v: Vec<f32> = (0..s)
        .flat_map(|i| (0..s).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(v, (s, s), device)
}

/// `x · σ(1.702 x)` elementwise (see [`crate::math::activation`]: vectorized, no subnormal
/// slow path).
fn quick_gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    let mut v = x.flatten_all()?.to_vec1::<f32>()?;
    crate::math::activation::quick_gelu(&mut v);
    Tensor::from_vec(v, x.shape(), x.device())
}
