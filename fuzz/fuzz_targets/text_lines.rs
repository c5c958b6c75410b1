//! Fuzz plain-text readers: one entry per line (`read_lines`) and the text sidecar
//! (`images.txt` + `captions.tsv`, `CaptionSet::from_text_files`). The input is split at
//! its first NUL byte into the two files (no NUL: the same bytes for both).
//!
//! Invariants on success: entries are non-empty, trimmed, single-line; the text sidecar
//! resolves into a consistent grouping.
#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recap::io::captions::{read_lines, CaptionSet};

static LINES: OnceLock<PathBuf> = OnceLock::new();
static IMAGES: OnceLock<PathBuf> = OnceLock::new();
static CAPTIONS: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&LINES, "text_lines", "txt", data);
    if let Ok(lines) = read_lines(path) {
        for l in &lines {
            assert!(!l.is_empty());
            assert_eq!(l.trim(), l.as_str());
            assert!(!l.contains('\n'));
        }
        let text = std::str::from_utf8(data).expect("read_lines accepted it");
        let body = text.strip_suffix('\n').unwrap_or(text);
        let expected = if body.is_empty() { 0 } else { body.split('\n').count() };
        assert_eq!(lines.len(), expected, "one entry per line");
    }
    let (a, b) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let images = common::write_input(&IMAGES, "text_lines-images", "txt", a);
    let captions = common::write_input(&CAPTIONS, "text_lines-captions", "tsv", b);
    if let Ok(set) = CaptionSet::from_text_files(images, captions) {
        common::check_caption_set(&set);
    }
});
