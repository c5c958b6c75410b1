//! One chunk of Gram statistics in a single fused pass (the fast f32 path on AVX-512 CPUs).
//!
//! For a chunk of rows `x_r` (weights `w_r`, 1 for plain pairs) and `y_r`, with fixed
//! shifts `c` (X columns) and `t` (Y columns) chosen once per statistics:
//!
//! - `x̃ = fl(x − c)`, `ỹ = fl(y − t)` are formed while packing the tile panels (no shifted copy
//!   of the chunk, no separate passes): the column moments `Σ x̃`, `Σ w x̃`, `Σ w x̃²`, `Σ ỹ`,
//!   `Σ ỹ²` are summed in f64 in the same loops, and double as the finiteness check (a NaN or
//!   ±Inf anywhere makes a moment non-finite);
//! - `C_xy = Σ x̃ ỹᵀ` and the lower tiles of `C_xx = Σ w x̃ x̃ᵀ` run in f32 on the
//!   [`tile`] micro-kernel, block of [`KC`] rows by block of rows so that
//!   the panels stay in L2;
//! - at the end of the chunk the f32 products are added into the f64 accumulators with the
//!   shift restored exactly: `Σ w x xᵀ = C_xx + c s_wᵀ + s_w cᵀ + (Σw) c cᵀ` and
//!   `Σ x yᵀ = C_xy + c s_yᵀ + s_x tᵀ + R c tᵀ` (`s_w = Σ w x̃`, `s_x = Σ x̃`, `s_y = Σ ỹ`,
//!   `R` rows).
//!
//! Work is split over rayon tasks that each own whole column panels of `C`, and every sum is
//! formed in a fixed order, so the result does not depend on the thread count.

use rayon::prelude::*;

use crate::backend::cpu::tile::{self, MR, NR};
use crate::error::{Error, Result};

/// Rows per block: the A panels (`KC x dx`) and one B panel stay in L2 / L1.
pub const KC: usize = 256;

/// One chunk's inputs. `x` is `rows x dx`, `y` is `rows x dy` (row-major), `w` the optional
/// row weights of the X side (`XᵀWX`; `XᵀY` is unweighted), `shift_x`/`shift_y` the shifts.
#[derive(Clone, Copy, Debug)]
pub struct ChunkInput<'a> {
    /// X rows.
    pub x: &'a [f32],
    /// Y rows (or caption sums for grouped data).
    pub y: &'a [f32],
    /// Weights of the X rows in `XᵀWX`.
    pub w: Option<&'a [f32]>,
    /// Rows in the chunk.
    pub rows: usize,
    /// Columns of X.
    pub dx: usize,
    /// Columns of Y.
    pub dy: usize,
    /// Shift of the X columns.
    pub shift_x: &'a [f32],
    /// Shift of the Y columns.
    pub shift_y: &'a [f32],
}

/// Column moments of the shifted values of one chunk (f64).
#[derive(Clone, Debug, Default)]
pub struct ChunkMoments {
    /// `Σ x̃` per X column.
    pub sx: Vec<f64>,
    /// `Σ w x̃` per X column.
    pub swx: Vec<f64>,
    /// `Σ w x̃²` per X column.
    pub qwx: Vec<f64>,
    /// `Σ ỹ` per Y column.
    pub sy: Vec<f64>,
    /// `Σ ỹ²` per Y column.
    pub qy: Vec<f64>,
    /// `Σ w`.
    pub weight: f64,
}

impl ChunkMoments {
    fn zeros(dx: usize, dy: usize) -> Self {
        ChunkMoments {
            sx: vec![0.0; dx],
            swx: vec![0.0; dx],
            qwx: vec![0.0; dx],
            sy: vec![0.0; dy],
            qy: vec![0.0; dy],
            weight: 0.0,
        }
    }

    fn all_finite(&self) -> bool {
        [&self.sx, &self.swx, &self.qwx, &self.sy, &self.qy]
            .iter()
            .all(|v| v.iter().all(|s| s.is_finite()))
    }
}

/// Reusable buffers: the packed A panels and the f32 product tiles.
#[derive(Debug, Default)]
pub struct FusedScratch {
    apack: Vec<f32>,
    cxx: Vec<f32>,
    cxy: Vec<f32>,
}

/// Tile grid of one chunk: panels and padded leading dimensions.
#[derive(Clone, Copy)]
struct Grid {
    ni: usize,
    njx: usize,
    njy: usize,
}

impl Grid {
    fn new(dx: usize, dy: usize) -> Self {
        Grid {
            ni: dx.div_ceil(MR),
            njx: dx.div_ceil(NR),
            njy: dy.div_ceil(NR),
        }
    }
    fn ld_xx(&self) -> usize {
        self.njx * NR
    }
    fn ld_xy(&self) -> usize {
        self.njy * NR
    }
}

