//! `.npy`/`.npz` I/O against files written by numpy (`tests/data/npy/make_fixtures.py`).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use recap::io::npy::{self, ArrayRef, DType, NpyProblem, RowChunkReader};
use recap::{Error, RowMatrix};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixture(spec: &str) -> PathBuf {
    dir().join(spec)
}

/// Row-major values of an expected entry (following `same_values_as`).
fn values(all: &Value, entry: &Value) -> Vec<f64> {
    let v = match entry.get("values") {
        Some(v) => v.clone(),
        None => {
            let other = entry["same_values_as"].as_str().unwrap();
            let e = all["valid"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["path"] == other)
                .unwrap();
            e["values"].clone()
        }
    };
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect()
}

fn matrix_shape(entry: &Value) -> (usize, usize) {
    let s: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    (s[0], if s.len() == 2 { s[1] } else { 1 })
}

#[test]
fn every_valid_fixture_reads_exactly() {
    let all = expected();
    let valid = all["valid"].as_array().unwrap();
    assert!(valid.len() >= 30);
    for e in valid {
        let spec = e["path"].as_str().unwrap();
        let want = values(&all, e);
        let (rows, cols) = matrix_shape(e);
        let m64 = npy::read_f64(fixture(spec)).unwrap_or_else(|err| panic!("{spec}: {err}"));
        assert_eq!(m64.shape(), (rows, cols), "{spec}");
        // Values were stored in the file's dtype; as f64 they are exact.
        assert_eq!(m64.as_slice(), &want[..], "{spec} (f64)");
        let m32 = npy::read_f32(fixture(spec)).unwrap();
        let want32: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_eq!(m32.as_slice(), &want32[..], "{spec} (f32)");
        let h = npy::read_header(fixture(spec)).unwrap();
        assert_eq!(h.dtype.name(), e["dtype"].as_str().unwrap(), "{spec}");
        assert_eq!(
            h.fortran_order,
            e["fortran_order"].as_bool().unwrap(),
            "{spec}"
        );
        assert_eq!(h.big_endian, e["big_endian"].as_bool().unwrap(), "{spec}");
        assert_eq!((h.rows(), h.cols()), (rows, cols), "{spec}");
    }
}

#[test]
fn layouts_covered_by_fixtures() {
    // Guard against the fixture script silently dropping a case.
    let all = expected();
    let valid = all["valid"].as_array().unwrap();
    let has = |f: &dyn Fn(&Value) -> bool| valid.iter().any(f);
    for dt in ["float16", "float32", "float64"] {
        assert!(
            has(&|e| e["dtype"] == dt && e["big_endian"] == true),
            "{dt} BE"
        );
        assert!(
            has(&|e| e["dtype"] == dt && e["fortran_order"] == true),
            "{dt} F"
        );
    }
    assert!(has(&|e| e["shape"].as_array().unwrap().len() == 1));
    assert!(has(&|e| e["path"]
        .as_str()
        .unwrap()
        .starts_with("arrays.npz:")));
    assert!(has(&|e| e["path"]
        .as_str()
        .unwrap()
        .starts_with("arrays_compressed.npz:")));
}

#[test]
fn npz_member_with_or_without_suffix() {
    let a = npy::read_f32(fixture("arrays.npz:images")).unwrap();
    let b = npy::read_f32(fixture("arrays.npz:images.npy")).unwrap();
    assert_eq!(a, b);
    let mut names = npy::npz_members(&fixture("arrays.npz")).unwrap();
    names.sort();
    assert_eq!(
        names,
        ["big", "images", "stream_c", "stream_f", "texts", "vec"]
    );
}

