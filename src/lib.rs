//! # recap — the numeric core of retrieval-augmented image captioning
//!
//! recap implements what ReCap (Paischer et al.), SmallCap (Ramos et al.) and DiCO
//! (Moratelli et al.) need, fast and exact: closed-form alignment of CLIP image embeddings
//! to CLIP text embeddings, exact top-k caption retrieval, caption metrics, and `.npy`/`.npz`
//! embedding I/O.
//!
//! ## Conventions (written once, used everywhere)
//!
//! - **Matrices** are row-major `n x d`: one embedding per row. In memory they are `f32`
//!   ([`RowMatrix<f32>`]); `f16` and `f64` files are accepted on read and converted.
//!   Statistics that need it (Gram matrices) accumulate in `f64`.
//! - **A score** is a cosine similarity unless the caller asks for the raw inner product.
//!   Higher is better. Retrieval returns scores in descending order.
//! - **Ties** are broken by the lower index: among equal scores the row that comes first in
//!   the datastore ranks first. The same rule holds on every backend.
//! - **`k > n`** returns `n` results (never padding); **`k = 0`** is an error.
//! - **Zero vectors** have no direction: normalizing one is [`Error::ZeroVector`] naming the
//!   row, unless the caller picks a policy.
//! - **NaN / Inf** in input that must be finite is [`Error::NonFinite`] naming the row and
//!   column. NaN is never returned as a retrieval score.
//! - **Linear maps** follow numpy: `W` is `d_x x d_y` and is applied as `X @ W`;
//!   `np.load("W.npy")` gives the same matrix.
//! - **Output files** are written to a temporary name in the same folder and renamed, so a
//!   reader never sees a half-written file.
//!
//! ## Modules
//!
//! | module | concern |
//! |---|---|
//! | [`io`] | `.npy`/`.npz` read/write/stream, caption files (Karpathy, COCO, clipscore, text) |
//! | [`matrix`] | the row-major matrix type and row operations (norms, normalization) |
//! | [`synth`] | deterministic synthetic CLIP-like data with captions |
//! | [`align`] | closed-form alignment: Gram statistics, OLS/ridge/lstsq/Procrustes |
//! | [`retrieve`] | exact top-k retrieval over caption datastores, recall@k |
//! | [`metrics`] | CLIP-S family, BLEU, ROUGE-L, CIDEr-D, METEOR, Kendall τ |
//!
//! ## Quick start
//!
//! ```no_run
//! use recap::io::npy;
//! let x = npy::read_f32("images.npy")?;       // n x d, row-major f32
//! println!("{} rows of dimension {}", x.rows(), x.cols());
//! # Ok::<(), recap::Error>(())
//! ```

#![warn(missing_docs)]

pub mod align;
#[doc(hidden)]
pub mod cli;
pub mod error;
pub mod io;
pub mod matrix;
pub mod metrics;
pub mod retrieve;
pub mod synth;

pub use error::{Error, Result};
pub use matrix::RowMatrix;
