//! A faiss-shaped exact index over the crate's `Datastore`, and the exact merge of per-shard
//! results.
//!
//! `search` returns faiss's `(D, I)`: float32 scores and int64 rows, `q x k`, best first,
//! ties by the lower row (the crate's rule). Where a query has fewer than `k` candidates
//! (`k > ntotal`, or exclusions), its row is padded with `I = -1`, `D = -inf`.

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use recap::backend::Device;
use recap::retrieve::{Datastore, Exclusion, Matches, Screen, SearchOptions, Storage};
use recap::RowMatrix;

use crate::arrays::{array2, rows};
use crate::errors::{invalid, IntoPy};
use crate::fit::parse_device;

/// Exact top-k over stored rows: metric "cosine" (rows and queries L2-normalized, faiss's
/// IndexFlatIP on normalized vectors) or "ip" (raw inner product); storage "f32" or "f16".
#[pyclass(name = "Index", module = "recap_rs._recap_rs")]
pub struct PyIndex {
    inner: Datastore,
    metric: &'static str,
}

/// faiss's `(D, I)`: scores and rows.
type Found<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<i64>>);

fn parse_storage(s: &str) -> PyResult<Storage> {
    match s {
        "f32" | "float32" => Ok(Storage::F32),
        "f16" | "float16" => Ok(Storage::F16),
        other => Err(invalid(format!("storage: {other:?} is not f32 or f16"))),
    }
}

fn owned(x: &Bound<'_, PyAny>, what: &str) -> PyResult<RowMatrix<f32>> {
    let r = rows(x, what)?;
    RowMatrix::from_vec(r.rows, r.cols, r.slice().to_vec()).py_err()
}

/// `(D, I)` padded to `k` columns.
fn padded<'py>(py: Python<'py>, m: Matches, k: usize) -> PyResult<Found<'py>> {
    let q = m.n_queries();
    let w = m.indices.cols();
    if w == k {
        let (d, i) = (m.scores.into_vec(), m.indices.into_vec());
        return Ok((array2(py, d, q, k)?, array2(py, i, q, k)?));
    }
    let mut d = vec![f32::NEG_INFINITY; q * k];
    let mut i = vec![-1i64; q * k];
    for r in 0..q {
        d[r * k..r * k + w].copy_from_slice(m.scores.row(r));
        i[r * k..r * k + w].copy_from_slice(m.indices.row(r));
    }
    Ok((array2(py, d, q, k)?, array2(py, i, q, k)?))
}

fn exclusion(lists: Vec<Vec<i64>>) -> Exclusion {
    Exclusion::per_query(
        lists
            .into_iter()
            .map(|l| {
                l.into_iter()
                    .filter_map(|i| usize::try_from(i).ok())
                    .collect()
            })
            .collect(),
    )
}

#[pymethods]
impl PyIndex {
    /// Build from the `ntotal x d` rows `xb` (copied into the index, as faiss does).
    #[new]
    #[pyo3(signature = (xb, metric = "cosine", storage = "f32", device = "cpu"))]
    fn new(
        py: Python<'_>,
        xb: &Bound<'_, PyAny>,
        metric: &str,
        storage: &str,
        device: &str,
    ) -> PyResult<Self> {
        let storage = parse_storage(storage)?;
        let device: Device = parse_device(device)?;
        let rows = owned(xb, "xb")?;
        let (metric, inner) = match metric {
            "cosine" => ("cosine", py.detach(|| Datastore::cosine(rows, storage))),
            "ip" | "inner_product" => ("ip", py.detach(|| Datastore::inner_product(rows, storage))),
            other => return Err(invalid(format!("metric: {other:?} is not cosine or ip"))),
        };
        let inner = inner.py_err()?.with_device(device).py_err()?;
        Ok(PyIndex { inner, metric })
    }

    /// Append rows (normalized like the rest under cosine).
    fn add(&mut self, py: Python<'_>, xb: &Bound<'_, PyAny>) -> PyResult<()> {
        let rows = owned(xb, "xb")?;
        let inner = &mut self.inner;
        py.detach(|| inner.append(rows, None)).py_err()
    }

