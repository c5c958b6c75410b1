//! Opening an array: a plain `.npy` file or a `.npz` member (`file.npz:member`), up to the
//! first data byte, with the header parsed and the data length checked against the shape
//! before anything is allocated for the data.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::DeflateDecoder;

use super::header::{self, NpyHeader, PREAMBLE_MAX};
use super::problem::NpyProblem;
use crate::error::{Error, Result};

/// Largest decompressed/compressed ratio accepted for a deflated member (deflate's
/// theoretical maximum is about 1032:1); larger claims are refused before decompressing.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// Where an array's data bytes come from.
pub(crate) enum DataSource {
    /// Uncompressed bytes at `offset` in `file` (plain `.npy`, or a stored `.npz` member):
    /// random access, mmap-able.
    Region {
        /// The file.
        file: File,
        /// Offset of the first data byte.
        offset: u64,
    },
    /// A deflated `.npz` member's decompressor, positioned at the first data byte.
    Stream(ExactStream),
}

/// An array opened up to its data.
pub(crate) struct Opened {
    /// The path as the user names it (`file.npz:member` for members).
    pub label: PathBuf,
    /// The parsed, checked header.
    pub header: NpyHeader,
    /// The data.
    pub data: DataSource,
}

/// Split `file.npz:member` into the archive path and member name. A path that exists as a
/// file is never split; otherwise the split is at the last `.npz:`.
pub fn split_spec(path: &Path) -> (PathBuf, Option<String>) {
    if path.is_file() {
        return (path.to_path_buf(), None);
    }
    if let Some(s) = path.to_str() {
        if let Some(pos) = s.rfind(".npz:") {
            let (file, member) = s.split_at(pos + 4);
            return (PathBuf::from(file), Some(member[1..].to_string()));
        }
    }
    (path.to_path_buf(), None)
}

fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Open `path` (`.npy`, `.npz` holding one array, or `file.npz:member`).
pub(crate) fn open(path: &Path) -> Result<Opened> {
    let (file_path, member) = split_spec(path);
    if member.is_some() || is_npz(&file_path) {
        open_npz_member(&file_path, member.as_deref())
    } else {
        open_npy(&file_path)
    }
}

fn open_npy(path: &Path) -> Result<Opened> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let header = read_header_from(&mut file, len, path)?;
    let offset = header.data_offset;
    Ok(Opened {
        label: path.to_path_buf(),
        header,
        data: DataSource::Region { file, offset },
    })
}

/// Read and check a header from `r`, which holds an array of `total_len` bytes starting at
/// its current position. Allocates at most the (bounded) header length.
fn read_header_from(r: &mut impl Read, total_len: u64, label: &Path) -> Result<NpyHeader> {
    let npy = |p: NpyProblem| Error::npy(label, p);
    let mut prefix = [0u8; PREAMBLE_MAX];
    let want = (PREAMBLE_MAX as u64).min(total_len) as usize;
    let got = read_up_to(r, &mut prefix[..want], label)?;
    let (version, header_len, header_start) =
        header::parse_preamble(&prefix[..got], total_len).map_err(npy)?;
    // The header starts at byte 10 or 12; we may have read 2 header bytes already.
    let mut bytes = prefix[..got].to_vec();
    let end = (header_start + header_len) as usize;
    bytes.resize(end.max(got), 0);
    let read = read_up_to(r, &mut bytes[got..end.max(got)], label)?;
    if got + read < end {
        return Err(npy(NpyProblem::Truncated {
            part: "header",
            needed: end as u64,
            available: (got + read) as u64,
        }));
    }
    let header =
        header::parse_dict(&bytes[header_start as usize..end], version, end as u64).map_err(npy)?;
    header::check_data_len(&header, total_len - end as u64).map_err(npy)?;
    Ok(header)
}

/// Fill as much of `buf` as the reader gives; returns the count (short only at EOF).
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8], label: &Path) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(label, e)),
        }
    }
    Ok(n)
}

fn bad_npz(label: &Path, detail: impl std::fmt::Display) -> Error {
    Error::npy(
        label,
        NpyProblem::BadNpz {
            detail: detail.to_string(),
        },
    )
}

/// Member names of an archive, without `.npy`.
pub fn npz_members(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad_npz(path, e))?;
    Ok(archive
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect())
}

struct MemberInfo {
    name: String,
    deflated: bool,
    data_start: u64,
    size: u64,
    compressed_size: u64,
}

