//! The winner of each image's candidates and the loser weights γ.

use super::{check_finite, check_groups};
use crate::Result;

/// Per image: the winning candidate and the weight of every candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Preferences {
    /// Candidates per image.
    pub k: usize,
    /// Per image, the index (0..K) of the winner: `argmax_k r_k`, the first on ties.
    pub winners: Vec<usize>,
    /// Per candidate row: `γ_j = softmax_j(τ (r_w − r_j))` over the image's losers; 0 for the
    /// winner. Each image's loser weights sum to 1.
    pub loser_weights: Vec<f64>,
}

/// Winners and loser weights from `K` rewards per image (image-major rows) at temperature τ.
///
/// `γ_j = exp(τ (r_w − r_j) − m) / Σ_l exp(τ (r_w − r_l) − m)` with `m` the largest exponent
/// (stable for any τ ≥ 0): τ = 0 gives uniform weights `1/(K−1)`, τ → ∞ puts all weight on
/// the worst loser (split evenly among equally bad ones).
///
/// Errors: rewards not `K` per image, K < 2, a non-finite reward (naming the image and
/// candidate), τ negative or not finite.
pub fn preferences(rewards: &[f64], k: usize, tau: f64) -> Result<Preferences> {
    let n = check_groups("rewards", rewards.len(), k)?;
    check_finite("rewards", rewards, k)?;
    if !(tau.is_finite() && tau >= 0.0) {
        return Err(crate::Error::InvalidArgument {
            name: "tau".into(),
            problem: format!("must be finite and ≥ 0, got {tau}"),
        });
    }
    let mut winners = Vec::with_capacity(n);
    let mut loser_weights = vec![0.0; rewards.len()];
    for (r, gamma) in rewards
        .chunks_exact(k)
        .zip(loser_weights.chunks_exact_mut(k))
    {
        let w = first_argmax(r);
        winners.push(w);
        softmax_losers(r, w, tau, gamma);
    }
    Ok(Preferences {
        k,
        winners,
        loser_weights,
    })
}

/// Index of the largest value, the first among equals.
fn first_argmax(r: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in r.iter().enumerate().skip(1) {
        if v > r[best] {
            best = j;
        }
    }
    best
}

fn softmax_losers(r: &[f64], w: usize, tau: f64, gamma: &mut [f64]) {
    let exponent = |j: usize| tau * (r[w] - r[j]);
    let m = (0..r.len())
        .filter(|&j| j != w)
        .map(exponent)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for j in (0..r.len()).filter(|&j| j != w) {
        gamma[j] = (exponent(j) - m).exp();
        total += gamma[j];
    }
    for j in (0..r.len()).filter(|&j| j != w) {
        gamma[j] /= total;
    }
}
