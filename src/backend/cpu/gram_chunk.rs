//! One chunk of [`GramStats`] on the CPU: the fused AVX-512 pass ([`super::fused`]) for f32
//! products on CPUs with AVX-512, else faer products of mean-shifted copies
//! ([`super::linalg`]). Both add the same statistics up to rounding.

use super::fused::{self, ChunkInput, ChunkMoments};
use super::linalg;
use super::tile;
use crate::backend::gram::{GramChunk, GramPrecision, GramStats};
use crate::error::Result;

/// Whether chunks of statistics with this precision take the fused AVX-512 path.
pub(crate) fn fused_path(precision: GramPrecision) -> bool {
    precision == GramPrecision::F32 && tile::available()
}

/// [`Backend::gram_chunk`](crate::backend::Backend::gram_chunk) on the CPU.
/// `tuned = false` forces the portable path.
pub(crate) fn gram_chunk(st: &mut GramStats, chunk: GramChunk<'_>, tuned: bool) -> Result<()> {
    let fused = tuned && fused_path(st.precision);
    match chunk {
        GramChunk::Pairs { x, y, rows } => pairs(st, x, y, rows, fused),
        GramChunk::Images {
            x,
            counts,
            caption_sums,
            rows,
        } => images(st, x, counts, caption_sums, rows, fused),
    }
}

fn pairs(st: &mut GramStats, x: &[f32], y: &[f32], rows: usize, fused: bool) -> Result<()> {
    if fused {
        let m = accumulate_fused(st, x, y, None, rows)?;
        add_fused_y_moments(st, &m);
        st.n += rows as u64;
        return Ok(());
    }
    st.scratch.chunk.precision = st.precision;
    let mean_x = st.add_x_moments(x, None);
    let mean_y = st.add_y_moments(y);
    let (dx, dy) = (st.dx, st.dy);
    if st.with_xtx {
        st.scratch.chunk.mean_x = Some(mean_x.clone());
        linalg::gram_lower_chunk(&mut st.xtx_lower, x, rows, dx, &mut st.scratch.chunk);
    }
    st.scratch.chunk.mean_x = Some(mean_x);
    st.scratch.chunk.mean_y = Some(mean_y);
    linalg::cross_chunk(&mut st.xty, x, y, rows, dx, dy, &mut st.scratch.chunk);
    st.n += rows as u64;
    Ok(())
}

fn images(
    st: &mut GramStats,
    x: &[f32],
    counts: &[u32],
    caption_sums: &[f32],
    rows: usize,
    fused: bool,
) -> Result<()> {
    let w: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
    let pairs: u64 = counts.iter().map(|&c| c as u64).sum();
    if fused {
        accumulate_fused(st, x, caption_sums, Some(&w), rows)?;
        st.n += pairs;
        return Ok(());
    }
    st.scratch.chunk.precision = st.precision;
    let mean_x = st.add_x_moments(x, Some(&w));
    let (dx, dy) = (st.dx, st.dy);
    if st.with_xtx {
        st.scratch.chunk.mean_x = Some(mean_x.clone());
        let acc = &mut st.xtx_lower;
        linalg::gram_lower_chunk_weighted(acc, x, Some(&w), rows, dx, &mut st.scratch.chunk);
    }
    st.scratch.chunk.mean_x = Some(mean_x);
    linalg::cross_chunk(
        &mut st.xty,
        x,
        caption_sums,
        rows,
        dx,
        dy,
        &mut st.scratch.chunk,
    );
    st.n += pairs;
    Ok(())
}

/// One chunk through [`fused::accumulate`]; adds the X moments (`Σ w x`, `Σ w x²`) and
/// returns the chunk's moments. Nothing is added when the chunk has a non-finite value.
fn accumulate_fused(
    st: &mut GramStats,
    x: &[f32],
    y: &[f32],
    w: Option<&[f32]>,
    rows: usize,
) -> Result<ChunkMoments> {
    let cell = &mut st.scratch;
    let shift_x = cell
        .shift_x
        .get_or_insert_with(|| fused::column_means(x, st.dx));
    let shift_y = cell
        .shift_y
        .get_or_insert_with(|| fused::column_means(y, st.dy));
    let input = ChunkInput {
        x,
        y,
        w,
        rows,
        dx: st.dx,
        dy: st.dy,
        shift_x,
        shift_y,
    };
    let xtx = st.with_xtx.then_some(&mut st.xtx_lower[..]);
    let m = fused::accumulate(xtx, &mut st.xty, input, &mut cell.fused)?;
    // Σ w x = s_w + W c,  Σ w x² = q_w + 2 c s_w + W c².
    for (j, &c) in shift_x.iter().enumerate() {
        let c = c as f64;
        st.sum_x[j] += m.swx[j] + m.weight * c;
        st.sq_x[j] += m.qwx[j] + 2.0 * c * m.swx[j] + m.weight * c * c;
    }
    Ok(m)
}

/// `Σ y += s_y + R t`, `Σ y² += q_y + 2 t s_y + R t²` from a fused chunk of plain pairs.
fn add_fused_y_moments(st: &mut GramStats, m: &ChunkMoments) {
    let shift_y = st.scratch.shift_y.as_deref().unwrap_or_default();
    let r = m.weight;
    for (j, &t) in shift_y.iter().enumerate() {
        let t = t as f64;
        st.sum_y[j] += m.sy[j] + r * t;
        st.sq_y[j] += m.qy[j] + 2.0 * t * m.sy[j] + r * t * t;
    }
}
