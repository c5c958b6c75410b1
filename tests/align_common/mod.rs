//! Shared helpers of the align tests (included with `mod align_common;`).
#![allow(dead_code, clippy::needless_range_loop)]

use recap::RowMatrix;

pub fn fixture(name: &str) -> String {
    format!("{}/tests/data/align/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn load_f32(name: &str) -> RowMatrix<f32> {
    recap::io::npy::read_f32(fixture(name)).unwrap()
}

pub fn load_f64(name: &str) -> RowMatrix<f64> {
    recap::io::npy::read_f64(fixture(name)).unwrap()
}

pub fn to64(m: &RowMatrix<f32>) -> RowMatrix<f64> {
    m.to_f64()
}

pub fn fro(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// ‖a − b‖_F / ‖b‖_F.
pub fn rel_diff(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let d: Vec<f64> = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x - y)
        .collect();
    fro(&d) / fro(b.as_slice())
}

/// Plain f64 `AᵀB` (reference, no faer).
pub fn at_b(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> RowMatrix<f64> {
    let (n, p, q) = (a.rows(), a.cols(), b.cols());
    let mut out = RowMatrix::<f64>::zeros(p, q);
    for k in 0..n {
        let (ar, br) = (a.row(k), b.row(k));
        for i in 0..p {
            for j in 0..q {
                out.as_mut_slice()[i * q + j] += ar[i] * br[j];
            }
        }
    }
    out
}

/// Plain f64 `AB`.
pub fn ab(a: &RowMatrix<f64>, b: &RowMatrix<f64>) -> RowMatrix<f64> {
    let (n, p, q) = (a.rows(), a.cols(), b.cols());
    let mut out = RowMatrix::<f64>::zeros(n, q);
    for i in 0..n {
        for k in 0..p {
            let v = a.row(i)[k];
            for j in 0..q {
                out.as_mut_slice()[i * q + j] += v * b.row(k)[j];
            }
        }
    }
    out
}

/// Normal-equation backward error of `W` for `(A + λI) W = B`, in units of f32 epsilon:
/// `‖(A+λI)W − B‖_F / ((‖A‖_F + λ√d)‖W‖_F + ‖B‖_F) / ε₃₂`.
pub fn ne_backward_error(
    x: &RowMatrix<f64>,
    y: &RowMatrix<f64>,
    w: &RowMatrix<f64>,
    lambda: f64,
) -> f64 {
    let a = at_b(x, x);
    let b = at_b(x, y);
    let mut r = ab(&a, w);
    let dy = w.cols();
    for (i, row) in r.as_mut_slice().chunks_exact_mut(dy).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v += lambda * w.row(i)[j] - b.row(i)[j];
        }
    }
    let d = a.rows() as f64;
    fro(r.as_slice())
        / ((fro(a.as_slice()) + lambda * d.sqrt()) * fro(w.as_slice()) + fro(b.as_slice()))
        / f32::EPSILON as f64
}

/// Deterministic pseudo-random f32 matrix (xorshift), values in [-1, 1) plus `offset`.
pub fn random(rows: usize, cols: usize, seed: u64, offset: f32) -> RowMatrix<f32> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let v = (0..rows * cols)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 + offset
        })
        .collect();
    RowMatrix::from_vec(rows, cols, v).unwrap()
}
