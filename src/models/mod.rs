//! The models of the captioning pipelines, on candle (CPU), exact to Hugging Face
//! `transformers`: CLIP's image and text towers, FLAN-T5 (encoder–decoder) and SmallCap's
//! GPT-2 decoder with cross-attention to the image; generation (greedy, seeded sampling,
//! beam search) over any of the language models.
//!
//! Feature `models`. Nothing outside this module names candle.
//!
//! ## Weights
//! A model is a directory (`config.json`, `tokenizer.json`, `*.safetensors` or
//! `pytorch_model.bin`) or a Hugging Face id (`openai/clip-vit-base-patch32`) resolved in
//! the **local** Hugging Face cache ([`weights::resolve`]); nothing is ever downloaded.
//! Every tensor an architecture needs must be present with the shape its config implies:
//! a missing or mis-shaped tensor is an [`Error::Model`](crate::Error::Model) naming it.
//!
//! ## Numbers
//! Weights and activations are `f32`; embeddings leave as row-major `n x d` `f32`
//! (L2-normalized for CLIP), log-probabilities as natural-log `f32`/`f64` sums.

pub mod clip;
pub mod generate;
pub(crate) mod product;
pub mod smallcap;
pub mod t5;
pub mod weights;

pub use weights::{resolve, ModelFiles, WeightFiles};
