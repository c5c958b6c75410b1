//! Writing `.npy` and `.npz` files, atomically (temporary file, then rename).
//!
//! Headers are byte-for-byte what `np.save` writes for the same array (version 1.0, dict
//! keys sorted, 21-digit growth padding, 64-byte alignment), little-endian, C order.

use std::io::Write;
use std::path::Path;

use super::convert::Element;
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::matrix::RowMatrix;

/// numpy's data alignment for `.npy` headers.
const ARRAY_ALIGN: usize = 64;
/// numpy reserves room for this many digits of the growth axis.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// A borrowed 2-D array to write: row-major, `rows * cols` values.
#[derive(Clone, Copy, Debug)]
pub enum ArrayRef<'a> {
    /// float32 (`<f4`).
    F32 {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Row-major values.
        data: &'a [f32],
    },
    /// float64 (`<f8`).
    F64 {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Row-major values.
        data: &'a [f64],
    },
    /// int64 (`<i8`), for index arrays.
    I64 {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Row-major values.
        data: &'a [i64],
    },
}

impl<'a> From<&'a RowMatrix<f32>> for ArrayRef<'a> {
    fn from(m: &'a RowMatrix<f32>) -> Self {
        ArrayRef::F32 {
            rows: m.rows(),
            cols: m.cols(),
            data: m.as_slice(),
        }
    }
}

impl<'a> From<&'a RowMatrix<f64>> for ArrayRef<'a> {
    fn from(m: &'a RowMatrix<f64>) -> Self {
        ArrayRef::F64 {
            rows: m.rows(),
            cols: m.cols(),
            data: m.as_slice(),
        }
    }
}

impl<'a> From<&'a RowMatrix<i64>> for ArrayRef<'a> {
    fn from(m: &'a RowMatrix<i64>) -> Self {
        ArrayRef::I64 {
            rows: m.rows(),
            cols: m.cols(),
            data: m.as_slice(),
        }
    }
}

impl ArrayRef<'_> {
    fn shape(&self) -> (usize, usize, usize) {
        match *self {
            ArrayRef::F32 { rows, cols, data } => (rows, cols, data.len()),
            ArrayRef::F64 { rows, cols, data } => (rows, cols, data.len()),
            ArrayRef::I64 { rows, cols, data } => (rows, cols, data.len()),
        }
    }

    fn descr(&self) -> &'static str {
        match self {
            ArrayRef::F32 { .. } => "<f4",
            ArrayRef::F64 { .. } => "<f8",
            ArrayRef::I64 { .. } => "<i8",
        }
    }

    fn check(&self, what: &str) -> Result<()> {
        let (rows, cols, len) = self.shape();
        if rows.checked_mul(cols) != Some(len) {
            return Err(Error::shape(
                what,
                format!("{rows} x {cols} values"),
                format!("{len} values"),
            ));
        }
        Ok(())
    }

    /// Bytes of the whole `.npy` image (header + data).
    fn npy_len(&self) -> u64 {
        let (rows, cols, len) = self.shape();
        let item = if matches!(self, ArrayRef::F32 { .. }) {
            4
        } else {
            8
        };
        npy_header(self.descr(), rows, cols).len() as u64 + len as u64 * item
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let (rows, cols, _) = self.shape();
        w.write_all(&npy_header(self.descr(), rows, cols))?;
        match *self {
            ArrayRef::F32 { data, .. } => write_le(w, data, f32::to_le_bytes),
            ArrayRef::F64 { data, .. } => write_le(w, data, f64::to_le_bytes),
            ArrayRef::I64 { data, .. } => write_le(w, data, i64::to_le_bytes),
        }
    }
}

