//! Chunked Gram accumulation on the device with double buffering.
//!
//! Two pinned host buffer sets and two device buffer sets: while the device copies (copy
//! stream) and multiplies (compute stream) chunk `i`, the host fills the other pinned set
//! from the [`RowSource`] (e.g. a file reader). cudarc's event tracking orders the streams:
//! a pinned buffer is refilled only after its copy finished, a device buffer is overwritten
//! only after the kernels reading it finished.
//!
//! Per chunk: non-finite check (first bad position kept on the device), f64 column sums
//! (weighted), `√w` row scaling when weighted, f32 SSYRK `XᵀX` and SGEMM `XᵀY`, then f64
//! accumulation of both products. Files larger than GPU memory stream through fixed buffers.

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaSlice, CudaStream, LaunchConfig, PinnedHostSlice, PushKernelArg,
};

use super::blas::Blas;
use super::driver_err;
use super::kernels::Kernels;
use crate::backend::cpu::check_weights;
use crate::backend::{GramStats, Op, RowSource};
use crate::error::{Error, Result};

/// Upper bound on rows per chunk.
pub const GRAM_CHUNK_ROWS: usize = 65_536;
/// Target bytes of one pinned buffer set (X, Y and weights of one chunk).
const CHUNK_BYTES: usize = 64 << 20;

struct HostSet {
    x: PinnedHostSlice<f32>,
    y: PinnedHostSlice<f32>,
    w: PinnedHostSlice<f32>,
}

struct DevSet {
    x: CudaSlice<f32>,
    y: CudaSlice<f32>,
    w: CudaSlice<f32>,
}

struct Accumulators {
    xtx: CudaSlice<f64>,
    xty: CudaSlice<f64>,
    sum_x: CudaSlice<f64>,
    sum_y: CudaSlice<f64>,
    bad_x: CudaSlice<u64>,
    bad_y: CudaSlice<u64>,
    chunk_xtx: CudaSlice<f32>,
    chunk_xty: CudaSlice<f32>,
}

fn grid_1d(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 65_535) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Chunk rows for `dx + dy` columns.
fn chunk_rows(dx: usize, dy: usize) -> usize {
    (CHUNK_BYTES / ((dx + dy + 1) * 4)).clamp(1024, GRAM_CHUNK_ROWS)
}

fn pinned(ctx: &Arc<CudaContext>, n: usize) -> Result<PinnedHostSlice<f32>> {
    // SAFETY: f32 has no invalid bit patterns; every value read was written by the source.
    unsafe { ctx.alloc_pinned::<f32>(n.max(1)) }
        .map_err(driver_err("cuMemHostAlloc (pinned buffer)"))
}

fn zeros<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    n: usize,
) -> Result<CudaSlice<T>> {
    stream
        .alloc_zeros::<T>(n.max(1))
        .map_err(driver_err("cuMemAlloc"))
}

