//! Filling [`GramStats`] from chunk sources in one streaming pass (per fold, if asked).
//!
//! - Plain pairs: X and Y are read in lockstep, `rows` pairs per chunk.
//! - Pair-grouped: one pass over the caption rows ([`crate::align::caption_pass`]) sums the
//!   captions of every image (`S_i = Σ_{c ∈ i} y_c`, an `n_images x d_y` f32 buffer: the size
//!   of the image file) and collects `Σ y`, `Σ y²`; one pass over the image rows then adds
//!   `Σ c_i x_iᵀx_i` and `Σ x_iᵀ S_i`. The GEMM work scales with the number of images, not
//!   pairs.
//!
//! Folds are contiguous blocks of pairs (plain) or of images (grouped: the captions of an
//! image never straddle folds).

use crate::align::caption_pass::CaptionPass;
use crate::align::gram::GramStats;
use crate::align::linalg::GramPrecision;
use crate::align::pairs::Pairing;
use crate::align::preprocess::{self, Preprocess};
use crate::align::source::ChunkSource;
use crate::error::{Error, Result};

/// Progress callback: called with the number of rows just processed.
pub type Progress<'a> = &'a dyn Fn(u64);

/// Fold `f` covers items `bound(f)..bound(f+1)` of `n`.
fn fold_bound(f: usize, k: usize, n: usize) -> usize {
    ((f as u128 * n as u128) / k as u128) as usize
}

fn fold_of(i: usize, k: usize, n: usize) -> usize {
    // The largest f with bound(f) <= i.
    let mut f = ((i as u128 * k as u128) / n.max(1) as u128) as usize;
    while f + 1 < k && fold_bound(f + 1, k, n) <= i {
        f += 1;
    }
    while f > 0 && fold_bound(f, k, n) > i {
        f -= 1;
    }
    f
}

/// Split the item range `start..start+rows` at fold boundaries: `(fold, offset, len)`.
fn segments(start: usize, rows: usize, k: usize, n: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut i = start;
    while i < start + rows {
        let f = fold_of(i, k, n);
        let end = fold_bound(f + 1, k, n).min(start + rows);
        out.push((f, i - start, end - i));
        i = end;
    }
    out
}

/// Accumulate the statistics of all pairs into `folds` statistics (`folds ≥ 1`).
#[allow(clippy::too_many_arguments)]
pub fn accumulate(
    x: &mut dyn ChunkSource,
    y: &mut dyn ChunkSource,
    pairing: Pairing<'_>,
    pre: &Preprocess,
    with_xtx: bool,
    precision: GramPrecision,
    folds: usize,
    chunk: usize,
    progress: Progress<'_>,
) -> Result<Vec<GramStats>> {
    let empty = GramStats::new(x.cols(), y.cols(), with_xtx).with_precision(precision);
    let mut stats = vec![empty; folds.max(1)];
    match pairing {
        Pairing::Rows => plain(x, y, pre, &mut stats, chunk, progress)?,
        Pairing::Grouped(g) => grouped(x, y, g, pre, &mut stats, chunk, progress)?,
    }
    Ok(stats)
}

fn plain(
    x: &mut dyn ChunkSource,
    y: &mut dyn ChunkSource,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let (dx, dy, n, k) = (x.cols(), y.cols(), x.rows(), stats.len());
    let (xname, yname) = (x.name().to_string(), y.name().to_string());
    // The fused path checks finiteness itself; then unnormalized rows need no copy.
    let checked = stats[0].checks_finite();
    x.rewind()?;
    y.rewind()?;
    let (mut bx, mut by, mut px, mut py) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while let (Some((start, xs)), Some((_, ys))) =
        (x.next_chunk(&mut bx, chunk)?, y.next_chunk(&mut by, chunk)?)
    {
        let r = xs.len() / dx.max(1);
        let xs = prepared(pre, xs, &mut px, dx, &xname, start, checked)?;
        let ys = prepared(pre, ys, &mut py, dy, &yname, start, checked)?;
        for (f, off, len) in segments(start, r, k, n) {
            stats[f]
                .accumulate(
                    &xs[off * dx..(off + len) * dx],
                    &ys[off * dy..(off + len) * dy],
                    len,
                )
                .map_err(|e| locate(e, start + off, &xname, &yname))?;
        }
        progress(r as u64);
    }
    Ok(())
}

