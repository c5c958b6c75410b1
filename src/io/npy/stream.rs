//! Streaming reads: walk an array of any size `rows_per_chunk` rows at a time.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::convert::{as_bytes_mut, is_native, transpose_into, Element};
use super::header::{DType, NpyHeader};
use super::read::{check_dtype, needs_transpose, read_exact_at};
use super::source::{self, DataSource, ExactStream, Opened};
use crate::error::{Error, Result};
use crate::matrix::check_finite_rows;

/// One block of consecutive rows, row-major f32.
#[derive(Clone, Copy, Debug)]
pub struct RowChunk<'a> {
    /// Index of the chunk's first row in the whole array.
    pub start_row: usize,
    /// Rows in this chunk (the last chunk may be shorter).
    pub rows: usize,
    /// Columns (the array's `d`; 1 for a 1-D array).
    pub cols: usize,
    /// `rows * cols` values, row `i` of the chunk at `data[i*cols..(i+1)*cols]`.
    pub data: &'a [f32],
}

impl<'a> RowChunk<'a> {
    /// Row `i` of the chunk (absolute row `start_row + i`).
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

enum RowSource {
    /// Random-access bytes (plain file, stored member, or a spilled temporary file).
    Region { file: File, offset: u64 },
    /// A deflated member read front to back (C order only).
    Stream(ExactStream),
}

/// Reads an array `rows_per_chunk` rows at a time into a reused f32 buffer.
///
/// Memory is O(`rows_per_chunk` x cols) whatever the file size: two buffers of that size
/// (raw bytes and converted values; a third for Fortran order). A zero-width array
/// (`(n, 0)`) comes as a single chunk of n empty rows.
///
/// Costs by layout:
/// - **C order** (numpy's default), `.npy` or stored `.npz` member: one sequential read per
///   chunk.
/// - **C order, deflated `.npz` member**: decompressed on the fly, front to back; nothing is
///   held beyond the chunk.
/// - **Fortran order**, `.npy` or stored member: each chunk is `cols` strided reads of
///   `rows_per_chunk` values (one per column), then a transpose. Fine for chunks of a few
///   thousand rows; slow for tiny chunks. Converting the file once
///   (`np.save(p, np.ascontiguousarray(a))`) avoids it.
/// - **Fortran order, deflated member**: a column-major stream cannot be cut into rows, so
///   the member is first decompressed to an anonymous temporary file (disk, not memory:
///   `rows * cols * itemsize` bytes), then read as above.
pub struct RowChunkReader {
    label: PathBuf,
    header: NpyHeader,
    rows_per_chunk: usize,
    next_row: usize,
    source: RowSource,
    raw: Vec<u8>,
    col_major: Vec<f32>,
    out: Vec<f32>,
    check_finite: bool,
    finished: bool,
}

impl RowChunkReader {
    /// Open `path` (`.npy` or `file.npz:member`) for reading `rows_per_chunk` rows at a time.
    /// Only float dtypes are accepted; the header and data length are checked here.
    pub fn open(path: impl AsRef<Path>, rows_per_chunk: usize) -> Result<Self> {
        if rows_per_chunk == 0 {
            return Err(Error::invalid("rows_per_chunk", "must be at least 1"));
        }
        let Opened {
            label,
            header,
            data,
        } = source::open(path.as_ref())?;
        check_dtype::<f32>(&header, &label)?;
        let source = match data {
            DataSource::Region { file, offset } => RowSource::Region { file, offset },
            DataSource::Stream(s) if needs_transpose(&header) => spill(s, &header, &label)?,
            DataSource::Stream(s) => RowSource::Stream(s),
        };
        // A zero-width array `(n, 0)` holds no data however many rows its header claims:
        // serve all n (empty) rows in one chunk rather than n / rows_per_chunk empty reads
        // (a 128-byte file claiming 10^15 rows would otherwise keep the reader busy for ever).
        let rows_per_chunk = if header.cols() == 0 {
            header.rows().max(1)
        } else {
            rows_per_chunk.min(header.rows().max(1))
        };
        Ok(RowChunkReader {
            label,
            rows_per_chunk,
            header,
            next_row: 0,
            source,
            raw: Vec::new(),
            col_major: Vec::new(),
            out: Vec::new(),
            check_finite: false,
            finished: false,
        })
    }