/// A raw tile pointer that rayon tasks may carry (each task writes disjoint column panels).
#[derive(Clone, Copy)]
struct TilePtr(*mut f32);
// SAFETY: tasks write disjoint column panels of the buffer behind the pointer, which outlives
// the parallel region.
unsafe impl Send for TilePtr {}
// SAFETY: as above.
unsafe impl Sync for TilePtr {}

impl TilePtr {
    /// The tile at `offset` values into the buffer (a method, so closures capture the
    /// whole `Send` wrapper rather than its raw field).
    ///
    /// # Safety
    /// `offset` must lie inside the buffer.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.add(offset) }
    }
}

/// Add the statistics of one chunk: `xty += Σ x yᵀ`, `xtx_lower += Σ w x xᵀ` (lower triangle,
/// when given), and return the chunk's moments of the shifted values.
///
/// The accumulators are left untouched when the chunk holds a non-finite value: the error
/// names the first such value (row within the chunk, `"x chunk"` or `"y chunk"`).
///
/// # Panics
/// If [`tile::available`] is false or the slices disagree with `rows`, `dx`, `dy`.
pub fn accumulate(
    xtx_lower: Option<&mut [f64]>,
    xty: &mut [f64],
    input: ChunkInput<'_>,
    scratch: &mut FusedScratch,
) -> Result<ChunkMoments> {
    let ChunkInput { rows, dx, dy, .. } = input;
    assert!(tile::available());
    assert!(input.x.len() == rows * dx && input.y.len() == rows * dy);
    assert!(input.w.is_none_or(|w| w.len() == rows));
    assert!(input.shift_x.len() == dx && input.shift_y.len() == dy);
    let grid = Grid::new(dx, dy);
    let with_xtx = xtx_lower.is_some();
    // The first row block stores its tiles over these (every tile read later is written).
    scratch.cxy.resize(grid.ni * MR * grid.ld_xy(), 0.0);
    if with_xtx {
        scratch.cxx.resize(grid.ni * MR * grid.ld_xx(), 0.0);
    }
    scratch.apack.resize(grid.ni * KC * MR, 0.0);
    let mut m = ChunkMoments::zeros(dx, dy);
    for k0 in (0..rows).step_by(KC) {
        let kb = KC.min(rows - k0);
        pack_a_panels(&input, k0, kb, &mut scratch.apack, &mut m);
        run_b_tasks(&input, grid, with_xtx, k0, kb, scratch, &mut m);
    }
    m.weight = input
        .w
        .map_or(rows as f64, |w| w.iter().map(|&v| v as f64).sum());
    if !m.all_finite() {
        return Err(non_finite(&input));
    }
    if let Some(acc) = xtx_lower {
        flush_xx(acc, &scratch.cxx, grid.ld_xx(), &input, &m);
    }
    flush_xy(xty, &scratch.cxy, grid.ld_xy(), &input, &m);
    Ok(m)
}

/// Name the first non-finite input value, or report an f32 overflow of the products.
fn non_finite(input: &ChunkInput<'_>) -> Error {
    use crate::matrix::check_finite_rows;
    if let Err(e) = check_finite_rows(input.x, input.dx, "x chunk", 0) {
        return e;
    }
    if let Err(e) = check_finite_rows(input.y, input.dy, "y chunk", 0) {
        return e;
    }
    Error::numerical(
        "Gram statistics (f32 products)",
        "squares of the centered values overflow f32 (|x − mean| > 1.8e19); rescale the \
         data or use --gram-precision f64",
    )
}

/// Pack the A panels (`[k][MR]`, `x̃`, zero past `dx`) of rows `k0..k0+kb` and add the X
/// moments. One task per panel.
fn pack_a_panels(
    input: &ChunkInput<'_>,
    k0: usize,
    kb: usize,
    apack: &mut [f32],
    m: &mut ChunkMoments,
) {
    let dx = input.dx;
    let w = input.w.map(|w| &w[k0..k0 + kb]);
    let parts: Vec<[f64; 3 * MR]> = apack
        .par_chunks_mut(KC * MR)
        .enumerate()
        .map(|(p, panel)| {
            let c0 = p * MR;
            let width = MR.min(dx - c0);
            let src = &input.x[k0 * dx + c0..];
            tile::pack_a(kb, src, dx, width, &input.shift_x[c0..], w, panel)
        })
        .collect();
    for (p, mom) in parts.iter().enumerate() {
        for r in 0..MR.min(dx - p * MR) {
            m.sx[p * MR + r] += mom[r];
            m.swx[p * MR + r] += mom[MR + r];
            m.qwx[p * MR + r] += mom[2 * MR + r];
        }
    }
}

/// Which product a B task feeds.
#[derive(Clone, Copy)]
enum BTask {
    /// Column panel `j` of `C_xy` (B = ỹ).
    Cross(usize),
    /// Column panel `j` of the lower tiles of `C_xx` (B = w x̃).
    Gram(usize),
}

