//! The caption language model's role in a pipeline.

use crate::matrix::RowMatrix;
use crate::Result;

/// How candidates are decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoding {
    /// The most likely token at every step (one candidate).
    Greedy,
    /// Beam search of `width` beams, returning the `n` best (Hugging Face `generate`
    /// semantics: `length_penalty` divides the log-probability by `len^length_penalty`).
    Beam {
        /// Beams kept per step (≥ n).
        width: usize,
        /// Exponent of the length normalization (1.0: HF's default).
        length_penalty: f64,
    },
    /// Seeded sampling from the softmax at `temperature`, restricted to the `top_k` most
    /// likely tokens (0: all) and the smallest set of mass ≥ `top_p` (1.0: all).
    Sample {
        /// Softmax temperature (> 0).
        temperature: f64,
        /// Keep the k most likely tokens (0: no limit).
        top_k: usize,
        /// Nucleus mass (0 < p ≤ 1).
        top_p: f64,
        /// Seed; candidate `i` of a request uses a stream derived from it.
        seed: u64,
    },
}

/// One generated caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The caption text (special tokens removed, surrounding whitespace trimmed).
    pub text: String,
    /// Σ log p of its tokens (natural log) where the model reports it.
    pub logprob: Option<f64>,
}

/// A language model that writes captions from a prompt: FLAN-T5 in ReCap, SmallCap's decoder,
/// any LM behind an HTTP server.
pub trait CaptionLm: Send + Sync {
    /// `n` candidates for `prompt` (the prompt is encoded once and shared by all of them).
    /// Fewer than `n` distinct candidates is not an error for greedy decoding (one); an
    /// implementation that cannot return `n` for the other modes returns an error.
    fn generate(
        &self,
        prompt: &str,
        n: usize,
        decoding: &Decoding,
        max_new_tokens: usize,
    ) -> Result<Vec<Generated>>;

    /// A short description for reports (model id, endpoint).
    fn describe(&self) -> String;
}

/// A text encoder for candidates and datastore captions (CLIP's text tower): L2-normalized
/// `n x d` f32 rows, one per text.
pub trait TextEncoder: Send + Sync {
    /// Embed `texts`.
    fn embed_texts(&self, texts: &[&str]) -> Result<RowMatrix<f32>>;
}
