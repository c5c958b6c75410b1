//! CLIP's text tower (`CLIPTextTransformer` + `text_projection`): token + position
//! embeddings, the encoder under a causal mask, `final_layer_norm`, the hidden state at the
//! pooling position, the projection.
//!
//! Pooling as `transformers` decides it: with `eos_token_id == 2` (legacy configs) the
//! position of the largest id in the row (the first one on ties, as `argmax`), else the first
//! position holding `eos_token_id` (position 0 when there is none, as `argmax` of zeros).

use candle_core::{Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use crate::models::product::Linear;

use super::config::TextConfig;
use super::layers::{causal_mask, norm, BlockShape, Encoder};

/// The text tower with its projection.
pub struct TextTower {
    tokens: Embedding,
    positions: Tensor,
    encoder: Encoder,
    final_ln: LayerNorm,
    projection: Linear,
    cfg: TextConfig,
}

/// The pooling position of one row of ids under `transformers`' rule for `eos_token_id`.
pub fn pooling_position(ids: &[u32], eos_token_id: u32) -> usize {
    if eos_token_id == 2 {
        let mut best = 0;
        for (i, &t) in ids.iter().enumerate() {
            if t > ids[best] {
                best = i;
            }
        }
        best
    } else {
        ids.iter().position(|&t| t == eos_token_id).unwrap_or(0)
    }
}

impl TextTower {
    /// Load `text_model.*` and `text_projection.weight` (`[projection_dim, hidden]`).
    pub fn load(
        cfg: &TextConfig,
        projection_dim: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let m = vb.pp("text_model");
        let e = m.pp("embeddings");
        let shape = BlockShape {
            hidden: h,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps,
            act: cfg.hidden_act,
        };
        Ok(TextTower {
            tokens: Embedding::new(e.get((cfg.vocab_size, h), "token_embedding.weight")?, h),
            positions: e.get(
                (cfg.max_position_embeddings, h),
                "position_embedding.weight",
            )?,
            encoder: Encoder::load(&shape, cfg.num_hidden_layers, m.pp("encoder"))?,
            final_ln: norm(h, cfg.layer_norm_eps, m.pp("final_layer_norm"))?,
            projection: Linear::new(vb.get((projection_dim, h), "text_projection.weight")?, None),
            cfg: cfg.clone(),
        })
    }

    /// Projected text embeddings `(b, projection_dim)` (not normalized) of equal-length rows
    /// of ids (`b x s`, `s <= max_position_embeddings`, every id `< vocab_size`).
    pub fn embed(&self, ids: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        let b = ids.len();
        let s = ids.first().map_or(0, Vec::len);
        if b == 0
            || s == 0
            || s > self.cfg.max_position_embeddings
            || ids.iter().any(|r| r.len() != s)
        {
            candle_core::bail!(
                "token rows must be non-empty, of equal length <= {}",
                self.cfg.max_position_embeddings
            );
        }
        if let Some(&bad) = ids
            .iter()
            .flatten()
            .find(|&&t| t as usize >= self.cfg.vocab_size)
        {
            candle_core::bail!("token id {bad} >= vocab_size {}", self.cfg.vocab_size);
        }
        let dev = self.positions.device();
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let t = Tensor::from_vec(flat, (b, s), dev)?;
        let x = self
            .tokens
            .forward(&t)?
            .broadcast_add(&self.positions.narrow(0, 0, s)?)?;
        let x = self.encoder.forward(&x, Some(&causal_mask(s, dev)?))?;
        let x = self.final_ln.forward(&x)?;
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, r)| x.get(i)?.get(pooling_position(r, self.cfg.eos_token_id)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        self.projection.forward(&Tensor::stack(&rows, 0)?)
    }
}