/// The `.npy` preamble and header numpy writes for a C-order `rows x cols` array.
pub fn npy_header(descr: &str, rows: usize, cols: usize) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let digits = rows.to_string().len();
    dict.extend(std::iter::repeat_n(
        ' ',
        GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
    ));
    let hlen = dict.len() + 1;
    let (version, len_bytes) = if 8 + 2 + hlen + ARRAY_ALIGN <= u16::MAX as usize {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let padlen = ARRAY_ALIGN - (8 + len_bytes + hlen) % ARRAY_ALIGN;
    let mut out = Vec::with_capacity(8 + len_bytes + hlen + padlen);
    out.extend_from_slice(super::header::MAGIC);
    out.extend([version, 0]);
    let total = (hlen + padlen) as u32;
    if len_bytes == 2 {
        out.extend((total as u16).to_le_bytes());
    } else {
        out.extend(total.to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    out
}

/// Write values little-endian: the memory itself on little-endian machines, converted in
/// blocks otherwise.
fn write_le<T: Element, const N: usize>(
    w: &mut impl Write,
    data: &[T],
    to_le: fn(T) -> [u8; N],
) -> std::io::Result<()> {
    if cfg!(target_endian = "little") {
        return w.write_all(super::convert::as_bytes(data));
    }
    let mut buf = Vec::with_capacity(8192 * N);
    for block in data.chunks(8192) {
        buf.clear();
        buf.extend(block.iter().flat_map(|&v| to_le(v)));
        w.write_all(&buf)?;
    }
    Ok(())
}

fn write_array(path: &Path, array: ArrayRef<'_>) -> Result<()> {
    array.check(&path.display().to_string())?;
    write_atomic(path, |w| array.write_to(w).map_err(|e| Error::io(path, e)))
}

/// Write a row-major f32 matrix as a `(rows, cols)` little-endian C-order `.npy`
/// (`np.load` gives the same matrix), atomically.
pub fn write_f32(path: impl AsRef<Path>, m: &RowMatrix<f32>) -> Result<()> {
    write_array(path.as_ref(), m.into())
}

/// Write a row-major f64 matrix as `.npy` (`<f8`), atomically.
pub fn write_f64(path: impl AsRef<Path>, m: &RowMatrix<f64>) -> Result<()> {
    write_array(path.as_ref(), m.into())
}

/// Write `rows x cols` int64 values (e.g. retrieval indices) as `.npy` (`<i8`), atomically.
/// Fails with [`Error::Shape`] if `data.len() != rows * cols`.
pub fn write_i64(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[i64]) -> Result<()> {
    write_array(path.as_ref(), ArrayRef::I64 { rows, cols, data })
}

/// Write several arrays into one `.npz` (as `np.savez`: members `NAME.npy`, stored
/// uncompressed), atomically. `np.load(path)[NAME]` gives each array.
pub fn write_npz(path: impl AsRef<Path>, members: &[(&str, ArrayRef<'_>)]) -> Result<()> {
    write_zip(path.as_ref(), members, zip::CompressionMethod::Stored)
}

/// Like [`write_npz`] but deflate-compressed (as `np.savez_compressed`).
pub fn write_npz_compressed(
    path: impl AsRef<Path>,
    members: &[(&str, ArrayRef<'_>)],
) -> Result<()> {
    write_zip(path.as_ref(), members, zip::CompressionMethod::Deflated)
}

fn write_zip(
    path: &Path,
    members: &[(&str, ArrayRef<'_>)],
    method: zip::CompressionMethod,
) -> Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for (name, array) in members {
        let base = name.strip_suffix(".npy").unwrap_or(name);
        if base.is_empty() || !names.insert(base) {
            return Err(Error::invalid(
                "npz member name",
                format!("'{name}' is empty or repeated"),
            ));
        }
        array.check(&format!("{}:{base}", path.display()))?;
    }
    let zip_err = |e: zip::result::ZipError| Error::io(path, std::io::Error::other(e));
    write_atomic(path, |w| {
        let mut zip = zip::ZipWriter::new(w);
        for (name, array) in members {
            let base = name.strip_suffix(".npy").unwrap_or(name);
            let options = zip::write::FileOptions::default()
                .compression_method(method)
                .large_file(array.npy_len() >= u32::MAX as u64);
            zip.start_file(format!("{base}.npy"), options)
                .map_err(zip_err)?;
            array.write_to(&mut zip).map_err(|e| Error::io(path, e))?;
        }
        zip.finish().map_err(zip_err)?;
        Ok(())
    })
}
