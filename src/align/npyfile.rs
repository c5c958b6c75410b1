//! A `.npy` file as a [`ChunkSource`](crate::align::source::ChunkSource), and a streaming
//! `.npy` writer for row chunks.
//!
//! Interim reader until `recap::io::npy::RowChunkReader` is merged: C-order little-endian
//! `f4`/`f8`/`f2` 2-D (or 1-D, read as `n x 1`) arrays, converted to f32 chunk by chunk.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::align::source::ChunkSource;
use crate::error::{Error, Result};

/// Streams an `.npy` file in row chunks.
pub struct NpyFileSource {
    path: PathBuf,
    name: String,
    file: BufReader<File>,
    data_offset: u64,
    rows: usize,
    cols: usize,
    elem: usize,
    pos: usize,
    bytes: Vec<u8>,
}

impl NpyFileSource {
    /// Open `path` and read its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut file = BufReader::with_capacity(1 << 20, f);
        let header = npyz::NpyHeader::from_reader(&mut file)
            .map_err(|e| Error::npy(&path, e.to_string()))?;
        let data_offset = file.stream_position().map_err(|e| Error::io(&path, e))?;
        let shape = header.shape().to_vec();
        let (rows, cols) = match shape.as_slice() {
            [n] => (*n as usize, 1),
            [n, d] => (*n as usize, *d as usize),
            s => {
                return Err(Error::npy(
                    &path,
                    format!("expected a 1-D or 2-D array, got shape {s:?}"),
                ))
            }
        };
        if header.order() == npyz::Order::Fortran && cols > 1 && rows > 1 {
            return Err(Error::npy(
                &path,
                "Fortran-order arrays cannot be streamed by rows; save with np.ascontiguousarray",
            ));
        }
        let descr = header
            .dtype()
            .descr()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string();
        let elem = match descr.as_str() {
            "<f4" => 4,
            "<f8" => 8,
            "<f2" => 2,
            other => {
                return Err(Error::npy(
                    &path,
                    format!("unsupported dtype {other} (need little-endian f2/f4/f8)"),
                ))
            }
        };
        let need = (rows as u64)
            .checked_mul(cols as u64)
            .and_then(|v| v.checked_mul(elem as u64));
        if need.is_none_or(|need| data_offset + need > len) {
            return Err(Error::npy(
                &path,
                format!("file too short for shape ({rows}, {cols})"),
            ));
        }
        Ok(NpyFileSource {
            name: path.display().to_string(),
            path,
            file,
            data_offset,
            rows,
            cols,
            elem,
            pos: 0,
            bytes: Vec::new(),
        })
    }
}

impl ChunkSource for NpyFileSource {
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
        self.file
            .seek(SeekFrom::Start(self.data_offset))
            .map_err(|e| Error::io(&self.path, e))?;
        self.pos = 0;
        Ok(())
    }
    fn next_into(&mut self, buf: &mut Vec<f32>, max_rows: usize) -> Result<Option<(usize, usize)>> {
        if self.pos >= self.rows {
            return Ok(None);
        }
        let r = max_rows.max(1).min(self.rows - self.pos);
        let count = r * self.cols;
        buf.resize(count, 0.0);
        if self.elem == 4 {
            let dst: &mut [u8] = bytemuck_f32(buf);
            self.file
                .read_exact(dst)
                .map_err(|e| Error::io(&self.path, e))?;
            if cfg!(target_endian = "big") {
                buf.iter_mut()
                    .for_each(|v| *v = f32::from_bits(v.to_bits().swap_bytes()));
            }
        } else {
            self.bytes.resize(count * self.elem, 0);
            self.file
                .read_exact(&mut self.bytes)
                .map_err(|e| Error::io(&self.path, e))?;
            if self.elem == 8 {
                for (v, b) in buf.iter_mut().zip(self.bytes.chunks_exact(8)) {
                    *v = f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32;
                }
            } else {
                for (v, b) in buf.iter_mut().zip(self.bytes.chunks_exact(2)) {
                    *v = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
        }
        let start = self.pos;
        self.pos += r;
        Ok(Some((start, r)))
    }
}

fn bytemuck_f32(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: f32 has no invalid bit patterns and u8 has alignment 1; the byte slice covers
    // exactly the same memory as `v` and borrows it mutably for its lifetime.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

/// The `.npy` v1.0 header of a C-order little-endian f32 array of shape `(rows, cols)`.
pub fn npy_header_f32(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(b"\x93NUMPY\x01\x00");
    h.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(total - 1, b' ');
    h.push(b'\n');
    h
}

/// Write f32 values as little-endian bytes.
pub fn write_f32_le(w: &mut impl Write, data: &[f32]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&bytes)
}

/// Write a row-major f32 matrix as a `.npy` file (atomic).
pub fn write_npy_f32(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f32]) -> Result<()> {
    let p = path.as_ref().to_path_buf();
    crate::io::atomic::write_atomic(&p, |w| {
        w.write_all(&npy_header_f32(rows, cols))
            .map_err(|e| Error::io(&p, e))?;
        write_f32_le(w, data).map_err(|e| Error::io(&p, e))
    })
}
