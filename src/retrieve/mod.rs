//! Exact top-k caption retrieval.
//!
//! A [`Datastore`] holds caption embeddings (unit-norm for cosine, f32 or f16) and optional
//! caption records; [`Datastore::search`] returns, for every query row, the `k` best rows as
//! [`Matches`] (`q x k` int64 indices and f32 scores, like faiss `IndexFlatIP`).
//!
//! ## Conventions
//!
//! - Scores are cosine similarities ([`Similarity::Cosine`], default: queries are normalized,
//!   a zero query is [`Error::ZeroVector`](crate::Error::ZeroVector) naming the row) or raw
//!   inner products ([`Similarity::InnerProduct`]).
//! - Each row of the result is in rank order: **higher score first, ties by lower datastore
//!   row**. This holds exactly, for every block size and thread count.
//! - `k > m` returns `m` columns; `k = 0` is an error. With an [`Exclusion`], a query left
//!   with fewer candidates than columns gets padding (index `-1`, score `-inf`).
//! - NaN is never returned: NaN/Inf queries are [`Error::NonFinite`](crate::Error::NonFinite)
//!   naming the row, NaN/Inf datastore rows are rejected when the datastore is built.
//! - Memory: `O(q·k)` for the results plus a few small tiles per thread; the `q x m` score
//!   matrix never exists.
//!
//! - Screening ([`Screen`], default [`Screen::Auto`]): on the CPU the datastore is first
//!   screened at low precision (int8 on AMX / AVX512-VNNI, or bf16) with a proven error bound,
//!   and only the rows that can still be in the top-k are rescored in f32. The result equals
//!   the plain f32 search's bit for bit; [`Datastore::search_report`] says how many rows were
//!   rescored ([`ScreenStats`]).
//!
//! The search itself runs on the datastore's [`Backend`](crate::backend::Backend) (the CPU's
//! AVX-512 tile search, or cuBLAS tiles with the NVRTC top-k merge on a GPU).

pub mod datastore;
pub mod eval;
pub mod search;
pub mod smallcap;

pub use crate::backend::{apply_map, Exclusion, Matches};
pub use crate::backend::{QuantizedRows, ScreenMode, ScreenStats};
pub use crate::io::captions::CaptionRecord;
pub use datastore::{Datastore, Storage};
pub use eval::{evaluate, evaluate_on, DirectionReport, RetrievalReport};
pub use search::{Screen, SearchOptions, Similarity};
pub use smallcap::{retrieved_captions, write_retrieved_captions};
