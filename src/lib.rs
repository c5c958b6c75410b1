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
//! | [`backend`] | the one engine: `Device` (cpu/cuda/auto) and the `Backend` trait every `O(n·d²)` step runs through (Gram chunks, search, rank counts, GEMM, solves); the CPU's tuned kernels and the CUDA backend live here |
//! | [`align`] | closed-form alignment: estimators (`Ols`, `Ridge`, `Lstsq`, `Procrustes`, `RobustProcrustes`), λ selection, the fitted map |
//! | [`retrieve`] | exact top-k retrieval over caption datastores, recall@k |
//! | [`metrics`] | CLIP-S family, BLEU, ROUGE-L, CIDEr-D, METEOR, Kendall τ |
//! | [`dico`] | DiCO's objective: rewards, winner and loser weights, the loss and its gradients |
//! | [`pipeline`] | the LM role (and an OpenAI-compatible HTTP client, feature `http`), re-ranking |
//! | [`plot`] | figures as PNG and SVG: metric vs human rating, metrics per DAL iteration, recall@k, the λ curve of a fit |
//! | `models` (feature `models`) | CLIP towers, FLAN-T5, SmallCap's decoder on candle; generation; weights from disk |
//!
//! Layers import only downward: `io` → `backend` → `align`, `retrieve` → `metrics` →
//! `models` → `cli`. Nothing outside `models` names candle.
//!
//! ## Quick start
//!
//! ```
//! use recap::align::{Estimator, Normalize, Ridge};
//! use recap::backend::Device;
//! use recap::retrieve::{Datastore, Storage};
//! use recap::synth::{generate, SynthConfig};
//!
//! // CLIP-like image and caption embeddings (use recap::io::npy::read_f32 for your files).
//! let data = generate(&SynthConfig { n_images: 300, dim: 32, ..SynthConfig::default() })?;
//! // Fit W in closed form (pair-grouped: each image once, with its 5 captions).
//! let map = Ridge::new(0.1)
//!     .normalize(Normalize::L2)
//!     .device(Device::Cpu)
//!     .fit_grouped(&data.images, &data.texts, &data.grouping)?;
//! // Retrieve 7 captions per image through the map (exact cosine top-k).
//! let datastore = Datastore::cosine(data.texts.clone(), Storage::F32)?;
//! let found = datastore.search(&map.apply(&data.images)?, 7)?;
//! assert_eq!(found.indices.shape(), (300, 7));
//! # Ok::<(), recap::Error>(())
//! ```

#![warn(missing_docs)]

pub mod align;
pub mod backend;
mod cli;
pub mod dico;
pub mod error;
pub mod io;
mod math;
pub mod matrix;
pub mod metrics;
#[cfg(feature = "models")]
pub mod models;
pub mod pipeline;
pub mod plot;
pub mod retrieve;
pub mod synth;
#[doc(hidden)]
pub mod testing;

pub use error::{Error, Result};

/// Run the `recap` command line (parse `std::env::args`, run the subcommand, print errors for
/// people, return the exit code). The binary is this one call.
#[doc(hidden)]
pub fn cli_main() -> std::process::ExitCode {
    cli::main()
}
pub use matrix::RowMatrix;
