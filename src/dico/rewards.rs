//! Rewards of candidates from image and candidate embeddings.

use super::{candidate_name, check_groups, defaults};
use crate::matrix::{norm_f64, RowMatrix};
use crate::{Error, Result};

/// The evaluator's reward `r = w · cos(image, candidate)`, optionally `w · max(cos, 0)`.
///
/// DiCO uses PAC-S reference-free with `w = 2.0` and **no** clip at 0 ([`Reward::default`]);
/// CLIP-S clips (`Reward::new(2.5).clip_at_zero(true)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reward {
    weight: f64,
    clip_at_zero: bool,
}

impl Default for Reward {
    fn default() -> Self {
        Reward::new(defaults::PAC_S_WEIGHT)
    }
}

impl Reward {
    /// `r = weight · cos`, not clipped.
    pub fn new(weight: f64) -> Self {
        Reward {
            weight,
            clip_at_zero: false,
        }
    }

    /// Clip the cosine at 0 before weighting (CLIP-S / PAC-S as metrics do).
    pub fn clip_at_zero(mut self, clip: bool) -> Self {
        self.clip_at_zero = clip;
        self
    }

    /// The weight `w`.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Whether the cosine is clipped at 0.
    pub fn clips_at_zero(&self) -> bool {
        self.clip_at_zero
    }

    fn of_cosine(&self, cos: f64) -> f64 {
        self.weight * if self.clip_at_zero { cos.max(0.0) } else { cos }
    }
}

/// Rewards of `K` candidates per image: row `i·K + k` of `candidates` is candidate `k` of
/// image `i` (row `i` of `images`). Returns one reward per candidate row (f64).
///
/// Errors: candidates not `K` per image ([`Error::Shape`]), different widths, a zero-norm
/// embedding ([`Error::ZeroVector`]) or a non-finite one ([`Error::NonFinite`]), each naming
/// the image and candidate.
pub fn rewards(
    images: &RowMatrix<f32>,
    candidates: &RowMatrix<f32>,
    k: usize,
    reward: &Reward,
) -> Result<Vec<f64>> {
    let n = check_groups("candidate embeddings", candidates.rows(), k)?;
    if n != images.rows() || images.cols() != candidates.cols() {
        return Err(Error::Shape {
            what: "image vs candidate embeddings".into(),
            expected: format!(
                "{} x {} images for {} x {} candidates (K = {k})",
                candidates.rows() / k,
                candidates.cols(),
                candidates.rows(),
                candidates.cols()
            ),
            got: format!("{} x {}", images.rows(), images.cols()),
        });
    }
    let image_norms = (0..n)
        .map(|i| checked_norm(images.row(i), &format!("image embeddings (image {i})"), i))
        .collect::<Result<Vec<_>>>()?;
    (0..candidates.rows())
        .map(|row| {
            let c = candidates.row(row);
            let nc = checked_norm(
                c,
                &format!("candidate embeddings ({})", candidate_name(row, k)),
                row,
            )?;
            let dot: f64 = images
                .row(row / k)
                .iter()
                .zip(c)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            Ok(reward.of_cosine(dot / (image_norms[row / k] * nc)))
        })
        .collect()
}

fn checked_norm(row: &[f32], what: &str, index: usize) -> Result<f64> {
    if let Some(col) = row.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: what.to_string(),
            row: index,
            col,
        });
    }
    let norm = norm_f64(row);
    if norm == 0.0 {
        return Err(Error::ZeroVector {
            what: what.to_string(),
            row: index,
        });
    }
    Ok(norm)
}
