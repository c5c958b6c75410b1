//! Exact top-k caption retrieval.
//!
//! A [`Datastore`] holds caption embeddings (unit-norm for cosine, f32 or f16) and optional
//! caption records; [`Datastore::search`] returns, for every query row, the `k` best rows as
//! [`Matches`] (`q x k` int64 indices and f32 scores, like faiss `IndexFlatIP`).
//!
//! ## Conventions
//!
//! - Scores are cosine similarities ([`Metric::Cosine`], default: queries are normalized,
//!   a zero query is [`Error::ZeroVector`](crate::Error::ZeroVector) naming the row) or raw
//!   inner products ([`Metric::InnerProduct`]).
//! - Each row of the result is in rank order: **higher score first, ties by lower datastore
//!   row**. This holds exactly, for every block size and thread count.
//! - `k > m` returns `m` columns; `k = 0` is an error. With an [`Exclusion`], a query left
//!   with fewer candidates than columns gets padding (index `-1`, score `-inf`).
//! - NaN is never returned: NaN/Inf queries are [`Error::NonFinite`](crate::Error::NonFinite)
//!   naming the row, NaN/Inf datastore rows are rejected when the datastore is built.
//! - Memory: `O(q·k)` for the results plus a few small tiles per thread; the `q x m` score
//!   matrix never exists.
//!
//! The numeric primitives (tile GEMM, lane selection) live in [`kernel`]; the search loop
//! in [`search`](mod@search); selection and merging in [`topk`].

pub mod datastore;
pub mod eval;
pub mod exclude;
pub mod kernel;
pub mod map;
pub mod search;
pub mod topk;

pub use datastore::{CaptionRecord, Datastore, Storage};
pub use eval::{evaluate, DirectionReport, RetrievalReport};
pub use exclude::Exclusion;
pub use kernel::RowsRef;
pub use map::apply_map;
pub use search::{search_rows, Matches, Metric, SearchOptions};
pub use topk::TopK;
