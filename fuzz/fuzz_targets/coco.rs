//! Fuzz the COCO / clipscore JSON readers: candidates (`{"id": "caption"}` or COCO results
//! `[{"image_id", "caption"}]`), references (`{"id": [...]}` or COCO annotations),
//! COCO annotations as a caption set, and the generic caption-records reader.
//!
//! Invariants on success: sets resolve into consistent groupings; records and references
//! hold what the file listed.
#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recap::io::captions::{read_candidates, read_records, read_references, CaptionSet};

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&PATH, "coco", "json", data);
    if let Ok(c) = read_candidates(path) {
        let _ = c.values().map(String::len).sum::<usize>();
    }
    if let Ok(r) = read_references(path) {
        let _ = r.values().map(Vec::len).sum::<usize>();
    }
    if let Ok(set) = CaptionSet::from_coco_annotations(path) {
        common::check_caption_set(&set);
    }
    if let Ok(records) = read_records(path) {
        let _ = records.len();
    }
});
