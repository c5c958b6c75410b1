//! Fuzz the Karpathy split reader (`dataset_coco.json` / `dataset_flickr*.json`) and what
//! is built from it: splits, references, the caption sidecar.
//!
//! Invariants on success: image ids are unique, every split partition adds up, the
//! sidecar built from any split resolves into a consistent grouping.
#![no_main]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recap::io::captions::{read_karpathy, CaptionSet, KarpathyDataset, Split};

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&PATH, "karpathy", "json", data);
    let Ok(ds) = read_karpathy(path) else {
        return;
    };
    let ids: HashSet<&str> = ds.images.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), ds.images.len(), "image ids must be unique");
    let splits = [Split::Train, Split::Restval, Split::Val, Split::Test];
    let total: usize = splits.iter().map(|&s| ds.split(s, false).len()).sum();
    assert_eq!(total, ds.images.len());
    assert_eq!(
        ds.split(Split::Train, true).len(),
        ds.split(Split::Train, false).len() + ds.split(Split::Restval, false).len()
    );
    for s in splits {
        assert_eq!(Split::parse(s.as_str()), Some(s));
        let imgs = ds.split(s, true);
        let refs = KarpathyDataset::references(imgs.iter().copied());
        assert_eq!(refs.len(), imgs.len());
        // Duplicate sentence ids across images are a data error, not a panic.
        if let Ok(set) = CaptionSet::from_karpathy(imgs.iter().copied()) {
            assert_eq!(set.n_images(), imgs.len());
            common::check_caption_set(&set);
        }
    }
    // The auto-detecting reader takes the same file (when its first image has sentences).
    if let Ok(set) = CaptionSet::read_auto(path) {
        common::check_caption_set(&set);
    }
});
