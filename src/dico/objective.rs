//! The DPO-style loss with softmax-weighted losers, its gradients and diagnostics.

use serde::Serialize;

use super::{check_finite, check_groups, defaults, preferences};
use crate::{Error, Result};

/// DiCO's objective with its temperature τ and scale β (defaults: τ = 300, β = 0.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    tau: f64,
    beta: f64,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            tau: defaults::TAU,
            beta: defaults::BETA,
        }
    }
}

/// Everything the objective computes for a batch, per image or per candidate row
/// (image-major, `K` rows per image).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DicoOutput {
    /// Candidates per image.
    pub candidates_per_image: usize,
    /// Per image: the winner's index in `0..K` (first on ties).
    pub winners: Vec<usize>,
    /// Per candidate: γ (0 for the winner; each image's losers sum to 1).
    pub loser_weights: Vec<f64>,
    /// Per image: the margin `z`.
    pub margins: Vec<f64>,
    /// Per image: `−log σ(β z) = softplus(−β z)`.
    pub loss_terms: Vec<f64>,
    /// `mean(loss_terms)`.
    pub loss: f64,
    /// Per candidate: `∂L/∂ℓ_θ` (−(β/B) σ(−βz) for the winner, (β/B) σ(−βz) γ_j for a loser).
    pub grad_logp_policy: Vec<f64>,
    /// Per image: `β (ℓ_θ(y_w) − ℓ_ref(y_w))` (the authors' "chosen rewards").
    pub chosen_rewards: Vec<f64>,
    /// Per image: `β Σ_j γ_j (ℓ_θ(y_j) − ℓ_ref(y_j))` (the authors' "rejected rewards").
    pub rejected_rewards: Vec<f64>,
}

impl Objective {
    /// The paper's objective: τ = 300, β = 0.2.
    pub fn new() -> Self {
        Self::default()
    }

    /// The loser-weight temperature τ ≥ 0.
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }

    /// The margin scale β > 0.
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Evaluate the objective for `K` candidates per image from their rewards and the
    /// sequence log-probabilities of the policy and the frozen reference (image-major rows).
    ///
    /// Errors: lengths that differ or are not `K` per image, K < 2, non-finite values (naming
    /// the image and candidate), τ < 0, β ≤ 0.
    pub fn evaluate(
        &self,
        rewards: &[f64],
        k: usize,
        logp_policy: &[f64],
        logp_ref: &[f64],
    ) -> Result<DicoOutput> {
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return Err(Error::InvalidArgument {
                name: "beta".into(),
                problem: format!("must be finite and > 0, got {}", self.beta),
            });
        }
        let n = check_groups("rewards", rewards.len(), k)?;
        for (what, v) in [
            ("policy log-probabilities", logp_policy),
            ("reference log-probabilities", logp_ref),
        ] {
            if v.len() != rewards.len() {
                return Err(Error::shape(
                    what,
                    format!("{} candidates (as the rewards)", rewards.len()),
                    v.len().to_string(),
                ));
            }
            check_finite(what, v, k)?;
        }
        let prefs = preferences(rewards, k, self.tau)?;
        let mut out = DicoOutput {
            candidates_per_image: k,
            winners: prefs.winners,
            loser_weights: prefs.loser_weights,
            margins: Vec::with_capacity(n),
            loss_terms: Vec::with_capacity(n),
            loss: 0.0,
            grad_logp_policy: vec![0.0; rewards.len()],
            chosen_rewards: Vec::with_capacity(n),
            rejected_rewards: Vec::with_capacity(n),
        };
        for i in 0..n {
            self.image_terms(i, k, logp_policy, logp_ref, n, &mut out);
        }
        out.loss = out.loss_terms.iter().sum::<f64>() / n as f64;
        Ok(out)
    }

    fn image_terms(
        &self,
        i: usize,
        k: usize,
        policy: &[f64],
        reference: &[f64],
        n: usize,
        out: &mut DicoOutput,
    ) {
        let rows = i * k..i * k + k;
        let w = i * k + out.winners[i];
        let gamma = &out.loser_weights[rows.clone()];
        let weighted = |l: &[f64]| -> f64 {
            rows.clone()
                .filter(|&r| r != w)
                .map(|r| gamma[r - i * k] * l[r])
                .sum()
        };
        let (pol_losers, ref_losers) = (weighted(policy), weighted(reference));
        let z = (policy[w] - pol_losers) - (reference[w] - ref_losers);
        let bz = self.beta * z;
        out.margins.push(z);
        out.loss_terms.push(softplus(-bz));
        out.chosen_rewards
            .push(self.beta * (policy[w] - reference[w]));
        out.rejected_rewards
            .push(self.beta * (pol_losers - ref_losers));
        // ∂ softplus(−βz)/∂z = −β σ(−βz); ∂z/∂ℓ_θ(y_w) = 1, ∂z/∂ℓ_θ(y_j) = −γ_j.
        let dz = -self.beta * sigmoid(-bz) / n as f64;
        for r in rows {
            out.grad_logp_policy[r] = if r == w { dz } else { -dz * gamma[r - i * k] };
        }
    }
}

/// `ln(1 + eˣ)` without overflow: `max(x, 0) + ln(1 + e^{−|x|})`.
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `σ(x) = 1 / (1 + e^{−x})`, evaluated on the side that does not overflow.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_margin_gives_log_2_and_large_margins_stay_finite() {
        let r = [0.3, 0.1, 0.2];
        let same = [-5.0, -6.0, -7.0];
        let out = Objective::new().evaluate(&r, 3, &same, &same).unwrap();
        assert!((out.loss - std::f64::consts::LN_2).abs() < 1e-15);
        let pol = [1e4, -1e4, -1e4];
        let out = Objective::new().evaluate(&r, 3, &pol, &same).unwrap();
        assert!(out.loss.is_finite() && out.loss < 1e-300);
        let out = Objective::new()
            .evaluate(&r, 3, &[-1e4, 1e4, 1e4], &same)
            .unwrap();
        assert!((out.loss - 0.2 * out.margins[0].abs()).abs() / out.loss < 1e-12);
    }
}
