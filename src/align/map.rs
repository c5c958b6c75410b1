//! The fitted map: `W` plus everything needed to apply it the way it was fitted.
//!
//! Saved as two files: `W.npy`, the plain `d_x x d_y` float32 matrix (`np.load` gives `W`,
//! applied as `X @ W` to preprocessed X), and a JSON sidecar with the same stem
//! (`W.json`) holding the method, λ, preprocessing (column shifts/scales when centering or
//! z-scoring), `n`, the dimensions and the fit report. [`FittedMap::apply`] repeats the
//! preprocessing: `ŷ = ((x̂ − m_x)·k_x) W / k_y + m_y` with `x̂` the (L2-normalized if
//! chosen) row.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::align::preprocess::{self, Affine, Preprocess};
use crate::align::report::FitReport;
use crate::align::Method;
use crate::backend::{Backend, CpuBackend, Op, RowsMut, RowsRef};
use crate::error::{Error, Result};
use crate::io::npy::NpyStream;
use crate::io::rows::{RowSource, DEFAULT_CHUNK_ROWS};
use crate::matrix::RowMatrix;

/// A fitted linear map with its preprocessing and report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedMap {
    /// The solver.
    pub method: Method,
    /// λ (ridge), else `None`.
    pub lambda: Option<f64>,
    /// Preprocessing used by the fit (repeated by `apply`).
    pub preprocess: Preprocess,
    /// Column shifts/scales (`None` when the identity).
    pub affine: Option<Affine>,
    /// Number of pairs fitted.
    pub n: u64,
    /// Dimension of X.
    pub dx: usize,
    /// Dimension of Y.
    pub dy: usize,
    /// The fit report.
    pub report: FitReport,
    /// `W` (`dx x dy`) in f64 as solved (saved as f32).
    #[serde(skip, default = "empty_w")]
    pub w: RowMatrix<f64>,
}

fn empty_w() -> RowMatrix<f64> {
    RowMatrix::zeros(0, 0)
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    format: String,
    version: u32,
    w_file: String,
    #[serde(flatten)]
    map: FittedMap,
}

/// The sidecar path of a `W.npy` path: same folder and stem, extension `json`.
pub fn sidecar_path(w_path: &Path) -> PathBuf {
    w_path.with_extension("json")
}

impl FittedMap {
    /// `W` as f32 (what `W.npy` holds).
    pub fn w_f32(&self) -> RowMatrix<f32> {
        let v = self.w.as_slice().iter().map(|&x| x as f32).collect();
        RowMatrix::from_vec(self.dx, self.dy, v).expect("shape")
    }

    /// Write `W.npy` and its JSON sidecar (both atomic).
    pub fn save(&self, w_path: impl AsRef<Path>) -> Result<()> {
        let w_path = w_path.as_ref();
        let w = self.w_f32();
        crate::io::npy::write_f32(w_path, &w)?;
        let side = Sidecar {
            format: "recap-align-map".into(),
            version: 1,
            w_file: w_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            map: self.clone(),
        };
        crate::io::atomic::write_json_atomic(sidecar_path(w_path), &side)
    }

    /// Read a map saved by [`Self::save`] (`W.npy` plus `W.json`).
    pub fn load(w_path: impl AsRef<Path>) -> Result<FittedMap> {
        let w_path = w_path.as_ref();
        let side_path = sidecar_path(w_path);
        let text = std::fs::read(&side_path).map_err(|e| Error::io(&side_path, e))?;
        let side: Sidecar = serde_json::from_slice(&text).map_err(|e| Error::Json {
            path: side_path.clone(),
            source: e,
        })?;
        let mut map = side.map;
        let w = crate::io::npy::read_f64(w_path)?;
        if w.shape() != (map.dx, map.dy) {
            return Err(Error::shape(
                format!("{} vs {}", w_path.display(), side_path.display()),
                format!("({}, {})", map.dx, map.dy),
                format!("({}, {})", w.rows(), w.cols()),
            ));
        }
        map.w = w;
        Ok(map)
    }

