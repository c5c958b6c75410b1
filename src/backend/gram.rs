//! Sufficient statistics of a linear fit, accumulated in `f64` by streaming row chunks.
//!
//! For pairs `(x_i, y_i)` with weights `c_i` (1 for plain pairs; captions per image for
//! pair-grouped data) [`GramStats`] holds
//!
//! - `XᵀX = Σ c_i x_iᵀ x_i` (lower triangle accumulated; only when requested),
//! - `XᵀY = Σ c_i x_iᵀ y_i` (for grouped data `Σ_images x_iᵀ (Σ_{c ∈ i} y_c)`),
//! - the column sums `Σ c_i x_i`, `Σ y_i`, the column sums of squares `Σ c_i x_ij²`,
//!   `Σ y_ij²` (for centering, z-scoring and the residual report) and the pair count `n`.
//!
//! How a chunk is added: with f32 products on a CPU with AVX-512, by
//! [`fused`] (one pass: the shift by fixed column offsets, the moments and
//! the finiteness check ride on the packing of the tile kernel's panels); otherwise (f64
//! products, or no AVX-512) by faer products of a mean-shifted copy of the chunk
//! ([`linalg`]). Both add exactly the statistics above, up to rounding.
//!
//! Memory is `O(d² + chunk·d)` for any `n`. Two statistics over disjoint row sets
//! [`merge`](GramStats::merge) into exactly the statistics of the union (up to f64 rounding
//! of one addition per entry). [`save`](GramStats::save) / [`load`](GramStats::load) use a
//! `.npz` archive with members `xtx, xty, sum_x, sum_y, sq_x, sq_y, n`.

use std::path::Path;
use std::sync::Arc;

use super::cpu::fused::FusedScratch;
use super::cpu::linalg::{self, ChunkScratch};
use super::Backend;
use crate::error::{Error, Result};
use crate::matrix::RowMatrix;

/// Arithmetic of the chunk products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GramPrecision {
    /// f32 products of mean-shifted chunks summed in f64 (fast; relative error ~1e-9–1e-8).
    #[default]
    F32,
    /// f64 products (about half the speed; exact to f64 rounding).
    F64,
}

/// One chunk of rows for [`Backend::gram_chunk`].
#[derive(Clone, Copy, Debug)]
pub enum GramChunk<'a> {
    /// Plain pairs, row `i` of `x` (`rows x dx`) with row `i` of `y` (`rows x dy`): adds
    /// `XᵀX` (lower triangle, when accumulated), `XᵀY`, `Σx`, `Σx²`, `Σy`, `Σy²`; `n += rows`.
    Pairs {
        /// Image rows.
        x: &'a [f32],
        /// Caption rows.
        y: &'a [f32],
        /// Rows in the chunk.
        rows: usize,
    },
    /// Pair-grouped image rows: image `i` has `counts[i]` captions whose embeddings sum to
    /// row `i` of `caption_sums` (`rows x dy`). Adds `Σ cᵢ xᵢxᵢᵀ`, `Σ xᵢ sᵢᵀ`, `Σ c x`,
    /// `Σ c x²`; `n += Σ c` (the captions' own moments come from
    /// [`GramStats::add_caption_moments`]).
    Images {
        /// Image rows.
        x: &'a [f32],
        /// Captions per image.
        counts: &'a [u32],
        /// Caption sums per image.
        caption_sums: &'a [f32],
        /// Rows in the chunk.
        rows: usize,
    },
}