/// Per-chunk kernels and products on the compute stream.
#[allow(clippy::too_many_arguments)]
fn process_chunk(
    stream: &Arc<CudaStream>,
    blas: &Blas,
    k: &Kernels,
    dev: &mut DevSet,
    acc: &mut Accumulators,
    n: usize,
    (dx, dy): (usize, usize),
    start: usize,
    weighted: bool,
) -> Result<()> {
    let null = 0u64;
    let (n32, dx32, dy32) = (n as u32, dx as u32, dy as u32);
    for (data, cols, base, bad) in [
        (&dev.x, dx, start * dx, &mut acc.bad_x),
        (&dev.y, dy, start * dy, &mut acc.bad_y),
    ] {
        let (len, base) = ((n * cols) as u64, base as u64);
        if len == 0 {
            continue;
        }
        let mut lb = stream.launch_builder(&k.first_nonfinite);
        lb.arg(data).arg(&len).arg(&base).arg(bad);
        unsafe { lb.launch(grid_1d(n * cols)) }.map_err(driver_err("launch first_nonfinite"))?;
    }
    let slice = 256u32;
    for (data, cols, cols32, sum) in [
        (&dev.x, dx, dx32, &mut acc.sum_x),
        (&dev.y, dy, dy32, &mut acc.sum_y),
    ] {
        if cols == 0 {
            continue;
        }
        let cfg = LaunchConfig {
            grid_dim: (
                cols.div_ceil(128) as u32,
                n.div_ceil(slice as usize) as u32,
                1,
            ),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut lb = stream.launch_builder(&k.colsum_f64);
        lb.arg(data);
        if weighted {
            lb.arg(&dev.w)
        } else {
            lb.arg(&null)
        };
        lb.arg(&n32).arg(&cols32).arg(&slice).arg(sum);
        unsafe { lb.launch(cfg) }.map_err(driver_err("launch colsum_f64"))?;
    }
    if weighted {
        for (data, cols, cols32) in [(&mut dev.x, dx, dx32), (&mut dev.y, dy, dy32)] {
            if cols == 0 {
                continue;
            }
            let mut lb = stream.launch_builder(&k.scale_rows_sqrt);
            lb.arg(data).arg(&dev.w).arg(&n32).arg(&cols32);
            unsafe { lb.launch(grid_1d(n * cols)) }
                .map_err(driver_err("launch scale_rows_sqrt"))?;
        }
    }
    let xv = dev.x.slice(..n * dx);
    blas.ssyrk_xtx(&xv, n, dx, &mut acc.chunk_xtx)?;
    accumulate(stream, k, &mut acc.xtx, &acc.chunk_xtx, dx * dx)?;
    if dy > 0 {
        let yv = dev.y.slice(..n * dy);
        blas.sgemm(
            1.0,
            &xv,
            (n, dx),
            Op::T,
            &yv,
            (n, dy),
            Op::N,
            0.0,
            &mut acc.chunk_xty,
        )?;
        accumulate(stream, k, &mut acc.xty, &acc.chunk_xty, dx * dy)?;
    }
    Ok(())
}

fn accumulate(
    stream: &Arc<CudaStream>,
    k: &Kernels,
    acc: &mut CudaSlice<f64>,
    src: &CudaSlice<f32>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let n64 = n as u64;
    let mut lb = stream.launch_builder(&k.accumulate_f64);
    lb.arg(acc).arg(src).arg(&n64);
    unsafe { lb.launch(grid_1d(n)) }.map_err(driver_err("launch accumulate_f64"))?;
    Ok(())
}

/// Accumulate every chunk of `source` into `stats` on the device.
pub(crate) fn accumulate_source(
    ctx: &Arc<CudaContext>,
    stream: &Arc<CudaStream>,
    copy_stream: &Arc<CudaStream>,
    blas: &Blas,
    k: &Kernels,
    source: &mut dyn RowSource,
    stats: &mut GramStats,
) -> Result<()> {
    let (dx, dy) = source.dims();
    stats.check_source(dx, dy)?;
    let weighted = source.weighted();
    let cap = chunk_rows(dx, dy);
    let mut host = [0, 1].map(|_| -> Result<HostSet> {
        Ok(HostSet {
            x: pinned(ctx, cap * dx)?,
            y: pinned(ctx, cap * dy)?,
            w: pinned(ctx, cap)?,
        })
    });
    let mut dev = [0, 1].map(|_| -> Result<DevSet> {
        Ok(DevSet {
            x: zeros(stream, cap * dx)?,
            y: zeros(stream, cap * dy)?,
            w: zeros(stream, cap)?,
        })
    });
    let mut acc = Accumulators {
        xtx: zeros(stream, dx * dx)?,
        xty: zeros(stream, dx * dy)?,
        sum_x: zeros(stream, dx)?,
        sum_y: zeros(stream, dy)?,
        bad_x: stream
            .clone_htod(&[u64::MAX])
            .map_err(driver_err("cuMemcpyHtoD"))?,
        bad_y: stream
            .clone_htod(&[u64::MAX])
            .map_err(driver_err("cuMemcpyHtoD"))?,
        chunk_xtx: zeros(stream, dx * dx)?,
        chunk_xty: zeros(stream, dx * dy)?,
    };
    let (mut rows, mut weight_sum) = (0u64, 0f64);
    for i in 0.. {
        let (h, d) = (&mut host[i % 2], &mut dev[i % 2]);
        let (h, d) = (
            h.as_mut().map_err(|e| clone_err(e))?,
            d.as_mut().map_err(|e| clone_err(e))?,
        );
        let start = source.position();
        let n = {
            let hx =
                h.x.as_mut_slice()
                    .map_err(driver_err("pinned buffer sync"))?;
            let hy =
                h.y.as_mut_slice()
                    .map_err(driver_err("pinned buffer sync"))?;
            let hw =
                h.w.as_mut_slice()
                    .map_err(driver_err("pinned buffer sync"))?;
            source.fill(cap, hx, hy, hw)?
        };
        if n == 0 {
            break;
        }
        if weighted {
            let hw = &h.w.as_slice().map_err(driver_err("pinned buffer sync"))?[..n];
            check_weights(hw, start)?;
            weight_sum += hw.iter().map(|&v| v as f64).sum::<f64>();
        } else {
            weight_sum += n as f64;
        }
        rows += n as u64;
        copy_stream
            .memcpy_htod(&h.x, &mut d.x)
            .map_err(driver_err("copy X chunk"))?;
        copy_stream
            .memcpy_htod(&h.y, &mut d.y)
            .map_err(driver_err("copy Y chunk"))?;
        if weighted {
            copy_stream
                .memcpy_htod(&h.w, &mut d.w)
                .map_err(driver_err("copy weights"))?;
        }
        process_chunk(stream, blas, k, d, &mut acc, n, (dx, dy), start, weighted)?;
    }
    finish(stream, &acc, dx, dy, rows, weight_sum, stats)
}

fn clone_err(e: &Error) -> Error {
    Error::Cuda {
        operation: "buffer allocation".into(),
        problem: e.to_string(),
    }
}

/// Download, check the non-finite markers, mirror `XᵀX`, add into `stats`.
fn finish(
    stream: &Arc<CudaStream>,
    acc: &Accumulators,
    dx: usize,
    dy: usize,
    rows: u64,
    weight_sum: f64,
    stats: &mut GramStats,
) -> Result<()> {
    let get = |s: &CudaSlice<f64>| {
        stream
            .clone_dtoh(s)
            .map_err(driver_err("copy statistics to host"))
    };
    let bad_x = stream
        .clone_dtoh(&acc.bad_x)
        .map_err(driver_err("copy flags to host"))?[0];
    let bad_y = stream
        .clone_dtoh(&acc.bad_y)
        .map_err(driver_err("copy flags to host"))?[0];
    for (bad, cols, what) in [(bad_x, dx, "gram: X"), (bad_y, dy, "gram: Y")] {
        if bad != u64::MAX {
            let pos = bad as usize;
            return Err(Error::NonFinite {
                what: what.into(),
                row: pos / cols,
                col: pos % cols,
            });
        }
    }
    let xtx = get(&acc.xtx)?;
    for i in 0..dx {
        for j in 0..dx {
            // The row-major upper triangle (i <= j) holds the values.
            let v = if i <= j {
                xtx[i * dx + j]
            } else {
                xtx[j * dx + i]
            };
            stats.xtx[i * dx + j] += v;
        }
    }
    let add = |dst: &mut [f64], src: Vec<f64>| dst.iter_mut().zip(src).for_each(|(a, b)| *a += b);
    add(&mut stats.xty, get(&acc.xty)?[..dx * dy].to_vec());
    add(&mut stats.sum_x, get(&acc.sum_x)?[..dx].to_vec());
    add(&mut stats.sum_y, get(&acc.sum_y)?[..dy].to_vec());
    stats.rows += rows;
    stats.weight_sum += weight_sum;
    Ok(())
}
