//! Filling [`GramStats`] from chunk sources in one streaming pass (per fold, if asked).
//!
//! - Plain pairs: X and Y are read in lockstep, `rows` pairs per chunk.
//! - Pair-grouped: one pass over the image rows adds `Σ c_i x_iᵀx_i` and `Σ x_iᵀ S_i`, with
//!   `S_i = Σ_{c ∈ i} y_c` the caption sum of image `i` and `c_i` its caption count, so the
//!   GEMM work scales with the number of images, not pairs. The caption sums and `Σ y`, `Σ y²`
//!   come from [`crate::align::caption_pass`]: gathered per image chunk when the caption rows
//!   can be addressed (mapped file, memory) and come in image order, else from one streaming
//!   pass over the caption rows first (an `n_images x d_y` f32 buffer: the size of the image
//!   file).
//!
//! Folds are contiguous blocks of pairs (plain) or of images (grouped: the captions of an
//! image never straddle folds).

use crate::align::caption_pass::{gather_sums, CaptionPass};
use std::sync::Arc;

use crate::align::pairs::Pairing;
use crate::align::preprocess::{self, Preprocess};
use crate::backend::GramPrecision;
use crate::backend::{Backend, GramStats};
use crate::error::{Error, Result};
use crate::io::rows::RowSource;

/// Called with the number of rows just read.
pub(crate) type RowsRead<'a> = &'a dyn Fn(u64);

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
pub(crate) fn accumulate(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    pre: &Preprocess,
    with_xtx: bool,
    precision: GramPrecision,
    folds: usize,
    chunk: usize,
    progress: RowsRead<'_>,
    backend: &Arc<dyn Backend>,
) -> Result<Vec<GramStats>> {
    let empty = GramStats::new(x.cols(), y.cols(), with_xtx)
        .with_precision(precision)
        .on(Arc::clone(backend));
    let mut stats = vec![empty; folds.max(1)];
    match pairing {
        Pairing::Rows => plain(x, y, pre, &mut stats, chunk, progress)?,
        Pairing::Grouped(g) => grouped(x, y, g, pre, &mut stats, chunk, progress)?,
    }
    Ok(stats)
}

fn plain(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: RowsRead<'_>,
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
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    g: &crate::io::Grouping,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: RowsRead<'_>,
) -> Result<()> {
    // Gathering reads each image chunk's captions as one run of rows only when they come in
    // image order; otherwise (COCO annotation order, say) it would touch pages all over the
    // caption file for every chunk, so one sequential caption pass is faster and smaller.
    if y.all_rows().is_none() || !g.captions_in_image_order() {
        let sums = caption_pass(y, g, pre, stats, chunk, progress)?;
        let captions = Captions::Summed(&sums, y.cols(), y.name());
        return image_pass(x, captions, g, pre, stats, chunk, progress);
    }
    let y: &dyn RowSource = y;
    let rows = y.all_rows().unwrap_or_default();
    image_pass(x, Captions::Rows(rows, y), g, pre, stats, chunk, progress)
}

/// Where the image pass gets each image's caption sum.
enum Captions<'a> {
    /// All sums, from [`caption_pass`] (`n_images x dy`, columns, caption file name).
    Summed(&'a [f32], usize, &'a str),
    /// All caption rows of a source that holds them: sums gathered chunk by chunk.
    Rows(&'a [f32], &'a dyn RowSource),
}

/// Stream the caption rows once: every image's caption sum (returned, `n_images x dy`) and
/// the caption moments (added to `stats`).
fn caption_pass(
    y: &mut dyn RowSource,
    g: &crate::io::Grouping,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: RowsRead<'_>,
) -> Result<Vec<f32>> {
    let (dy, n_img, k) = (y.cols(), g.n_images(), stats.len());
    let name = y.name().to_string();
    let folds = (0..n_img).map(|i| fold_of(i, k, n_img) as u32).collect();
    let mut pass = CaptionPass::new(g, dy, folds, k);
    let mut buf = Vec::new();
    y.rewind()?;
    while let Some((start, rows)) = y.next_chunk(&mut buf, chunk)? {
        pass.add(rows, start, pre.l2_rows(), &name)?;
        progress((rows.len() / dy.max(1)) as u64);
    }
    let (sums, moments) = pass.finish();
    for (s, (sum, sq)) in stats.iter_mut().zip(&moments) {
        s.add_caption_moments(sum, sq)?;
    }
    Ok(sums)
}

