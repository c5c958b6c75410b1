//! Atomic output files: write to a temporary file in the destination folder, then rename.
//!
//! A reader (or a crash) never sees a half-written file: either the old file (or none) or the
//! complete new one. If the closure fails, the temporary file is removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Create `path` atomically: `write` fills a buffered writer on a temporary file in the same
/// folder, which is flushed, synced and renamed over `path` only if `write` succeeds.
pub fn write_atomic<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".recap-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, e))?;
    let (file, tmp_path) = tmp.into_parts();
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    // On error, `tmp_path` (a TempPath) is dropped and deletes the temporary file.
    write(&mut writer)?;
    writer.flush().map_err(|e| Error::io(path, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    tmp_path
        .persist(path)
        .map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Write bytes atomically.
pub fn write_bytes_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let p = path.as_ref().to_path_buf();
    write_atomic(&p, |w| w.write_all(bytes).map_err(|e| Error::io(&p, e)))
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let p = path.as_ref().to_path_buf();
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
        path: p.clone(),
        source: e,
    })?;
    write_bytes_atomic(&p, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let r = write_atomic(&out, |w| {
            w.write_all(b"partial").unwrap();
            Err(Error::invalid("test", "fail on purpose"))
        });
        assert!(r.is_err());
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn successful_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        write_bytes_atomic(&out, b"one").unwrap();
        write_bytes_atomic(&out, b"two").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"two");
    }
}
