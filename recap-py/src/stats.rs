//! `GramStats`: streaming, mergeable sufficient statistics of a fit, as in the crate, with
//! the row normalization of the fit applied while accumulating.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple, PyType};
use recap::align::{GramPrecision, GramStats, Normalize};
use recap::io::npy::NpyStream;
use recap::io::rows::RowSource;
use recap::matrix::{check_finite_rows, l2_normalize_rows};

use crate::arrays::{matrix, rows};
use crate::errors::{invalid, IntoPy};
use crate::fit::{fit_options, parse_device, parse_normalize, PyFittedMap};

/// Rows per accumulated chunk (the crate's CPU default).
const CHUNK_ROWS: usize = 4096;

/// Statistics `XᵀX`, `XᵀY`, column sums and squares and `n` of paired rows (float64).
#[pyclass(name = "GramStats", module = "recap_rs._recap_rs")]
#[derive(Clone)]
pub struct PyGramStats {
    pub(crate) inner: GramStats,
    /// Row normalization applied on update: `"none"` or `"l2"`.
    pub(crate) l2: bool,
}

impl PyGramStats {
    fn normalize_name(&self) -> &'static str {
        if self.l2 {
            "l2"
        } else {
            "none"
        }
    }

    /// Accumulate `rows` pairs from borrowed slices, in chunks, normalizing copies of the
    /// chunk rows first when the statistics are L2.
    fn add(&mut self, x: &[f32], y: &[f32], n: usize, first_row: usize) -> recap::Result<()> {
        let (dx, dy) = (self.inner.dx(), self.inner.dy());
        let mut start = 0;
        while start < n {
            let r = CHUNK_ROWS.min(n - start);
            let xs = &x[start * dx..(start + r) * dx];
            let ys = &y[start * dy..(start + r) * dy];
            if self.l2 {
                let (mut xc, mut yc) = (xs.to_vec(), ys.to_vec());
                l2_normalize_rows(&mut xc, dx, "X", first_row + start)?;
                l2_normalize_rows(&mut yc, dy, "Y", first_row + start)?;
                self.inner.accumulate(&xc, &yc, r)?;
            } else {
                if !self.inner.checks_finite() {
                    check_finite_rows(xs, dx, "X", first_row + start)?;
                    check_finite_rows(ys, dy, "Y", first_row + start)?;
                }
                self.inner.accumulate(xs, ys, r)?;
            }
            start += r;
        }
        Ok(())
    }
}

#[pymethods]
impl PyGramStats {
    /// Empty statistics for `dx`-dimensional X and `dy`-dimensional Y.
    #[new]
    #[pyo3(signature = (dx, dy, normalize = "none", precision = "f32", device = "cpu"))]
    fn new(dx: usize, dy: usize, normalize: &str, precision: &str, device: &str) -> PyResult<Self> {
        let l2 =
            match parse_normalize(normalize)? {
                Normalize::None => false,
                Normalize::L2 => true,
                Normalize::Zscore => return Err(invalid(
                    "normalize: z-scoring is applied when solving (solve(normalize=\"zscore\")); \
                     accumulate with normalize=\"none\"",
                )),
            };
        let precision = match precision {
            "f32" => GramPrecision::F32,
            "f64" => GramPrecision::F64,
            other => return Err(invalid(format!("precision: {other:?} is not f32 or f64"))),
        };
        let backend = parse_device(device)?.resolve().py_err()?;
        let inner = GramStats::new(dx, dy, true)
            .with_precision(precision)
            .on(backend);
        Ok(PyGramStats { inner, l2 })
    }

    /// Add the pairs (row i of X with row i of Y). float32 arrays are read in place.
    #[pyo3(name = "update")]
    fn update_py(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (xr, yr) = (rows(x, "X")?, rows(y, "Y")?);
        if xr.rows != yr.rows {
            return Err(invalid(format!(
                "X and Y: {} rows vs {} rows (row i of X pairs with row i of Y)",
                xr.rows, yr.rows
            )));
        }
        if xr.cols != self.inner.dx() || yr.cols != self.inner.dy() {
            return Err(invalid(format!(
                "X, Y: {} and {} columns, the statistics are dx = {}, dy = {}",
                xr.cols,
                yr.cols,
                self.inner.dx(),
                self.inner.dy()
            )));
        }
        let (xs, ys, n) = (xr.slice(), yr.slice(), xr.rows);
        py.detach(|| self.add(xs, ys, n, 0)).py_err()
    }

    /// Add the pairs of two `.npy` files (or `file.npz:member`s), streamed in chunks through
    /// the crate's reader.
    #[pyo3(signature = (x, y, chunk_rows = 4096))]
    fn update_files(
        &mut self,
        py: Python<'_>,
        x: PathBuf,
        y: PathBuf,
        chunk_rows: usize,
    ) -> PyResult<()> {
        py.detach(|| -> recap::Result<()> {
            let mut xs = NpyStream::open(&x, chunk_rows)?;
            let mut ys = NpyStream::open(&y, chunk_rows)?;
            if xs.rows() != ys.rows() {
                return Err(recap::Error::shape(
                    "rows of the Y file",
                    format!("{} rows (as the X file)", xs.rows()),
                    format!("{} rows", ys.rows()),
                ));
            }
            let (mut bx, mut by) = (Vec::new(), Vec::new());
            while let Some((start, r)) = xs.next_into(&mut bx, chunk_rows)? {
                let got = ys.next_into(&mut by, r)?;
                if got != Some((start, r)) {
                    return Err(recap::Error::invalid("Y", "the files' chunks disagree"));
                }
                self.add(&bx, &by, r, start)?;
            }
            Ok(())
        })
        .py_err()
    }