/// Pack every B panel of rows `k0..k0+kb` (one task each, packed into the task's own buffer)
/// and run the task's tiles against all A panels (for `C_xx`, the tiles on or below the
/// diagonal). Adds the Y moments.
fn run_b_tasks(
    input: &ChunkInput<'_>,
    grid: Grid,
    with_xtx: bool,
    k0: usize,
    kb: usize,
    scratch: &mut FusedScratch,
    m: &mut ChunkMoments,
) {
    let mut tasks: Vec<BTask> = (0..grid.njy).map(BTask::Cross).collect();
    if with_xtx {
        // Gram panels near the left edge have the most tiles; rayon's work stealing balances.
        tasks.extend((0..grid.njx).map(BTask::Gram));
    }
    let apack = &scratch.apack;
    let (cxy, cxx) = (
        TilePtr(scratch.cxy.as_mut_ptr()),
        TilePtr(scratch.cxx.as_mut_ptr()),
    );
    let parts: Vec<Option<[f64; 2 * NR]>> = tasks
        .par_iter()
        .map(|&task| {
            let mut bpack = [0f32; KC * NR];
            let (j, first, c, ld, mom) = match task {
                BTask::Cross(j) => {
                    let mom = pack_b_y(input, k0, kb, j, &mut bpack);
                    (j, 0, cxy, grid.ld_xy(), Some(mom))
                }
                BTask::Gram(j) => {
                    pack_b_x(input, k0, kb, j, &mut bpack);
                    // Tiles holding an entry on or below the diagonal: MR·i + MR − 1 >= NR·j.
                    let first = (NR * j).saturating_sub(MR - 1).div_ceil(MR);
                    (j, first, cxx, grid.ld_xx(), None)
                }
            };
            for i in first..grid.ni {
                // SAFETY: tile (i, j) lies inside its C buffer (ni·MR rows of ld), column
                // panel j of that buffer belongs to this task only; AVX-512 was asserted.
                unsafe {
                    tile::kernel_acc_raw(
                        kb,
                        apack.as_ptr().add(i * KC * MR),
                        bpack.as_ptr(),
                        c.at(i * MR * ld + j * NR),
                        ld,
                        k0 > 0,
                    )
                }
            }
            mom
        })
        .collect();
    for (task, mom) in tasks.iter().zip(&parts) {
        if let (BTask::Cross(j), Some(mom)) = (task, mom) {
            for r in 0..NR.min(input.dy - j * NR) {
                m.sy[j * NR + r] += mom[r];
                m.qy[j * NR + r] += mom[NR + r];
            }
        }
    }
}

/// B panel `j` of `ỹ` (`[k][NR]`, zero past `dy`); returns `Σ ỹ`, `Σ ỹ²` of its columns.
fn pack_b_y(
    input: &ChunkInput<'_>,
    k0: usize,
    kb: usize,
    j: usize,
    out: &mut [f32],
) -> [f64; 2 * NR] {
    let (dy, c0) = (input.dy, j * NR);
    let src = &input.y[k0 * dy + c0..];
    tile::pack_b(
        kb,
        src,
        dy,
        NR.min(dy - c0),
        &input.shift_y[c0..],
        None,
        out,
    )
}

/// B panel `j` of `w x̃` (`[k][NR]`, zero past `dx`).
fn pack_b_x(input: &ChunkInput<'_>, k0: usize, kb: usize, j: usize, out: &mut [f32]) {
    let (dx, c0) = (input.dx, j * NR);
    let src = &input.x[k0 * dx + c0..];
    let w = input.w.map(|w| &w[k0..k0 + kb]);
    tile::pack_b(kb, src, dx, NR.min(dx - c0), &input.shift_x[c0..], w, out);
}

/// `acc_lower += C_xx + c s_wᵀ + s_w cᵀ + (Σw) c cᵀ` (entries `j <= i`).
fn flush_xx(acc: &mut [f64], cxx: &[f32], ld: usize, input: &ChunkInput<'_>, m: &ChunkMoments) {
    let d = input.dx;
    let c: Vec<f64> = input.shift_x.iter().map(|&v| v as f64).collect();
    acc.par_chunks_mut(d).enumerate().for_each(|(i, acc_row)| {
        let row = &cxx[i * ld..i * ld + i + 1];
        for (j, (a, &p)) in acc_row[..=i].iter_mut().zip(row).enumerate() {
            *a += p as f64 + c[i] * m.swx[j] + m.swx[i] * c[j] + m.weight * c[i] * c[j];
        }
    });
}