    /// Make [`RowChunkReader::next_chunk`] fail with [`Error::NonFinite`] (naming the
    /// absolute row) on the first chunk holding NaN or ±Inf.
    pub fn require_finite(mut self, yes: bool) -> Self {
        self.check_finite = yes;
        self
    }

    /// Rows in the whole array.
    pub fn rows(&self) -> usize {
        self.header.rows()
    }

    /// Columns (1 for a 1-D array).
    pub fn cols(&self) -> usize {
        self.header.cols()
    }

    /// The element type stored in the file.
    pub fn dtype(&self) -> DType {
        self.header.dtype
    }

    /// The full parsed header (shape, dtype, byte order, memory order).
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The path as reported in errors (`file.npz:member` for members).
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// Rows already returned.
    pub fn position(&self) -> usize {
        self.next_row
    }

    /// The next chunk, or `None` after the last row. For deflated members, the end of the
    /// stream is checked for trailing bytes before `None` is returned.
    pub fn next_chunk(&mut self) -> Result<Option<RowChunk<'_>>> {
        let rows_total = self.rows();
        if self.next_row >= rows_total {
            if !self.finished {
                self.finished = true;
                if let RowSource::Stream(s) = &mut self.source {
                    s.finish(&self.label)?;
                }
            }
            return Ok(None);
        }
        let start = self.next_row;
        let rows = self.rows_per_chunk.min(rows_total - start);
        let cols = self.cols();
        self.out.resize(rows * cols, 0.0);
        if needs_transpose(&self.header) {
            self.read_fortran_chunk(start, rows)?;
        } else {
            self.read_c_chunk(start)?;
        }
        if self.check_finite {
            let what = self.label.display().to_string();
            check_finite_rows(&self.out, cols, &what, start)?;
        }
        self.next_row += rows;
        Ok(Some(RowChunk {
            start_row: start,
            rows,
            cols,
            data: &self.out,
        }))
    }

    fn read_c_chunk(&mut self, start: usize) -> Result<()> {
        let h = &self.header;
        let item = h.dtype.itemsize() as u64;
        let n = self.out.len();
        let native = is_native::<f32>(h.dtype, h.big_endian);
        if !native {
            self.raw.resize(n * item as usize, 0);
        }
        let buf: &mut [u8] = if native {
            as_bytes_mut(&mut self.out)
        } else {
            &mut self.raw
        };
        match &mut self.source {
            RowSource::Region { file, offset } => {
                let pos = *offset + (start * h.cols()) as u64 * item;
                read_exact_at(file, pos, buf, &self.label)?;
            }
            RowSource::Stream(s) => s.fill(buf, &self.label)?,
        }
        if !native {
            f32::convert(&self.raw, h.dtype, h.big_endian, &mut self.out);
        }
        Ok(())
    }

    fn read_fortran_chunk(&mut self, start: usize, rows: usize) -> Result<()> {
        let RowSource::Region { file, offset } = &self.source else {
            unreachable!("Fortran-order streams are spilled to a file at open");
        };
        let h = &self.header;
        let item = h.dtype.itemsize();
        let (n_rows, cols) = (h.rows(), h.cols());
        self.raw.resize(rows * cols * item, 0);
        for (j, col) in self.raw.chunks_exact_mut(rows * item).enumerate() {
            let pos = *offset + ((j * n_rows + start) * item) as u64;
            read_exact_at(file, pos, col, &self.label)?;
        }
        self.col_major.resize(rows * cols, 0.0);
        f32::convert(&self.raw, h.dtype, h.big_endian, &mut self.col_major);
        transpose_into(&self.col_major, rows, cols, &mut self.out);
        Ok(())
    }
}

/// Decompress a Fortran-order member into an anonymous temporary file, in bounded blocks.
fn spill(mut s: ExactStream, h: &NpyHeader, label: &Path) -> Result<RowSource> {
    let mut file = tempfile::tempfile().map_err(|e| Error::io(label, e))?;
    let mut remaining = h.data_len();
    let mut buf = vec![0u8; (1 << 20).min(remaining as usize)];
    while remaining > 0 {
        let n = (buf.len() as u64).min(remaining) as usize;
        s.fill(&mut buf[..n], label)?;
        file.write_all(&buf[..n]).map_err(|e| Error::io(label, e))?;
        remaining -= n as u64;
    }
    s.finish(label)?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(label, e))?;
    Ok(RowSource::Region { file, offset: 0 })
}
