//! FLAN-T5 (`T5ForConditionalGeneration`), exact to `transformers`.
//!
//! - RMS norm without mean subtraction (`T5LayerNorm`), pre-norm residual layers.
//! - Attention scores `Q Kᵀ + bias` **without** `1/√d` scaling; the relative-position bias
//!   is bidirectional in the encoder and unidirectional in the decoder
//!   ([`position::relative_position_bucket`]), computed by the first layer of a stack and
//!   reused by every layer.
//! - Feed-forward `relu` or `gated-gelu` (`gelu_new`, the tanh approximation).
//! - LM head: `lm_head.weight` when present (FLAN-T5, untied), else `shared.weight`; the
//!   decoder output is multiplied by `d_model^-0.5` when the config ties the embeddings.
//! - Generation ([`T5Prompt`] implements [`crate::models::generate::Decoder`]): one prompt is
//!   encoded once, its cross-attention keys/values are shared by every hypothesis, the
//!   self-attention cache grows by one position per step and is gathered for beam search.

pub mod attention;
pub mod config;
pub mod layers;
pub mod model;
pub mod position;
pub mod prompt;
pub mod stack;
pub mod tiny;
pub mod tokenize;

pub use config::{FeedForwardKind, T5Config};
pub use model::{EncoderStates, Logits, PromptBatch, T5};
pub use prompt::{T5Cache, T5Prompt};
pub use tokenize::{Encoded, T5Tokenizer};
