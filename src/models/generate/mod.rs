//! Generation over any autoregressive caption model: greedy decoding, seeded sampling
//! (temperature, top-k, top-p) and beam search with Hugging Face `generate`'s semantics.
//!
//! A model takes part through [`Decoder`]: it binds one prompt (T5: the encoded input;
//! SmallCap: the image features and the text prefix), encodes it **once**, and advances any
//! number of hypotheses that share it one token at a time with cached keys/values.
//!
//! Log-probabilities are natural logs of the model's softmax over the full vocabulary
//! (before any sampling warper), summed over the generated tokens, EOS included.

use candle_core::Tensor;

use crate::Result;

pub mod beam;
pub mod greedy;
mod logprob;
pub mod sample;

/// The crate's one PRNG (xoshiro256** seeded by SplitMix64), shared with `synth`.
pub use crate::synth::rng::Rng;
pub use beam::{beam_search, BeamConfig, EarlyStopping};
pub use greedy::greedy;
pub use sample::{sample, SampleConfig};

/// An autoregressive model bound to one prompt, advancing `n` hypotheses that share it.
pub trait Decoder {
    /// Per-run state: self-attention KV caches per hypothesis, the prompt's cached
    /// cross-attention keys/values (computed once, shared by every hypothesis).
    type State;

    /// Start `n` hypotheses from the prompt (running the encoder / the prefix once) and
    /// return the state with the logits of the first generated token, shape `(n, vocab)`, f32.
    fn start(&self, n: usize) -> Result<(Self::State, Tensor)>;

    /// Append one token to each live hypothesis (`tokens.len()` = live hypotheses) and return
    /// the logits of the next token, shape `(tokens.len(), vocab)`, f32.
    fn step(&self, state: &mut Self::State, tokens: &[u32]) -> Result<Tensor>;

    /// Keep the hypotheses `rows` (indices into the current ones, repeats allowed, in this
    /// order): the cache is gathered so that row `i` continues hypothesis `rows[i]`.
    fn reorder(&self, state: &mut Self::State, rows: &[usize]) -> Result<()>;

    /// The end-of-sequence token id.
    fn eos_token_id(&self) -> u32;

    /// The vocabulary size (columns of the logits).
    fn vocab_size(&self) -> usize;
}

/// One generated sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Generated token ids (the prompt and the decoder start token excluded; EOS included
    /// when the sequence ended with it).
    pub tokens: Vec<u32>,
    /// Σₜ log p(yₜ | y<ₜ, prompt) over `tokens`, natural log, from the unwarped softmax.
    pub logprob: f64,
    /// The ranking score: beam search's `logprob / len^length_penalty` (HF's
    /// `sequences_scores`); `logprob` for greedy decoding and sampling.
    pub score: f64,
}

#[cfg(test)]
mod tests;
