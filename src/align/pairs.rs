//! Reading (x, y) pairs from two chunk sources: plain (row `i` with row `i`) or pair-grouped
//! (image rows and caption rows tied by a [`Grouping`]), with the row preprocessing applied.

use crate::align::preprocess::{self, Affine, Preprocess};
use crate::error::{Error, Result};
use crate::io::rows::{read_all, RowSource};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// How the rows of X and Y pair up.
#[derive(Clone, Copy, Debug)]
pub enum Pairing<'a> {
    /// Row `i` of X with row `i` of Y (equal row counts).
    Rows,
    /// X holds image rows, Y caption rows; caption row `c` pairs with image row
    /// `grouping.image_of(c)`.
    Grouped(&'a Grouping),
}

/// Check that the shapes of X, Y and the pairing agree, and that there is data.
pub fn check_shapes(x: &dyn RowSource, y: &dyn RowSource, pairing: Pairing<'_>) -> Result<()> {
    for s in [x, y] {
        if s.rows() == 0 {
            return Err(Error::invalid(s.name(), "empty input: 0 rows"));
        }
        if s.cols() == 0 {
            return Err(Error::invalid(s.name(), "0 columns"));
        }
    }
    match pairing {
        Pairing::Rows if x.rows() != y.rows() => Err(Error::shape(
            format!("row counts of {} and {}", x.name(), y.name()),
            format!(
                "{} rows in both (row i of X pairs with row i of Y)",
                x.rows()
            ),
            format!("{} and {} rows", x.rows(), y.rows()),
        )),
        Pairing::Rows => Ok(()),
        Pairing::Grouped(g) => g.check_rows(x.rows(), y.rows()),
    }
}

/// Apply the column affine map `(v − shift)·scale` to a row-major f32 chunk in place.
pub fn affine_rows(data: &mut [f32], shift: &[f64], scale: &[f64]) {
    let d = shift.len().max(1);
    for row in data.chunks_exact_mut(d) {
        for ((v, &m), &k) in row.iter_mut().zip(shift).zip(scale) {
            *v = ((*v as f64 - m) * k) as f32;
        }
    }
}

/// Callback of [`for_each_pair_chunk`]: `(first_pair, x_rows, y_rows, rows)`.
pub type PairVisitor<'a> = dyn FnMut(usize, &[f32], &[f32], usize) -> Result<()> + 'a;

/// Visit every pair in chunks: `f(first_pair, x_rows, y_rows, rows)` with both chunks row
/// preprocessed (finite check, L2 if chosen) and then `aff` applied. For grouped data the
/// image rows are held in memory and gathered per caption chunk.
pub fn for_each_pair_chunk(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    pre: &Preprocess,
    aff: &Affine,
    chunk: usize,
    f: &mut PairVisitor<'_>,
) -> Result<()> {
    let (dx, dy) = (x.cols(), y.cols());
    let (xname, yname) = (x.name().to_string(), y.name().to_string());
    match pairing {
        Pairing::Rows => {
            x.rewind()?;
            y.rewind()?;
            let (mut bx, mut by) = (Vec::new(), Vec::new());
            loop {
                match (x.next_into(&mut bx, chunk)?, y.next_into(&mut by, chunk)?) {
                    (Some((start, r)), Some((_, ry))) if r == ry => {
                        preprocess::rows_in_place(pre, &mut bx, dx, &xname, start)?;
                        preprocess::rows_in_place(pre, &mut by, dy, &yname, start)?;
                        affine_rows(&mut bx, &aff.shift_x, &aff.scale_x);
                        affine_rows(&mut by, &aff.shift_y, &aff.scale_y);
                        f(start, &bx, &by, r)?;
                    }
                    (None, None) => return Ok(()),
                    _ => {
                        return Err(Error::shape(
                            "paired chunks",
                            "equal row counts",
                            "different row counts",
                        ))
                    }
                }
            }
        }
        Pairing::Grouped(g) => {
            let mut images = read_all(x)?;
            preprocess::rows_in_place(pre, images.as_mut_slice(), dx, &xname, 0)?;
            affine_rows(images.as_mut_slice(), &aff.shift_x, &aff.scale_x);
            y.rewind()?;
            let (mut by, mut bx) = (Vec::new(), Vec::new());
            while let Some((start, r)) = y.next_into(&mut by, chunk)? {
                preprocess::rows_in_place(pre, &mut by, dy, &yname, start)?;
                affine_rows(&mut by, &aff.shift_y, &aff.scale_y);
                bx.clear();
                for c in start..start + r {
                    bx.extend_from_slice(images.row(g.image_of(c)));
                }
                f(start, &bx, &by, r)?;
            }
            Ok(())
        }
    }
}

/// All pairs in memory as f64 matrices (preprocessed), for the in-memory solvers.
pub fn collect_pairs_f64(
    x: &mut dyn RowSource,
    y: &mut dyn RowSource,
    pairing: Pairing<'_>,
    pre: &Preprocess,
    aff: &Affine,
    chunk: usize,
) -> Result<(RowMatrix<f64>, RowMatrix<f64>)> {
    let (dx, dy) = (x.cols(), y.cols());
    let n = match pairing {
        Pairing::Rows => x.rows(),
        Pairing::Grouped(g) => g.n_captions(),
    };
    let (mut vx, mut vy) = (Vec::with_capacity(n * dx), Vec::with_capacity(n * dy));
    for_each_pair_chunk(x, y, pairing, pre, aff, chunk, &mut |_, bx, by, _| {
        vx.extend(bx.iter().map(|&v| v as f64));
        vy.extend(by.iter().map(|&v| v as f64));
        Ok(())
    })?;
    Ok((
        RowMatrix::from_vec(n, dx, vx)?,
        RowMatrix::from_vec(n, dy, vy)?,
    ))
}
