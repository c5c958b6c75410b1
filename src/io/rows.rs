//! Row-chunk sources for the fit: in-memory matrices or `.npy` files streamed in chunks.
//!
//! The fit reads its inputs through [`RowSource`], one chunk of rows at a time, so the same
//! code fits a matrix in memory and a file of any size in `O(chunk · d)` memory.

use crate::error::Result;
use crate::matrix::RowMatrix;

/// Rows per chunk when streaming (a few thousand rows keep the f32 Gram products accurate
/// and fast; see `backend::cpu::linalg`).
pub const DEFAULT_CHUNK_ROWS: usize = 4096;

/// A rewindable sequence of row chunks of an `rows x cols` f32 matrix.
pub trait RowSource {
    /// Total rows.
    fn rows(&self) -> usize;
    /// Columns.
    fn cols(&self) -> usize;
    /// Name used in error messages (a file path or an argument name).
    fn name(&self) -> &str;
    /// Start again from row 0.
    fn rewind(&mut self) -> Result<()>;
    /// Copy the next chunk (at most `max_rows` rows) into `buf` (resized to
    /// `rows * cols`) and return its `(start_row, rows)`, or `None` at the end.
    fn next_into(&mut self, buf: &mut Vec<f32>, max_rows: usize) -> Result<Option<(usize, usize)>>;

    /// The next chunk (at most `max_rows` rows) as a slice, with its start row, or `None` at
    /// the end. Sources that hold their rows (a matrix in memory, a mapped file) lend them
    /// without a copy; the default copies into `buf` with [`Self::next_into`].
    fn next_chunk<'a>(
        &'a mut self,
        buf: &'a mut Vec<f32>,
        max_rows: usize,
    ) -> Result<Option<(usize, &'a [f32])>> {
        Ok(self
            .next_into(buf, max_rows)?
            .map(|(start, _)| (start, &buf[..])))
    }

    /// All rows at once (`rows x cols`, row-major) for random access, when the source holds
    /// them (a matrix in memory, a mapped file); `None` for sources that can only stream.
    fn all_rows(&self) -> Option<&[f32]> {
        None
    }

    /// Hint that rows `start..end` of [`Self::all_rows`] are not needed again soon (a mapped
    /// file drops their pages from this process; they stay valid and in the page cache).
    fn release_rows(&self, start: usize, end: usize) {
        let _ = (start, end);
    }
}

/// Rows in memory (a matrix or a borrowed row-major slice) as a [`RowSource`]; chunks are
/// sub-slices of the data, never copies.
pub struct MemSource<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    name: String,
    pos: usize,
}

impl<'a> MemSource<'a> {
    /// Wrap `m`, naming it `name` in errors.
    pub fn new(m: &'a RowMatrix<f32>, name: impl Into<String>) -> Self {
        MemSource {
            data: m.as_slice(),
            rows: m.rows(),
            cols: m.cols(),
            name: name.into(),
            pos: 0,
        }
    }

    /// Wrap a borrowed row-major `rows x cols` slice (e.g. a numpy array's buffer).
    ///
    /// Errors: `data.len() != rows · cols` ([`crate::Error::Shape`]).
    pub fn from_slice(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        name: impl Into<String>,
    ) -> Result<Self> {
        let name = name.into();
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(crate::Error::shape(
                name,
                format!("{rows} x {cols} = {} values", rows.saturating_mul(cols)),
                format!("{} values", data.len()),
            ));
        }
        Ok(MemSource {
            data,
            rows,
            cols,
            name,
            pos: 0,
        })
    }

    /// The next chunk: `(first row, rows, their values)`.
    fn take(&mut self, max_rows: usize) -> Option<(usize, usize, &'a [f32])> {
        if self.pos >= self.rows {
            return None;
        }
        let (start, r) = (self.pos, max_rows.max(1).min(self.rows - self.pos));
        self.pos += r;
        let d = self.cols;
        Some((start, r, &self.data[start * d..(start + r) * d]))
    }
}

impl RowSource for MemSource<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn rewind(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }
    fn next_into(&mut self, buf: &mut Vec<f32>, max_rows: usize) -> Result<Option<(usize, usize)>> {
        Ok(self.take(max_rows).map(|(start, r, rows)| {
            buf.clear();
            buf.extend_from_slice(rows);
            (start, r)
        }))
    }
    fn next_chunk<'b>(
        &'b mut self,
        _: &'b mut Vec<f32>,
        max_rows: usize,
    ) -> Result<Option<(usize, &'b [f32])>> {
        Ok(self.take(max_rows).map(|(start, _, rows)| (start, rows)))
    }
    fn all_rows(&self) -> Option<&[f32]> {
        Some(self.data)
    }
}

/// Read a whole source into memory.
pub fn read_all(src: &mut dyn RowSource) -> Result<RowMatrix<f32>> {
    src.rewind()?;
    let (n, d) = (src.rows(), src.cols());
    let mut data = Vec::with_capacity(n * d);
    let mut buf = Vec::new();
    while let Some((_, _)) = src.next_into(&mut buf, DEFAULT_CHUNK_ROWS)? {
        data.extend_from_slice(&buf);
    }
    RowMatrix::from_vec(n, d, data)
}
