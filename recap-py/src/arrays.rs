//! numpy arrays in and out.
//!
//! In: a C-contiguous 2-d float32 array (a `np.load(..., mmap_mode="r")` memmap included) is
//! borrowed read-only and handed to the crate as a slice, no copy; a float16 array is widened
//! to float32 once (the one documented copy); any other dtype, rank or a non-contiguous array
//! is a `RecapError` saying what to pass instead (`np.ascontiguousarray(X, dtype=np.float32)`).
//! Out: a `Vec` computed by the crate becomes the numpy array's own buffer (moved, not copied).

use half::f16;
use numpy::{
    Element, IntoPyArray, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray2,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors::invalid;
use recap::RowMatrix;

/// Rows of a numpy array as the crate sees them: borrowed float32, or float16 widened once.
pub struct Rows<'py> {
    borrowed: Option<PyReadonlyArray2<'py, f32>>,
    widened: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
}

impl Rows<'_> {
    /// The row-major values (`rows · cols`).
    pub fn slice(&self) -> &[f32] {
        match &self.borrowed {
            Some(a) => a.as_slice().expect("checked C-contiguous"),
            None => &self.widened,
        }
    }
}

/// Borrow `obj` as `rows x cols` float32 rows (see the module docs); `what` names the
/// argument in errors.
pub fn rows<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Rows<'py>> {
    let py = obj.py();
    let arr = obj.cast::<PyUntypedArray>().map_err(|_| {
        let ty = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        invalid(format!(
            "{what}: expected a 2-d numpy.ndarray of float32 or float16, got {ty}"
        ))
    })?;
    if arr.ndim() != 2 {
        return Err(invalid(format!(
            "{what}: expected a 2-d array (rows x dim), got {} dimension(s), shape {:?}",
            arr.ndim(),
            arr.shape()
        )));
    }
    let (r, c) = (arr.shape()[0], arr.shape()[1]);
    let dtype = arr.dtype();
    let is_f32 = dtype.is_equiv_to(&numpy::dtype::<f32>(py));
    let is_f16 = dtype.is_equiv_to(&numpy::dtype::<f16>(py));
    if !is_f32 && !is_f16 {
        return Err(invalid(format!(
            "{what}: dtype {} is not float32 or float16; pass X.astype(np.float32) (one copy)",
            dtype.str().map(|s| s.to_string()).unwrap_or_default()
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(invalid(format!(
            "{what}: the {r} x {c} array is not C-contiguous (a transposed or sliced view); \
             pass np.ascontiguousarray({what}) (one copy)"
        )));
    }
    if is_f32 {
        let a: PyReadonlyArray2<'py, f32> = obj.extract()?;
        return Ok(Rows {
            borrowed: Some(a),
            widened: Vec::new(),
            rows: r,
            cols: c,
        });
    }
    let a: PyReadonlyArray2<'py, f16> = obj.extract()?;
    let widened = a
        .as_slice()
        .map_err(|e| invalid(format!("{what}: {e}")))?
        .iter()
        .map(|v| v.to_f32())
        .collect();
    Ok(Rows {
        borrowed: None,
        widened,
        rows: r,
        cols: c,
    })
}

/// A row-major `rows x cols` buffer as a numpy array that owns it.
pub fn array2<'py, T: Element>(
    py: Python<'py>,
    data: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    data.into_pyarray(py).reshape([rows, cols])
}

/// A crate matrix as a numpy array that owns its buffer.
pub fn matrix<'py, T: Element + Clone>(
    py: Python<'py>,
    m: RowMatrix<T>,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let (r, c) = m.shape();
    array2(py, m.into_vec(), r, c)
}

/// The address of the buffer the crate would read for `arr` (for the zero-copy tests: equal
/// to `arr.__array_interface__["data"][0]` for float32 input).
#[pyfunction]
#[pyo3(name = "_data_pointer")]
pub fn data_pointer(arr: &Bound<'_, PyAny>) -> PyResult<usize> {
    Ok(rows(arr, "arr")?.slice().as_ptr() as usize)
}