fn problem_name(p: &NpyProblem) -> &'static str {
    match p {
        NpyProblem::EmptyFile => "EmptyFile",
        NpyProblem::Truncated { .. } => "Truncated",
        NpyProblem::BadMagic { .. } => "BadMagic",
        NpyProblem::UnsupportedVersion { .. } => "UnsupportedVersion",
        NpyProblem::HeaderTooLarge { .. } => "HeaderTooLarge",
        NpyProblem::HeaderBeyondFile { .. } => "HeaderBeyondFile",
        NpyProblem::MalformedHeader { .. } => "MalformedHeader",
        NpyProblem::IntegerDtype { .. } => "IntegerDtype",
        NpyProblem::ComplexDtype { .. } => "ComplexDtype",
        NpyProblem::ObjectDtype { .. } => "ObjectDtype",
        NpyProblem::StructuredDtype => "StructuredDtype",
        NpyProblem::UnsupportedDtype { .. } => "UnsupportedDtype",
        NpyProblem::UnsupportedDims { .. } => "UnsupportedDims",
        NpyProblem::ShapeOverflow { .. } => "ShapeOverflow",
        NpyProblem::DataTooShort { .. } => "DataTooShort",
        NpyProblem::DataTooLong { .. } => "DataTooLong",
        NpyProblem::NpzMemberNotFound { .. } => "NpzMemberNotFound",
        NpyProblem::NpzMemberRequired { .. } => "NpzMemberRequired",
        NpyProblem::BadNpz { .. } => "BadNpz",
        NpyProblem::WrongDtypeForRead { .. } => "WrongDtypeForRead",
        _ => "Other",
    }
}

fn assert_problem(result: Result<impl std::fmt::Debug, Error>, spec: &str, want: &str) {
    match result {
        Err(Error::Npy { path, problem }) => {
            assert_eq!(problem_name(&problem), want, "{spec}: {problem}");
            let file = spec.split(':').next().unwrap();
            assert!(
                path.to_string_lossy().contains(file),
                "{spec}: path {path:?}"
            );
            let msg = Error::Npy { path, problem }.to_string();
            assert!(msg.contains(file), "message names the file: {msg}");
        }
        other => panic!("{spec}: expected {want}, got {other:?}"),
    }
}

#[test]
fn every_hostile_fixture_gets_its_specific_error() {
    let all = expected();
    let hostile = all["hostile"].as_array().unwrap();
    assert!(hostile.len() >= 20);
    for e in hostile {
        let spec = e["path"].as_str().unwrap();
        let want = e["problem"].as_str().unwrap();
        assert_problem(npy::read_f32(fixture(spec)), spec, want);
        assert_problem(npy::read_f64(fixture(spec)), spec, want);
        assert_problem(
            RowChunkReader::open(fixture(spec), 4).map(|_| ()),
            spec,
            want,
        );
    }
}

#[test]
fn hostile_npz_members() {
    assert_problem(
        npy::read_f32(fixture("arrays.npz:nope")),
        "arrays.npz",
        "NpzMemberNotFound",
    );
    assert_problem(
        npy::read_f32(fixture("arrays.npz")),
        "arrays.npz",
        "NpzMemberRequired",
    );
    // A single-array archive needs no member name.
    let a = npy::read_f32(fixture("single.npz")).unwrap();
    assert_eq!(a, npy::read_f32(fixture("c_f32_le.npy")).unwrap());
}

#[test]
fn missing_file_is_io_error_naming_it() {
    match npy::read_f32(fixture("does_not_exist.npy")) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("does_not_exist.npy")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn int64_reads_only_as_indices() {
    let all = expected();
    let e = &all["int64"];
    let m = npy::read_i64(fixture(e["path"].as_str().unwrap())).unwrap();
    assert_eq!(m.shape(), (2, 3));
    assert_eq!(m.as_slice(), &[0, 1, 2, 3, 4, 5]);
    assert_problem(
        npy::read_i64(fixture("c_f32_le.npy")),
        "c_f32_le.npy",
        "WrongDtypeForRead",
    );
}

#[test]
fn non_finite_rows_named_when_asked() {
    let path = fixture("nonfinite.npy");
    assert!(npy::read_f32(&path).is_ok());
    for r in [
        npy::read_f32_finite(&path).map(|_| ()),
        npy::read_f64_finite(&path).map(|_| ()),
    ] {
        match r {
            Err(Error::NonFinite { what, row, col }) => {
                assert_eq!((row, col), (3, 1));
                assert!(what.contains("nonfinite.npy"));
            }
            other => panic!("{other:?}"),
        }
    }
    // Streaming reports the absolute row, whatever the chunking.
    for chunk in [1, 2, 3, 10] {
        let mut r = RowChunkReader::open(&path, chunk)
            .unwrap()
            .require_finite(true);
        let err = loop {
            match r.next_chunk() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, Error::NonFinite { row: 3, col: 1, .. }),
            "{err:?}"
        );
    }
}

