//! L2 row normalization on the device: f64 norms by `row_norms_f64`, checked on the host
//! (a zero or non-finite norm names the row), then `scale_rows_inv`.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, LaunchConfig, PushKernelArg};

use super::driver_err;
use super::kernels::Kernels;
use crate::error::{Error, Result};
use crate::matrix::check_finite_rows;

/// Normalize the `rows x cols` device matrix `d` in place. `host` (the same data on the
/// host, if the caller has it) is used to name the column of a non-finite value.
#[allow(clippy::too_many_arguments)]
pub(crate) fn normalize_device(
    stream: &Arc<CudaStream>,
    k: &Kernels,
    d: &mut CudaSlice<f32>,
    rows: usize,
    cols: usize,
    what: &str,
    row_offset: usize,
    host: Option<&[f32]>,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let (r32, c32) = (rows as u32, cols as u32);
    let mut norms = stream
        .alloc_zeros::<f64>(rows)
        .map_err(driver_err("cuMemAlloc"))?;
    let cfg = LaunchConfig {
        grid_dim: (r32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut lb = stream.launch_builder(&k.row_norms_f64);
    lb.arg(&*d).arg(&r32).arg(&c32).arg(&mut norms);
    unsafe { lb.launch(cfg) }.map_err(driver_err("launch row_norms_f64"))?;
    let hn = stream
        .clone_dtoh(&norms)
        .map_err(driver_err("copy norms to host"))?;
    if let Some(i) = hn.iter().position(|&v| v == 0.0 || !v.is_finite()) {
        if !hn[i].is_finite() {
            let row = match host {
                Some(h) => h[i * cols..(i + 1) * cols].to_vec(),
                None => stream
                    .clone_dtoh(&d.slice(i * cols..(i + 1) * cols))
                    .map_err(driver_err("copy row to host"))?,
            };
            check_finite_rows(&row, cols, what, row_offset + i)?;
        }
        return Err(Error::ZeroVector {
            what: what.to_string(),
            row: row_offset + i,
        });
    }
    let n = rows * cols;
    let cfg = LaunchConfig {
        grid_dim: (n.div_ceil(256).clamp(1, 65_535) as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut lb = stream.launch_builder(&k.scale_rows_inv);
    lb.arg(d).arg(&norms).arg(&r32).arg(&c32);
    unsafe { lb.launch(cfg) }.map_err(driver_err("launch scale_rows_inv"))?;
    Ok(())
}