/// Streaming, mergeable Gram statistics of paired rows (see the module docs). Chunks are
/// added on the backend chosen with [`GramStats::on`] (the CPU by default).
#[derive(Clone)]
pub struct GramStats {
    pub(crate) dx: usize,
    pub(crate) dy: usize,
    pub(crate) n: u64,
    pub(crate) with_xtx: bool,
    /// `dx x dx` row-major; lower triangle accumulated, upper mirrored by [`Self::xtx`].
    pub(crate) xtx_lower: Vec<f64>,
    pub(crate) xty: Vec<f64>,
    pub(crate) sum_x: Vec<f64>,
    pub(crate) sum_y: Vec<f64>,
    pub(crate) sq_x: Vec<f64>,
    pub(crate) sq_y: Vec<f64>,
    pub(crate) precision: GramPrecision,
    pub(crate) scratch: ScratchCell,
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for GramStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GramStats")
            .field("dx", &self.dx)
            .field("dy", &self.dy)
            .field("n", &self.n)
            .field("with_xtx", &self.with_xtx)
            .field("precision", &self.precision)
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

/// Per-statistics scratch; not part of the value (clones start empty).
///
/// The fused f32 path keeps one shift per side for all chunks (the column means of the first
/// chunk it sees); any shift gives the same statistics up to rounding.
#[derive(Debug, Default)]
pub(crate) struct ScratchCell {
    pub(crate) chunk: ChunkScratch,
    pub(crate) fused: FusedScratch,
    pub(crate) shift_x: Option<Vec<f32>>,
    pub(crate) shift_y: Option<Vec<f32>>,
}

impl Clone for ScratchCell {
    fn clone(&self) -> Self {
        ScratchCell::default()
    }
}

impl GramStats {
    /// Empty statistics for `dx`-dimensional X and `dy`-dimensional Y. `with_xtx = false`
    /// skips `XᵀX` (Procrustes with `dx ≤ dy` needs only `XᵀY` and the column moments).
    pub fn new(dx: usize, dy: usize, with_xtx: bool) -> Self {
        GramStats {
            dx,
            dy,
            n: 0,
            with_xtx,
            xtx_lower: if with_xtx {
                vec![0.0; dx * dx]
            } else {
                Vec::new()
            },
            xty: vec![0.0; dx * dy],
            sum_x: vec![0.0; dx],
            sum_y: vec![0.0; dy],
            sq_x: vec![0.0; dx],
            sq_y: vec![0.0; dy],
            precision: GramPrecision::F32,
            scratch: ScratchCell::default(),
            backend: super::cpu(),
        }
    }

