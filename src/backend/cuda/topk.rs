//! Exact top-k search on the device: cuBLAS score tiles `Q·Bᵀ` (`q_b x W`, never `q x m`)
//! merged into a per-row state that stays on the device, by `kernels/topk.cu`.
//!
//! `k ≤ SMALL_K_MAX` uses the sorted shared-memory merge (`topk_merge_small`); larger `k`
//! the radix-select merge (`topk_merge_large`, no limit on `k`), whose unsorted final state
//! is sorted on the host once.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use rayon::prelude::*;

use super::blas::Blas;
use super::driver_err;
use super::kernels::Kernels;
use crate::backend::topk::rank_cmp;
use crate::backend::{Exclusion, Matches, Op, RowsRef};
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Largest `k` for the shared-memory merge kernel.
pub const SMALL_K_MAX: usize = 1024;
/// Threads per block of the top-k kernels.
const BLOCK: u32 = 256;
/// Candidate buffer of the small-k kernel (≥ 2 · BLOCK).
const SMALL_BUF: usize = 2 * BLOCK as usize;
/// Datastore rows per score tile.
pub const TILE_COLS: usize = 16_384;
/// Upper bound on the bytes of one score tile (`q_b x W` f32).
const TILE_BYTES: usize = 256 << 20;

fn launch_err(kernel: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    driver_err(kernel)
}

/// Device-side per-row state of a search.
struct State {
    k: usize,
    scores: [CudaSlice<f32>; 2],
    indices: [CudaSlice<u32>; 2],
    lens: [CudaSlice<u32>; 2],
    thr_key: CudaSlice<u32>,
    /// Which of the two buffers holds the current state (large-k ping-pong).
    cur: usize,
}

impl State {
    fn new(stream: &Arc<CudaStream>, q: usize, k: usize, large: bool) -> Result<Self> {
        let n2 = if large { q * k } else { 0 };
        let a = |n: usize| {
            stream
                .alloc_zeros::<f32>(n.max(1))
                .map_err(driver_err("alloc top-k state"))
        };
        let b = |n: usize| {
            stream
                .alloc_zeros::<u32>(n.max(1))
                .map_err(driver_err("alloc top-k state"))
        };
        Ok(State {
            k,
            scores: [a(q * k)?, a(n2)?],
            indices: [b(q * k)?, b(n2)?],
            lens: [b(q)?, b(if large { q } else { 0 })?],
            thr_key: b(q)?,
            cur: 0,
        })
    }
}

/// Exclusion CSR on the device (`None`: no exclusions).
struct DeviceExclusions {
    off: CudaSlice<u64>,
    idx: CudaSlice<u32>,
}

fn upload_exclusions(
    stream: &Arc<CudaStream>,
    ex: Option<&Exclusion>,
) -> Result<Option<DeviceExclusions>> {
    let Some(ex) = ex else { return Ok(None) };
    let off: Vec<u64> = ex.offsets().iter().map(|&o| o as u64).collect();
    let idx: Vec<u32> = ex.indices().iter().map(|&i| i as u32).collect();
    let idx = if idx.is_empty() { vec![u32::MAX] } else { idx };
    Ok(Some(DeviceExclusions {
        off: stream
            .clone_htod(&off)
            .map_err(driver_err("copy exclusions"))?,
        idx: stream
            .clone_htod(&idx)
            .map_err(driver_err("copy exclusions"))?,
    }))
}

