//! `.npy` / `.npz` arrays. (Work in progress: the reader lands with issue 2.)

use std::path::Path;

use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Read a 1-D or 2-D `.npy` array (or `file.npz:member`) into a row-major f32 matrix.
pub fn read_f32(path: impl AsRef<Path>) -> Result<RowMatrix<f32>> {
    Err(Error::npy(path.as_ref(), "reader not implemented yet"))
}