    /// Add chunks on `backend` from now on (statistics are the same on every backend up to
    /// rounding; see the backend's docs).
    pub fn on(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    /// The backend chunks are added on.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Set the arithmetic of the chunk products (see [`GramPrecision`]).
    pub fn with_precision(mut self, precision: GramPrecision) -> Self {
        self.precision = precision;
        self
    }

    /// The arithmetic of the chunk products.
    pub fn precision(&self) -> GramPrecision {
        self.precision
    }

    /// Dimension of X rows.
    pub fn dx(&self) -> usize {
        self.dx
    }

    /// Dimension of Y rows.
    pub fn dy(&self) -> usize {
        self.dy
    }

    /// Number of (weighted) pairs accumulated.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Whether `XᵀX` is accumulated.
    pub fn has_xtx(&self) -> bool {
        self.with_xtx
    }

    /// Accumulate `rows` plain pairs: row `i` of `x` (`rows x dx`) with row `i` of `y`.
    pub fn accumulate(&mut self, x: &[f32], y: &[f32], rows: usize) -> Result<()> {
        self.check_len("x chunk", x.len(), rows * self.dx)?;
        self.check_len("y chunk", y.len(), rows * self.dy)?;
        if rows == 0 {
            return Ok(());
        }
        let backend = Arc::clone(&self.backend);
        backend.gram_chunk(self, GramChunk::Pairs { x, y, rows })
    }

    /// Accumulate a chunk of image rows for pair-grouped data: image row `i` of `x` has
    /// `counts[i]` captions whose embeddings sum to row `i` of `caption_sums` (`rows x dy`).
    ///
    /// Adds `Σ c_i x_iᵀx_i` to `XᵀX` and `Σ x_iᵀ s_i` to `XᵀY`: the cost scales with the
    /// number of images, not pairs. The caption rows' own moments (`Σ y`, `Σ y²`) come from
    /// [`Self::accumulate_caption_moments`] or [`Self::add_caption_moments`].
    pub fn accumulate_images(
        &mut self,
        x: &[f32],
        counts: &[u32],
        caption_sums: &[f32],
        rows: usize,
    ) -> Result<()> {
        self.check_len("image chunk", x.len(), rows * self.dx)?;
        self.check_len("caption sums", caption_sums.len(), rows * self.dy)?;
        self.check_len("caption counts", counts.len(), rows)?;
        if rows == 0 {
            return Ok(());
        }
        let chunk = GramChunk::Images {
            x,
            counts,
            caption_sums,
            rows,
        };
        let backend = Arc::clone(&self.backend);
        backend.gram_chunk(self, chunk)
    }

    /// Accumulate `Σ y` and `Σ y²` over caption rows (grouped data; see
    /// [`Self::accumulate_images`]).
    pub fn accumulate_caption_moments(&mut self, y: &[f32], rows: usize) -> Result<()> {
        self.check_len("caption chunk", y.len(), rows * self.dy)?;
        self.add_y_moments(y);
        Ok(())
    }

    /// Add caption moments summed elsewhere (`Σ y`, `Σ y²`, `dy` values each; grouped data,
    /// see `align::caption_pass`).
    pub fn add_caption_moments(&mut self, sum: &[f64], sq: &[f64]) -> Result<()> {
        self.check_len("caption column sums", sum.len(), self.dy)?;
        self.check_len("caption column squares", sq.len(), self.dy)?;
        add_into(&mut self.sum_y, sum, 1.0);
        add_into(&mut self.sq_y, sq, 1.0);
        Ok(())
    }

    /// Whether [`Self::accumulate`] rejects non-finite values itself (the fused CPU path
    /// does, as a by-product of its moments: the error names the row within the chunk).
    pub fn checks_finite(&self) -> bool {
        self.backend.gram_checks_finite(self.precision)
    }

    fn check_len(&self, what: &str, got: usize, expected: usize) -> Result<()> {
        if got != expected {
            return Err(Error::shape(
                what,
                format!("{expected} values"),
                format!("{got} values"),
            ));
        }
        Ok(())
    }

    /// Add `Σ c x`, `Σ c x²`; returns the chunk's (weighted) column mean.
    pub(crate) fn add_x_moments(&mut self, x: &[f32], w: Option<&[f32]>) -> Vec<f64> {
        let d = self.dx;
        let m = linalg::par_rows_fold(x, d, 2 * d, |acc, i, row| {
            let c = w.map_or(1.0, |w| w[i] as f64);
            let (s, q) = acc.split_at_mut(d);
            for ((s, q), &v) in s.iter_mut().zip(q).zip(row) {
                let v = v as f64;
                *s += c * v;
                *q += c * v * v;
            }
        });
        add_into(&mut self.sum_x, &m[..d], 1.0);
        add_into(&mut self.sq_x, &m[d..], 1.0);
        let total: f64 = match w {
            Some(w) => w.iter().map(|&c| c as f64).sum(),
            None => (x.len() / d.max(1)) as f64,
        };
        m[..d].iter().map(|s| s / total.max(1.0)).collect()
    }

    /// Add `Σ y`, `Σ y²`; returns the chunk's column mean.
    pub(crate) fn add_y_moments(&mut self, y: &[f32]) -> Vec<f64> {
        let d = self.dy;
        let m = linalg::par_rows_fold(y, d, 2 * d, |acc, _, row| {
            let (s, q) = acc.split_at_mut(d);
            for ((s, q), &v) in s.iter_mut().zip(q).zip(row) {
                let v = v as f64;
                *s += v;
                *q += v * v;
            }
        });
        add_into(&mut self.sum_y, &m[..d], 1.0);
        add_into(&mut self.sq_y, &m[d..], 1.0);
        let rows = (y.len() / d.max(1)).max(1) as f64;
        m[..d].iter().map(|s| s / rows).collect()
    }

    /// Add the statistics of another, disjoint set of rows.
    pub fn merge(&mut self, other: &GramStats) -> Result<()> {
        if (self.dx, self.dy, self.with_xtx) != (other.dx, other.dy, other.with_xtx) {
            return Err(Error::shape(
                "GramStats::merge",
                format!("dx {} dy {} xtx {}", self.dx, self.dy, self.with_xtx),
                format!("dx {} dy {} xtx {}", other.dx, other.dy, other.with_xtx),
            ));
        }
        add_into(&mut self.xtx_lower, &other.xtx_lower, 1.0);
        add_into(&mut self.xty, &other.xty, 1.0);
        add_into(&mut self.sum_x, &other.sum_x, 1.0);
        add_into(&mut self.sum_y, &other.sum_y, 1.0);
        add_into(&mut self.sq_x, &other.sq_x, 1.0);
        add_into(&mut self.sq_y, &other.sq_y, 1.0);
        self.n += other.n;
        Ok(())
    }

    /// `self − other` for `other` a subset of the rows of `self` (k-fold training sets).
    pub fn minus(&self, other: &GramStats) -> Result<GramStats> {
        let mut out = self.clone();
        if other.n > self.n || (self.dx, self.dy) != (other.dx, other.dy) {
            return Err(Error::shape(
                "GramStats::minus",
                format!("a subset of {} rows, dx {} dy {}", self.n, self.dx, self.dy),
                format!("{} rows, dx {} dy {}", other.n, other.dx, other.dy),
            ));
        }
        add_into(&mut out.xtx_lower, &other.xtx_lower, -1.0);
        add_into(&mut out.xty, &other.xty, -1.0);
        add_into(&mut out.sum_x, &other.sum_x, -1.0);
        add_into(&mut out.sum_y, &other.sum_y, -1.0);
        add_into(&mut out.sq_x, &other.sq_x, -1.0);
        add_into(&mut out.sq_y, &other.sq_y, -1.0);
        out.n -= other.n;
        Ok(out)
    }

    /// The full symmetric `XᵀX` (`dx x dx`). Error if it was not accumulated.
    pub fn xtx(&self) -> Result<RowMatrix<f64>> {
        if !self.with_xtx {
            return Err(Error::invalid(
                "XᵀX",
                "these statistics were built without XᵀX",
            ));
        }
        let d = self.dx;
        let mut m = self.xtx_lower.clone();
        for i in 0..d {
            for j in 0..i {
                m[j * d + i] = m[i * d + j];
            }
        }
        RowMatrix::from_vec(d, d, m)
    }

    /// `XᵀY` (`dx x dy`).
    pub fn xty(&self) -> RowMatrix<f64> {
        RowMatrix::from_vec(self.dx, self.dy, self.xty.clone()).expect("shape")
    }

    /// Column sums of X (weighted by pair counts).
    pub fn sum_x(&self) -> &[f64] {
        &self.sum_x
    }

    /// Column sums of Y.
    pub fn sum_y(&self) -> &[f64] {
        &self.sum_y
    }

    /// Column sums of squares of X (the diagonal of `XᵀX`, also without `XᵀX`).
    pub fn sq_x(&self) -> &[f64] {
        &self.sq_x
    }

    /// Column sums of squares of Y (`‖Y‖²_F` is their sum).
    pub fn sq_y(&self) -> &[f64] {
        &self.sq_y
    }

    /// Write the statistics to a `.npz` archive (atomic): `xtx` (`dx x dx`, or `0 x dx` when
    /// not accumulated), `xty` (`dx x dy`), column vectors `sum_x`, `sum_y`, `sq_x`, `sq_y`
    /// and `n` (`1 x 1`), all float64.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        use crate::io::npy::write_npz;
        let xtx = if self.with_xtx {
            self.xtx()?.into_vec()
        } else {
            Vec::new()
        };
        let xtx_rows = if self.with_xtx { self.dx } else { 0 };
        let n = [self.n as f64];
        write_npz(
            path,
            &[
                ("xtx", f64m(xtx_rows, self.dx, &xtx)),
                ("xty", f64m(self.dx, self.dy, &self.xty)),
                ("sum_x", f64m(self.dx, 1, &self.sum_x)),
                ("sum_y", f64m(self.dy, 1, &self.sum_y)),
                ("sq_x", f64m(self.dx, 1, &self.sq_x)),
                ("sq_y", f64m(self.dy, 1, &self.sq_y)),
                ("n", f64m(1, 1, &n)),
            ],
        )
    }

