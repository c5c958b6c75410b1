//! The pipeline roles played by the candle models (feature `models`): FLAN-T5 as the
//! [`CaptionLm`], CLIP's text tower as the [`TextEncoder`].

use crate::matrix::RowMatrix;
use crate::models::clip::Clip;
use crate::models::generate::{
    beam_search, greedy, sample, BeamConfig, Candidate, Decoder, EarlyStopping, SampleConfig,
};
use crate::models::t5::{T5Tokenizer, T5};
use crate::models::ModelFiles;
use crate::Result;

use super::lm::{CaptionLm, Decoding, Generated, TextEncoder};

/// FLAN-T5 (any `T5ForConditionalGeneration` checkpoint) writing captions from a prompt.
#[derive(Debug)]
pub struct T5Lm {
    name: String,
    model: T5,
    tokenizer: T5Tokenizer,
    max_prompt_tokens: Option<usize>,
}

impl T5Lm {
    /// Load the model and its tokenizer; prompts longer than `max_prompt_tokens` are
    /// truncated as the tokenizer does (keeping `</s>`).
    pub fn load(files: &ModelFiles, max_prompt_tokens: Option<usize>) -> Result<Self> {
        Ok(T5Lm {
            name: files.name.clone(),
            model: T5::load(files)?,
            tokenizer: T5Tokenizer::load(files)?,
            max_prompt_tokens,
        })
    }

    fn text(&self, c: &Candidate) -> Result<Generated> {
        Ok(Generated {
            text: self.tokenizer.decode(&c.tokens)?.trim().to_string(),
            logprob: Some(c.logprob),
        })
    }
}

impl CaptionLm for T5Lm {
    fn generate(
        &self,
        prompt: &str,
        n: usize,
        decoding: &Decoding,
        max_new_tokens: usize,
    ) -> Result<Vec<Generated>> {
        let ids = self.tokenizer.encode(prompt, self.max_prompt_tokens)?.ids;
        let bound = self.model.bind(&ids)?;
        let candidates = decode(&bound, n, decoding, max_new_tokens, EarlyStopping::False)?;
        candidates.iter().map(|c| self.text(c)).collect()
    }

    fn describe(&self) -> String {
        format!("T5 {}", self.name)
    }
}

/// `n` candidates from a bound decoder by `decoding` (beam search with `early_stopping`, the
/// rule HF's `generate` is given: FLAN-T5 in ReCap `False`, SmallCap `True`), best first.
pub fn decode<D: Decoder>(
    bound: &D,
    n: usize,
    decoding: &Decoding,
    max_new_tokens: usize,
    early_stopping: EarlyStopping,
) -> Result<Vec<Candidate>> {
    match decoding {
        Decoding::Greedy => Ok(vec![greedy(bound, max_new_tokens)?]),
        Decoding::Beam {
            width,
            length_penalty,
        } => {
            let cfg = BeamConfig {
                num_beams: (*width).max(n),
                num_return_sequences: n,
                length_penalty: *length_penalty,
                early_stopping,
                max_new_tokens,
            };
            beam_search(bound, &cfg)
        }
        Decoding::Sample {
            temperature,
            top_k,
            top_p,
            seed,
        } => {
            let cfg = SampleConfig {
                n,
                temperature: *temperature,
                top_k: (*top_k > 0).then_some(*top_k),
                top_p: *top_p,
                max_new_tokens,
                seed: *seed,
            };
            sample(bound, &cfg)
        }
    }
}

impl TextEncoder for Clip {
    fn embed_texts(&self, texts: &[&str]) -> Result<RowMatrix<f32>> {
        Clip::embed_texts(self, texts)
    }
}
