//! SmallCap's decoder (Ramos et al., CVPR 2023): GPT-2 with a **reduced** cross-attention
//! to the CLIP image features in every block, prompted with retrieved captions.
//!
//! Architecture (`ThisGPT2LMHeadModel` of SmallCap's `src/gpt2.py`, on Hugging Face GPT-2):
//! `x₀ = wte[ids] + wpe[positions]`; per block (pre-LN)
//! `x += attn(ln_1(x))` (causal, `h` heads of `d/h`),
//! `x += crossattention(ln_cross_attn(x), image)`,
//! `x += mlp(ln_2(x))` (`c_fc → gelu_new → c_proj`); logits `ln_f(x)·wteᵀ`.
//! The cross-attention with reduce factor `r` (`cross_attention_reduce_factor`, 4 in
//! SmallCap7M): `q = q_attn(x)` (`d → d/r`), `k | v = c_attn(image)` (`d → 2·d/r`), `h` heads
//! of `(d/h)/r`, `softmax(q·kᵀ/√((d/h)/r))·v`, `c_proj` (`d/r → d`). No projection between the
//! image features and the decoder: the features' width must be `d` (768 for ViT-B/32 and
//! GPT-2 base). Every GPT-2 weight is a `Conv1D`, stored `(in, out)`.
//!
//! Checkpoint layout (`Yova/SmallCap7M`): `config.json` with `"decoder"` (the GPT-2 config)
//! and `"encoder"` (CLIP's vision config); tensors `decoder.transformer.{wte, wpe, ln_f}`,
//! `decoder.transformer.h.N.{ln_1, attn, ln_cross_attn, crossattention, ln_2, mlp}.*`,
//! `decoder.lm_head.weight` (tied to `wte`), and `encoder.*` (the vision tower, not read here).

mod attention;
mod block;
pub mod config;
mod decode;
mod layers;
mod model;
pub mod prompt;
pub mod tiny;

pub use config::{Activation, SmallCapConfig};
pub use decode::{BoundSmallCap, SmallCapState};
pub use model::{load, SmallCap};
pub use prompt::{prompt_text, PromptIds, SmallCapTokenizer};
