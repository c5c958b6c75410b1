//! Caption sums of a pair-grouped fit: `S_i = Σ_{c ∈ i} y_c` per image and the caption
//! moments, from the caption rows.
//!
//! For every caption row `y_c` (unit-normalized first when the fit asks for L2 rows, with
//! exactly the rounding of [`crate::matrix::l2_normalize_rows`]):
//!
//! - `S_i += y_c` for `i = image_of(c)`, in f32, in caption-row order (so `S` does not depend
//!   on the thread count or on which of the two ways below made it);
//! - `Σ y += y_c`, `Σ y² += y_c²` per column in f64, per fold of the image.
//!
//! Two ways, one result:
//!
//! - [`gather_sums`]: when all caption rows can be addressed (a mapped file, a matrix in
//!   memory) and come in image order, the sums of a chunk of images are gathered right before
//!   that chunk's products, one task per block of images: no pass of its own and no
//!   `n_images x dy` buffer.
//! - [`CaptionPass`]: for sources that can only stream or captions out of image order, one
//!   pass over the caption rows first, read in place, tasks owning blocks of [`BLOCK`] columns
//!   of the full `S`.
//!
//! Non-finite values are caught by the f64 moments (or the row norm, under L2) and named by
//! absolute caption row.

use rayon::prelude::*;

use std::ops::Range;

use crate::error::{Error, Result};
use crate::io::Grouping;
use crate::matrix::{check_finite_rows, norm_f64};

/// `(Σ y, Σ y²)` of the caption rows of one fold, `dy` values each.
pub type FoldMoments = (Vec<f64>, Vec<f64>);

/// Columns per task.
pub const BLOCK: usize = 64;

/// Running state of the pass: the caption sums of every image and, per fold, `Σ y`, `Σ y²`.
pub struct CaptionPass<'g> {
    grouping: &'g Grouping,
    dy: usize,
    /// `n_images x dy`, row-major.
    sums: Vec<f32>,
    /// Fold of every image.
    fold_of_image: Vec<u32>,
    /// Per fold `f`: `moments[f][0..dy]` = Σ y, `moments[f][dy..2dy]` = Σ y².
    moments: Vec<Vec<f64>>,
}

/// The per-image sums raw pointer that column-block tasks share (each writes its own columns).
#[derive(Clone, Copy)]
struct SumsPtr(*mut f32);
// SAFETY: tasks write disjoint column blocks of the buffer, which outlives the parallel region.
unsafe impl Send for SumsPtr {}
// SAFETY: as above.
unsafe impl Sync for SumsPtr {}

impl SumsPtr {
    /// `len` values at `offset` as a slice.
    ///
    /// # Safety
    /// The range must lie inside the buffer and no other live reference may overlap it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, offset: usize, len: usize) -> &mut [f32] {
        // SAFETY: forwarded from the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// One chunk as the column tasks see it.
struct Chunk<'a> {
    rows: &'a [f32],
    dy: usize,
    images: &'a [usize],
    /// Per-row multiplier (`1` unless rows are L2-normalized).
    scales: &'a [f32],
    folds: &'a [u32],
    n_folds: usize,
}

impl<'g> CaptionPass<'g> {
    /// An empty pass over the caption rows of `grouping`, `dy` columns, images split into
    /// `fold_of_image` folds (`fold_of_image.len() == n_images`).
    pub fn new(grouping: &'g Grouping, dy: usize, fold_of_image: Vec<u32>, folds: usize) -> Self {
        CaptionPass {
            grouping,
            dy,
            sums: huge_zeros(grouping.n_images() * dy),
            fold_of_image,
            moments: vec![vec![0.0; 2 * dy]; folds.max(1)],
        }
    }

    /// Add caption rows `start..start + rows.len()/dy`. `l2`: unit-normalize each row first.
    /// `name` names the caption file in errors (absolute row, column).
    pub fn add(&mut self, rows: &[f32], start: usize, l2: bool, name: &str) -> Result<()> {
        let dy = self.dy.max(1);
        let r = rows.len() / dy;
        let Some(images) = self.grouping.image_of_caption().get(start..start + r) else {
            return Err(Error::shape(
                "caption rows",
                format!("at most {} rows", self.grouping.n_captions()),
                format!("rows {start}..{}", start + r),
            ));
        };
        let scales = row_scales(rows, dy, l2, name, start)?;
        let folds: Vec<u32> = images.iter().map(|&i| self.fold_of_image[i]).collect();
        let chunk = Chunk {
            rows,
            dy,
            images,
            scales: &scales,
            folds: &folds,
            n_folds: self.moments.len(),
        };
        let ptr = SumsPtr(self.sums.as_mut_ptr());
        let blocks: Vec<Vec<f64>> = (0..dy.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| column_block(&chunk, b * BLOCK, BLOCK.min(dy - b * BLOCK), ptr))
            .collect();
        if blocks.iter().flatten().any(|v| !v.is_finite()) {
            check_finite_rows(rows, dy, name, start)?;
        }
        for (b, m) in blocks.iter().enumerate() {
            self.add_block_moments(b * BLOCK, m);
        }
        Ok(())
    }