/// `acc += C_xy + c s_yᵀ + s_x tᵀ + R c tᵀ`.
fn flush_xy(acc: &mut [f64], cxy: &[f32], ld: usize, input: &ChunkInput<'_>, m: &ChunkMoments) {
    let (dy, r) = (input.dy, input.rows as f64);
    let c: Vec<f64> = input.shift_x.iter().map(|&v| v as f64).collect();
    let t: Vec<f64> = input.shift_y.iter().map(|&v| v as f64).collect();
    acc.par_chunks_mut(dy).enumerate().for_each(|(i, acc_row)| {
        let row = &cxy[i * ld..i * ld + dy];
        for (j, (a, &p)) in acc_row.iter_mut().zip(row).enumerate() {
            *a += p as f64 + c[i] * m.sy[j] + m.sx[i] * t[j] + r * c[i] * t[j];
        }
    });
}

/// Column means of a chunk rounded to f32: the shift the statistics keep for all chunks.
pub fn column_means(x: &[f32], d: usize) -> Vec<f32> {
    let rows = x.len().checked_div(d).unwrap_or(0).max(1) as f64;
    let sums = crate::backend::cpu::linalg::par_rows_fold(x, d, d, |acc, _, row| {
        acc.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64)
    });
    sums.iter()
        .map(|s| {
            let m = (s / rows) as f32;
            if m.is_finite() {
                m
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64, offset: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 + offset
            })
            .collect()
    }

    /// Weighted `Σ w x xᵀ` (lower) and `Σ x yᵀ` in f64 against the fused chunk, at sizes that
    /// leave partial panels on every side and several row blocks.
    #[test]
    fn fused_chunk_matches_f64_reference() {
        if !tile::available() {
            crate::testing::skip(
                "fused Gram chunk tests: no AVX-512 on this CPU (the fused path is not used here)",
            );
            return;
        }
        let (rows, dx, dy) = (KC * 2 + 37, 45, 70);
        let (x, y) = (data(rows * dx, 1, 0.7), data(rows * dy, 2, -0.4));
        let w: Vec<f32> = (0..rows).map(|r| (r % 4 + 1) as f32).collect();
        let (sx, sy) = (column_means(&x, dx), column_means(&y, dy));
        let mut xtx = vec![0f64; dx * dx];
        let mut xty = vec![0f64; dx * dy];
        let input = ChunkInput {
            x: &x,
            y: &y,
            w: Some(&w),
            rows,
            dx,
            dy,
            shift_x: &sx,
            shift_y: &sy,
        };
        // A scratch left dirty by an earlier chunk: its tiles must be overwritten, not added to.
        let mut scratch = FusedScratch::default();
        let (mut t1, mut t2) = (vec![0f64; dx * dx], vec![0f64; dx * dy]);
        accumulate(Some(&mut t1), &mut t2, input, &mut scratch).unwrap();
        let m = accumulate(Some(&mut xtx), &mut xty, input, &mut scratch).unwrap();
        assert_eq!(m.weight, w.iter().map(|&v| v as f64).sum::<f64>());
        let mut worst = 0f64;
        for i in 0..dx {
            for j in 0..dx {
                let exact: f64 = (0..rows)
                    .map(|r| w[r] as f64 * x[r * dx + i] as f64 * x[r * dx + j] as f64)
                    .sum();
                if j <= i {
                    worst = worst.max((xtx[i * dx + j] - exact).abs() / exact.abs().max(1.0));
                } else {
                    assert_eq!(xtx[i * dx + j], 0.0, "upper triangle untouched");
                }
            }
            for j in 0..dy {
                let exact: f64 = (0..rows)
                    .map(|r| x[r * dx + i] as f64 * y[r * dy + j] as f64)
                    .sum();
                worst = worst.max((xty[i * dy + j] - exact).abs() / exact.abs().max(1.0));
            }
        }
        assert!(worst < 1e-6, "relative error {worst:e}");
    }

    #[test]
    fn non_finite_value_is_named_and_nothing_is_added() {
        if !tile::available() {
            crate::testing::skip(
                "fused Gram chunk tests: no AVX-512 on this CPU (the fused path is not used here)",
            );
            return;
        }
        let (rows, d) = (40, 20);
        let (x, mut y) = (data(rows * d, 3, 0.0), data(rows * d, 4, 0.0));
        y[17 * d + 5] = f32::NAN;
        let shift = vec![0f32; d];
        let mut xty = vec![0f64; d * d];
        let input = ChunkInput {
            x: &x,
            y: &y,
            w: None,
            rows,
            dx: d,
            dy: d,
            shift_x: &shift,
            shift_y: &shift,
        };
        let err = accumulate(None, &mut xty, input, &mut FusedScratch::default()).unwrap_err();
        assert!(
            matches!(&err, Error::NonFinite { what, row: 17, col: 5 } if what == "y chunk"),
            "{err}"
        );
        assert!(xty.iter().all(|&v| v == 0.0));
    }
}
