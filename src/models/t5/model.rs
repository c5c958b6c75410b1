//! `T5ForConditionalGeneration`: shared embedding, encoder, decoder, LM head.

use candle_core::{DType, Device, Tensor};

use super::attention::padding_bias;
use super::config::T5Config;
use super::layers::Linear;
use super::stack::{CrossKeyValues, Decoder, Encoder};
use crate::models::weights::{candle, ModelFiles};
use crate::{Error, Result};
use candle_core::Module;

/// A batch of prompts padded to one length: `ids` and the 0/1 `mask`, both `(b, s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptBatch {
    /// Token ids, right-padded with the pad id.
    pub ids: Vec<Vec<u32>>,
    /// 1 for a real token, 0 for padding.
    pub mask: Vec<Vec<u32>>,
}

impl PromptBatch {
    /// Right-pad `prompts` with `pad_id` to the longest one.
    pub fn pad(prompts: &[Vec<u32>], pad_id: u32) -> Self {
        let s = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let ids = prompts
            .iter()
            .map(|p| {
                let mut r = p.clone();
                r.resize(s, pad_id);
                r
            })
            .collect();
        let mask = prompts
            .iter()
            .map(|p| (0..s).map(|i| u32::from(i < p.len())).collect())
            .collect();
        Self { ids, mask }
    }
}

/// Encoder outputs of a batch of prompts, with their padding.
#[derive(Debug, Clone)]
pub struct EncoderStates {
    /// `(b, s, d_model)` f32.
    pub(crate) hidden: Tensor,
    /// Additive padding bias `(b, 1, 1, s)`.
    pub(crate) padding: Tensor,
}

impl EncoderStates {
    /// `(batch, positions, d_model)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        self.hidden.dims3().unwrap_or((0, 0, 0))
    }

    /// The states, row-major `(b, s, d_model)` (padded positions included).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.hidden
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .map_err(|e| Error::invalid("encoder states", e.to_string()))
    }
}

/// Logits `(b, t, vocab)`, row-major f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Logits {
    /// Values.
    pub data: Vec<f32>,
    /// `(b, t, vocab)`.
    pub dims: (usize, usize, usize),
}

impl Logits {
    /// The logits of batch row `b`, position `t`.
    pub fn at(&self, b: usize, t: usize) -> &[f32] {
        let (_, tt, v) = self.dims;
        let start = (b * tt + t) * v;
        &self.data[start..start + v]
    }
}

/// FLAN-T5 / T5 v1.1 / original T5 (`T5ForConditionalGeneration`), f32 on the CPU.
#[derive(Debug, Clone)]
pub struct T5 {
    pub(crate) name: String,
    pub(crate) config: T5Config,
    pub(crate) shared: Tensor,
    pub(crate) encoder: Encoder,
    pub(crate) decoder: Decoder,
    /// `(vocab, d_model)`: `lm_head.weight`, or `shared.weight` when the file has no head.
    pub(crate) head: Linear,
    /// `d_model^-0.5` when the decoder output is scaled before the head, else 1.
    pub(crate) output_scale: f64,
}