    /// Read statistics written by [`Self::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<GramStats> {
        let path = path.as_ref();
        let get = |name: &str| -> Result<RowMatrix<f64>> {
            let spec = format!("{}:{name}", path.display());
            crate::io::npy::read_f64(spec)
        };
        let xty = get("xty")?;
        let (dx, dy) = xty.shape();
        let xtx = get("xtx")?;
        let with_xtx = xtx.rows() != 0;
        let mut s = GramStats::new(dx, dy, with_xtx);
        s.xty = xty.into_vec();
        s.sum_x = get("sum_x")?.into_vec();
        s.sum_y = get("sum_y")?.into_vec();
        s.sq_x = get("sq_x")?.into_vec();
        s.sq_y = get("sq_y")?.into_vec();
        s.n = get("n")?.as_slice().first().copied().unwrap_or(0.0) as u64;
        if with_xtx {
            s.xtx_lower = xtx.into_vec();
        }
        let ok = s.xtx_lower.len() == if with_xtx { dx * dx } else { 0 }
            && s.sum_x.len() == dx
            && s.sq_x.len() == dx
            && s.sum_y.len() == dy
            && s.sq_y.len() == dy;
        if !ok {
            return Err(Error::npy(
                path,
                "GramStats members disagree with the shape of xty",
            ));
        }
        Ok(s)
    }
}

fn f64m(rows: usize, cols: usize, data: &[f64]) -> crate::io::npy::ArrayRef<'_> {
    crate::io::npy::ArrayRef::F64 { rows, cols, data }
}

pub(crate) fn add_into(a: &mut [f64], b: &[f64], sign: f64) {
    a.iter_mut().zip(b).for_each(|(a, b)| *a += sign * b);
}
