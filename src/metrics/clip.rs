//! CLIP-based caption scores from embeddings: CLIP-S, RefCLIP-S, PAC-S, RefPAC-S, and
//! ReCap's aCLIP-S / RefaCLIP-S.
//!
//! For item i with image embedding `v_i`, candidate text embedding `c_i` and reference text
//! embeddings `r_ij` (cosines computed in f64 from the f32 inputs):
//!
//! - **CLIP-S** `= w · max(cos(c_i, v_i), 0)` with `w = 2.5` (Hessel et al. 2021).
//! - **RefCLIP-S** = harmonic mean of CLIP-S and `m_i = max_j cos(c_i, r_ij)`:
//!   `2 · s · m / (s + m)`. By default with jmhessel/clipscore's code semantics
//!   ([`RefCosine::Clipscore`]): `m_i` is **not** clipped at 0 and not scaled. The paper writes
//!   `max(m_i, 0)`; [`RefCosine::Paper`] gives that variant. When `s · m = 0` the value is 0
//!   (the harmonic mean's limit; clipscore's code would give NaN only for `s = m = 0`); when
//!   `s + m = 0` with `s ≠ 0` (possible only with the unclipped cosine) it is an error.
//! - **PAC-S / RefPAC-S**: the same formulas with `w = 2.0` (Sarto et al. 2023). What makes a
//!   score PAC-S is that the embeddings come from PAC-S's fine-tuned CLIP weights; recap only
//!   sees embeddings, so the caller picks the weight that matches the model.
//! - **aCLIP-S / RefaCLIP-S** (ReCap, Paischer et al.): CLIP-S / RefCLIP-S with the image
//!   embedding first mapped through the fitted linear alignment `W` (`v_i @ W`,
//!   `d_x x d_y`, numpy convention) — see [`map_images`].
//!
//! Corpus values are the mean over items (numpy's `np.mean`).

use crate::error::{Error, Result};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

use super::text::numpy_mean;

/// CLIP-S weight `w` (Hessel et al.).
pub const CLIP_S_WEIGHT: f64 = 2.5;
/// PAC-S weight `w` (Sarto et al.).
pub const PAC_S_WEIGHT: f64 = 2.0;

/// How the reference cosine enters the RefCLIP-S harmonic mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefCosine {
    /// jmhessel/clipscore's code: the raw maximum cosine (may be negative).
    #[default]
    Clipscore,
    /// The paper's formula: the maximum cosine clipped at 0.
    Paper,
}

/// Per-item and corpus values of one score.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Corpus value: mean of `per_item`.
    pub corpus: f64,
    /// One value per item, in input order.
    pub per_item: Vec<f64>,
}

impl Scores {
    fn new(per_item: Vec<f64>) -> Scores {
        Scores {
            corpus: numpy_mean(&per_item),
            per_item,
        }
    }
}

fn to_f64(row: &[f32]) -> Vec<f64> {
    row.iter().map(|&v| f64::from(v)).collect()
}

/// Check a row is finite and non-zero; return its f64 copy and norm.
fn checked_row(row: &[f32], what: &str, i: usize) -> Result<(Vec<f64>, f64)> {
    if let Some(col) = row.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: what.into(),
            row: i,
            col,
        });
    }
    let v = to_f64(row);
    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Err(Error::ZeroVector {
            what: what.into(),
            row: i,
        });
    }
    Ok((v, norm))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn check_same_shape(what: &str, a: (usize, usize), b: (usize, usize)) -> Result<()> {
    if a != b {
        return Err(Error::shape(
            what,
            format!("{} x {}", a.0, a.1),
            format!("{} x {}", b.0, b.1),
        ));
    }
    Ok(())
}

/// Row-wise cosine of two `n x d` matrices (row i with row i).
pub fn row_cosines(
    a: &RowMatrix<f32>,
    b: &RowMatrix<f32>,
    names: (&str, &str),
) -> Result<Vec<f64>> {
    check_same_shape(names.1, a.shape(), b.shape())?;
    (0..a.rows())
        .map(|i| {
            let (x, nx) = checked_row(a.row(i), names.0, i)?;
            let (y, ny) = checked_row(b.row(i), names.1, i)?;
            Ok(dot(&x, &y) / (nx * ny))
        })
        .collect()
}

/// CLIP-S per item: `w · max(cos(c_i, v_i), 0)`.
pub fn clip_s(images: &RowMatrix<f32>, cands: &RowMatrix<f32>, w: f64) -> Result<Scores> {
    let cos = row_cosines(images, cands, ("image embeddings", "candidate embeddings"))?;
    Ok(Scores::new(
        cos.into_iter().map(|c| w * c.max(0.0)).collect(),
    ))
}

/// `max_j cos(c_i, r_ij)` per candidate; `grouping` maps reference rows to candidate rows
/// (every candidate needs at least one reference).
pub fn ref_max_cosine(
    cands: &RowMatrix<f32>,
    refs: &RowMatrix<f32>,
    grouping: &Grouping,
) -> Result<Vec<f64>> {
    grouping.check_rows(cands.rows(), refs.rows())?;
    if cands.cols() != refs.cols() {
        return Err(Error::shape(
            "reference embeddings",
            format!("{} columns (as the candidates)", cands.cols()),
            format!("{} columns", refs.cols()),
        ));
    }
    (0..cands.rows())
        .map(|i| {
            let (c, nc) = checked_row(cands.row(i), "candidate embeddings", i)?;
            let rows = grouping.captions_of(i);
            if rows.is_empty() {
                return Err(Error::invalid(
                    "reference embeddings",
                    format!("candidate row {i} has no reference rows"),
                ));
            }
            let mut best = f64::NEG_INFINITY;
            for &j in rows {
                let (r, nr) = checked_row(refs.row(j), "reference embeddings", j)?;
                best = best.max(dot(&c, &r) / (nc * nr));
            }
            Ok(best)
        })
        .collect()
}

/// RefCLIP-S per item: harmonic mean of CLIP-S `s_i` and the reference cosine `m_i`
/// (clipped at 0 for [`RefCosine::Paper`]); see the module docs for the edge cases.
pub fn ref_clip_s(clip_s: &Scores, ref_max: &[f64], variant: RefCosine) -> Result<Scores> {
    if clip_s.per_item.len() != ref_max.len() {
        return Err(Error::shape(
            "reference cosines",
            format!("{} items", clip_s.per_item.len()),
            format!("{} items", ref_max.len()),
        ));
    }
    let per = clip_s
        .per_item
        .iter()
        .zip(ref_max)
        .enumerate()
        .map(|(i, (&s, &m))| {
            let m = match variant {
                RefCosine::Clipscore => m,
                RefCosine::Paper => m.max(0.0),
            };
            if s * m == 0.0 {
                Ok(0.0)
            } else if s + m == 0.0 {
                Err(Error::numerical(
                    "RefCLIP-S harmonic mean",
                    format!("item {i}: CLIP-S {s} and reference cosine {m} sum to 0"),
                ))
            } else {
                Ok(2.0 * s * m / (s + m))
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(Scores::new(per))
}

/// Map image embeddings through a fitted linear alignment: `X @ W` (`W` is `d_x x d_y`),
/// the crate's one map product ([`crate::backend::apply_map`], f32 GEMM). This is the one
/// step that turns CLIP-S into aCLIP-S.
pub fn map_images(images: &RowMatrix<f32>, w: &RowMatrix<f32>) -> Result<RowMatrix<f32>> {
    crate::backend::apply_map(images, w)
}
