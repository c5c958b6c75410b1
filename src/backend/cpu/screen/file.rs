//! The screening copy on disk (`screen_int8.bin` / `screen_bf16.bin` next to a saved
//! datastore's `embeddings.npy`).
//!
//! Layout (little-endian): `b"RECAPSCR"`, `u32` version (1), `u32` mode (0 int8, 1 bf16),
//! `u64` rows, `u64` dim, `u32` CRC-32 of the datastore rows it was built from (see
//! [`rows_fingerprint`]), `u32` CRC-32 of the payload; payload: the packed panels (`u32`
//! words), then per padded row `scale` (f32), `128·Σx̂` (i32), `α` (f32), `β` (f32).
//! A file whose header, length or checksums do not match is an error, never a wrong bound.

use std::io::{Read, Write};
use std::path::Path;

use super::{QuantizedRows, ScreenMode, NR};
use crate::backend::StoredRows;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"RECAPSCR";
const VERSION: u32 = 1;
const CHUNK: usize = 1 << 18;

/// CRC-32 of the stored row values (their in-memory bit patterns, little-endian).
pub fn rows_fingerprint(rows: StoredRows<'_>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = Vec::with_capacity(4 * CHUNK);
    match rows {
        StoredRows::F32(v) => {
            for c in v.chunks(CHUNK) {
                buf.clear();
                c.iter().for_each(|x| buf.extend(x.to_le_bytes()));
                h.update(&buf);
            }
        }
        StoredRows::F16(v) => {
            for c in v.chunks(CHUNK) {
                buf.clear();
                c.iter().for_each(|x| buf.extend(x.to_le_bytes()));
                h.update(&buf);
            }
        }
    }
    h.finalize()
}

fn each_array(
    q: &QuantizedRows,
    mut f: impl FnMut(&mut dyn Iterator<Item = u32>) -> Result<()>,
) -> Result<()> {
    f(&mut q.panels.iter().copied())?;
    f(&mut q.scale.iter().map(|x| x.to_bits()))?;
    f(&mut q.colsum128.iter().map(|&x| x as u32))?;
    f(&mut q.alpha.iter().map(|x| x.to_bits()))?;
    f(&mut q.beta.iter().map(|x| x.to_bits()))
}

/// Payload CRC-32.
fn payload_crc(q: &QuantizedRows) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = Vec::with_capacity(4 * CHUNK);
    let _ = each_array(q, |it| loop {
        buf.clear();
        buf.extend(it.take(CHUNK).flat_map(u32::to_le_bytes));
        if buf.is_empty() {
            return Ok(());
        }
        h.update(&buf);
    });
    h.finalize()
}

/// Write `q` to `path` atomically; `rows_crc` is [`rows_fingerprint`] of its rows.
pub fn save(q: &QuantizedRows, rows_crc: u32, path: &Path) -> Result<()> {
    let crc = payload_crc(q);
    crate::io::atomic::write_atomic(path, |w| {
        let io = |e| Error::io(path, e);
        w.write_all(MAGIC).map_err(io)?;
        let mode = match q.mode {
            ScreenMode::Int8 => 0u32,
            ScreenMode::Bf16 => 1,
        };
        for v in [VERSION, mode] {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        for v in [q.rows as u64, q.dim as u64] {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        for v in [rows_crc, crc] {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        let mut buf = Vec::with_capacity(4 * CHUNK);
        each_array(q, |it| loop {
            buf.clear();
            buf.extend(it.take(CHUNK).flat_map(u32::to_le_bytes));
            if buf.is_empty() {
                return Ok(());
            }
            w.write_all(&buf).map_err(io)?;
        })
    })
}

/// Read a copy written by [`save`] for a datastore of `rows x dim` whose rows have
/// fingerprint `rows_crc`.
pub fn load(path: &Path, rows: usize, dim: usize, rows_crc: u32) -> Result<QuantizedRows> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let io = |e| Error::io(path, e);
    let mut head = [0u8; 40];
    r.read_exact(&mut head)
        .map_err(|_| Error::format(path, "truncated header"))?;
    let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
    if &head[..8] != MAGIC || u32_at(8) != VERSION {
        return Err(Error::format(
            path,
            "not a recap screening copy (version 1)",
        ));
    }
    let mode = match u32_at(12) {
        0 => ScreenMode::Int8,
        1 => ScreenMode::Bf16,
        other => return Err(Error::format(path, format!("unknown mode {other}"))),
    };
    if (u64_at(16), u64_at(24)) != (rows as u64, dim as u64) {
        return Err(Error::format(
            path,
            format!(
                "built for {} x {} rows, the datastore is {rows} x {dim}",
                u64_at(16),
                u64_at(24)
            ),
        ));
    }
    if u32_at(32) != rows_crc {
        return Err(Error::format(
            path,
            "built from other rows than the datastore's (fingerprint differs): rebuild it",
        ));
    }
    if !mode.supports_dim(dim) {
        return Err(Error::format(path, format!("dimension {dim} unsupported")));
    }
    let groups = dim.div_ceil(super::quantize::per_word(mode));
    let padded = rows.div_ceil(NR) * NR;
    let mut read_words = |n: usize| -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; 4 * CHUNK];
        while out.len() < n {
            let take = (n - out.len()).min(CHUNK);
            r.read_exact(&mut buf[..4 * take])
                .map_err(|_| Error::format(path, "truncated payload"))?;
            out.extend(
                buf[..4 * take]
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))),
            );
        }
        Ok(out)
    };
    let panels = read_words(padded * groups)?;
    let scale = read_words(padded)?
        .into_iter()
        .map(f32::from_bits)
        .collect();
    let colsum128 = read_words(padded)?.into_iter().map(|v| v as i32).collect();
    let alpha = read_words(padded)?
        .into_iter()
        .map(f32::from_bits)
        .collect();
    let beta = read_words(padded)?
        .into_iter()
        .map(f32::from_bits)
        .collect();
    let mut rest = [0u8; 1];
    if r.read(&mut rest).map_err(io)? != 0 {
        return Err(Error::format(path, "trailing bytes after the payload"));
    }
    let q = QuantizedRows {
        mode,
        rows,
        dim,
        groups,
        panels,
        scale,
        colsum128,
        alpha,
        beta,
    };
    if payload_crc(&q) != u32_at(36) {
        return Err(Error::format(path, "payload checksum mismatch"));
    }
    Ok(q)
}
