//! Shared by the file-reader fuzz targets: every reader takes a path, so each input is
//! written to one temporary file per process (reused across runs) and the readers are
//! called on that path. Any `Err` is fine; a panic, abort, OOM or timeout is a bug.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use recap::io::npy::{self, MappedF32, NpyProblem, NpyStream, RowChunkReader};
use recap::io::RowSource;

/// A per-process scratch path `recap-fuzz-<target>-<pid>.<ext>` in the temp dir
/// (`TMPDIR`; `/dev/shm` makes runs faster).
pub fn scratch(target: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("recap-fuzz-{target}-{}.{ext}", std::process::id()))
}

/// Write `data` to the target's scratch file (created once, rewritten each run).
pub fn write_input(slot: &'static OnceLock<PathBuf>, target: &str, ext: &str, data: &[u8]) -> &'static Path {
    let path = slot.get_or_init(|| {
        // Single-threaded readers keep runs cheap and deterministic (rayon's pool otherwise
        // spreads tiny conversions over every core).
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            std::env::set_var("RAYON_NUM_THREADS", "1");
        }
        scratch(target, ext)
    });
    std::fs::write(path, data).expect("write the fuzz input to the scratch file");
    path
}

/// Bitwise-or-both-NaN equality of f32 values.
pub fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A grouping's caption -> image map and its inverse must agree, every image row must be
/// in range, and the counts must add up.
pub fn check_grouping(g: &recap::io::Grouping) {
    let n_images = g.n_images();
    let n_captions = g.n_captions();
    assert_eq!(g.image_of_caption().len(), n_captions);
    let counts = g.counts();
    assert_eq!(counts.len(), n_images);
    assert_eq!(counts.iter().sum::<usize>(), n_captions);
    for (c, &img) in g.image_of_caption().iter().enumerate() {
        assert!(img < n_images, "caption {c} -> image {img} of {n_images}");
        assert_eq!(g.image_of(c), img);
    }
    for i in 0..n_images {
        let caps = g.captions_of(i);
        assert_eq!(caps.len(), counts[i]);
        assert!(caps.windows(2).all(|w| w[0] < w[1]));
        assert!(caps.iter().all(|&c| c < n_captions && g.image_of(c) == i));
    }
    assert_eq!(g.captions_of_images(0..n_images).len(), n_captions);
    g.check_rows(n_images, n_captions).expect("a grouping fits its own shape");
}

/// A caption set's grouping (when it resolves) must match the set's shape and image ids.
pub fn check_caption_set(set: &recap::io::captions::CaptionSet) {
    assert_eq!(set.images().len(), set.n_images());
    assert_eq!(set.captions().len(), set.n_captions());
    assert_eq!(set.texts().len(), set.n_captions());
    let g = set.grouping().expect("a set accepted by a reader resolves every image id");
    check_grouping(&g);
    assert_eq!(g.n_images(), set.n_images());
    assert_eq!(g.n_captions(), set.n_captions());
    for (c, rec) in set.captions().iter().enumerate() {
        assert_eq!(set.images()[g.image_of(c)], rec.image_id);
    }
    let refs = set.references();
    assert_eq!(refs.values().map(Vec::len).sum::<usize>(), set.n_captions());
}