impl T5 {
    /// Load a checkpoint: `config.json` and the weights. Every tensor the config implies must
    /// be present with its shape (errors name the tensor). The head is `lm_head.weight` when
    /// the file has it (FLAN-T5), else `shared.weight` (tied); the decoder output is scaled by
    /// `d_model^-0.5` as the config says (see [`T5Config::scales_decoder_output`]).
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let config: T5Config = files.json("config.json")?;
        config.validate().map_err(|p| files.error(p))?;
        let vb = files.var_builder()?;
        let err = candle(&files.name);
        let (v, d) = (config.vocab_size, config.d_model);
        let shared = vb.get((v, d), "shared.weight").map_err(&err)?;
        let encoder = Encoder::load(&vb.pp("encoder"), &config).map_err(&err)?;
        let decoder = Decoder::load(&vb.pp("decoder"), &config).map_err(&err)?;
        let head = if vb.contains_tensor("lm_head.weight") {
            vb.get((v, d), "lm_head.weight").map_err(&err)?
        } else {
            shared.clone()
        };
        let output_scale = if config.scales_decoder_output() {
            (d as f64).powf(-0.5)
        } else {
            1.0
        };
        Ok(Self {
            name: files.name.clone(),
            config,
            shared,
            encoder,
            decoder,
            head: Linear::new(head, None),
            output_scale,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &T5Config {
        &self.config
    }

    pub(crate) fn err(&self) -> impl Fn(candle_core::Error) -> Error + '_ {
        candle(&self.name)
    }

    /// Check ids are inside the vocabulary.
    pub(crate) fn check_ids<'a>(&self, rows: impl IntoIterator<Item = &'a [u32]>) -> Result<()> {
        let v = self.config.vocab_size as u32;
        for row in rows {
            if let Some(bad) = row.iter().find(|&&id| id >= v) {
                return Err(Error::invalid(
                    "token ids",
                    format!(
                        "{}: token id {bad} is outside the vocabulary ({v})",
                        self.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Embed `(b, t)` token ids (no scaling, as T5).
    pub(crate) fn embed(&self, rows: &[Vec<u32>]) -> Result<Tensor> {
        let b = rows.len();
        let t = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != t) {
            return Err(Error::invalid("token ids", "rows of different lengths"));
        }
        self.check_ids(rows.iter().map(Vec::as_slice))?;
        let flat: Vec<u32> = rows.concat();
        let ids = Tensor::from_vec(flat, b * t, &Device::Cpu).map_err(self.err())?;
        self.shared
            .index_select(&ids, 0)
            .and_then(|e| e.reshape((b, t, self.config.d_model)))
            .map_err(self.err())
    }

    /// Run the encoder over a padded batch (`mask` 0 marks padding, which no position attends).
    pub fn encode(&self, batch: &PromptBatch) -> Result<EncoderStates> {
        if batch.ids.is_empty() || batch.ids[0].is_empty() {
            return Err(Error::invalid(
                "prompts",
                "empty prompt batch or empty prompt",
            ));
        }
        if batch.mask.len() != batch.ids.len()
            || batch
                .mask
                .iter()
                .zip(&batch.ids)
                .any(|(m, i)| m.len() != i.len())
        {
            return Err(Error::invalid("mask", "mask and ids differ in shape"));
        }
        let x = self.embed(&batch.ids)?;
        let (b, s) = (batch.ids.len(), batch.ids[0].len());
        let mask = Tensor::from_vec(batch.mask.concat(), (b, s), &Device::Cpu)
            .and_then(|m| padding_bias(&m))
            .map_err(self.err())?;
        let hidden = self.encoder.forward(&x, &mask).map_err(self.err())?;
        Ok(EncoderStates {
            hidden,
            padding: mask,
        })
    }

    /// Cross-attention keys/values of encoded prompts (once per prompt batch).
    pub(crate) fn cross(&self, states: &EncoderStates) -> Result<CrossKeyValues> {
        self.decoder
            .cross_key_values(&states.hidden, &states.padding)
            .map_err(self.err())
    }

    /// Logits `(n, t, vocab)` of final decoder hidden states `(n, t, d)`.
    pub(crate) fn lm_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let (n, t, d) = hidden.dims3().map_err(self.err())?;
        let h = hidden.reshape((n * t, d)).map_err(self.err())?;
        let h = if self.output_scale != 1.0 {
            (h * self.output_scale).map_err(self.err())?
        } else {
            h
        };
        self.head
            .forward(&h)
            .and_then(|l| l.reshape((n, t, self.config.vocab_size)))
            .map_err(self.err())
    }

    /// Teacher forcing: the logits at every position of `decoder_input_ids` (`(b, t)`, each
    /// row starting with the decoder start token) given the encoded prompts (same `b`).
    pub fn forward_teacher(
        &self,
        states: &EncoderStates,
        decoder_input_ids: &[Vec<u32>],
    ) -> Result<Logits> {
        let (b, _, _) = states.dims();
        if decoder_input_ids.len() != b {
            return Err(Error::shape(
                "decoder_input_ids rows vs prompts",
                b.to_string(),
                decoder_input_ids.len().to_string(),
            ));
        }
        let x = self.embed(decoder_input_ids)?;
        let cross = self.cross(states)?;
        let mut cache = vec![None; self.decoder.num_layers()];
        let hidden = self
            .decoder
            .forward(&x, 0, &mut cache, &cross)
            .map_err(self.err())?;
        let logits = self.lm_logits(&hidden)?;
        let dims = logits.dims3().map_err(self.err())?;
        let data = logits
            .flatten_all()
            .and_then(|l| l.to_dtype(DType::F32))
            .and_then(|l| l.to_vec1())
            .map_err(self.err())?;
        Ok(Logits { data, dims })
    }
}