    /// Add the statistics of another, disjoint set of rows (same dimensions and normalization).
    fn merge(&mut self, other: &PyGramStats) -> PyResult<()> {
        if self.l2 != other.l2 {
            return Err(invalid(format!(
                "merge: statistics normalized {} and {} cannot be merged",
                self.normalize_name(),
                other.normalize_name()
            )));
        }
        self.inner.merge(&other.inner).py_err()
    }

    fn __add__(&self, other: &PyGramStats) -> PyResult<PyGramStats> {
        let mut out = self.clone();
        out.merge(other)?;
        Ok(out)
    }

    /// Solve for the map: `method` ols | ridge | procrustes, `alpha` λ for ridge (or
    /// `alphas`, a grid chosen by GCV), `normalize` as accumulated (`None`) or "zscore",
    /// `center` subtracts the column means (an intercept).
    #[pyo3(signature = (method = "ridge", alpha = None, normalize = None, center = false, alphas = None))]
    fn solve(
        &self,
        py: Python<'_>,
        method: &str,
        alpha: Option<f64>,
        normalize: Option<&str>,
        center: bool,
        alphas: Option<Vec<f64>>,
    ) -> PyResult<PyFittedMap> {
        let normalize =
            match normalize.map(parse_normalize).transpose()? {
                None => self.normalize_name(),
                Some(Normalize::L2) if !self.l2 => {
                    return Err(invalid(
                        "normalize=\"l2\": these statistics were accumulated without row \
                     normalization; create GramStats(..., normalize=\"l2\") to fit on unit rows",
                    ))
                }
                Some(Normalize::None) if self.l2 => return Err(invalid(
                    "normalize=\"none\": these statistics were accumulated from L2-normalized rows",
                )),
                Some(Normalize::Zscore) if self.l2 => {
                    return Err(invalid(
                        "normalize=\"zscore\": the statistics are of L2-normalized rows",
                    ))
                }
                Some(Normalize::Zscore) => "zscore",
                Some(_) => self.normalize_name(),
            };
        let opts = fit_options(method, alpha, alphas, normalize, center, "cpu", "auto")?;
        let inner = &self.inner;
        let map = py
            .detach(|| recap::align::fit_stats(inner, &opts))
            .py_err()?;
        Ok(PyFittedMap::new(map))
    }

    /// Pairs accumulated.
    #[getter]
    fn n(&self) -> u64 {
        self.inner.n()
    }
    /// Dimension of X.
    #[getter]
    fn dx(&self) -> usize {
        self.inner.dx()
    }
    /// Dimension of Y.
    #[getter]
    fn dy(&self) -> usize {
        self.inner.dy()
    }
    /// "none" or "l2".
    #[getter]
    fn normalize(&self) -> &'static str {
        self.normalize_name()
    }
    /// `XᵀX` (`dx x dx`, float64).
    #[getter]
    fn xtx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.xtx().py_err()?)
    }
    /// `XᵀY` (`dx x dy`, float64).
    #[getter]
    fn xty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.xty())
    }
    /// Column sums of X and Y, column sums of squares of X and Y (1-d float64 each).
    #[getter]
    fn moments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let i = &self.inner;
        let col = |v: &[f64]| v.to_vec().into_pyarray(py);
        PyTuple::new(
            py,
            [col(i.sum_x()), col(i.sum_y()), col(i.sq_x()), col(i.sq_y())],
        )
    }

    /// Write the crate's `.npz` (atomic).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).py_err()
    }

    /// Read statistics written by `save` (or by `recap fit --save-stats`).
    #[classmethod]
    #[pyo3(signature = (path, normalize = "none"))]
    fn load(_cls: &Bound<'_, PyType>, path: PathBuf, normalize: &str) -> PyResult<Self> {
        let l2 = matches!(parse_normalize(normalize)?, Normalize::L2);
        Ok(PyGramStats {
            inner: GramStats::load(&path).py_err()?,
            l2,
        })
    }

    /// The `.npz` bytes `save` writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let path = dir.path().join("stats.npz");
        self.inner.save(&path).py_err()?;
        let bytes = std::fs::read(&path).map_err(|e| invalid(e.to_string()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Statistics from `.npz` bytes (`to_bytes`, or a file's contents).
    #[classmethod]
    #[pyo3(signature = (data, normalize = "none"))]
    fn from_bytes(_cls: &Bound<'_, PyType>, data: &[u8], normalize: &str) -> PyResult<Self> {
        let l2 = matches!(parse_normalize(normalize)?, Normalize::L2);
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let path = dir.path().join("stats.npz");
        std::fs::write(&path, data).map_err(|e| invalid(e.to_string()))?;
        Ok(PyGramStats {
            inner: GramStats::load(&path).py_err()?,
            l2,
        })
    }

    /// Pickling goes through the `.npz` bytes.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.borrow();
        let ctor = slf.get_type().getattr("from_bytes")?;
        let args = (me.to_bytes(py)?, me.normalize_name());
        (ctor, args).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "GramStats(dx={}, dy={}, n={}, normalize={:?})",
            self.inner.dx(),
            self.inner.dy(),
            self.inner.n(),
            self.normalize_name()
        )
    }
}
