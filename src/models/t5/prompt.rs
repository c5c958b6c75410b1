//! A T5 bound to one prompt for generation: the prompt is encoded and its cross-attention
//! keys/values computed **once**; every hypothesis attends to them by broadcasting.

use candle_core::{Device, Tensor};

use super::attention::KeyValues;
use super::model::{EncoderStates, PromptBatch, T5};
use super::stack::CrossKeyValues;
use crate::models::generate::Decoder;
use crate::{Error, Result};

/// A prompt bound to a model, ready for [`crate::models::generate`].
#[derive(Debug, Clone)]
pub struct T5Prompt<'m> {
    model: &'m T5,
    cross: CrossKeyValues,
}

/// The self-attention cache of `n` hypotheses: per decoder layer keys/values
/// `(n, heads, len, d_kv)`.
#[derive(Debug, Clone)]
pub struct T5Cache {
    layers: Vec<Option<KeyValues>>,
    len: usize,
    rows: usize,
}

impl T5Cache {
    /// Decoder tokens cached so far (the start token included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Live hypotheses.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl T5 {
    /// Bind one prompt (token ids, EOS included as the tokenizer adds it): encode it and
    /// compute its cross-attention keys/values.
    pub fn bind(&self, prompt: &[u32]) -> Result<T5Prompt<'_>> {
        let states = self.encode(&PromptBatch::pad(&[prompt.to_vec()], 0))?;
        self.bind_encoded(&states, 0)
    }

    /// Bind row `row` of already encoded prompts (its padding stays masked).
    pub fn bind_encoded(&self, states: &EncoderStates, row: usize) -> Result<T5Prompt<'_>> {
        let (b, _, _) = states.dims();
        if row >= b {
            return Err(Error::invalid(
                "row",
                format!("{row} >= {b} encoded prompts"),
            ));
        }
        let one = EncoderStates {
            hidden: states.hidden.narrow(0, row, 1).map_err(self.err())?,
            padding: states.padding.narrow(0, row, 1).map_err(self.err())?,
        };
        Ok(T5Prompt {
            model: self,
            cross: self.cross(&one)?,
        })
    }
}

impl T5Prompt<'_> {
    fn run(&self, state: &mut T5Cache, tokens: &[u32]) -> Result<Tensor> {
        let m = self.model;
        let rows: Vec<Vec<u32>> = tokens.iter().map(|&t| vec![t]).collect();
        let x = m.embed(&rows)?;
        let hidden = m
            .decoder
            .forward(&x, state.len, &mut state.layers, &self.cross)
            .map_err(m.err())?;
        state.len += 1;
        state.rows = tokens.len();
        m.lm_logits(&hidden)?.squeeze(1).map_err(m.err())
    }
}

impl Decoder for T5Prompt<'_> {
    type State = T5Cache;

    fn start(&self, n: usize) -> Result<(T5Cache, Tensor)> {
        if n == 0 {
            return Err(Error::invalid("n", "at least one hypothesis"));
        }
        let mut state = T5Cache {
            layers: vec![None; self.model.decoder.num_layers()],
            len: 0,
            rows: n,
        };
        let start = vec![self.model.config.decoder_start(); n];
        let logits = self.run(&mut state, &start)?;
        Ok((state, logits))
    }

    fn step(&self, state: &mut T5Cache, tokens: &[u32]) -> Result<Tensor> {
        if tokens.len() != state.rows {
            return Err(Error::shape(
                "tokens per step vs live hypotheses",
                state.rows.to_string(),
                tokens.len().to_string(),
            ));
        }
        self.run(state, tokens)
    }

    fn reorder(&self, state: &mut T5Cache, rows: &[usize]) -> Result<()> {
        if let Some(bad) = rows.iter().find(|&&r| r >= state.rows) {
            return Err(Error::invalid(
                "rows",
                format!("{bad} >= {} hypotheses", state.rows),
            ));
        }
        let err = self.model.err();
        let idx: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let idx = Tensor::from_vec(idx, rows.len(), &Device::Cpu).map_err(&err)?;
        for kv in state.layers.iter_mut().flatten() {
            kv.k = kv.k.index_select(&idx, 0).map_err(&err)?;
            kv.v = kv.v.index_select(&idx, 0).map_err(&err)?;
        }
        state.rows = rows.len();
        Ok(())
    }

    fn eos_token_id(&self) -> u32 {
        self.model.config.eos()
    }

    fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }
}
