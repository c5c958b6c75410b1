//! Summary statistics of an embedding file, computed by streaming (any file size).

use std::path::Path;

use super::header::NpyHeader;
use super::stream::RowChunkReader;
use crate::error::Result;
use crate::matrix::norm_f64;

/// What `recap inspect` reports about an array.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayStats {
    /// The file's header (shape, dtype, byte and memory order).
    pub header: NpyHeader,
    /// Smallest Euclidean row norm over rows whose values are all finite (`None` if none).
    pub row_norm_min: Option<f64>,
    /// Mean row norm over finite rows.
    pub row_norm_mean: Option<f64>,
    /// Largest row norm over finite rows.
    pub row_norm_max: Option<f64>,
    /// Rows whose values are all finite (the rows the norm statistics cover).
    pub finite_rows: usize,
    /// Count of NaN/±Inf values in the whole array.
    pub non_finite: usize,
    /// Rows containing at least one NaN/±Inf (excluded from the norm statistics).
    pub non_finite_rows: usize,
    /// Index of the first row with a NaN/±Inf, if any.
    pub first_non_finite_row: Option<usize>,
}

/// Stream `path` (`.npy` or `file.npz:member`) `rows_per_chunk` rows at a time and compute
/// row-norm statistics (in f64: `‖x_i‖ = sqrt(Σ_j x_ij²)`) and non-finite counts. Rows holding
/// any NaN/±Inf are counted in `non_finite*` and **excluded** from the norm statistics.
/// `progress(rows_done)` is called after each chunk.
pub fn array_stats(
    path: impl AsRef<Path>,
    rows_per_chunk: usize,
    mut progress: impl FnMut(usize),
) -> Result<ArrayStats> {
    let mut reader = RowChunkReader::open(path, rows_per_chunk)?;
    let header = reader.header().clone();
    let cols = reader.cols();
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    let (mut finite_rows, mut non_finite, mut bad_rows) = (0usize, 0usize, 0usize);
    let mut first_bad = None;
    while let Some(chunk) = reader.next_chunk()? {
        for (i, row) in chunk.data.chunks_exact(cols.max(1)).enumerate() {
            let bad = row.iter().filter(|v| !v.is_finite()).count();
            if bad > 0 {
                non_finite += bad;
                bad_rows += 1;
                first_bad.get_or_insert(chunk.start_row + i);
                continue;
            }
            let n = norm_f64(row);
            min = min.min(n);
            max = max.max(n);
            sum += n;
            finite_rows += 1;
        }
        progress(chunk.start_row + chunk.rows);
    }
    let some = |v: f64| (finite_rows > 0).then_some(v);
    Ok(ArrayStats {
        header,
        row_norm_min: some(min),
        row_norm_mean: some(sum / finite_rows.max(1) as f64),
        row_norm_max: some(max),
        finite_rows,
        non_finite,
        non_finite_rows: bad_rows,
        first_non_finite_row: first_bad,
    })
}