fn find_member(path: &Path, member: Option<&str>) -> Result<MemberInfo> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad_npz(path, e))?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mut available: Vec<String> = names
        .iter()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    available.sort();
    let name = match member {
        Some(m) => {
            let with_ext = format!("{m}.npy");
            names
                .iter()
                .find(|n| **n == with_ext)
                .or_else(|| names.iter().find(|n| *n == m))
                .cloned()
                .ok_or_else(|| {
                    Error::npy(
                        path,
                        NpyProblem::NpzMemberNotFound {
                            member: m.to_string(),
                            available: available.clone(),
                        },
                    )
                })?
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(Error::npy(
                path,
                NpyProblem::NpzMemberRequired { available },
            ))
        }
    };
    let label = member_label(path, &name);
    let zf = archive.by_name(&name).map_err(|e| bad_npz(&label, e))?;
    let deflated = match zf.compression() {
        zip::CompressionMethod::Stored => false,
        zip::CompressionMethod::Deflated => true,
        other => {
            return Err(bad_npz(
                &label,
                format!(
                    "unsupported compression method {other} (use np.savez or np.savez_compressed)"
                ),
            ))
        }
    };
    Ok(MemberInfo {
        name,
        deflated,
        data_start: zf.data_start(),
        size: zf.size(),
        compressed_size: zf.compressed_size(),
    })
}

fn member_label(path: &Path, name: &str) -> PathBuf {
    let short = name.strip_suffix(".npy").unwrap_or(name);
    PathBuf::from(format!("{}:{short}", path.display()))
}

fn open_npz_member(path: &Path, member: Option<&str>) -> Result<Opened> {
    let info = find_member(path, member)?;
    let label = member_label(path, &info.name);
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let stored_end = info.data_start.checked_add(info.compressed_size);
    if stored_end.is_none_or(|end| end > file_len) {
        return Err(bad_npz(
            &label,
            "member data extends past the end of the file",
        ));
    }
    file.seek(SeekFrom::Start(info.data_start))
        .map_err(|e| Error::io(path, e))?;
    if !info.deflated {
        if info.size != info.compressed_size {
            return Err(bad_npz(&label, "stored member with differing sizes"));
        }
        let header = read_header_from(&mut file, info.size, &label)?;
        let offset = info.data_start + header.data_offset;
        return Ok(Opened {
            label,
            header,
            data: DataSource::Region { file, offset },
        });
    }
    if info.size
        > info
            .compressed_size
            .saturating_mul(MAX_DEFLATE_RATIO)
            .saturating_add(4096)
    {
        return Err(bad_npz(
            &label,
            format!(
                "claimed decompressed size {} is impossible for {} compressed bytes",
                info.size, info.compressed_size
            ),
        ));
    }
    let raw = BufReader::with_capacity(1 << 16, file).take(info.compressed_size);
    let mut stream: Box<dyn Read + Send> = Box::new(DeflateDecoder::new(raw));
    let header = read_header_from(&mut stream, info.size, &label)?;
    let data = DataSource::Stream(ExactStream {
        expected: header.data_len(),
        consumed: 0,
        inner: stream,
    });
    Ok(Opened {
        label,
        header,
        data,
    })
}

/// A decompressed member's data, which must be exactly `expected` bytes long: fewer is
/// [`NpyProblem::DataTooShort`], more is [`NpyProblem::DataTooLong`].
pub(crate) struct ExactStream {
    inner: Box<dyn Read + Send>,
    expected: u64,
    consumed: u64,
}

impl ExactStream {
    /// Fill `buf` completely with the next data bytes.
    pub fn fill(&mut self, buf: &mut [u8], label: &Path) -> Result<()> {
        let got = read_up_to(&mut self.inner, buf, label)?;
        self.consumed += got as u64;
        if got < buf.len() {
            return Err(Error::npy(
                label,
                NpyProblem::DataTooShort {
                    expected: self.expected,
                    actual: self.consumed,
                },
            ));
        }
        Ok(())
    }

    /// After all `expected` bytes: fail if the stream has more.
    pub fn finish(&mut self, label: &Path) -> Result<()> {
        let extra = std::io::copy(&mut self.inner, &mut std::io::sink())
            .map_err(|e| Error::io(label, e))?;
        if extra > 0 {
            return Err(Error::npy(
                label,
                NpyProblem::DataTooLong {
                    expected: self.expected,
                    actual: self.consumed + extra,
                },
            ));
        }
        Ok(())
    }
}
