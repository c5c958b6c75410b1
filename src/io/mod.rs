//! Reading and writing embeddings and captions.
//!
//! - [`npy`]: `.npy` / `.npz` arrays (f16/f32/f64, either byte order, C or Fortran order)
//!   into row-major f32 (or f64), streaming row chunks, atomic writes.
//! - [`captions`]: caption files (Karpathy split JSON, COCO annotations/results, clipscore
//!   candidates/references, plain text) and the sidecar that ties embedding rows to ids.
//! - [`grouping`]: which caption rows belong to which image row.
//! - [`atomic`]: write-to-temp-then-rename for every output file.

pub mod atomic;
pub mod captions;
pub mod grouping;
pub mod npy;
pub mod rows;

pub use grouping::Grouping;
pub use rows::{read_all, MemSource, RowSource, DEFAULT_CHUNK_ROWS};
