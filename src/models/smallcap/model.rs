//! The SmallCap decoder: GPT-2 (`wte`, `wpe`, blocks, `ln_f`, `lm_head` tied to `wte`) with
//! cross-attention to the image features; loading and teacher-forced logits.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::attention::Kv;
use super::block::Block;
use super::config::SmallCapConfig;
use crate::models::weights::candle;
use crate::models::ModelFiles;
use crate::{Error, Result};

/// SmallCap's GPT-2 decoder with (reduced) cross-attention, f32 on the CPU.
#[derive(Debug, Clone)]
pub struct SmallCap {
    /// The decoder's configuration.
    pub config: SmallCapConfig,
    /// The model's name (its spec), for errors.
    pub(crate) name: String,
    wte: Tensor,
    wpe: Tensor,
    pub(crate) blocks: Vec<Block>,
    ln_f: super::layers::LayerNorm,
    lm_head: Tensor,
    /// `lm_headᵀ`, contiguous `(d, vocab)`: several rows at once stream it once.
    lm_head_t: Tensor,
}

/// Load SmallCap's decoder from a resolved model: `config.json` (SmallCap's, with a
/// `"decoder"` object, or a bare GPT-2 one) and its tensors under `decoder.` (a SmallCap
/// checkpoint such as `Yova/SmallCap7M`; `encoder.*` is left alone) or at the top level (a
/// bare decoder). Every tensor the config implies must be present with its shape; a missing
/// or mis-shaped one is an [`Error::Model`] naming it.
pub fn load(files: &ModelFiles) -> Result<SmallCap> {
    let config = SmallCapConfig::load(files)?;
    let vb = files.var_builder()?;
    let vb = if vb.contains_tensor("decoder.transformer.wte.weight") {
        vb.pp("decoder")
    } else if vb.contains_tensor("transformer.wte.weight") {
        vb
    } else {
        return Err(files.error(
            "no decoder.transformer.wte.weight (SmallCap checkpoint) nor transformer.wte.weight (bare decoder) in the weights",
        ));
    };
    SmallCap::from_var_builder(vb, config, &files.name).map_err(candle(&files.name))
}

impl SmallCap {
    /// Build from a `VarBuilder` positioned at the decoder (`lm_head`, `transformer.*`).
    pub fn from_var_builder(
        vb: VarBuilder,
        config: SmallCapConfig,
        name: &str,
    ) -> candle_core::Result<Self> {
        let d = config.n_embd;
        let t = vb.pp("transformer");
        let wte = t.get((config.vocab_size, d), "wte.weight")?;
        let wpe = t.get((config.n_positions, d), "wpe.weight")?;
        let blocks = (0..config.n_layer)
            .map(|i| Block::load(t.pp(format!("h.{i}")), &config, i))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let ln_f = super::layers::LayerNorm::load(t.pp("ln_f"), d, config.layer_norm_epsilon)?;
        let lm_head = if config.tie_word_embeddings {
            wte.clone()
        } else {
            vb.get((config.vocab_size, d), "lm_head.weight")?
        };
        let lm_head_t = lm_head.t()?.contiguous()?;
        Ok(Self {
            config,
            lm_head_t,
            name: name.to_string(),
            wte,
            wpe,
            blocks,
            ln_f,
            lm_head,
        })
    }

    /// The device the weights live on (the CPU).
    pub fn device(&self) -> &Device {
        self.wte.device()
    }

