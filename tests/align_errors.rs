//! Bad input: specific errors, no panic, no output file left behind; map save/load/apply.

mod align_common;
use align_common::*;

use recap::align::{fit_matrices, FitOptions, FittedMap, Method, Normalize};
use recap::{Error, RowMatrix};
use std::process::Command;

fn recap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recap"))
}

fn write(dir: &std::path::Path, name: &str, m: &RowMatrix<f32>) -> std::path::PathBuf {
    let p = dir.join(name);
    recap::io::npy::write_f32(&p, m).unwrap();
    p
}

#[test]
fn row_mismatch_is_shape_error() {
    let r = fit_matrices(
        &random(10, 3, 1, 0.0),
        &random(11, 3, 2, 0.0),
        &FitOptions::new(Method::Ridge).lambda(1.0),
    );
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
}

#[test]
fn nan_row_is_named() {
    let mut x = random(20, 3, 1, 0.0);
    x.row_mut(13)[2] = f32::NAN;
    match fit_matrices(
        &x,
        &random(20, 3, 2, 0.0),
        &FitOptions::new(Method::Procrustes),
    ) {
        Err(Error::NonFinite {
            row: 13, col: 2, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_row_under_l2_is_named() {
    let mut y = random(20, 3, 2, 0.0);
    y.row_mut(7).iter_mut().for_each(|v| *v = 0.0);
    let o = FitOptions::new(Method::Ridge)
        .lambda(1.0)
        .preprocess(Normalize::L2, false);
    match fit_matrices(&random(20, 3, 1, 0.0), &y, &o) {
        Err(Error::ZeroVector { row: 7, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn negative_lambda_is_invalid() {
    let r = fit_matrices(
        &random(20, 3, 1, 0.0),
        &random(20, 3, 2, 0.0),
        &FitOptions::new(Method::Ridge).lambda(-1.0),
    );
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}

#[test]
fn rank_problems_name_rank_and_suggest_ridge() {
    // Fewer rows than dimensions.
    let r = fit_matrices(
        &random(4, 6, 1, 0.0),
        &random(4, 2, 2, 0.0),
        &FitOptions::new(Method::Ols),
    );
    let msg = format!("{}", r.unwrap_err());
    assert!(msg.contains("rank") && msg.contains("ridge"), "{msg}");
    // A duplicated column: exactly singular (or numerically singular) XᵀX.
    let mut x = random(50, 4, 3, 0.0);
    for i in 0..50 {
        let v = x.row(i)[0];
        x.row_mut(i)[3] = v;
    }
    let y = random(50, 2, 4, 0.0);
    for m in [Method::Ols, Method::Lstsq] {
        let msg = format!("{}", fit_matrices(&x, &y, &FitOptions::new(m)).unwrap_err());
        assert!(
            msg.contains("singular") || msg.contains("rank"),
            "{m:?}: {msg}"
        );
        assert!(msg.contains("ridge"), "{m:?}: {msg}");
    }
    // Ridge handles it.
    assert!(fit_matrices(&x, &y, &FitOptions::new(Method::Ridge).lambda(1e-3)).is_ok());
}

#[test]
fn constant_column_under_zscore_is_error() {
    let mut x = random(30, 3, 1, 0.0);
    for i in 0..30 {
        x.row_mut(i)[1] = 0.5;
    }
    let o = FitOptions::new(Method::Ridge)
        .lambda(1.0)
        .preprocess(Normalize::Zscore, false);
    let msg = format!(
        "{}",
        fit_matrices(&x, &random(30, 2, 2, 0.0), &o).unwrap_err()
    );
    assert!(msg.contains("column 1"), "{msg}");
}

#[test]
fn map_save_load_apply_roundtrip() {
    let (x, y) = (random(200, 6, 1, 0.4), random(200, 4, 2, -0.2));
    let o = FitOptions::new(Method::Ridge)
        .lambda(0.1)
        .preprocess(Normalize::Zscore, false);
    let m = fit_matrices(&x, &y, &o).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wp = dir.path().join("W.npy");
    m.save(&wp).unwrap();
    // W.npy is the plain f32 W.
    let w = recap::io::npy::read_f32(&wp).unwrap();
    assert_eq!(w, m.w_f32());
    let back = FittedMap::load(&wp).unwrap();
    assert_eq!(back.preprocess, m.preprocess);
    // apply repeats the z-scoring: ŷ = ((x − μx)/σx) W σy + μy, checked row by row in f64.
    let pred = back.apply(&x).unwrap();
    let a = m.affine.as_ref().unwrap();
    for i in [0, 57, 199] {
        let xs: Vec<f64> = (0..6)
            .map(|k| (x.row(i)[k] as f64 - a.shift_x[k]) * a.scale_x[k])
            .collect();
        for j in 0..4 {
            let z: f64 = (0..6).map(|k| xs[k] * m.w.row(k)[j]).sum();
            let expect = z / a.scale_y[j] + a.shift_y[j];
            assert!(
                (pred.row(i)[j] as f64 - expect).abs() < 1e-5,
                "row {i} col {j}"
            );
        }
    }
    // apply_file streams the same result.
    let xp = write(dir.path(), "x.npy", &x);
    let out = dir.path().join("yhat.npy");
    back.apply_file(&xp, &out).unwrap();
    assert_eq!(recap::io::npy::read_f32(&out).unwrap(), pred);
    // Wrong width is a shape error.
    assert!(matches!(
        back.apply(&random(3, 5, 1, 0.0)),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn cli_fit_writes_map_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (
        write(dir.path(), "X.npy", &random(300, 8, 1, 0.3)),
        write(dir.path(), "Y.npy", &random(300, 8, 2, 0.0)),
    );
    let (w, rep) = (dir.path().join("W.npy"), dir.path().join("fit.json"));
    let out = recap()
        .args([
            "fit",
            "--quiet",
            "--method",
            "ridge",
            "--lambda-grid",
            "0.01,0.1,1,10",
            "--select",
            "kfold",
            "--folds",
            "3",
        ])
        .arg("--x")
        .arg(&x)
        .arg("--y")
        .arg(&y)
        .arg("--out")
        .arg(&w)
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&rep).unwrap()).unwrap();
    assert_eq!(report["method"], "ridge");
    assert_eq!(report["selection"]["curve"].as_array().unwrap().len(), 4);
    assert_eq!(report["lambda"], report["selection"]["chosen"]);
    assert!(w.exists() && dir.path().join("W.json").exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relative residual"));
}

#[test]
fn cli_grouped_fit_and_errors_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let x = write(dir.path(), "img.npy", &random(10, 4, 1, 0.0));
    let y = write(dir.path(), "cap.npy", &random(30, 4, 2, 0.0));
    let groups = dir.path().join("groups.json");
    std::fs::write(&groups, r#"{"counts": [3,3,3,3,3,3,3,3,3,3]}"#).unwrap();
    let w = dir.path().join("W.npy");
    let run = |extra: &[&str], g: &std::path::Path| {
        recap()
            .args(["fit", "--quiet", "--method", "procrustes"])
            .args(extra)
            .arg("--x")
            .arg(&x)
            .arg("--y")
            .arg(&y)
            .arg("--groups")
            .arg(g)
            .arg("--out")
            .arg(&w)
            .output()
            .unwrap()
    };
    assert!(run(&[], &groups).status.success());
    std::fs::remove_file(&w).unwrap();
    // A grouping that does not cover the caption rows.
    std::fs::write(&groups, r#"{"counts": [3,3,3,3,3,3,3,3,3,2]}"#).unwrap();
    let out = run(&[], &groups);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shape mismatch"));
    // An empty file.
    let empty = write(dir.path(), "empty.npy", &RowMatrix::<f32>::zeros(0, 4));
    let out = recap()
        .args(["fit", "--quiet"])
        .arg("--x")
        .arg(&empty)
        .arg("--y")
        .arg(&empty)
        .arg("--out")
        .arg(&w)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 5, "{leftovers:?}");
}

/// A non-finite value deep inside a mapped `.npy` file (a later chunk, read without a copy)
/// is named by file and absolute row, for X and for Y.
#[test]
fn nan_in_a_later_chunk_of_a_file_names_file_and_row() {
    use recap::align::Pairing;
    use recap::io::npy::NpyStream;
    let dir = tempfile::tempdir().unwrap();
    for (bad_side, row, col) in [("x", 1234usize, 7usize), ("y", 999, 0)] {
        let mut x = random(1500, 16, 1, 0.3);
        let mut y = random(1500, 9, 2, 0.0);
        let m = if bad_side == "x" { &mut x } else { &mut y };
        m.row_mut(row)[col] = f32::INFINITY;
        let (px, py) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
        recap::io::npy::write_f32(&px, &x).unwrap();
        recap::io::npy::write_f32(&py, &y).unwrap();
        let mut xs = NpyStream::open(&px, 256).unwrap();
        let mut ys = NpyStream::open(&py, 256).unwrap();
        let mut opts = FitOptions::new(Method::Ridge).lambda(1.0);
        opts.chunk_rows = 256;
        let r = recap::align::fit(&mut xs, &mut ys, Pairing::Rows, &opts, &|_, _| {});
        let want = if bad_side == "x" { &px } else { &py };
        match r {
            Err(Error::NonFinite {
                what,
                row: r,
                col: c,
            }) => {
                assert_eq!((r, c), (row, col));
                assert_eq!(what, want.display().to_string());
            }
            other => panic!("{other:?}"),
        }
    }
}
