//! Reproducers found by the fuzz targets in `fuzz/` stay fixed.
//!
//! Every file in `tests/data/fuzz_regressions/` is named `<target>-<what>.bin` after the fuzz
//! target that found it, and goes through that target's readers here: none may panic, abort
//! or hang (streaming loops are bounded by the file size). The specific bugs also have
//! their own tests below.

use std::path::{Path, PathBuf};

use recap::io::captions::{
    read_candidates, read_karpathy, read_lines, read_records, read_references, CaptionSet, Split,
};
use recap::io::npy::{self, MappedF32, NpyStream, RowChunkReader};
use recap::io::{Grouping, RowSource};
use recap::Error;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz_regressions")
}

/// `(target, file)` for every reproducer.
fn reproducers() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir())
        .expect("tests/data/fuzz_regressions exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            let target = name.split('-').next().unwrap().to_owned();
            (target, p)
        })
        .collect();
    out.sort();
    out
}

/// Copy a reproducer to `name` in `tmp` (the readers dispatch on the extension).
fn as_file(src: &Path, tmp: &Path, name: &str) -> PathBuf {
    let p = tmp.join(name);
    std::fs::copy(src, &p).unwrap();
    p
}

/// Iterations allowed for a streaming loop over a file of `len` bytes: every non-empty row
/// takes at least one byte, and an empty array comes in at most one chunk.
fn bound(len: u64) -> usize {
    len as usize + 2
}

fn npy_readers(path: &Path, file_len: u64) {
    let _ = npy::read_header(path);
    let m = npy::read_f32(path);
    let _ = npy::read_f32_finite(path);
    let _ = npy::read_f64(path);
    let _ = npy::read_i64(path);
    if let Ok(m) = &m {
        assert_eq!(m.as_slice().len(), m.rows() * m.cols());
    }
    for chunk in 1..=3 {
        if let Ok(mut r) = RowChunkReader::open(path, chunk) {
            let mut calls = 0;
            while let Ok(Some(c)) = r.next_chunk() {
                assert_eq!(c.data.len(), c.rows * c.cols);
                calls += 1;
                assert!(
                    calls <= bound(file_len),
                    "{}: streaming does not end",
                    path.display()
                );
            }
        }
    }
    if let Ok(map) = MappedF32::open(path) {
        assert_eq!(map.as_slice().len(), map.rows() * map.cols());
    }
    if let Ok(mut s) = NpyStream::open(path, 2) {
        // A RowSource serves at most `max_rows` rows per call: a zero-width array's rows
        // are not bounded by the file, and its consumers refuse 0 columns first.
        if s.cols() > 0 {
            let mut buf = Vec::new();
            let mut calls = 0;
            while let Ok(Some(_)) = s.next_into(&mut buf, 1) {
                calls += 1;
                assert!(
                    calls <= bound(file_len),
                    "{}: NpyStream does not end",
                    path.display()
                );
            }
        }
    }
}

fn check_set(set: &CaptionSet) {
    let g = set
        .grouping()
        .expect("a set a reader accepted resolves its image ids");
    assert_eq!(
        (g.n_images(), g.n_captions()),
        (set.n_images(), set.n_captions())
    );
}