    /// Fold a column block's `[fold][Σ y | Σ y²][cols]` moments into the totals.
    fn add_block_moments(&mut self, c0: usize, m: &[f64]) {
        let (dy, n_folds) = (self.dy, self.moments.len());
        let w = m.len() / (2 * n_folds);
        for (f, total) in self.moments.iter_mut().enumerate() {
            let (s, q) = m[f * 2 * w..(f + 1) * 2 * w].split_at(w);
            total[c0..c0 + w]
                .iter_mut()
                .zip(s)
                .for_each(|(t, v)| *t += v);
            total[dy + c0..dy + c0 + w]
                .iter_mut()
                .zip(q)
                .for_each(|(t, v)| *t += v);
        }
    }

    /// The caption sums (`n_images x dy`) and, per fold, `(Σ y, Σ y²)`.
    pub fn finish(self) -> (Vec<f32>, Vec<FoldMoments>) {
        let dy = self.dy;
        let moments = self
            .moments
            .into_iter()
            .map(|mut m| {
                let q = m.split_off(dy);
                (m, q)
            })
            .collect();
        (self.sums, moments)
    }
}

/// `n` zeros, backed by huge pages where the OS allows (the sums are written in scattered
/// rows; 4 KiB faults on a buffer this size cost more than the sums themselves).
fn huge_zeros(n: usize) -> Vec<f32> {
    let mut v = vec![0f32; n];
    crate::io::npy::advise_huge_pages(crate::io::npy::as_bytes_mut(&mut v));
    v
}

/// Images per task of [`gather_sums`].
const IMAGES_PER_TASK: usize = 32;

/// The caption sums of image rows `images` into `out` (`images.len() x dy`, row-major),
/// gathered from `y`, all caption rows (`n_captions x dy`); returns the `(Σ y, Σ y²)` of those
/// captions. `l2`: unit-normalize each caption row first; `name` names the caption file.
#[allow(clippy::too_many_arguments)]
pub fn gather_sums(
    y: &[f32],
    dy: usize,
    g: &Grouping,
    images: Range<usize>,
    l2: bool,
    name: &str,
    out: &mut Vec<f32>,
) -> Result<FoldMoments> {
    if images.end > g.n_images() || y.len() != g.n_captions() * dy {
        return Err(Error::shape(
            "gather_sums",
            format!(
                "images < {}, {} caption rows of {dy}",
                g.n_images(),
                g.n_captions()
            ),
            format!("images {images:?}, {} values", y.len()),
        ));
    }
    out.clear();
    out.resize(images.len() * dy, 0.0);
    let parts: Vec<Vec<f64>> = out
        .par_chunks_mut(IMAGES_PER_TASK * dy.max(1))
        .enumerate()
        .map(|(t, block)| {
            let first = images.start + t * IMAGES_PER_TASK;
            let gather = Gather { y, dy, g, l2, name };
            gather.block(first, block)
        })
        .collect::<Result<_>>()?;
    let (mut sum, mut sq) = (vec![0f64; dy], vec![0f64; dy]);
    for m in &parts {
        sum.iter_mut().zip(&m[..dy]).for_each(|(t, v)| *t += v);
        sq.iter_mut().zip(&m[dy..]).for_each(|(t, v)| *t += v);
    }
    Ok((sum, sq))
}

/// What a [`gather_sums`] task reads.
struct Gather<'a> {
    y: &'a [f32],
    dy: usize,
    g: &'a Grouping,
    l2: bool,
    name: &'a str,
}

impl Gather<'_> {
    /// Sum the captions of images `first..` into the rows of `block`; returns their
    /// `[Σ y | Σ y²]`.
    fn block(&self, first: usize, block: &mut [f32]) -> Result<Vec<f64>> {
        let dy = self.dy;
        let mut m = vec![0f64; 2 * dy];
        for (i, dst) in block.chunks_exact_mut(dy).enumerate() {
            for &c in self.g.captions_of(first + i) {
                let row = &self.y[c * dy..(c + 1) * dy];
                let scale = unit_scale(row, self.l2, self.name, c)?;
                let (s, q) = m.split_at_mut(dy);
                add_scaled(dst, row, scale, s, q);
            }
        }
        if m.iter().any(|v| !v.is_finite()) {
            let images = first..first + block.len() / dy;
            for &c in self.g.captions_of_images(images) {
                check_finite_rows(&self.y[c * dy..(c + 1) * dy], dy, self.name, c)?;
            }
        }
        Ok(m)
    }
}

