//! Cross-check recap's own `.npy` parser against an independent reader (the `npyz` crate) on
//! every valid numpy fixture: shape, and every value after conversion to f64.

use std::path::PathBuf;

use npyz::{DType, NpyFile, TypeChar};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy")
}

/// Values of a `.npy` file in numpy's logical (C) order, read by npyz, as f64.
fn read_with_npyz(path: &std::path::Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let fortran = npy.order() == npyz::Order::Fortran;
    let size = match npy.dtype() {
        DType::Plain(ts) => {
            assert_eq!(ts.type_char(), TypeChar::Float, "{}", path.display());
            ts.size_field()
        }
        other => panic!("unexpected dtype {other:?} in {}", path.display()),
    };
    let flat: Vec<f64> = match size {
        2 => npy
            .into_vec::<half::f16>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        4 => npy
            .into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        8 => npy.into_vec::<f64>().unwrap(),
        s => panic!("unexpected item size {s}"),
    };
    // npyz returns storage order; bring Fortran-ordered 2-D data into C order.
    if fortran && shape.len() == 2 {
        let (r, c) = (shape[0] as usize, shape[1] as usize);
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[i * c + j] = flat[j * r + i];
            }
        }
        return (shape, out);
    }
    (shape, flat)
}

#[test]
fn every_valid_npy_fixture_agrees_with_npyz() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Skipped: hostile files (their own tests), integer goldens, and `=f4` (native byte
        // order, hand-written: numpy never writes `=` and npyz refuses it).
        let skip = name.starts_with("h_")
            || name.starts_with("golden_write_i64")
            || name == "c_f32_native.npy";
        if !name.ends_with(".npy") || skip {
            continue;
        }
        let (shape, want) = read_with_npyz(&path);
        let ours = recap::io::npy::read_f64(&path).unwrap();
        let rows = shape.first().copied().unwrap_or(1) as usize;
        let cols = if shape.len() == 2 {
            shape[1] as usize
        } else {
            1
        };
        assert_eq!(ours.shape(), (rows, cols), "{name}");
        for (k, (a, b)) in ours.as_slice().iter().zip(&want).enumerate() {
            assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "{name}: value {k}: recap {a} vs npyz {b}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}