    /// The `k` best rows per query: `(D, I)`, `q x k` float32 and int64. `exclude[i]` lists
    /// rows query `i` must skip (negative entries are ignored, so a `-1`-padded array works).
    /// `screen`: "auto" (the fastest exact mode of the CPU), "int8", "bf16" or "none"; every
    /// mode returns exactly the plain f32 search's result.
    #[pyo3(signature = (xq, k, exclude = None, screen = "auto"))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        xq: &Bound<'py, PyAny>,
        k: usize,
        exclude: Option<Vec<Vec<i64>>>,
        screen: &str,
    ) -> PyResult<Found<'py>> {
        let screen: Screen = screen.parse().py_err()?;
        let queries = owned(xq, "xq")?;
        if k == 0 {
            return Err(invalid("k: must be at least 1"));
        }
        if let Some(lists) = &exclude {
            if lists.len() != queries.rows() {
                return Err(invalid(format!(
                    "exclude: {} lists for {} queries",
                    lists.len(),
                    queries.rows()
                )));
            }
        }
        let excl = exclude.map(exclusion);
        let inner = &self.inner;
        let found = py
            .detach(|| {
                let mut opts = SearchOptions::default().screen(screen);
                if let Some(e) = &excl {
                    opts = opts.exclude(e);
                }
                inner.search_with(&queries, k, &opts)
            })
            .py_err()?;
        padded(py, found, k)
    }

    /// Rows stored.
    #[getter]
    fn ntotal(&self) -> usize {
        self.inner.rows()
    }
    /// Dimension.
    #[getter]
    fn d(&self) -> usize {
        self.inner.dim()
    }
    /// "cosine" or "ip".
    #[getter]
    fn metric(&self) -> &'static str {
        self.metric
    }
    /// "f32" or "f16".
    #[getter]
    fn storage(&self) -> &'static str {
        match self.inner.storage() {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
        }
    }

    fn __len__(&self) -> usize {
        self.inner.rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "Index(ntotal={}, d={}, metric={:?}, storage={:?})",
            self.inner.rows(),
            self.inner.dim(),
            self.metric,
            self.storage()
        )
    }
}

/// Merge per-shard `(D, I)` results into the global top `k`: shard `s`'s row `i` is global
/// row `offsets[s] + i`; exact under the crate's order (higher score, then lower global row).
/// Returns `(D, I)` padded to `k` columns.
#[pyfunction]
pub fn merge_topk<'py>(
    py: Python<'py>,
    results: Vec<Bound<'py, PyTuple>>,
    offsets: Vec<usize>,
    k: usize,
) -> PyResult<Found<'py>> {
    if results.len() != offsets.len() {
        return Err(invalid(format!(
            "merge_topk: {} results but {} offsets",
            results.len(),
            offsets.len()
        )));
    }
    let mut parts = Vec::with_capacity(results.len());
    for (s, pair) in results.iter().enumerate() {
        let (d, i): (PyReadonlyArray2<'py, f32>, PyReadonlyArray2<'py, i64>) =
            pair.extract().map_err(|_| {
                invalid(format!(
                    "results[{s}]: expected (D float32 2-d, I int64 2-d)"
                ))
            })?;
        let shape = (d.shape()[0], d.shape()[1]);
        if (i.shape()[0], i.shape()[1]) != shape {
            return Err(invalid(format!(
                "results[{s}]: D is {:?} but I is {:?}",
                d.shape(),
                i.shape()
            )));
        }
        let scores = RowMatrix::from_vec(shape.0, shape.1, d.to_vec()?).py_err()?;
        let indices = RowMatrix::from_vec(shape.0, shape.1, i.to_vec()?).py_err()?;
        parts.push(Matches { indices, scores });
    }
    let refs: Vec<(&Matches, usize)> = parts.iter().zip(offsets).collect();
    let merged = py.detach(|| Matches::merge_shards(&refs, k)).py_err()?;
    padded(py, merged, k)
}
