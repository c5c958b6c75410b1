//! One chunk of [`GramStats`] on the device.
//!
//! The host does the `O(rows·d)` part exactly as the CPU's portable path does it (column
//! moments in f64, the chunk's column means as the shift, the shifted copy `x̃ = fl(x − c)`,
//! scaled by `√w` for pair-grouped image rows); the device does the `O(rows·d²)` part: f32
//! SSYRK `X̃ᵀWX̃` and SGEMM `X̃ᵀỸ` with cuBLAS. The f32 products come back to the host and
//! are added into the f64 accumulators with the shift restored exactly
//! ([`linalg::correct_lower`], [`linalg::correct_cross`]), so the statistics are those of
//! the CPU up to the f32 rounding of the products (relative ~1e-7 for the shifted data).
//!
//! f64 products ([`GramPrecision::F64`]) run on the CPU backend: cuBLAS DGEMM would not
//! change the result, only where it is computed.

use std::sync::Arc;

use cudarc::driver::CudaStream;

use super::blas::Blas;
use super::driver_err;
use crate::backend::cpu::linalg::{self, Shifted};
use crate::backend::{GramChunk, GramPrecision, GramStats, Op};
use crate::error::Result;

/// Rows per chunk a fit streams to the device (~200 MB of f32 at d = 768).
pub const GRAM_CHUNK_ROWS: usize = 65_536;

/// Whether a chunk of statistics of this precision runs on the device.
pub(crate) fn on_device(precision: GramPrecision) -> bool {
    precision == GramPrecision::F32
}

/// `X̃ᵀWX̃` (lower triangle, as `P(i, j)` for `j ≤ i`) of a shifted chunk on the device.
fn lower_product(
    stream: &Arc<CudaStream>,
    blas: &Blas,
    sh: &Shifted<f32>,
    rows: usize,
    d: usize,
) -> Result<Vec<f32>> {
    let dx = stream
        .clone_htod(&sh.data)
        .map_err(driver_err("copy chunk to device"))?;
    let mut c = stream
        .alloc_zeros::<f32>((d * d).max(1))
        .map_err(driver_err("cuMemAlloc"))?;
    blas.ssyrk_xtx(&dx, rows, d, &mut c)?;
    stream
        .clone_dtoh(&c)
        .map_err(driver_err("copy product to host"))
}

/// `X̃ᵀỸ` (`dx x dy`, row-major) of shifted chunks on the device.
fn cross_product(
    stream: &Arc<CudaStream>,
    blas: &Blas,
    sx: &Shifted<f32>,
    sy: &Shifted<f32>,
    rows: usize,
) -> Result<Vec<f32>> {
    let (dx, dy) = (sx.shift.len(), sy.shift.len());
    let a = stream
        .clone_htod(&sx.data)
        .map_err(driver_err("copy chunk to device"))?;
    let b = stream
        .clone_htod(&sy.data)
        .map_err(driver_err("copy chunk to device"))?;
    let mut c = stream
        .alloc_zeros::<f32>((dx * dy).max(1))
        .map_err(driver_err("cuMemAlloc"))?;
    if dx > 0 && dy > 0 {
        blas.sgemm(
            1.0,
            &a,
            (rows, dx),
            Op::T,
            &b,
            (rows, dy),
            Op::N,
            0.0,
            &mut c,
        )?;
    }
    stream
        .clone_dtoh(&c)
        .map_err(driver_err("copy product to host"))
}

/// [`Backend::gram_chunk`](crate::backend::Backend::gram_chunk) on the device (f32
/// products); the caller has checked the chunk for non-finite values.
pub(crate) fn gram_chunk(
    stream: &Arc<CudaStream>,
    blas: &Blas,
    st: &mut GramStats,
    chunk: GramChunk<'_>,
) -> Result<()> {
    let (dx, dy) = (st.dx, st.dy);
    let (x, y, rows, w, pairs) = match chunk {
        GramChunk::Pairs { x, y, rows } => (x, y, rows, None, rows as u64),
        GramChunk::Images {
            x,
            counts,
            caption_sums,
            rows,
        } => {
            let w: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
            let pairs = counts.iter().map(|&c| c as u64).sum();
            (x, caption_sums, rows, Some(w), pairs)
        }
    };
    let mean_x = st.add_x_moments(x, w.as_deref());
    // Plain pairs add the caption moments here; grouped ones get them from the caption pass.
    let mean_y = match chunk {
        GramChunk::Pairs { .. } => Some(st.add_y_moments(y)),
        GramChunk::Images { .. } => None,
    };
    if st.with_xtx {
        let sh = linalg::shifted::<f32>(x, w.as_deref(), Some(mean_x.clone()), rows, dx);
        let p = lower_product(stream, blas, &sh, rows, dx)?;
        // cuBLAS fills the row-major upper triangle: P(i, j) for j ≤ i is at [j][i].
        linalg::correct_lower(&mut st.xtx_lower, &sh, |i, j| p[j * dx + i] as f64);
    }
    let sx = linalg::shifted::<f32>(x, None, Some(mean_x), rows, dx);
    let sy = linalg::shifted::<f32>(y, None, mean_y, rows, dy);
    let p = cross_product(stream, blas, &sx, &sy, rows)?;
    linalg::correct_cross(&mut st.xty, &sx, &sy, rows as f64, |i, j| {
        p[i * dy + j] as f64
    });
    st.n += pairs;
    Ok(())
}