/// The row multiplier: `1`, or under L2 `(1/‖y‖) as f32` (a zero row is
/// [`Error::ZeroVector`], a non-finite one [`Error::NonFinite`], both naming `row`).
fn unit_scale(y: &[f32], l2: bool, name: &str, row: usize) -> Result<f32> {
    if !l2 {
        return Ok(1.0);
    }
    let norm = norm_f64(y);
    if !norm.is_finite() {
        check_finite_rows(y, y.len(), name, row)?;
    }
    if norm == 0.0 || !norm.is_finite() {
        return Err(Error::ZeroVector {
            what: name.to_string(),
            row,
        });
    }
    Ok((1.0 / norm) as f32)
}

/// `dst += scale·src` (f32), `s += scale·src`, `q += (scale·src)²` (f64).
fn add_scaled(dst: &mut [f32], src: &[f32], scale: f32, s: &mut [f64], q: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::backend::cpu::kernel::has_avx512() {
        // SAFETY: AVX-512F is available (checked above).
        return unsafe { add_scaled_avx512(dst, src, scale, s, q) };
    }
    add_scaled_body(dst, src, scale, s, q)
}

/// [`add_scaled_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_scaled_avx512(
    dst: &mut [f32],
    src: &[f32],
    scale: f32,
    s: &mut [f64],
    q: &mut [f64],
) {
    add_scaled_body(dst, src, scale, s, q)
}

#[inline(always)]
fn add_scaled_body(dst: &mut [f32], src: &[f32], scale: f32, s: &mut [f64], q: &mut [f64]) {
    for (((d, &v), s), q) in dst.iter_mut().zip(src).zip(s).zip(q) {
        let v = v * scale;
        *d += v;
        let v = v as f64;
        *s += v;
        *q += v * v;
    }
}

/// Per-row multipliers of a chunk of caption rows starting at row `start` ([`unit_scale`]).
fn row_scales(rows: &[f32], dy: usize, l2: bool, name: &str, start: usize) -> Result<Vec<f32>> {
    let r = rows.len() / dy;
    if !l2 {
        return Ok(vec![1.0; r]);
    }
    rows.par_chunks_exact(dy)
        .enumerate()
        .map(|(i, row)| unit_scale(row, true, name, start + i))
        .collect()
}

/// Add columns `c0..c0+w` of every row of the chunk to the sums; returns the block's
/// moments `[fold][Σ y | Σ y²][w]`.
fn column_block(chunk: &Chunk<'_>, c0: usize, w: usize, sums: SumsPtr) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    if crate::backend::cpu::kernel::has_avx512() {
        // SAFETY: AVX-512F is available (checked above).
        return unsafe { column_block_avx512(chunk, c0, w, sums) };
    }
    column_block_body(chunk, c0, w, sums)
}

/// [`column_block_body`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn column_block_avx512(chunk: &Chunk<'_>, c0: usize, w: usize, sums: SumsPtr) -> Vec<f64> {
    column_block_body(chunk, c0, w, sums)
}