/// The rows of a chunk ready for the statistics: L2-normalized into `buf` when asked, else
/// the chunk itself (checked for non-finite values here unless the statistics check them).
fn prepared<'a>(
    pre: &Preprocess,
    rows: &'a [f32],
    buf: &'a mut Vec<f32>,
    cols: usize,
    name: &str,
    start: usize,
    checked: bool,
) -> Result<&'a [f32]> {
    if pre.l2_rows() {
        buf.clear();
        buf.extend_from_slice(rows);
        preprocess::rows_in_place(pre, buf, cols, name, start)?;
        return Ok(buf);
    }
    if !checked {
        crate::matrix::check_finite_rows(rows, cols, name, start)?;
    }
    Ok(rows)
}

/// Put the file name and absolute row on a chunk-relative non-finite error.
fn locate(e: Error, offset: usize, xname: &str, yname: &str) -> Error {
    match e {
        Error::NonFinite { what, row, col } => Error::NonFinite {
            what: if what.starts_with('y') { yname } else { xname }.to_string(),
            row: row + offset,
            col,
        },
        e => e,
    }
}

fn grouped(
    x: &mut dyn ChunkSource,
    y: &mut dyn ChunkSource,
    g: &crate::io::Grouping,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let (dx, dy, n_img, k) = (x.cols(), y.cols(), x.rows(), stats.len());
    let (xname, yname) = (x.name().to_string(), y.name().to_string());
    // Pass 1: caption rows -> per-image sums and caption moments.
    let folds = (0..n_img).map(|i| fold_of(i, k, n_img) as u32).collect();
    let mut pass = CaptionPass::new(g, dy, folds, k);
    let mut buf = Vec::new();
    y.rewind()?;
    while let Some((start, rows)) = y.next_chunk(&mut buf, chunk)? {
        pass.add(rows, start, pre.l2_rows(), &yname)?;
        progress((rows.len() / dy.max(1)) as u64);
    }
    let (sums, moments) = pass.finish();
    for (s, (sum, sq)) in stats.iter_mut().zip(&moments) {
        s.add_caption_moments(sum, sq)?;
    }
    // Pass 2: image rows, weighted by their caption counts.
    let counts: Vec<u32> = g.counts().into_iter().map(|c| c as u32).collect();
    let checked = stats[0].checks_finite();
    let mut px = Vec::new();
    x.rewind()?;
    while let Some((start, xs)) = x.next_chunk(&mut buf, chunk)? {
        let r = xs.len() / dx.max(1);
        let xs = prepared(pre, xs, &mut px, dx, &xname, start, checked)?;
        for (f, off, len) in segments(start, r, k, n_img) {
            let (a, b) = (start + off, start + off + len);
            stats[f]
                .accumulate_images(
                    &xs[off * dx..(off + len) * dx],
                    &counts[a..b],
                    &sums[a * dy..b * dy],
                    len,
                )
                .map_err(|e| locate(e, a, &xname, &yname))?;
        }
        progress(r as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_and_respect_folds() {
        let (n, k) = (103, 4);
        let mut seen = 0;
        for start in (0..n).step_by(10) {
            let r = 10.min(n - start);
            for (f, off, len) in segments(start, r, k, n) {
                assert_eq!(start + off, seen);
                assert!(fold_bound(f, k, n) <= seen && seen + len <= fold_bound(f + 1, k, n));
                seen += len;
            }
        }
        assert_eq!(seen, n);
    }
}
