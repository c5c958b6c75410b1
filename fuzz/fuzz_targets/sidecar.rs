//! Fuzz the caption sidecar (`{"images": [...], "captions": [{"id", "image_id", "text"}]}`),
//! the auto-detecting reader (sidecar / COCO / Karpathy), groupings built from them, and
//! grouping files (`Grouping::read`: a sidecar, a list of image rows,
//! `{"image_of_caption": [...]}` or `{"counts": [...]}`).
//!
//! Invariants on success: every grouping is internally consistent (caption -> image rows in
//! range, the inverse agrees, counts add up) and matches the image count it was read for.
#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recap::io::captions::CaptionSet;
use recap::io::Grouping;

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&PATH, "sidecar", "json", data);
    if let Ok(set) = CaptionSet::read(path) {
        common::check_caption_set(&set);
    }
    let auto = CaptionSet::read_auto(path);
    if let Ok(set) = &auto {
        common::check_caption_set(set);
    }
    // The image-row count comes from the caller (the image-embedding file): the set's own
    // count when the file is a caption set, a count file's length, else a small one.
    let counts = counts_value(data);
    let n_images = match (&auto, &counts) {
        (Ok(set), _) => set.n_images(),
        (_, Some(c)) if data.len() % 3 != 0 => c.len(),
        _ => data.len() % 4,
    };
    // A `{"counts": [...]}` file names its caption rows compactly (`[1e12]` is 6 bytes), and
    // the grouping holds ~16 bytes per caption row by design: such inputs are read only
    // when they describe at most 2^20 rows, so the fuzzer does not report the size asked
    // for as an out-of-memory bug. (Sums that overflow are always read: they must fail.)
    let total = counts.as_ref().and_then(|c| c.iter().try_fold(0u64, |t, &x| t.checked_add(x)));
    if total.is_some_and(|t| t > 1 << 20) {
        return;
    }
    if let Ok(g) = Grouping::read(path, n_images) {
        common::check_grouping(&g);
        assert_eq!(g.n_images(), n_images, "a grouping read for {n_images} image rows");
    }
});

/// The counts of a `{"counts": [...]}` grouping file (None: not one, or not all integers).
fn counts_value(data: &[u8]) -> Option<Vec<u64>> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    if v.is_array() || v.get("image_of_caption").is_some() {
        return None;
    }
    v.get("counts")?.as_array()?.iter().map(|c| c.as_u64()).collect()
}
