//! `.npy` files (and `file.npz:member`s) as [`RowSource`]s, streamed by
//! [`RowChunkReader`], and a streaming f32 `.npy` writer for mapped rows.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::io::npy::{npy_header, MappedF32, RowChunkReader};
use crate::io::rows::RowSource;

/// Streams an array in row chunks of a fixed size (any dtype/order the io module reads,
/// converted to f32). Rewinding reopens the file.
///
/// A native f32 C-order array is also memory-mapped: [`RowSource::next_chunk`] then lends
/// its rows straight from the page cache (no copy), and releases the pages of the previous
/// chunk, so the resident size stays near one chunk.
pub struct NpyStream {
    path: PathBuf,
    name: String,
    chunk_rows: usize,
    reader: RowChunkReader,
    mapped: Option<Mapped>,
    pending: Vec<f32>,
    pending_start: usize,
    pending_rows: usize,
    served: usize,
}

/// The mapped view and the rows lent last (released on the next call).
struct Mapped {
    map: MappedF32,
    pos: usize,
    lent: (usize, usize),
}

impl NpyStream {
    /// Open `path` for chunks of `chunk_rows` rows (ask [`RowSource::next_into`] for the
    /// same number of rows to avoid an extra copy).
    pub fn open(path: impl AsRef<Path>, chunk_rows: usize) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let reader = RowChunkReader::open(&path, chunk_rows.max(1))?;
        let mapped = MappedF32::open(&path).ok().map(|map| {
            map.advise_sequential();
            Mapped {
                map,
                pos: 0,
                lent: (0, 0),
            }
        });
        Ok(NpyStream {
            name: reader.label().display().to_string(),
            path,
            chunk_rows: chunk_rows.max(1),
            reader,
            mapped,
            pending: Vec::new(),
            pending_start: 0,
            pending_rows: 0,
            served: 0,
        })
    }
}

impl RowSource for NpyStream {
    fn rows(&self) -> usize {
        self.reader.rows()
    }
    fn cols(&self) -> usize {
        self.reader.cols()
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn rewind(&mut self) -> Result<()> {
        if self.reader.position() > 0 || self.pending_rows > 0 {
            self.reader = RowChunkReader::open(&self.path, self.chunk_rows)?;
        }
        self.pending_rows = 0;
        self.served = 0;
        if let Some(m) = &mut self.mapped {
            m.map.release_rows(m.lent.0, m.lent.1);
            (m.pos, m.lent) = (0, (0, 0));
        }
        Ok(())
    }
    fn next_chunk<'a>(
        &'a mut self,
        buf: &'a mut Vec<f32>,
        max_rows: usize,
    ) -> Result<Option<(usize, &'a [f32])>> {
        if self.mapped.is_none() {
            return Ok(self.next_into(buf, max_rows)?.map(|(s, _)| (s, &buf[..])));
        }
        let m = self.mapped.as_mut().expect("checked above");
        m.map.release_rows(m.lent.0, m.lent.1);
        let (n, d) = (m.map.rows(), m.map.cols());
        if m.pos >= n {
            m.lent = (0, 0);
            return Ok(None);
        }
        let (start, r) = (m.pos, max_rows.max(1).min(n - m.pos));
        (m.pos, m.lent) = (start + r, (start, start + r));
        m.map.prefetch_rows(start + r, start + 2 * r);
        Ok(Some((start, &m.map.as_slice()[start * d..(start + r) * d])))
    }
    fn all_rows(&self) -> Option<&[f32]> {
        self.mapped.as_ref().map(|m| m.map.as_slice())
    }
    fn release_rows(&self, start: usize, end: usize) {
        if let Some(m) = &self.mapped {
            m.map.release_rows(start, end);
        }
    }
    fn next_into(&mut self, buf: &mut Vec<f32>, max_rows: usize) -> Result<Option<(usize, usize)>> {
        let d = self.cols();
        if self.served == self.pending_rows {
            let Some(chunk) = self.reader.next_chunk()? else {
                return Ok(None);
            };
            if max_rows >= chunk.rows {
                buf.clear();
                buf.extend_from_slice(chunk.data);
                return Ok(Some((chunk.start_row, chunk.rows)));
            }
            self.pending.clear();
            self.pending.extend_from_slice(chunk.data);
            (self.pending_start, self.pending_rows, self.served) = (chunk.start_row, chunk.rows, 0);
        }
        let r = max_rows.max(1).min(self.pending_rows - self.served);
        buf.clear();
        buf.extend_from_slice(&self.pending[self.served * d..(self.served + r) * d]);
        let start = self.pending_start + self.served;
        self.served += r;
        Ok(Some((start, r)))
    }
}

/// The `.npy` header of a C-order little-endian f32 array of shape `(rows, cols)`.
pub fn npy_header_f32(rows: usize, cols: usize) -> Vec<u8> {
    npy_header("<f4", rows, cols)
}

/// Write f32 values as little-endian bytes.
pub fn write_f32_le(w: &mut impl Write, data: &[f32]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&bytes)
}