/// Read `path` every way recap reads arrays and cross-check the results.
///
/// Every input goes through the whole f32 read, the int64 read (when the f32 one fails) and
/// the streaming reader (which meets data errors chunk by chunk, not up front). Arrays that
/// read are then cross-checked against every other reader: header, f64, mapping, and (with
/// `full`) the finite check and the `NpyStream` row source. Failing inputs stay cheap, which
/// is most of what a fuzzer runs.
pub fn check_npy(path: &Path, chunk: usize, full: bool) {
    let m32 = npy::read_f32(path);
    match &m32 {
        Ok(m) => {
            assert_eq!(m.as_slice().len(), m.rows() * m.cols());
            let h = npy::read_header(path).expect("f32-readable implies a readable header");
            assert!(h.shape.len() == 1 || h.shape.len() == 2);
            assert_eq!(m.shape(), (h.rows(), h.cols()));
            let _ = (h.shape_string(), h.byte_order());
            let m64 = npy::read_f64(path).expect("f32-readable implies f64-readable");
            assert_eq!(m64.shape(), m.shape());
            for (a, b) in m.as_slice().iter().zip(m64.as_slice()) {
                assert!(same_f32(*a, *b as f32), "{a} vs {b}");
            }
            assert!(npy::read_i64(path).is_err(), "float data read as int64");
            if full {
                let finite = npy::read_f32_finite(path);
                assert_eq!(finite.is_ok(), m.as_slice().iter().all(|v| v.is_finite()));
            }
            // The zero-copy view, where the layout allows it.
            if let Ok(map) = MappedF32::open(path) {
                assert_eq!((map.rows(), map.cols()), m.shape());
                assert!(map.as_slice().iter().zip(m.as_slice()).all(|(a, b)| same_f32(*a, *b)));
                map.prefetch_rows(0, map.rows());
                map.release_rows(0, map.rows());
            }
        }
        Err(e) if !is_dtype_problem(e) => {}
        Err(_) => {
            if let Ok(m) = npy::read_i64(path) {
                assert_eq!(m.as_slice().len(), m.rows() * m.cols());
                let h = npy::read_header(path).expect("i64-readable implies a readable header");
                assert_eq!(m.shape(), (h.rows(), h.cols()));
            }
        }
    }

    // Streaming, chunk by chunk: must agree with the whole read. (An array refused before
    // its data is refused by the same `open` here: only data-stage failures are streamed.)
    let stream = match &m32 {
        Ok(_) => true,
        Err(e) => is_data_problem(e),
    };
    if let Some(mut r) = RowChunkReader::open(path, chunk).ok().filter(|_| stream) {
        let whole = m32.as_ref().ok();
        let (rows, cols) = (r.rows(), r.cols());
        let mut seen = 0usize;
        loop {
            match r.next_chunk() {
                Ok(Some(c)) => {
                    assert_eq!(c.start_row, seen);
                    // A zero-width array comes as one chunk of all its (empty) rows.
                    assert!(c.rows >= 1 && (c.rows <= chunk || cols == 0) && seen + c.rows <= rows);
                    assert_eq!(c.cols, cols);
                    assert_eq!(c.data.len(), c.rows * c.cols);
                    if let Some(w) = whole {
                        let expect = &w.as_slice()[seen * cols..(seen + c.rows) * cols];
                        assert!(expect.iter().zip(c.data).all(|(a, b)| same_f32(*a, *b)));
                    }
                    seen += c.rows;
                }
                Ok(None) => {
                    assert_eq!(seen, rows);
                    // Everything streamed: the whole read must have worked too.
                    assert!(whole.is_some(), "streamed, but the whole read failed");
                    break;
                }
                Err(_) => {
                    assert!(whole.is_none(), "the whole read worked, streaming failed");
                    break;
                }
            }
        }
    }

    // The RowSource used by fit/retrieve: odd chunk sizes force the pending-rows path.
    // A RowSource serves at most `max_rows` rows per call by contract, so a zero-width
    // array's row count (not bounded by the file size) is left out: its consumers refuse
    // 0 columns before iterating (align::pairs::check_shapes).
    if !full || m32.is_err() {
        return;
    }
    if let Some(mut s) = NpyStream::open(path, chunk + 1).ok().filter(|s| s.cols() > 0) {
        let cols = s.cols();
        let mut buf = Vec::new();
        let mut seen = 0usize;
        while let Some((start, rows)) = s.next_into(&mut buf, chunk).expect("readable array") {
            assert_eq!(start, seen);
            assert_eq!(buf.len(), rows * cols);
            seen += rows;
        }
        assert_eq!(seen, s.rows());
        s.rewind().expect("rewind a readable array");
        let mut buf = Vec::new();
        let mut seen = 0usize;
        while let Some((start, rows)) = s.next_chunk(&mut buf, chunk + 2).expect("readable array") {
            assert_eq!(start, seen);
            assert!(rows.len() <= (chunk + 2) * cols && rows.len() % cols == 0);
            seen += rows.len() / cols;
        }
        assert_eq!(seen, s.rows());
    }
}

/// The array is fine but not float (the int64 reader may take it).
fn is_dtype_problem(e: &recap::Error) -> bool {
    matches!(
        e,
        recap::Error::Npy {
            problem: NpyProblem::IntegerDtype { .. } | NpyProblem::WrongDtypeForRead { .. },
            ..
        }
    )
}

/// A failure met while reading the data (after a good header): short/long data, a corrupt
/// deflate stream, a CRC mismatch. The streaming reader meets these chunk by chunk.
fn is_data_problem(e: &recap::Error) -> bool {
    match e {
        recap::Error::Io { .. } => true,
        recap::Error::Npy { problem, .. } => match problem {
            NpyProblem::DataTooShort { .. } | NpyProblem::DataTooLong { .. } => true,
            NpyProblem::BadNpz { detail } => detail.contains("CRC"),
            _ => false,
        },
        _ => false,
    }
}
