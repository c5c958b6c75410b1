//! Zero-copy access: a little-endian f32 C-order array memory-mapped in place.

use std::path::{Path, PathBuf};

use super::convert::is_native;
use super::header::{DType, NpyHeader};
use super::problem::NpyProblem;
use super::read::needs_transpose;
use super::source::{self, DataSource, Opened};
use crate::error::{Error, Result};

/// A read-only, memory-mapped `rows x cols` f32 array: the file's bytes *are* the row-major
/// matrix, so opening costs no copy and no memory beyond the OS page cache (a datastore
/// larger than RAM works; pages load on first touch).
///
/// Only arrays whose bytes already have `f32`'s layout can be mapped: dtype `<f4` (on a
/// little-endian machine), C order (or 1-D), in a `.npy` file or a *stored* `.npz` member
/// whose data starts 4-byte aligned. Anything else is
/// [`NpyProblem::NotMappable`] — use [`super::read_f32`], which converts.
///
/// Like every memory map, the view assumes the file is not modified or truncated while it
/// is mapped (truncation can kill the process with SIGBUS).
pub struct MappedF32 {
    map: memmap2::Mmap,
    header: NpyHeader,
    label: PathBuf,
}

impl MappedF32 {
    /// Map `path` (`.npy` or `file.npz:member`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let Opened {
            label,
            header,
            data,
        } = source::open(path.as_ref())?;
        let not = |reason: &str| {
            Error::npy(
                &label,
                NpyProblem::NotMappable {
                    reason: reason.to_string(),
                },
            )
        };
        let DataSource::Region { file, offset } = data else {
            return Err(not("a deflated .npz member has no bytes to map"));
        };
        if header.dtype != DType::F32 || !is_native::<f32>(header.dtype, header.big_endian) {
            return Err(not("only native-endian float32 ('<f4') can be mapped"));
        }
        if needs_transpose(&header) {
            return Err(not("Fortran-order data is not row-major"));
        }
        if offset % 4 != 0 {
            return Err(not("the data does not start 4-byte aligned"));
        }
        let len = header.data_len() as usize;
        // SAFETY: read-only private map; the usual memmap caveat (no concurrent truncation)
        // is documented above. An empty array maps nothing.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map(&file)
                .map_err(|e| Error::io(&label, e))?
        };
        Ok(MappedF32 { map, header, label })
    }

    /// The whole row-major buffer (`rows * cols` values).
    pub fn as_slice(&self) -> &[f32] {
        let n = self.header.len();
        if n == 0 {
            return &[];
        }
        let ptr = self.map.as_ptr();
        debug_assert_eq!(ptr as usize % 4, 0);
        // SAFETY: the map holds exactly n * 4 bytes (checked against the file length), the
        // pointer is 4-byte aligned (page-aligned map + offset % 4 == 0, checked at open),
        // every bit pattern is a valid f32, and the slice borrows `self`, which owns the map.
        unsafe { std::slice::from_raw_parts(ptr.cast::<f32>(), n) }
    }

    /// Tell the OS the rows will be read front to back (more read-ahead). Advice only.
    pub fn advise_sequential(&self) {
        let _ = self.map.advise(memmap2::Advice::Sequential);
    }

    /// Ask the OS to start reading rows `start..end` from disk now (asynchronous read-ahead;
    /// advice only), so a streaming reader does not stall on the next chunk.
    pub fn prefetch_rows(&self, start: usize, end: usize) {
        let bytes = 4 * self.cols();
        let (lo, hi) = (start.min(end) * bytes, end.min(self.rows()) * bytes);
        if hi > lo {
            let _ = self
                .map
                .advise_range(memmap2::Advice::WillNeed, lo, hi - lo);
        }
    }

    /// Drop this process's page mappings of rows `start..end` (a streaming reader calls it
    /// for rows it is done with, so its resident size stays at one chunk instead of growing
    /// to the file size). The data stays in the OS page cache and the view stays valid: a
    /// later read of those rows faults the pages in again. Advice only: errors are ignored.
    pub fn release_rows(&self, start: usize, end: usize) {
        let bytes = 4 * self.cols();
        let (lo, hi) = (start.min(end) * bytes, end.min(self.rows()) * bytes);
        if hi <= lo {
            return;
        }
        // SAFETY: the map is read-only and never written, so MADV_DONTNEED only drops page
        // table entries of clean file pages: no data is lost, and any slice still borrowed
        // reads the same bytes back from the file on its next access.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, lo, hi - lo)
        };
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.header.rows()
    }

    /// Columns (1 for a 1-D array).
    pub fn cols(&self) -> usize {
        self.header.cols()
    }

    /// Row `i` (panics if `i >= rows`, like slice indexing).
    pub fn row(&self, i: usize) -> &[f32] {
        let c = self.cols();
        &self.as_slice()[i * c..(i + 1) * c]
    }

    /// The header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The path as reported in errors.
    pub fn label(&self) -> &Path {
        &self.label
    }
}
