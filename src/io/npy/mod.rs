//! `.npy` / `.npz` arrays: read, stream, write.
//!
//! # What is accepted
//!
//! - **Files**: `.npy` format versions 1.0, 2.0 and 3.0, and `.npz` archives (as written by
//!   `np.savez` — members stored — and `np.savez_compressed` — members deflated). An archive
//!   member is named with a path spec `file.npz:member`; the member may be given with or
//!   without its `.npy` suffix. A bare `file.npz` holding exactly one array reads that array.
//!   (A path that exists as a file is never split at `:`.)
//! - **Element types**: float16, float32, float64, in any byte order (`<`, `>`, `=`, `|`).
//!   int64 (`<i8`/`>i8`) is read only by [`read_i64`] (index files). Everything else —
//!   other integers, booleans, complex, Python objects (`|O`), structured dtypes, strings —
//!   is refused with its own [`NpyProblem`].
//! - **Shapes**: 1-D `(n,)` reads as an `n x 1` matrix; 2-D `(n, d)` as `n x d`. Scalars and
//!   3-D+ arrays are refused ([`NpyProblem::UnsupportedDims`]).
//! - **Memory order**: C order is read as is. Fortran (column-major) order is transposed into
//!   row-major: whole reads hold the data twice briefly (read, then a tiled transpose);
//!   [`RowChunkReader`] does `cols` strided reads per chunk (see its docs).
//!
//! Output is always row-major ([`RowMatrix`](crate::RowMatrix)), f32 by default (f16 and
//! f64 converted; f64 to f32 rounds to nearest), or f64 via [`read_f64`].
//!
//! # Safety against hostile files
//!
//! Every check happens before the data is touched: magic, version, header length (at most
//! [`MAX_HEADER_LEN`] bytes, and within the file), the header dict (a bounded parser of the
//! Python-literal subset numpy writes; never `eval`), the dtype, the number of dimensions,
//! overflow of `rows x cols x itemsize`, and finally that the bytes after the header are
//! **exactly** the shape's size. So an allocation is never larger than the file (for a
//! deflated member: than 1100 x its compressed size, the deflate ratio bound). Each
//! problem is an [`crate::Error::Npy`] carrying the path (`file.npz:member` for members)
//! and a matchable [`NpyProblem`]; no input panics. NaN/Inf are allowed unless asked for:
//! [`read_f32_finite`] / [`RowChunkReader::require_finite`] report
//! [`crate::Error::NonFinite`] with the absolute row.
//!
//! # Speed
//!
//! Reads are bulk: native-layout data (little-endian f32 into f32, f64 into f64) is read
//! with one `read` straight into the output buffer (one kernel copy from the page cache);
//! other layouts (f16, big-endian, f64 -> f32) are **memory-mapped** (memmap2) and converted
//! in parallel blocks with vectorizable loops, with no intermediate copy. [`MappedF32`] maps a
//! little-endian f32 C-order array with no copy at all (for datastores larger than RAM).
//! Like any mmap
//! reader, truncating the file while it is being read can kill the process (SIGBUS).
//! Deflated members decompress in blocks (single-threaded, the zlib limit). Stored `.npz`
//! members are read in place, like plain files; CRCs of members are not verified.
//!
//! # Writing
//!
//! [`write_f32`], [`write_f64`], [`write_i64`] write little-endian C-order `.npy` with the
//! exact header `np.save` writes; [`write_npz`] / [`write_npz_compressed`] write archives
//! `np.load` opens. All go through [`crate::io::atomic::write_atomic`]: a reader never sees
//! a half-written file.

mod convert;
mod header;
mod mmap;
mod problem;
mod read;
mod rows;
mod source;
mod stats;
mod stream;
mod write;

pub(crate) use convert::as_bytes_mut;
pub use convert::Element;
pub use header::{check_data_len, parse_header, DType, NpyHeader, MAX_HEADER_LEN};
pub use mmap::MappedF32;
pub use problem::NpyProblem;
pub(crate) use read::advise_huge_pages;
pub use read::{read_f32, read_f32_finite, read_f64, read_f64_finite, read_header, read_i64};
pub use rows::NpyStream;
pub(crate) use rows::{npy_header_f32, write_f32_le};
pub use source::{npz_members, split_spec};
pub use stats::{array_stats, ArrayStats};
pub use stream::{RowChunk, RowChunkReader};
pub use write::{
    npy_header, write_f32, write_f64, write_i64, write_npz, write_npz_compressed, ArrayRef,
};