    /// The effective map on raw (row-normalized) X: `ŷ = x̂ W_eff + b`, with
    /// `W_eff = diag(k_x) W diag(1/k_y)` and `b = m_y − (m_x·k_x) W diag(1/k_y)`.
    pub fn effective(&self) -> (RowMatrix<f32>, Vec<f32>) {
        let Some(a) = &self.affine else {
            return (self.w_f32(), vec![0.0; self.dy]);
        };
        let (dx, dy) = (self.dx, self.dy);
        let mut w = vec![0f32; dx * dy];
        let mut b = a.shift_y.clone();
        for i in 0..dx {
            let mk = a.shift_x[i] * a.scale_x[i];
            for j in 0..dy {
                let v = self.w.as_slice()[i * dy + j] / a.scale_y[j];
                w[i * dy + j] = (a.scale_x[i] * v) as f32;
                b[j] -= mk * v;
            }
        }
        (
            RowMatrix::from_vec(dx, dy, w).expect("shape"),
            b.into_iter().map(|v| v as f32).collect(),
        )
    }

    /// Map the rows of `x` (`n x d_x`): preprocessing, then `X̃ W`, back in Y's coordinates.
    pub fn apply(&self, x: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
        self.apply_on(&CpuBackend::new(), x)
    }

    /// [`Self::apply`] with the product on `backend`.
    pub fn apply_on(&self, backend: &dyn Backend, x: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
        let mut src = crate::io::rows::MemSource::new(x, "x");
        let mut out = Vec::with_capacity(x.rows() * self.dy);
        self.apply_stream(backend, &mut src, &mut |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        RowMatrix::from_vec(x.rows(), self.dy, out)
    }

    /// [`Self::apply`] on a borrowed row-major `rows x dx` slice (e.g. a numpy buffer): no
    /// copy of the input beyond one chunk at a time.
    pub fn apply_rows(&self, x: &[f32], rows: usize) -> Result<RowMatrix<f32>> {
        let mut src = crate::io::rows::MemSource::from_slice(x, rows, self.dx, "x")?;
        let mut out = Vec::with_capacity(rows * self.dy);
        self.apply_stream(&CpuBackend::new(), &mut src, &mut |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        RowMatrix::from_vec(rows, self.dy, out)
    }

    /// Map every row of the `.npy` file `input` and write the result to `output` (streamed in
    /// row chunks; atomic).
    pub fn apply_file(&self, input: impl AsRef<Path>, output: impl AsRef<Path>) -> Result<()> {
        let mut src = NpyStream::open(input, DEFAULT_CHUNK_ROWS)?;
        let out = output.as_ref().to_path_buf();
        let rows = src.rows();
        crate::io::atomic::write_atomic(&out, |w| {
            use std::io::Write;
            w.write_all(&crate::io::npy::npy_header_f32(rows, self.dy))
                .map_err(|e| Error::io(&out, e))?;
            self.apply_stream(&CpuBackend::new(), &mut src, &mut |chunk| {
                crate::io::npy::write_f32_le(w, chunk).map_err(|e| Error::io(&out, e))
            })
        })
    }

    fn apply_stream(
        &self,
        backend: &dyn Backend,
        src: &mut dyn RowSource,
        sink: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        if src.cols() != self.dx {
            return Err(Error::shape(
                format!("{} columns vs map input dimension", src.name()),
                format!("{} columns", self.dx),
                format!("{} columns", src.cols()),
            ));
        }
        let (w, b) = self.effective();
        let name = src.name().to_string();
        src.rewind()?;
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        while let Some((start, r)) = src.next_into(&mut buf, DEFAULT_CHUNK_ROWS)? {
            preprocess::rows_in_place(&self.preprocess, &mut buf, self.dx, &name, start)?;
            out.resize(r * self.dy, 0.0);
            let x = RowsRef::new(&buf, r, self.dx)?;
            let c = RowsMut::new(&mut out, r, self.dy)?;
            backend.gemm(1.0, x, Op::N, (&w).into(), Op::N, 0.0, c)?;
            if b.iter().any(|&v| v != 0.0) {
                for row in out.chunks_exact_mut(self.dy) {
                    row.iter_mut().zip(&b).for_each(|(o, bj)| *o += bj);
                }
            }
            sink(&out)?;
        }
        Ok(())
    }
}
