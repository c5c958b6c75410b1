//! The fitted map and the one-call fits (`fit` on arrays, `fit_files` on `.npy` files).

use std::path::PathBuf;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyType;
use recap::align::{
    fit as fit_sources, Criterion, FitOptions, FittedMap, Lambda, Method, Normalize, Pairing,
    PrecisionChoice,
};
use recap::backend::Device;
use recap::io::npy::NpyStream;
use recap::io::rows::MemSource;
use recap::RowMatrix;

use crate::arrays::{matrix, rows};
use crate::errors::{invalid, IntoPy};

/// Parse `none` | `l2` | `zscore`.
pub fn parse_normalize(s: &str) -> PyResult<Normalize> {
    match s {
        "none" => Ok(Normalize::None),
        "l2" => Ok(Normalize::L2),
        "zscore" => Ok(Normalize::Zscore),
        other => Err(invalid(format!(
            "normalize: {other:?} is not \"none\", \"l2\" or \"zscore\""
        ))),
    }
}

/// Parse `cpu` | `cuda` | `cuda:N` | `auto` (the crate's device names).
pub fn parse_device(s: &str) -> PyResult<Device> {
    s.parse::<Device>().py_err()
}

fn parse_method(s: &str) -> PyResult<Method> {
    match s {
        "ols" => Ok(Method::Ols),
        "ridge" => Ok(Method::Ridge),
        "lstsq" => Ok(Method::Lstsq),
        "procrustes" => Ok(Method::Procrustes),
        "robust_procrustes" | "robust-procrustes" => Ok(Method::RobustProcrustes),
        other => Err(invalid(format!(
            "method: {other:?} is not ols, ridge, lstsq, procrustes or robust_procrustes"
        ))),
    }
}

fn parse_precision(s: &str) -> PyResult<PrecisionChoice> {
    match s {
        "auto" => Ok(PrecisionChoice::Auto),
        "f32" => Ok(PrecisionChoice::F32),
        "f64" => Ok(PrecisionChoice::F64),
        other => Err(invalid(format!(
            "precision: {other:?} is not auto, f32 or f64"
        ))),
    }
}

/// The crate's fit options from the keyword arguments every fit shares: `alpha` is λ
/// (ridge), `alphas` a grid chosen by GCV; ridge needs one of them.
#[allow(clippy::too_many_arguments)]
pub fn fit_options(
    method: &str,
    alpha: Option<f64>,
    alphas: Option<Vec<f64>>,
    normalize: &str,
    center: bool,
    device: &str,
    precision: &str,
) -> PyResult<FitOptions> {
    let mut opts =
        FitOptions::new(parse_method(method)?).preprocess(parse_normalize(normalize)?, center);
    opts.device = parse_device(device)?;
    opts.precision = parse_precision(precision)?;
    opts.lambda = match (alpha, alphas) {
        (Some(_), Some(_)) => return Err(invalid("give alpha or alphas, not both")),
        (Some(l), None) => Lambda::Fixed(l),
        (None, Some(grid)) => Lambda::Select {
            grid,
            criterion: Criterion::Gcv,
        },
        (None, None) => Lambda::Unset,
    };
    Ok(opts)
}

/// A fitted map: `W` (`dx x dy`, applied as `X @ W` to preprocessed rows) with the
/// preprocessing that `apply` repeats and the fit report.
#[pyclass(name = "FittedMap", module = "recap_rs._recap_rs", frozen)]
pub struct PyFittedMap {
    pub(crate) inner: FittedMap,
}

impl PyFittedMap {
    pub fn new(inner: FittedMap) -> Self {
        PyFittedMap { inner }
    }
}

