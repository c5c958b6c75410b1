//! Plain-text caption files: one caption (or id) per line.
//!
//! Policy:
//! - The file must be UTF-8 (an error names the byte offset otherwise).
//! - Lines end in `\n` or `\r\n`; a final line ending is optional.
//! - Surrounding whitespace of each line is removed.
//! - A **blank line is an error** naming its line number: line `r` is row `r` of an embedding
//!   file, and silently skipping (or keeping) an empty caption would shift or corrupt every
//!   row after it. An empty file has zero lines.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;

/// Read one entry per line (see the module docs for the policy).
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    lines_from_str(text, path)
}

/// Split text into lines with the policy of [`read_lines`]; `path` is for errors.
pub fn lines_from_str(text: &str, path: &Path) -> Result<Vec<String>> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() {
                Err(Error::format(
                    path,
                    format!("line {} is blank (every line must hold one entry)", i + 1),
                ))
            } else {
                Ok(line.to_owned())
            }
        })
        .collect()
}

/// Write one entry per line, atomically. An entry that is blank or contains a line break
/// is an [`Error::InvalidArgument`] (it could not be read back as one row).
pub fn write_lines<S: AsRef<str>>(path: impl AsRef<Path>, lines: &[S]) -> Result<()> {
    let path = path.as_ref();
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if line.trim().is_empty() || line.contains(['\n', '\r']) {
            return Err(Error::invalid(
                "lines",
                format!("entry {i} is blank or contains a line break: {line:?}"),
            ));
        }
    }
    write_atomic(path, |w| {
        for line in lines {
            writeln!(w, "{}", line.as_ref()).map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    })
}
