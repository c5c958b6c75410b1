//! The captioning pipelines' pieces that need no model: the language-model role and its
//! HTTP client (feature `http`), re-ranking of candidates in CLIP space, the datastore-
//! augmentation loop.
//!
//! | module | what |
//! |---|---|
//! | [`lm`] | the caption LM role: `generate(prompt, n, decoding) -> candidates with log-probs` |
//! | `http` (feature `http`) | any LM behind an OpenAI-compatible server (vLLM, llama.cpp, TGI, ollama) |
//! | [`prompt`] | ReCap's prompt template |
//! | [`recap`] | the ReCap pipeline: retrieve through W → prompt → generate → re-rank |
//! | `local` (feature `models`) | FLAN-T5 as the caption LM, CLIP as the text encoder |
//! | [`mod@rerank`] | deduplicate candidates and pick the best by CLIP-S, aCLIP-S or RefaCLIP-S |
//! | [`dal`] | the datastore-augmentation loop: resumable, with provenance, never self-retrieving |
//! | `smallcap` (feature `models`) | SmallCap end to end: CLIP features and retrieval with self-exclusion, its prompt, its decoder |

pub mod dal;
#[cfg(feature = "http")]
pub mod http;
pub mod lm;
#[cfg(feature = "models")]
pub mod local;
pub mod prompt;
pub mod recap;
pub mod rerank;
#[cfg(feature = "models")]
pub mod smallcap;

pub use lm::{CaptionLm, Decoding, Generated, TextEncoder};
pub use prompt::PromptTemplate;
pub use rerank::{rerank, RerankBy, Reranked};