#[pymethods]
impl PyFittedMap {
    /// `W` as float32 (`dx x dy`).
    #[getter]
    fn w<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        matrix(py, self.inner.w_f32())
    }
    /// `W` as solved (float64).
    #[getter]
    fn w64<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        matrix(py, self.inner.w.clone())
    }
    /// The solver's name.
    #[getter]
    fn method(&self) -> &'static str {
        self.inner.method.name()
    }
    /// λ (ridge), else None.
    #[getter]
    fn alpha(&self) -> Option<f64> {
        self.inner.lambda
    }
    /// Pairs fitted.
    #[getter]
    fn n(&self) -> u64 {
        self.inner.n
    }
    /// Dimension of X.
    #[getter]
    fn dx(&self) -> usize {
        self.inner.dx
    }
    /// Dimension of Y.
    #[getter]
    fn dy(&self) -> usize {
        self.inner.dy
    }
    /// The fit report as JSON (residuals, condition, timings, λ selection).
    #[getter]
    fn report_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.report).map_err(|e| invalid(e.to_string()))
    }

    /// Map rows: the fit's preprocessing, then `X̃ W`, back in Y's coordinates.
    fn apply<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let xr = rows(x, "X")?;
        if xr.cols != self.inner.dx {
            return Err(invalid(format!(
                "X: {} columns, the map takes dx = {}",
                xr.cols, self.inner.dx
            )));
        }
        let (xs, n) = (xr.slice(), xr.rows);
        let out = py.detach(|| self.inner.apply_rows(xs, n)).py_err()?;
        matrix(py, out)
    }

    /// Save as `W.npy` plus its JSON sidecar (the files `recap fit` writes).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).py_err()
    }

    /// Load a map saved by `save` or `recap fit --out`.
    #[classmethod]
    fn load(_cls: &Bound<'_, PyType>, path: PathBuf) -> PyResult<Self> {
        Ok(PyFittedMap::new(FittedMap::load(&path).py_err()?))
    }

    /// A map from its JSON description (`report_json`'s sibling, `state_json`) and `W`
    /// (float64, `dx x dy`): what pickling goes through.
    #[classmethod]
    fn _from_state(
        _cls: &Bound<'_, PyType>,
        state: &str,
        w: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Self> {
        let mut inner: FittedMap =
            serde_json::from_str(state).map_err(|e| invalid(format!("FittedMap state: {e}")))?;
        let shape = w.shape();
        if (shape[0], shape[1]) != (inner.dx, inner.dy) {
            return Err(invalid(format!(
                "FittedMap state: W is {} x {}, the map is {} x {}",
                shape[0], shape[1], inner.dx, inner.dy
            )));
        }
        inner.w = RowMatrix::from_vec(inner.dx, inner.dy, w.to_vec()?).py_err()?;
        Ok(PyFittedMap::new(inner))
    }

    /// Everything but `W`, as JSON.
    #[getter]
    fn state_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| invalid(e.to_string()))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let py = slf.py();
        let me = slf.get();
        let ctor = slf.get_type().getattr("_from_state")?;
        let args = (me.state_json()?, me.w64(py)?);
        (ctor, args).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "FittedMap(method={:?}, alpha={:?}, dx={}, dy={}, n={})",
            self.inner.method.name(),
            self.inner.lambda,
            self.inner.dx,
            self.inner.dy,
            self.inner.n
        )
    }
}

/// Fit `W` on arrays in memory (row i of X with row i of Y). float32 arrays are read in
/// place, never copied.
#[pyfunction]
#[pyo3(signature = (x, y, *, method = "ridge", alpha = None, alphas = None, normalize = "none",
                    center = false, device = "cpu", precision = "auto"))]
#[allow(clippy::too_many_arguments)]
pub fn fit(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    method: &str,
    alpha: Option<f64>,
    alphas: Option<Vec<f64>>,
    normalize: &str,
    center: bool,
    device: &str,
    precision: &str,
) -> PyResult<PyFittedMap> {
    let opts = fit_options(method, alpha, alphas, normalize, center, device, precision)?;
    let (xr, yr) = (rows(x, "X")?, rows(y, "Y")?);
    let (xs, ys) = (xr.slice(), yr.slice());
    let (xshape, yshape) = ((xr.rows, xr.cols), (yr.rows, yr.cols));
    let map = py
        .detach(|| {
            let mut sx = MemSource::from_slice(xs, xshape.0, xshape.1, "X")?;
            let mut sy = MemSource::from_slice(ys, yshape.0, yshape.1, "Y")?;
            fit_sources(&mut sx, &mut sy, Pairing::Rows, &opts, &|_, _| {})
        })
        .py_err()?;
    Ok(PyFittedMap::new(map))
}

/// Fit `W` from two `.npy` files (or `file.npz:member`s), streamed in chunks: the same code
/// path as `recap fit`.
#[pyfunction]
#[pyo3(signature = (x, y, *, method = "ridge", alpha = None, alphas = None, normalize = "none",
                    center = false, device = "cpu", precision = "auto", chunk_rows = 0))]
#[allow(clippy::too_many_arguments)]
pub fn fit_files(
    py: Python<'_>,
    x: PathBuf,
    y: PathBuf,
    method: &str,
    alpha: Option<f64>,
    alphas: Option<Vec<f64>>,
    normalize: &str,
    center: bool,
    device: &str,
    precision: &str,
    chunk_rows: usize,
) -> PyResult<PyFittedMap> {
    let mut opts = fit_options(method, alpha, alphas, normalize, center, device, precision)?;
    opts.chunk_rows = chunk_rows;
    let map = py
        .detach(|| {
            let chunk = match opts.chunk_rows {
                0 => opts.device.resolve()?.chunk_rows(),
                n => n,
            };
            let mut sx = NpyStream::open(&x, chunk)?;
            let mut sy = NpyStream::open(&y, chunk)?;
            fit_sources(&mut sx, &mut sy, Pairing::Rows, &opts, &|_, _| {})
        })
        .py_err()?;
    Ok(PyFittedMap::new(map))
}