#[inline(always)]
fn column_block_body(chunk: &Chunk<'_>, c0: usize, w: usize, sums: SumsPtr) -> Vec<f64> {
    let dy = chunk.dy;
    let mut m = vec![0f64; chunk.n_folds * 2 * w];
    let rows = chunk.rows.chunks_exact(dy).zip(chunk.images);
    for ((row, &img), (&scale, &f)) in rows.zip(chunk.scales.iter().zip(chunk.folds)) {
        let src = &row[c0..c0 + w];
        // SAFETY: image rows are < n_images (checked by the grouping), columns c0..c0+w
        // belong to this task alone.
        let dst = unsafe { sums.slice(img * dy + c0, w) };
        let (s, q) = m[f as usize * 2 * w..(f as usize + 1) * 2 * w].split_at_mut(w);
        add_scaled_body(dst, src, scale, s, q);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, d: usize) -> Vec<f32> {
        (0..n * d)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect()
    }

    /// Serial reference: normalize (if asked) with the library routine, then sum row by row.
    fn reference(y: &[f32], d: usize, g: &Grouping, l2: bool) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
        let mut y = y.to_vec();
        if l2 {
            crate::matrix::l2_normalize_rows(&mut y, d, "y", 0).unwrap();
        }
        let mut sums = vec![0f32; g.n_images() * d];
        let (mut s, mut q) = (vec![0f64; d], vec![0f64; d]);
        for (c, row) in y.chunks_exact(d).enumerate() {
            let img = g.image_of(c);
            for j in 0..d {
                sums[img * d + j] += row[j];
                s[j] += row[j] as f64;
                q[j] += (row[j] as f64).powi(2);
            }
        }
        (sums, s, q)
    }

    #[test]
    fn matches_serial_reference_in_chunks() {
        // 150 columns: two full blocks and a partial one; captions out of image order.
        let (d, n_img) = (150, 23);
        let image_of: Vec<usize> = (0..97).map(|c| (c * 7 + c / 5) % n_img).collect();
        let g = Grouping::new(image_of, n_img).unwrap();
        let y = rows(97, d);
        for l2 in [false, true] {
            let mut pass = CaptionPass::new(&g, d, vec![0; n_img], 1);
            for start in (0..97).step_by(20) {
                let end = (start + 20).min(97);
                pass.add(&y[start * d..end * d], start, l2, "y.npy")
                    .unwrap();
            }
            let (sums, m) = pass.finish();
            let (rs, s, q) = reference(&y, d, &g, l2);
            assert_eq!(sums, rs, "sums are summed in caption order (l2 {l2})");
            for j in 0..d {
                assert!((m[0].0[j] - s[j]).abs() <= 1e-12 * (1.0 + s[j].abs()));
                assert!((m[0].1[j] - q[j]).abs() <= 1e-12 * q[j]);
            }
        }
    }

    #[test]
    fn moments_go_to_the_fold_of_the_image() {
        let (d, n_img) = (3, 4);
        let g = Grouping::new(vec![0, 1, 2, 3, 3, 0], n_img).unwrap();
        let y = rows(6, d);
        let mut pass = CaptionPass::new(&g, d, vec![0, 0, 1, 1], 2);
        pass.add(&y, 0, false, "y").unwrap();
        let (_, m) = pass.finish();
        for j in 0..d {
            let fold0 = [0, 1, 5].iter().map(|&c| y[c * d + j] as f64).sum::<f64>();
            let fold1 = [2, 3, 4].iter().map(|&c| y[c * d + j] as f64).sum::<f64>();
            assert!((m[0].0[j] - fold0).abs() < 1e-12);
            assert!((m[1].0[j] - fold1).abs() < 1e-12);
        }
    }

    #[test]
    fn rows_outside_the_grouping_are_an_error() {
        let g = Grouping::from_counts(&[2, 2]);
        let y = rows(4, 3);
        let mut pass = CaptionPass::new(&g, 3, vec![0, 0], 1);
        assert!(matches!(
            pass.add(&y, 2, false, "y"),
            Err(Error::Shape { .. })
        ));
        let mut out = Vec::new();
        assert!(gather_sums(&y, 3, &g, 1..3, false, "y", &mut out).is_err());
        assert!(gather_sums(&y[3..], 3, &g, 0..2, false, "y", &mut out).is_err());
        let (s, _) = gather_sums(&y, 3, &g, 1..2, false, "y", &mut out).unwrap();
        assert_eq!(out, (0..3).map(|j| y[6 + j] + y[9 + j]).collect::<Vec<_>>());
        assert_eq!(s[0], y[6] as f64 + y[9] as f64);
    }

    #[test]
    fn bad_rows_are_named() {
        let (d, n_img) = (70, 5);
        let g = Grouping::new((0..10).map(|c| c / 2).collect(), n_img).unwrap();
        let mut y = rows(10, d);
        y[7 * d + 66] = f32::NAN;
        let mut pass = CaptionPass::new(&g, d, vec![0; n_img], 1);
        let e = pass.add(&y[5 * d..], 5, false, "cap.npy").unwrap_err();
        assert!(
            matches!(e, Error::NonFinite { ref what, row: 7, col: 66 } if what == "cap.npy"),
            "{e:?}"
        );
        let mut y = rows(10, d);
        y[3 * d..4 * d].iter_mut().for_each(|v| *v = 0.0);
        let mut pass = CaptionPass::new(&g, d, vec![0; n_img], 1);
        let e = pass.add(&y, 0, true, "cap.npy").unwrap_err();
        assert!(matches!(e, Error::ZeroVector { row: 3, .. }), "{e:?}");
    }
}
