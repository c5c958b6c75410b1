//! `recap_rs._recap_rs`: the Python extension module over the recap crate.
//!
//! Arrays cross the boundary without copies where the crate can work on borrowed rows:
//! C-contiguous float32 arrays (and read-only memmaps) are read in place; float16 input is
//! widened once (a documented copy); results are numpy arrays that own the Rust buffers they
//! were computed in. Every call that computes releases the GIL. Errors are `RecapError`
//! (a `ValueError`) or `OSError` carrying the crate's message.

use pyo3::prelude::*;

mod arrays;
mod errors;
mod fit;
mod index;
mod metrics;
mod stats;

/// The module: classes `GramStats`, `FittedMap`, `Index`; functions `fit`, `merge_topk`, the
/// metric kernels and `_data_pointer` (for the zero-copy tests).
#[pymodule]
fn _recap_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RecapError", m.py().get_type::<errors::RecapError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<stats::PyGramStats>()?;
    m.add_class::<fit::PyFittedMap>()?;
    m.add_class::<index::PyIndex>()?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_files, m)?)?;
    m.add_function(wrap_pyfunction!(index::merge_topk, m)?)?;
    m.add_function(wrap_pyfunction!(arrays::data_pointer, m)?)?;
    metrics::register(m)?;
    Ok(())
}