/// Collect every chunk of a stream, checking the chunk bookkeeping.
fn stream_all(spec: &Path, rows_per_chunk: usize) -> (usize, usize, Vec<f32>) {
    let mut r = RowChunkReader::open(spec, rows_per_chunk).unwrap();
    let (rows, cols) = (r.rows(), r.cols());
    let mut out = Vec::new();
    let mut next = 0;
    while let Some(c) = r.next_chunk().unwrap() {
        assert_eq!(c.start_row, next);
        assert!(c.rows >= 1 && c.rows <= rows_per_chunk);
        assert_eq!(c.data.len(), c.rows * cols);
        next += c.rows;
        out.extend_from_slice(c.data);
    }
    assert_eq!(next, rows);
    assert!(r.next_chunk().unwrap().is_none());
    (rows, cols, out)
}

#[test]
fn streaming_equals_whole_read_for_every_layout() {
    let all = expected();
    for e in all["valid"].as_array().unwrap() {
        let spec = fixture(e["path"].as_str().unwrap());
        let whole = npy::read_f32(&spec).unwrap();
        for chunk in [1, 2, 7, 32, 103, 1000] {
            let (rows, cols, data) = stream_all(&spec, chunk);
            assert_eq!((rows, cols), whole.shape(), "{spec:?}");
            assert_eq!(&data[..], whole.as_slice(), "{spec:?} chunk {chunk}");
        }
    }
}

#[test]
fn stream_reports_dtype_and_rejects_zero_chunk() {
    let r = RowChunkReader::open(fixture("stream_f_f16_be.npy"), 10).unwrap();
    assert_eq!(r.dtype(), DType::F16);
    assert!(r.header().fortran_order && r.header().big_endian);
    assert!(matches!(
        RowChunkReader::open(fixture("c_f32_le.npy"), 0),
        Err(Error::InvalidArgument { .. })
    ));
}

fn golden_values(rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols).map(|k| k as f64 * 0.25 - 1.5).collect()
}

#[test]
fn writer_matches_np_save_byte_for_byte() {
    let all = expected();
    let tmp = tempfile::tempdir().unwrap();
    let goldens = all["golden_write"].as_array().unwrap();
    assert_eq!(goldens.len(), 12);
    for e in goldens {
        let name = e["path"].as_str().unwrap();
        let rows = e["rows"].as_u64().unwrap() as usize;
        let cols = e["cols"].as_u64().unwrap() as usize;
        let out = tmp.path().join(name);
        let v = golden_values(rows, cols);
        match e["dtype"].as_str().unwrap() {
            "f32" => {
                let m = RowMatrix::from_vec(rows, cols, v.iter().map(|&x| x as f32).collect());
                npy::write_f32(&out, &m.unwrap()).unwrap()
            }
            "f64" => npy::write_f64(&out, &RowMatrix::from_vec(rows, cols, v).unwrap()).unwrap(),
            _ => {
                let ints: Vec<i64> = (0..(rows * cols) as i64).map(|k| k - 3).collect();
                npy::write_i64(&out, rows, cols, &ints).unwrap()
            }
        }
        let ours = std::fs::read(&out).unwrap();
        let numpy = std::fs::read(fixture(name)).unwrap();
        assert!(ours == numpy, "{name}: bytes differ from np.save");
    }
}

#[test]
fn write_i64_checks_length() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.npy");
    assert!(matches!(
        npy::write_i64(&out, 2, 3, &[1, 2]),
        Err(Error::Shape { .. })
    ));
    assert!(!out.exists());
}

