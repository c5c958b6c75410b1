//! One pre-LN GPT-2 block with SmallCap's cross-attention:
//! `x += attn(ln_1(x))`, `x += crossattention(ln_cross_attn(x), image)`, `x += mlp(ln_2(x))`.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::attention::{CrossAttention, Kv, SelfAttention};
use super::config::SmallCapConfig;
use super::layers::{LayerNorm, Mlp};

/// A decoder block (`transformer.h.N`).
#[derive(Debug, Clone)]
pub struct Block {
    ln_1: LayerNorm,
    attn: SelfAttention,
    ln_cross_attn: LayerNorm,
    crossattention: CrossAttention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    /// Read block `layer` under `vb` (`…transformer.h.{layer}`).
    pub fn load(vb: VarBuilder, cfg: &SmallCapConfig, layer: usize) -> Result<Self> {
        let (d, eps) = (cfg.n_embd, cfg.layer_norm_epsilon);
        let act = cfg.activation().map_err(candle_core::Error::Msg)?;
        Ok(Self {
            ln_1: LayerNorm::load(vb.pp("ln_1"), d, eps)?,
            attn: SelfAttention::load(vb.pp("attn"), cfg, layer)?,
            ln_cross_attn: LayerNorm::load(vb.pp("ln_cross_attn"), d, eps)?,
            crossattention: CrossAttention::load(vb.pp("crossattention"), cfg, layer)?,
            ln_2: LayerNorm::load(vb.pp("ln_2"), d, eps)?,
            mlp: Mlp::load(vb.pp("mlp"), d, cfg.inner_dim(), act)?,
        })
    }

    /// The image's cross-attention keys/values for this block, `enc (b, S, d)`.
    pub fn image_kv(&self, enc: &Tensor) -> Result<Kv> {
        self.crossattention.image_kv(enc)
    }

    /// Full layout, `x (b, t, d)`; returns the output and this block's self-attention
    /// keys/values `(b, h, t, hd)`.
    pub fn forward(&self, x: &Tensor, image: &Kv) -> Result<(Tensor, Kv)> {
        let (a, kv) = self.attn.forward(&self.ln_1.forward(x)?)?;
        let x = (x + a)?;
        let x = (&x
            + self
                .crossattention
                .forward(&self.ln_cross_attn.forward(&x)?, image)?)?;
        let x = (&x + self.mlp.forward(&self.ln_2.forward(&x)?)?)?;
        Ok((x, kv))
    }

    /// Step layout, `x (n, d)`: see [`SelfAttention::step`] and [`CrossAttention::step`].
    pub fn step(
        &self,
        x: &Tensor,
        prefix: &Kv,
        own: &mut Option<Kv>,
        image: &Kv,
    ) -> Result<Tensor> {
        let x = (x + self.attn.step(&self.ln_1.forward(x)?, prefix, own)?)?;
        let x = (&x
            + self
                .crossattention
                .step(&self.ln_cross_attn.forward(&x)?, image)?)?;
        &x + self.mlp.forward(&self.ln_2.forward(&x)?)?
    }
}
