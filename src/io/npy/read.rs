//! Whole-array reads into row-major matrices.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use rayon::prelude::*;

use super::convert::{as_bytes_mut, is_native, transpose_into, Element};
use super::header::{DType, NpyHeader};
use super::problem::NpyProblem;
use super::source::{self, DataSource, ExactStream, Opened};
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Elements converted per block (per rayon task on the mmap path; per read on streams).
const BLOCK_ELEMS: usize = 1 << 18;

/// Parse and check the header of `path` (`.npy` or `file.npz:member`) without reading data.
/// The data length is checked against the shape too.
pub fn read_header(path: impl AsRef<Path>) -> Result<NpyHeader> {
    Ok(source::open(path.as_ref())?.header)
}

/// Read a 1-D or 2-D float16/32/64 array (any byte order, C or Fortran order) into a
/// row-major f32 matrix. A 1-D array of length n reads as n x 1.
pub fn read_f32(path: impl AsRef<Path>) -> Result<RowMatrix<f32>> {
    read_matrix(path.as_ref())
}

/// Like [`read_f32`], then fail with [`Error::NonFinite`] naming the first row (and column)
/// holding NaN or ±Inf.
pub fn read_f32_finite(path: impl AsRef<Path>) -> Result<RowMatrix<f32>> {
    let m = read_f32(path.as_ref())?;
    check_finite(&m, path.as_ref())?;
    Ok(m)
}

/// Read a 1-D or 2-D float array into a row-major f64 matrix (no precision lost for f64
/// files).
pub fn read_f64(path: impl AsRef<Path>) -> Result<RowMatrix<f64>> {
    read_matrix(path.as_ref())
}

/// Like [`read_f64`], then fail with [`Error::NonFinite`] on the first NaN/±Inf row.
pub fn read_f64_finite(path: impl AsRef<Path>) -> Result<RowMatrix<f64>> {
    let m = read_f64(path.as_ref())?;
    check_finite(&m, path.as_ref())?;
    Ok(m)
}

/// Read a 1-D or 2-D int64 array (index files such as retrieval results) row-major.
pub fn read_i64(path: impl AsRef<Path>) -> Result<RowMatrix<i64>> {
    read_matrix(path.as_ref())
}

fn check_finite<T: Element>(m: &RowMatrix<T>, path: &Path) -> Result<()> {
    if let Some(pos) = m.as_slice().iter().position(|v| !v.is_finite()) {
        let cols = m.cols().max(1);
        return Err(Error::NonFinite {
            what: path.display().to_string(),
            row: pos / cols,
            col: pos % cols,
        });
    }
    Ok(())
}

/// Refuse dtypes that `T` cannot hold, with the specific problem.
pub(crate) fn check_dtype<T: Element>(h: &NpyHeader, label: &Path) -> Result<()> {
    if T::accepts(h.dtype) {
        return Ok(());
    }
    let problem = if h.dtype == DType::I64 {
        NpyProblem::IntegerDtype {
            descr: h.descr.clone(),
        }
    } else {
        NpyProblem::WrongDtypeForRead {
            descr: h.descr.clone(),
            wanted: T::NAME,
        }
    };
    Err(Error::npy(label, problem))
}

/// True if the file's memory order differs from row-major for this shape.
pub(crate) fn needs_transpose(h: &NpyHeader) -> bool {
    h.fortran_order && h.rows() > 1 && h.cols() > 1
}

fn read_matrix<T: Element>(path: &Path) -> Result<RowMatrix<T>> {
    let Opened {
        label,
        header: h,
        data,
    } = source::open(path)?;
    check_dtype::<T>(&h, &label)?;
    let (rows, cols) = (h.rows(), h.cols());
    // The header's shape was checked against the real data length: this allocation is
    // bounded by the file (or, for deflated members, by 1100 x the compressed size).
    let mut buf = vec![T::default(); h.len()];
    match data {
        DataSource::Region { file, offset } => read_region(&file, offset, &h, &mut buf, &label)?,
        DataSource::Stream(mut s) => {
            read_stream(&mut s, &h, &mut buf, &label)?;
            s.finish(&label)?;
        }
    }
    if needs_transpose(&h) {
        let mut out = vec![T::default(); h.len()];
        transpose_into(&buf, rows, cols, &mut out);
        buf = out;
    }
    RowMatrix::from_vec(rows, cols, buf)
}

/// Read `dst.len()` elements starting at byte `offset` of `file`.
///
/// Native layout (e.g. little-endian f32 into f32): one `read` straight into the output,
/// which is a single kernel copy from the page cache. Otherwise the file is memory-mapped and
/// converted in parallel blocks, with no intermediate byte buffer.
pub(crate) fn read_region<T: Element>(
    file: &File,
    offset: u64,
    h: &NpyHeader,
    dst: &mut [T],
    label: &Path,
) -> Result<()> {
    if dst.is_empty() {
        return Ok(());
    }
    if is_native::<T>(h.dtype, h.big_endian) {
        return read_exact_at(file, offset, as_bytes_mut(dst), label);
    }
    let item = h.dtype.itemsize();
    let len = dst.len() * item;
    // SAFETY: the map is read-only and private to this call. If another process truncates
    // the file while we read it, the OS may raise SIGBUS; this is the usual memmap caveat,
    // documented in the module docs.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(file)
            .map_err(|e| Error::io(label, e))?
    };
    let (dtype, big) = (h.dtype, h.big_endian);
    dst.par_chunks_mut(BLOCK_ELEMS)
        .zip(map.par_chunks(BLOCK_ELEMS * item))
        .for_each(|(d, s)| T::convert(s, dtype, big, d));
    Ok(())
}

/// Read from a decompressor in blocks, converting each.
fn read_stream<T: Element>(
    s: &mut ExactStream,
    h: &NpyHeader,
    dst: &mut [T],
    label: &Path,
) -> Result<()> {
    if is_native::<T>(h.dtype, h.big_endian) {
        return s.fill(as_bytes_mut(dst), label);
    }
    let item = h.dtype.itemsize();
    let mut raw = vec![0u8; BLOCK_ELEMS.min(dst.len()) * item];
    for d in dst.chunks_mut(BLOCK_ELEMS) {
        let r = &mut raw[..d.len() * item];
        s.fill(r, label)?;
        T::convert(r, h.dtype, h.big_endian, d);
    }
    Ok(())
}

/// Positioned exact read; a short file is [`NpyProblem::DataTooShort`] (it changed after
/// its length was checked).
pub(crate) fn read_exact_at(file: &File, offset: u64, buf: &mut [u8], label: &Path) -> Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(label, e))?;
    let got = source::read_up_to(&mut f, buf, label)?;
    if got < buf.len() {
        return Err(Error::npy(
            label,
            NpyProblem::DataTooShort {
                expected: buf.len() as u64,
                actual: got as u64,
            },
        ));
    }
    Ok(())
}
