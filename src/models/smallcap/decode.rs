//! SmallCap as a [`Decoder`]: one image and one prompt bound, the image's cross-attention
//! keys/values and the prompt's self-attention keys/values computed once and shared by every
//! hypothesis; each hypothesis caches only the keys/values of its own generated tokens.

use candle_core::Tensor;

use super::attention::Kv;
use super::model::SmallCap;
use super::prompt::PromptIds;
use crate::models::generate::Decoder;
use crate::{Error, Result};

/// SmallCap bound to one image and one prompt (see [`SmallCap::bind`]).
#[derive(Debug, Clone)]
pub struct BoundSmallCap<'m> {
    model: &'m SmallCap,
    /// Per block, the image's keys/values `(1, h, S, hd_r)`.
    image: Vec<Kv>,
    /// The same, `(h, S, hd_r)` (the step layout; same storage).
    image_step: Vec<Kv>,
    prompt: Vec<u32>,
    eos: u32,
}

/// The generation state of [`BoundSmallCap`].
#[derive(Debug, Clone)]
pub struct SmallCapState {
    /// Per block, the prompt's self-attention keys/values `(h, T, hd)`, shared.
    prefix: Vec<Kv>,
    /// Per block, the hypotheses' own keys/values `(n, h, g, hd)`; `None` before the first
    /// generated token.
    own: Vec<Option<Kv>>,
    /// Live hypotheses.
    n: usize,
    /// Tokens generated so far (each hypothesis has the same count).
    generated: usize,
}

impl SmallCapState {
    /// Number of live hypotheses.
    pub fn hypotheses(&self) -> usize {
        self.n
    }

    /// Number of tokens appended since the prompt.
    pub fn generated(&self) -> usize {
        self.generated
    }
}

impl SmallCap {
    /// Bind one image's features (`(1, S, d)` or `(S, d)`: the vision tower's
    /// `last_hidden_state`) and a tokenized prompt; the image's cross-attention keys/values
    /// are computed here, once.
    pub fn bind(&self, image_features: &Tensor, prompt: &PromptIds) -> Result<BoundSmallCap<'_>> {
        let features = self.check_features(image_features)?;
        if features.dim(0).map_err(self.candle())? != 1 {
            return Err(Error::invalid(
                "image_features",
                format!(
                    "{}: bind one image, got features {:?}",
                    self.name,
                    image_features.dims()
                ),
            ));
        }
        if prompt.ids.is_empty() {
            return Err(Error::invalid(
                "prompt",
                format!(
                    "{}: empty prompt (SmallCap continues a text prefix)",
                    self.name
                ),
            ));
        }
        self.check_tokens(&prompt.ids, prompt.ids.len())?;
        let image = self.image_kv(&features).map_err(self.candle())?;
        let image_step = image
            .iter()
            .map(|kv| {
                Ok(Kv {
                    k: kv.k.squeeze(0)?,
                    v: kv.v.squeeze(0)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(self.candle())?;
        Ok(BoundSmallCap {
            model: self,
            image,
            image_step,
            prompt: prompt.ids.clone(),
            eos: prompt.eos_token_id,
        })
    }
}

impl BoundSmallCap<'_> {
    /// The bound prompt's token ids.
    pub fn prompt(&self) -> &[u32] {
        &self.prompt
    }

    fn start_inner(&self, n: usize) -> candle_core::Result<(SmallCapState, Tensor)> {
        let device = self.model.device();
        let t = self.prompt.len();
        let ids = Tensor::from_slice(&self.prompt, (1, t), device)?;
        let (x, caches) = self.model.run_full(&ids, &self.image)?;
        let last = self
            .model
            .logits(&x.narrow(1, t - 1, 1)?)?
            .reshape((1, ()))?;
        let vocab = last.dim(1)?;
        let logits = last.broadcast_as((n, vocab))?.contiguous()?;
        let prefix = caches
            .into_iter()
            .map(|kv| {
                Ok(Kv {
                    k: kv.k.squeeze(0)?,
                    v: kv.v.squeeze(0)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let own = vec![None; prefix.len()];
        Ok((
            SmallCapState {
                prefix,
                own,
                n,
                generated: 0,
            },
            logits,
        ))
    }

    fn step_inner(&self, state: &mut SmallCapState, tokens: &[u32]) -> candle_core::Result<Tensor> {
        let n = tokens.len();
        let ids = Tensor::from_slice(tokens, (n, 1), self.model.device())?;
        let position = self.prompt.len() + state.generated;
        let mut x = self.model.embed(&ids, position)?.reshape((n, ()))?;
        for (i, block) in self.model.blocks.iter().enumerate() {
            x = block.step(&x, &state.prefix[i], &mut state.own[i], &self.image_step[i])?;
        }
        state.generated += 1;
        self.model.logits(&x)
    }
}

impl Decoder for BoundSmallCap<'_> {
    type State = SmallCapState;

    /// Run the prompt once (batch 1) and start `n` hypotheses from it: the logits of the
    /// first generated token are the prompt's last row, repeated `n` times.
    fn start(&self, n: usize) -> Result<(SmallCapState, Tensor)> {
        if n == 0 {
            return Err(Error::invalid(
                "n",
                format!("{}: start needs at least one hypothesis", self.model.name),
            ));
        }
        self.start_inner(n).map_err(self.model.candle())
    }

    fn step(&self, state: &mut SmallCapState, tokens: &[u32]) -> Result<Tensor> {
        if tokens.len() != state.n || tokens.is_empty() {
            return Err(Error::invalid(
                "tokens",
                format!(
                    "{}: step got {} tokens for {} live hypotheses",
                    self.model.name,
                    tokens.len(),
                    state.n
                ),
            ));
        }
        self.model
            .check_tokens(tokens, self.prompt.len() + state.generated + 1)?;
        let mut trial = state.clone();
        let logits = self
            .step_inner(&mut trial, tokens)
            .map_err(self.model.candle())?;
        *state = trial;
        Ok(logits)
    }

    fn reorder(&self, state: &mut SmallCapState, rows: &[usize]) -> Result<()> {
        if let Some(bad) = rows.iter().find(|&&r| r >= state.n) {
            return Err(Error::invalid(
                "rows",
                format!(
                    "{}: reorder row {bad} of {} hypotheses",
                    self.model.name, state.n
                ),
            ));
        }
        if rows.is_empty() {
            return Err(Error::invalid(
                "rows",
                format!("{}: reorder to no hypotheses", self.model.name),
            ));
        }
        let index: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let gather = || -> candle_core::Result<Vec<Option<Kv>>> {
            let index = Tensor::from_vec(index, rows.len(), self.model.device())?;
            state
                .own
                .iter()
                .map(|own| match own {
                    None => Ok(None),
                    Some(kv) => Ok(Some(Kv {
                        k: kv.k.index_select(&index, 0)?,
                        v: kv.v.index_select(&index, 0)?,
                    })),
                })
                .collect()
        };
        state.own = gather().map_err(self.model.candle())?;
        state.n = rows.len();
        Ok(())
    }

    /// SmallCap's end token: `"."` (infer.py sets `tokenizer.eos_token = '.'`).
    fn eos_token_id(&self) -> u32 {
        self.eos
    }

    fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }
}
