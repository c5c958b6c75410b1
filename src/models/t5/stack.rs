//! The encoder and decoder stacks (`T5Stack`): pre-norm residual layers, the relative
//! position bias of the first layer shared by all layers, a final RMS norm.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::attention::{append, AttentionLayer, KeyValues, PositionBias};
use super::config::T5Config;
use super::layers::{FeedForwardLayer, RmsNorm};

/// One encoder layer: self-attention, feed-forward.
#[derive(Debug, Clone)]
struct EncoderLayer {
    attn: AttentionLayer,
    ff: FeedForwardLayer,
}

/// The encoder stack (`encoder.*`).
#[derive(Debug, Clone)]
pub struct Encoder {
    layers: Vec<EncoderLayer>,
    bias: PositionBias,
    final_norm: RmsNorm,
}

fn ff_layer(vb: &VarBuilder, cfg: &T5Config) -> Result<FeedForwardLayer> {
    let kind = cfg.feed_forward().map_err(candle_core::Error::msg)?;
    FeedForwardLayer::load(vb, kind, cfg.d_model, cfg.d_ff, cfg.layer_norm_epsilon)
}

impl Encoder {
    /// Read `encoder.block.{i}.layer.{0,1}` and `encoder.final_layer_norm`.
    pub fn load(vb: &VarBuilder, cfg: &T5Config) -> Result<Self> {
        let blocks = vb.pp("block");
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let b = blocks.pp(i.to_string()).pp("layer");
            layers.push(EncoderLayer {
                attn: AttentionLayer::load(&b.pp("0"), cfg, "SelfAttention")?,
                ff: ff_layer(&b.pp("1"), cfg)?,
            });
        }
        let bias = PositionBias::load(
            &blocks.pp("0").pp("layer").pp("0").pp("SelfAttention"),
            cfg,
            true,
        )?;
        Ok(Self {
            layers,
            bias,
            final_norm: RmsNorm::load(
                &vb.pp("final_layer_norm"),
                cfg.d_model,
                cfg.layer_norm_epsilon,
            )?,
        })
    }

    /// Encode embeddings `(b, s, d)` under the additive padding bias `(b, 1, 1, s)`.
    pub fn forward(&self, x: &Tensor, padding: &Tensor) -> Result<Tensor> {
        let s = x.dim(1)?;
        let bias = self.bias.bias(0, s, s, false)?.broadcast_add(padding)?;
        let mut x = x.clone();
        for layer in &self.layers {
            let h = layer.attn.norm.forward(&x)?;
            let q = layer.attn.attn.queries(&h)?;
            let kv = layer.attn.attn.key_values(&h)?;
            x = (x + layer.attn.attn.attend(&q, &kv, &bias)?)?;
            x = layer.ff.forward(&x)?;
        }
        self.final_norm.forward(&x)
    }
}

/// One decoder layer: causal self-attention, cross-attention, feed-forward.
#[derive(Debug, Clone)]
struct DecoderLayer {
    attn: AttentionLayer,
    cross: AttentionLayer,
    ff: FeedForwardLayer,
}

/// The decoder stack (`decoder.*`).
#[derive(Debug, Clone)]
pub struct Decoder {
    layers: Vec<DecoderLayer>,
    bias: PositionBias,
    final_norm: RmsNorm,
}

/// The encoder side of cross-attention: per decoder layer the keys/values of the encoder
/// states `(b, H, s, d)`, and the padding bias `(b, 1, 1, s)`. Computed once per prompt.
#[derive(Debug, Clone)]
pub struct CrossKeyValues {
    /// Per layer.
    pub layers: Vec<KeyValues>,
    /// Additive padding bias.
    pub padding: Tensor,
}

impl CrossKeyValues {
    /// Prompts (batch rows).
    pub fn batch(&self) -> usize {
        self.padding.dims()[0]
    }
}

impl Decoder {
    /// Read `decoder.block.{i}.layer.{0,1,2}` and `decoder.final_layer_norm`.
    pub fn load(vb: &VarBuilder, cfg: &T5Config) -> Result<Self> {
        let blocks = vb.pp("block");
        let n = cfg.decoder_layers();
        let mut layers = Vec::with_capacity(n);
        for i in 0..n {
            let b = blocks.pp(i.to_string()).pp("layer");
            layers.push(DecoderLayer {
                attn: AttentionLayer::load(&b.pp("0"), cfg, "SelfAttention")?,
                cross: AttentionLayer::load(&b.pp("1"), cfg, "EncDecAttention")?,
                ff: ff_layer(&b.pp("2"), cfg)?,
            });
        }
        let bias = PositionBias::load(
            &blocks.pp("0").pp("layer").pp("0").pp("SelfAttention"),
            cfg,
            false,
        )?;
        Ok(Self {
            layers,
            bias,
            final_norm: RmsNorm::load(
                &vb.pp("final_layer_norm"),
                cfg.d_model,
                cfg.layer_norm_epsilon,
            )?,
        })
    }

    /// Layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Cross-attention keys/values of encoder states `(b, s, d)` for every layer.
    pub fn cross_key_values(&self, encoded: &Tensor, padding: &Tensor) -> Result<CrossKeyValues> {
        let layers = self
            .layers
            .iter()
            .map(|l| l.cross.attn.key_values(encoded))
            .collect::<Result<Vec<_>>>()?;
        Ok(CrossKeyValues {
            layers,
            padding: padding.clone(),
        })
    }

    /// Run `x (n, t, d)` (embedded decoder tokens at positions `past..past+t`) through the
    /// stack, appending to the self-attention `cache` (one entry per layer). `cross` has
    /// either `n` rows (one prompt per hypothesis) or one row shared by all `n` hypotheses.
    /// Returns the final-normed hidden states `(n, t, d)`.
    pub fn forward(
        &self,
        x: &Tensor,
        past: usize,
        cache: &mut [Option<KeyValues>],
        cross: &CrossKeyValues,
    ) -> Result<Tensor> {
        let t = x.dim(1)?;
        let bias = self.bias.bias(past, t, past + t, true)?;
        let shared = cross.batch() == 1;
        let mut x = x.clone();
        for ((layer, slot), ckv) in self.layers.iter().zip(cache.iter_mut()).zip(&cross.layers) {
            let h = layer.attn.norm.forward(&x)?;
            let q = layer.attn.attn.queries(&h)?;
            let kv = append(slot.as_ref(), layer.attn.attn.key_values(&h)?)?;
            x = (x + layer.attn.attn.attend(&q, &kv, &bias)?)?;
            *slot = Some(kv);
            let h = layer.cross.norm.forward(&x)?;
            let q = layer.cross.attn.queries(&h)?;
            let out = if shared {
                layer.cross.attn.attend_shared(&q, ckv, &cross.padding)?
            } else {
                layer.cross.attn.attend(&q, ckv, &cross.padding)?
            };
            x = (x + out)?;
            x = layer.ff.forward(&x)?;
        }
        self.final_norm.forward(&x)
    }
}