#[test]
fn npz_round_trip_stored_and_deflated() {
    let tmp = tempfile::tempdir().unwrap();
    let a = RowMatrix::from_vec(3, 2, vec![1f32, -2., 3.5, 4., 5., 6.25]).unwrap();
    let b = RowMatrix::from_vec(2, 2, vec![0.1f64, 0.2, 0.3, 1e300]).unwrap();
    let idx = RowMatrix::from_vec(1, 3, vec![7i64, -1, 42]).unwrap();
    for compressed in [false, true] {
        let out = tmp.path().join(format!("r{compressed}.npz"));
        let members = [
            ("a", ArrayRef::from(&a)),
            ("b.npy", (&b).into()),
            ("idx", (&idx).into()),
        ];
        if compressed {
            npy::write_npz_compressed(&out, &members).unwrap();
        } else {
            npy::write_npz(&out, &members).unwrap();
        }
        let spec = |m: &str| PathBuf::from(format!("{}:{m}", out.display()));
        assert_eq!(npy::read_f32(spec("a")).unwrap(), a);
        assert_eq!(npy::read_f64(spec("b")).unwrap(), b);
        assert_eq!(npy::read_i64(spec("idx")).unwrap(), idx);
    }
    let dup = [("a", ArrayRef::from(&a)), ("a.npy", ArrayRef::from(&a))];
    assert!(npy::write_npz(tmp.path().join("dup.npz"), &dup).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn npy_round_trip(rows in 0usize..40, cols in 1usize..20, seed in any::<u64>(), f64_file in any::<bool>(),
                      chunk in 1usize..50) {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("m.npy");
        let vals: Vec<f64> = (0..rows * cols)
            .map(|k| ((seed.wrapping_mul(6364136223846793005).wrapping_add((k as u64).wrapping_mul(1442695040888963407)) >> 11) as f64) / (1u64 << 53) as f64 - 0.5)
            .collect();
        if f64_file {
            let m = RowMatrix::from_vec(rows, cols, vals.clone()).unwrap();
            npy::write_f64(&out, &m).unwrap();
            prop_assert_eq!(npy::read_f64(&out).unwrap(), m);
        } else {
            let m = RowMatrix::from_vec(rows, cols, vals.iter().map(|&v| v as f32).collect()).unwrap();
            npy::write_f32(&out, &m).unwrap();
            prop_assert_eq!(npy::read_f32(&out).unwrap(), m);
        }
        let whole = npy::read_f32(&out).unwrap();
        let (r, c, streamed) = stream_all(&out, chunk);
        prop_assert_eq!((r, c), (rows, cols));
        prop_assert_eq!(&streamed[..], whole.as_slice());
    }
}

#[test]
fn inspect_cli_json_matches_numpy_values() {
    let all = expected();
    let run = |spec: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_recap"))
            .args(["inspect", "--json", "--chunk-rows", "2"])
            .arg(fixture(spec))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let j = run("arrays_compressed.npz:texts");
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want_keys = vec![
        "shape",
        "dtype",
        "fortran_order",
        "row_norm_min",
        "row_norm_mean",
        "row_norm_max",
        "non_finite",
    ];
    want_keys.sort();
    let mut got_keys = keys.clone();
    got_keys.sort();
    assert_eq!(got_keys, want_keys);
    let e = all["valid"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "arrays_compressed.npz:texts")
        .unwrap();
    let v = values(&all, e);
    let norms: Vec<f64> = v
        .chunks(3)
        .map(|r| (r.iter().map(|x| (*x as f32 as f64).powi(2)).sum::<f64>()).sqrt())
        .collect();
    let mean = norms.iter().sum::<f64>() / norms.len() as f64;
    let min = norms.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = norms.iter().cloned().fold(0.0, f64::max);
    assert_eq!(j["shape"], serde_json::json!([6, 3]));
    assert_eq!(j["dtype"], "float64");
    assert_eq!(j["fortran_order"], true);
    assert_eq!(j["non_finite"], 0);
    approx::assert_relative_eq!(
        j["row_norm_min"].as_f64().unwrap(),
        min,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        j["row_norm_mean"].as_f64().unwrap(),
        mean,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        j["row_norm_max"].as_f64().unwrap(),
        max,
        max_relative = 1e-12
    );

    // NaN at (3, 1), Inf at (4, 2): 2 values; those rows are left out of the norms.
    let j = run("nonfinite.npy");
    assert_eq!(j["non_finite"], 2);
    let clean = npy::read_f32(fixture("c_f32_le.npy")).unwrap();
    let norms: Vec<f64> = clean.row_norms()[..3].to_vec();
    let mean = norms.iter().sum::<f64>() / 3.0;
    approx::assert_relative_eq!(
        j["row_norm_mean"].as_f64().unwrap(),
        mean,
        max_relative = 1e-12
    );

    // Errors go to stderr with the specific problem and a failing exit code.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(["inspect"])
        .arg(fixture("h_complex.npy"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("h_complex.npy") && err.contains("complex"),
        "{err}"
    );
}
