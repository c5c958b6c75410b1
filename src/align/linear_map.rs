//! The map applied to image embeddings before retrieval (`recap retrieve --map`) or for
//! aCLIP-S (`recap score --map`): one loader for every command.
//!
//! - `W.npy` with a `W.json` sidecar beside it (written by `recap fit`): a [`FittedMap`]; its
//!   stored preprocessing (L2 / z-score / centering) is repeated before `X̃ W`.
//! - `W.npy` alone (e.g. fitted with numpy): applied as the plain product `X @ W`
//!   (`W` is `d_x x d_y`, numpy convention).

use std::path::Path;

use crate::align::map::{sidecar_path, FittedMap};
use crate::error::Result;
use crate::io::npy;
use crate::matrix::RowMatrix;

/// A fitted map with its preprocessing, or a plain matrix.
#[derive(Debug, Clone)]
pub enum LinearMap {
    /// Written by `recap fit` (`W.npy` + `W.json`).
    Fitted(Box<FittedMap>),
    /// A bare `d_x x d_y` matrix, applied as `X @ W`.
    Plain(RowMatrix<f32>),
}

impl LinearMap {
    /// Load `W.npy`, as a [`FittedMap`] when its `W.json` sidecar exists, else as a plain
    /// matrix.
    pub fn load(w_path: impl AsRef<Path>) -> Result<LinearMap> {
        let w_path = w_path.as_ref();
        if sidecar_path(w_path).exists() {
            Ok(LinearMap::Fitted(Box::new(FittedMap::load(w_path)?)))
        } else {
            Ok(LinearMap::Plain(npy::read_f32(w_path)?))
        }
    }

    /// Map the rows of `x` (`n x d_x`) to `n x d_y` (on the CPU).
    pub fn apply(&self, x: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
        self.apply_on(&crate::backend::CpuBackend::new(), x)
    }

    /// [`Self::apply`] with the product on `backend`.
    pub fn apply_on(
        &self,
        backend: &dyn crate::backend::Backend,
        x: &RowMatrix<f32>,
    ) -> Result<RowMatrix<f32>> {
        match self {
            LinearMap::Fitted(m) => m.apply_on(backend, x),
            LinearMap::Plain(w) => crate::backend::apply_map_on(backend, x, w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::{fit_matrices, FitOptions, Method, Normalize};

    fn data(n: usize, d: usize, seed: u32) -> RowMatrix<f32> {
        let v = (0..n * d)
            // Columns with their own offset and scale, so centering and z-scoring matter.
            .map(|i| {
                let u = (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0;
                let col = (i % d) as f32;
                (1.0 + col) * u + 2.0 + col
            })
            .collect();
        RowMatrix::from_vec(n, d, v).unwrap()
    }

    fn assert_close(a: &RowMatrix<f32>, b: &RowMatrix<f32>, tol: f32) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn fitted_map_keeps_its_preprocessing_and_plain_is_x_at_w() {
        let (x, y) = (data(200, 6, 1), data(200, 6, 7));
        let opts = FitOptions::new(Method::Ridge)
            .lambda(0.5)
            .preprocess(Normalize::Zscore, true);
        let fitted = fit_matrices(&x, &y, &opts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let w_path = dir.path().join("W.npy");
        fitted.save(&w_path).unwrap();

        let loaded = LinearMap::load(&w_path).unwrap();
        assert!(matches!(loaded, LinearMap::Fitted(_)));
        let want = fitted.apply(&x).unwrap();
        assert_close(&loaded.apply(&x).unwrap(), &want, 1e-5);
        // Without the sidecar the same W.npy is a plain X @ W, which differs here because the
        // fit z-scored and centered.
        std::fs::remove_file(sidecar_path(&w_path)).unwrap();
        let plain = LinearMap::load(&w_path).unwrap();
        let LinearMap::Plain(w) = &plain else {
            panic!("expected a plain map")
        };
        let got = plain.apply(&x).unwrap();
        let row0: Vec<f32> = (0..w.cols())
            .map(|j| (0..w.rows()).map(|k| x.row(0)[k] * w.row(k)[j]).sum())
            .collect();
        for (a, b) in got.row(0).iter().zip(&row0) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let max_diff = got
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_diff > 1e-3, "plain and fitted maps should differ here");
    }
}