/// One merge of the score tile `scores` (`rows x w`, leading dimension `w`) into the state
/// rows `row0 .. row0 + rows`.
#[allow(clippy::too_many_arguments)]
fn merge_tile(
    stream: &Arc<CudaStream>,
    kern: &Kernels,
    scores: &CudaSlice<f32>,
    rows: usize,
    w: usize,
    col_offset: usize,
    row0: usize,
    st: &mut State,
    ex: Option<&DeviceExclusions>,
) -> Result<()> {
    let k = st.k;
    let (ld, width, coff, k32, row0_32) =
        (w as u64, w as u32, col_offset as u32, k as u32, row0 as u32);
    let null = 0u64;
    let cfg = |shared: u32| LaunchConfig {
        grid_dim: (rows as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: shared,
    };
    let (a, b) = (row0 * k, (row0 + rows) * k);
    if k <= SMALL_K_MAX {
        let buf = SMALL_BUF as u32;
        let kpad = (k + SMALL_BUF).next_power_of_two() as u32;
        let c = st.cur;
        let mut ss = st.scores[c].slice_mut(a..b);
        let mut si = st.indices[c].slice_mut(a..b);
        let mut sl = st.lens[c].slice_mut(row0..row0 + rows);
        let mut lb = stream.launch_builder(&kern.topk_merge_small);
        lb.arg(scores)
            .arg(&ld)
            .arg(&width)
            .arg(&coff)
            .arg(&mut ss)
            .arg(&mut si)
            .arg(&mut sl);
        lb.arg(&k32).arg(&buf).arg(&kpad);
        match ex {
            Some(e) => lb.arg(&e.off).arg(&e.idx),
            None => lb.arg(&null).arg(&null),
        };
        lb.arg(&row0_32);
        unsafe { lb.launch(cfg(kpad * 8)) }.map_err(launch_err("launch topk_merge_small"))?;
        return Ok(());
    }
    let (i, o) = (st.cur, 1 - st.cur);
    let (s_in, s_out) = split_pair(&mut st.scores, i);
    let (i_in, i_out) = split_pair(&mut st.indices, i);
    let (l_in, l_out) = split_pair(&mut st.lens, i);
    let (vs_in, vi_in, vl_in) = (
        s_in.slice(a..b),
        i_in.slice(a..b),
        l_in.slice(row0..row0 + rows),
    );
    let mut vs_out = s_out.slice_mut(a..b);
    let mut vi_out = i_out.slice_mut(a..b);
    let mut vl_out = l_out.slice_mut(row0..row0 + rows);
    let mut thr = st.thr_key.slice_mut(row0..row0 + rows);
    let mut lb = stream.launch_builder(&kern.topk_merge_large);
    lb.arg(scores)
        .arg(&ld)
        .arg(&width)
        .arg(&coff)
        .arg(&vs_in)
        .arg(&vi_in)
        .arg(&vl_in);
    lb.arg(&mut vs_out)
        .arg(&mut vi_out)
        .arg(&mut vl_out)
        .arg(&mut thr)
        .arg(&k32);
    match ex {
        Some(e) => lb.arg(&e.off).arg(&e.idx),
        None => lb.arg(&null).arg(&null),
    };
    lb.arg(&row0_32);
    unsafe { lb.launch(cfg(0)) }.map_err(launch_err("launch topk_merge_large"))?;
    let _ = o;
    Ok(())
}

/// `(&pair[i], &mut pair[1 - i])`.
fn split_pair<T>(pair: &mut [T; 2], i: usize) -> (&T, &mut T) {
    let (x, y) = pair.split_at_mut(1);
    if i == 0 {
        (&x[0], &mut y[0])
    } else {
        (&y[0], &mut x[0])
    }
}

/// Download the state as [`Matches`] (sorting rows of the large-k path; padding −1 / −inf).
fn download(stream: &Arc<CudaStream>, st: &State, q: usize) -> Result<Matches> {
    let c = st.cur;
    let k = st.k;
    let scores: Vec<f32> = stream
        .clone_dtoh(&st.scores[c])
        .map_err(driver_err("copy top-k to host"))?;
    let idx: Vec<u32> = stream
        .clone_dtoh(&st.indices[c])
        .map_err(driver_err("copy top-k to host"))?;
    let lens: Vec<u32> = stream
        .clone_dtoh(&st.lens[c])
        .map_err(driver_err("copy top-k to host"))?;
    let mut s = vec![f32::NEG_INFINITY; q * k];
    let mut ix = vec![-1i64; q * k];
    s.par_chunks_mut(k.max(1))
        .zip(ix.par_chunks_mut(k.max(1)))
        .enumerate()
        .for_each(|(r, (rs, ri))| {
            let len = lens[r] as usize;
            let mut pairs: Vec<(f32, usize)> = (0..len)
                .map(|j| (scores[r * k + j], idx[r * k + j] as usize))
                .collect();
            pairs.sort_unstable_by(rank_cmp);
            for (j, (v, g)) in pairs.into_iter().enumerate() {
                rs[j] = v;
                ri[j] = g as i64;
            }
        });
    Ok(Matches {
        indices: RowMatrix::from_vec(q, k, ix)?,
        scores: RowMatrix::from_vec(q, k, s)?,
    })
}

/// Where the search's base rows live.
pub(crate) enum Base<'a> {
    /// On the host: uploaded tile by tile.
    Host(RowsRef<'a, f32>),
    /// Resident on the device (`rows x cols`).
    Device(&'a CudaSlice<f32>, usize, usize),
}

impl Base<'_> {
    fn shape(&self) -> (usize, usize) {
        match self {
            Base::Host(r) => (r.rows(), r.cols()),
            Base::Device(_, r, c) => (*r, *c),
        }
    }
}

/// Exact top-`k` of `queries · baseᵀ` per query row, tiled over the base. With
/// `merge = false` only the score tiles are computed (the GEMM-only baseline of the
/// benchmark) and the returned state is empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search(
    stream: &Arc<CudaStream>,
    blas: &Blas,
    kern: &Kernels,
    queries: RowsRef<'_, f32>,
    base: Base<'_>,
    k: usize,
    exclusions: Option<&Exclusion>,
    merge: bool,
) -> Result<Matches> {
    let (m, bd) = base.shape();
    if bd != queries.cols() {
        return Err(Error::shape(
            "search: queries vs base",
            format!("{} columns", queries.cols()),
            format!("{bd} columns"),
        ));
    }
    if let Some(ex) = exclusions {
        ex.check(queries.rows(), m)?;
    }
    let (q, d) = (queries.rows(), queries.cols());
    if k == 0 {
        return Err(Error::invalid("k", "must be at least 1"));
    }
    let kk = k.min(m);
    if q == 0 || m == 0 {
        return Ok(Matches {
            indices: RowMatrix::from_vec(q, kk, vec![-1; q * kk])?,
            scores: RowMatrix::from_vec(q, kk, vec![f32::NEG_INFINITY; q * kk])?,
        });
    }
    if m >= u32::MAX as usize || q >= u32::MAX as usize {
        return Err(Error::invalid(
            "base",
            format!("{m} rows exceed the CUDA search's 32-bit index"),
        ));
    }
    let large = kk > SMALL_K_MAX;
    let w_max = TILE_COLS.min(m);
    let qb_max = (TILE_BYTES / (w_max * 4)).clamp(1, q);
    let dq = stream
        .clone_htod(queries.as_slice())
        .map_err(driver_err("copy queries to device"))?;
    let dex = upload_exclusions(stream, exclusions)?;
    let mut st = State::new(stream, q, kk, large)?;
    let mut scores = stream
        .alloc_zeros::<f32>(qb_max * w_max)
        .map_err(driver_err("alloc score tile"))?;
    for c0 in (0..m).step_by(w_max) {
        let w = w_max.min(m - c0);
        let uploaded;
        let db = match &base {
            Base::Host(b) => {
                uploaded = stream
                    .clone_htod(b.row_range(c0, c0 + w).as_slice())
                    .map_err(driver_err("copy base tile to device"))?;
                uploaded.slice(..)
            }
            Base::Device(s, _, _) => s.slice(c0 * d..(c0 + w) * d),
        };
        for q0 in (0..q).step_by(qb_max) {
            let qb = qb_max.min(q - q0);
            let dqv = dq.slice(q0 * d..(q0 + qb) * d);
            blas.sgemm(
                1.0,
                &dqv,
                (qb, d),
                Op::N,
                &db,
                (w, d),
                Op::T,
                0.0,
                &mut scores,
            )?;
            if merge {
                merge_tile(stream, kern, &scores, qb, w, c0, q0, &mut st, dex.as_ref())?;
            }
        }
        if large && merge {
            st.cur = 1 - st.cur;
        }
    }
    download(stream, &st, q)
}

/// Host copy of the kernels' `recap_key`: a monotone map of non-NaN floats to `u32`
/// (equal floats, `-0.0` and `0.0` included, get equal keys).
#[cfg(test)]
pub(crate) fn ordered_key(v: f32) -> u32 {
    let u = if v == 0.0 { 0 } else { v.to_bits() };
    if u & 0x8000_0000 != 0 {
        !u
    } else {
        u | 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::ordered_key;

    #[test]
    fn ordered_key_is_monotone() {
        let v = [
            f32::NEG_INFINITY,
            -1e30,
            -2.5,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            0.5,
            3.0,
            1e30,
            f32::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(
                ordered_key(w[0]) <= ordered_key(w[1]),
                "{} vs {}",
                w[0],
                w[1]
            );
        }
        assert!(ordered_key(-1.0) < ordered_key(1.0));
        assert_eq!(ordered_key(-0.0), ordered_key(0.0));
        assert!(ordered_key(-1e-45) < ordered_key(0.0) && ordered_key(0.0) < ordered_key(1e-45));
    }
}