fn run_target(target: &str, src: &Path, tmp: &Path) {
    let len = std::fs::metadata(src).unwrap().len();
    match target {
        "npy_file" => npy_readers(&as_file(src, tmp, "a.npy"), len),
        "npz_member" => {
            let p = as_file(src, tmp, "a.npz");
            npy_readers(&p, len);
            if let Ok(members) = npy::npz_members(&p) {
                for m in members.iter().take(8) {
                    npy_readers(&PathBuf::from(format!("{}:{m}", p.display())), len);
                }
            }
        }
        "karpathy" => {
            let p = as_file(src, tmp, "a.json");
            if let Ok(ds) = read_karpathy(&p) {
                for s in [Split::Train, Split::Restval, Split::Val, Split::Test] {
                    if let Ok(set) = CaptionSet::from_karpathy(ds.split(s, true)) {
                        check_set(&set);
                    }
                }
            }
            if let Ok(set) = CaptionSet::read_auto(&p) {
                check_set(&set);
            }
        }
        "coco" => {
            let p = as_file(src, tmp, "a.json");
            let _ = read_candidates(&p);
            let _ = read_references(&p);
            let _ = read_records(&p);
            if let Ok(set) = CaptionSet::from_coco_annotations(&p) {
                check_set(&set);
            }
        }
        "sidecar" => {
            let p = as_file(src, tmp, "a.json");
            if let Ok(set) = CaptionSet::read(&p) {
                check_set(&set);
            }
            if let Ok(set) = CaptionSet::read_auto(&p) {
                check_set(&set);
            }
            for n_images in 0..4 {
                if let Ok(g) = Grouping::read(&p, n_images) {
                    assert_eq!(g.n_images(), n_images);
                    assert!(g.image_of_caption().iter().all(|&i| i < n_images));
                }
            }
        }
        "text_lines" => {
            let p = as_file(src, tmp, "a.txt");
            let _ = read_lines(&p);
            let data = std::fs::read(src).unwrap();
            let (a, b) = match data.iter().position(|&b| b == 0) {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (&data[..], &data[..]),
            };
            let (images, captions) = (tmp.join("images.txt"), tmp.join("captions.tsv"));
            std::fs::write(&images, a).unwrap();
            std::fs::write(&captions, b).unwrap();
            if let Ok(set) = CaptionSet::from_text_files(&images, &captions) {
                check_set(&set);
            }
        }
        other => panic!("{}: unknown fuzz target {other:?}", src.display()),
    }
}

#[test]
fn every_reproducer_is_read_without_panic() {
    let files = reproducers();
    assert!(!files.is_empty());
    let mut failed = Vec::new();
    for (target, src) in &files {
        let tmp = tempfile::tempdir().unwrap();
        let run = std::panic::catch_unwind(|| run_target(target, src, tmp.path()));
        if run.is_err() {
            failed.push(src.display().to_string());
        }
    }
    assert!(failed.is_empty(), "readers panicked on: {failed:?}");
}

/// A 128-byte `.npy` claiming 10^15 rows of 0 columns: the streaming reader took one empty
/// read per `rows_per_chunk` rows (for ever, in effect). Now one chunk holds all the rows.
#[test]
fn zero_width_array_streams_in_one_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let npy_path = as_file(
        &dir().join("npy_file-zero-width-rows.bin"),
        tmp.path(),
        "z.npy",
    );
    let npz_path = as_file(
        &dir().join("npz_member-zero-width-rows.bin"),
        tmp.path(),
        "z.npz",
    );
    for path in [npy_path, PathBuf::from(format!("{}:w", npz_path.display()))] {
        let mut r = RowChunkReader::open(&path, 1).unwrap();
        assert_eq!((r.rows(), r.cols()), (1_000_000_000_000_000, 0));
        let c = r.next_chunk().unwrap().unwrap();
        assert_eq!(
            (c.start_row, c.rows, c.cols, c.data.len()),
            (0, r.rows(), 0, 0)
        );
        assert!(r.next_chunk().unwrap().is_none());
        let m = npy::read_f32(&path).unwrap();
        assert_eq!(m.shape(), (1_000_000_000_000_000, 0));
    }
}

/// `{"counts": [...]}` was accepted for any number of image rows (a grouping of another
/// shape came back), and counts adding up past 2^64 were expanded until memory ran out.
#[test]
fn counts_grouping_must_fit_the_image_rows() {
    let counts = dir().join("sidecar-counts-n-images.bin");
    let g = Grouping::read(&counts, 3).unwrap();
    assert_eq!((g.n_images(), g.n_captions()), (3, 3));
    for n in [0, 2, 4] {
        let e = Grouping::read(&counts, n).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        assert!(e.to_string().contains("sidecar-counts-n-images.bin"), "{e}");
    }
    let overflow = dir().join("sidecar-counts-overflow.bin");
    let e = Grouping::read(&overflow, 2).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
}
