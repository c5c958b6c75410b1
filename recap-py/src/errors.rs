//! The crate's errors as Python exceptions: I/O problems are `OSError`, everything else
//! (shapes, dtypes, non-finite values, invalid arguments) is `RecapError`, a `ValueError`,
//! so scikit-learn's input checks and `except ValueError` both see it.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::PyErr;

create_exception!(
    recap_rs,
    RecapError,
    PyValueError,
    "An error reported by the recap crate (bad shape, dtype, non-finite value, argument)."
);

/// Convert a crate error, keeping its message (path, shape, index).
pub fn to_py(e: recap::Error) -> PyErr {
    match e {
        recap::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => RecapError::new_err(other.to_string()),
    }
}

/// A `RecapError` with `message`.
pub fn invalid(message: impl Into<String>) -> PyErr {
    RecapError::new_err(message.into())
}

/// `.map_err(to_py)` as a trait, for `?` on crate results.
pub trait IntoPy<T> {
    /// The result with a Python error.
    fn py_err(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for recap::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