    /// Map a candle error into [`Error::Model`] for this model.
    pub(crate) fn candle(&self) -> impl Fn(candle_core::Error) -> Error + '_ {
        candle(&self.name)
    }

    /// Check image features `(b, S, d)` (or `(S, d)`, taken as `b = 1`) and return them 3-D, f32.
    pub(crate) fn check_features(&self, features: &Tensor) -> Result<Tensor> {
        let d = self.config.n_embd;
        let f = match features.dims() {
            [s, dd] if *dd == d && *s > 0 => features.unsqueeze(0),
            [b, s, dd] if *dd == d && *s > 0 && *b > 0 => Ok(features.clone()),
            dims => {
                return Err(Error::invalid("image_features", format!(
                    "{}: image features must be (batch, tokens, {d}) or (tokens, {d}), got {dims:?}",
                    self.name
                )))
            }
        };
        f.and_then(|f| f.to_dtype(DType::F32))
            .map_err(self.candle())
    }

    /// Check token ids are below the vocabulary size and `positions` fit `n_positions`.
    pub(crate) fn check_tokens(&self, ids: &[u32], positions: usize) -> Result<()> {
        if let Some(bad) = ids.iter().find(|&&t| t as usize >= self.config.vocab_size) {
            return Err(Error::invalid(
                "token_ids",
                format!(
                    "{}: token id {bad} is outside the vocabulary ({})",
                    self.name, self.config.vocab_size
                ),
            ));
        }
        if positions > self.config.n_positions {
            return Err(Error::invalid(
                "token_ids",
                format!(
                    "{}: {positions} positions exceed n_positions = {} (prompt + generated tokens)",
                    self.name, self.config.n_positions
                ),
            ));
        }
        Ok(())
    }

    /// Per-block cross-attention keys/values of image features `(b, S, d)`.
    pub(crate) fn image_kv(&self, features: &Tensor) -> candle_core::Result<Vec<Kv>> {
        self.blocks.iter().map(|b| b.image_kv(features)).collect()
    }

    /// Embeddings `wte[ids] + wpe[start + i]`, `ids (b, t)` → `(b, t, d)`.
    pub(crate) fn embed(&self, ids: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let tok =
            self.wte
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((b, t, self.config.n_embd))?;
        tok.broadcast_add(&self.wpe.narrow(0, start, t)?)
    }

    /// Logits `ln_f(x)·wteᵀ`, `x (…, d)` → `(…, vocab)`.
    pub(crate) fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.ln_f.forward(x)?;
        let mut dims = h.dims().to_vec();
        let d = dims.pop().unwrap_or(1);
        let rows = h.elem_count() / d.max(1);
        let h = h.reshape((rows, d))?;
        // One row: gemm's matrix–vector path over the (vocab, d) rows; more: the (d, vocab) copy.
        let y = if rows == 1 {
            h.matmul(&self.lm_head.t()?)?
        } else {
            h.matmul(&self.lm_head_t)?
        };
        dims.push(self.config.vocab_size);
        y.reshape(dims)
    }

    /// Run the blocks over `ids (b, t)` from position 0 attending to `image`; returns the
    /// last hidden states `(b, t, d)` (before `ln_f`) and each block's self-attention cache.
    pub(crate) fn run_full(
        &self,
        ids: &Tensor,
        image: &[Kv],
    ) -> candle_core::Result<(Tensor, Vec<Kv>)> {
        let mut x = self.embed(ids, 0)?;
        let mut caches = Vec::with_capacity(self.blocks.len());
        for (block, img) in self.blocks.iter().zip(image) {
            let (y, kv) = block.forward(&x, img)?;
            x = y;
            caches.push(kv);
        }
        Ok((x, caches))
    }

    /// Teacher-forced logits, recomputed in full: `image_features (b, S, d)` (the vision
    /// tower's `last_hidden_state`; `(S, d)` for one image) and `token_ids (b, t)` (u32 or
    /// i64) → logits `(b, t, vocab)` f32, row `i` predicting token `i + 1`.
    pub fn forward_teacher(&self, image_features: &Tensor, token_ids: &Tensor) -> Result<Tensor> {
        let features = self.check_features(image_features)?;
        let ids = token_ids.to_dtype(DType::U32).map_err(self.candle())?;
        let (b, t) = ids.dims2().map_err(|_| {
            Error::invalid(
                "token_ids",
                format!(
                    "{}: token ids must be (batch, length), got {:?}",
                    self.name,
                    token_ids.dims()
                ),
            )
        })?;
        let fb = features.dim(0).map_err(self.candle())?;
        if fb != b || t == 0 {
            return Err(Error::invalid(
                "token_ids",
                format!(
                    "{}: {fb} images for {b} token rows of length {t}",
                    self.name
                ),
            ));
        }
        let flat = ids
            .flatten_all()
            .and_then(|f| f.to_vec1::<u32>())
            .map_err(self.candle())?;
        self.check_tokens(&flat, t)?;
        let run = || -> candle_core::Result<Tensor> {
            let image = self.image_kv(&features)?;
            let (x, _) = self.run_full(&ids, &image)?;
            self.logits(&x)
        };
        run().map_err(self.candle())
    }
}