/// Stream the image rows, weighted by their caption counts, against their caption sums
/// (gathered per chunk from the caption rows, with the caption moments, when they can be
/// addressed).
fn image_pass(
    x: &mut dyn RowSource,
    captions: Captions<'_>,
    g: &crate::io::Grouping,
    pre: &Preprocess,
    stats: &mut [GramStats],
    chunk: usize,
    progress: RowsRead<'_>,
) -> Result<()> {
    let (dx, n_img, k) = (x.cols(), x.rows(), stats.len());
    let (dy, yname) = match captions {
        Captions::Summed(_, dy, name) => (dy, name.to_string()),
        Captions::Rows(_, y) => (y.cols(), y.name().to_string()),
    };
    let xname = x.name().to_string();
    let counts: Vec<u32> = g.counts().into_iter().map(|c| c as u32).collect();
    let checked = stats[0].checks_finite();
    let (mut buf, mut px, mut gathered) = (Vec::new(), Vec::new(), Vec::new());
    x.rewind()?;
    while let Some((start, xs)) = x.next_chunk(&mut buf, chunk)? {
        let r = xs.len() / dx.max(1);
        let xs = prepared(pre, xs, &mut px, dx, &xname, start, checked)?;
        for (f, off, len) in segments(start, r, k, n_img) {
            let (a, b) = (start + off, start + off + len);
            let sums = match captions {
                Captions::Summed(all, ..) => &all[a * dy..b * dy],
                Captions::Rows(rows, _) => {
                    let l2 = pre.l2_rows();
                    let (s, q) = gather_sums(rows, dy, g, a..b, l2, &yname, &mut gathered)?;
                    stats[f].add_caption_moments(&s, &q)?;
                    &gathered[..]
                }
            };
            stats[f]
                .accumulate_images(&xs[off * dx..(off + len) * dx], &counts[a..b], sums, len)
                .map_err(|e| locate(e, a, &xname, &yname))?;
        }
        let mut rows_read = r;
        if let Captions::Rows(_, y) = captions {
            // Drop the pages of this chunk's captions: one run of rows (image order).
            let cs = g.captions_of_images(start..start + r);
            if let (Some(&lo), Some(&hi)) = (cs.first(), cs.last()) {
                y.release_rows(lo, hi + 1);
            }
            rows_read += cs.len();
        }
        progress(rows_read as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::preprocess::Normalize;
    use crate::io::rows::MemSource;
    use crate::io::Grouping;
    use crate::matrix::RowMatrix;

    /// A source that can only stream (no [`RowSource::all_rows`]): grouped fits take the
    /// separate caption pass.
    struct StreamOnly<'a>(MemSource<'a>);

    impl RowSource for StreamOnly<'_> {
        fn rows(&self) -> usize {
            self.0.rows()
        }
        fn cols(&self) -> usize {
            self.0.cols()
        }
        fn name(&self) -> &str {
            self.0.name()
        }
        fn rewind(&mut self) -> Result<()> {
            self.0.rewind()
        }
        fn next_into(&mut self, b: &mut Vec<f32>, r: usize) -> Result<Option<(usize, usize)>> {
            self.0.next_into(b, r)
        }
    }

    fn matrix(n: usize, d: usize, seed: usize) -> RowMatrix<f32> {
        let v = (0..n * d)
            .map(|i| (((i * 7919 + seed * 104729) % 1009) as f32 - 504.0) / 300.0)
            .collect();
        RowMatrix::from_vec(n, d, v).unwrap()
    }

    #[test]
    fn gathered_and_streamed_caption_sums_agree() {
        // Captions in image order (gathered from memory) with an image without captions, and
        // out of order (both take the caption pass); 3 folds, chunks that straddle them.
        let (n_img, dx, dy) = (41, 19, 23);
        let mut image_of: Vec<usize> = (0..150).map(|c| (c * 13 + c / 7) % 40).collect();
        let shuffled = Grouping::new(image_of.clone(), n_img).unwrap();
        image_of.sort();
        let sorted = Grouping::new(image_of, n_img).unwrap();
        assert!(sorted.captions_in_image_order() && !shuffled.captions_in_image_order());
        let (x, y) = (matrix(n_img, dx, 1), matrix(150, dy, 2));
        for (normalize, g) in [Normalize::None, Normalize::L2]
            .into_iter()
            .flat_map(|n| [(n, &sorted), (n, &shuffled)])
        {
            let pre = Preprocess {
                normalize,
                ..Preprocess::default()
            };
            let run = |stream_only: bool| {
                let mut xs = MemSource::new(&x, "x");
                let mut ym = MemSource::new(&y, "y");
                let mut ys = StreamOnly(MemSource::new(&y, "y"));
                let ysrc: &mut dyn RowSource = if stream_only { &mut ys } else { &mut ym };
                let pairing = Pairing::Grouped(g);
                let p = GramPrecision::F32;
                accumulate(
                    &mut xs,
                    ysrc,
                    pairing,
                    &pre,
                    true,
                    p,
                    3,
                    10,
                    &|_| {},
                    &crate::backend::cpu(),
                )
                .unwrap()
            };
            let (gathered, streamed) = (run(false), run(true));
            for (a, b) in gathered.iter().zip(&streamed) {
                assert_eq!(a.n(), b.n());
                // Same caption sums, same image chunks: the products agree bit for bit.
                assert_eq!(a.xty().as_slice(), b.xty().as_slice());
                assert_eq!(a.xtx().unwrap().as_slice(), b.xtx().unwrap().as_slice());
                assert_eq!(a.sum_x(), b.sum_x());
                // Caption moments are summed in another order.
                for (u, v) in a
                    .sum_y()
                    .iter()
                    .zip(b.sum_y())
                    .chain(a.sq_y().iter().zip(b.sq_y()))
                {
                    assert!((u - v).abs() <= 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
                }
            }
        }
    }

    #[test]
    fn gathered_caption_errors_name_the_caption_row() {
        let g = Grouping::from_counts(&[3, 3, 3, 3]);
        let x = matrix(4, 5, 3);
        let mut y = matrix(12, 6, 4);
        y.as_mut_slice()[7 * 6 + 2] = f32::INFINITY;
        let mut xs = MemSource::new(&x, "x.npy");
        let mut ys = MemSource::new(&y, "y.npy");
        let pre = Preprocess::default();
        let p = GramPrecision::F32;
        let e = accumulate(
            &mut xs,
            &mut ys,
            Pairing::Grouped(&g),
            &pre,
            true,
            p,
            1,
            2,
            &|_| {},
            &crate::backend::cpu(),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::NonFinite { ref what, row: 7, col: 2 } if what == "y.npy"),
            "{e:?}"
        );
    }

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
