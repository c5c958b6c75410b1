//! DiCO's objective (Moratelli et al., "Revisiting Image Captioning Training Paradigm via
//! Direct CLIP-based Optimization"), as the authors' `trainers/dico_trainer.py` computes it.
//!
//! For each image `i` with `K` candidates `y_1..y_K` (beam search, K = 5):
//!
//! - **reward** `r_k = w · cos(E_img(I), E_txt(y_k))` with the evaluator's weight `w`
//!   (PAC-S: 2.0), no clip at 0 unless asked ([`Reward`], [`rewards`]);
//! - **winner** `w_i = argmax_k r_k`, the first on ties; the others are the losers `j`;
//! - **loser weights** `γ_j = softmax_j(τ · (r_w − r_j))` over the losers (τ = 300)
//!   ([`preferences`]);
//! - **sequence log-probability** `ℓ(y) = Σ_t log softmax(logits_t)[y_t]` over the non-pad
//!   target tokens, EOS counted, no length normalization ([`sequence_logprobs`]);
//! - **margin** `z = [ℓ_θ(y_w) − Σ_j γ_j ℓ_θ(y_j)] − [ℓ_ref(y_w) − Σ_j γ_j ℓ_ref(y_j)]`;
//! - **loss** `L = mean_i −log σ(β z_i)` (β = 0.2), computed as `softplus(−β z)`
//!   ([`Objective::evaluate`]);
//! - **diagnostics** `β(ℓ_θ(y_w) − ℓ_ref(y_w))` and `β Σ_j γ_j (ℓ_θ(y_j) − ℓ_ref(y_j))`.
//!
//! Gradients: `∂L/∂ℓ_θ(y_w) = −(β/B)·σ(−β z)`, `∂L/∂ℓ_θ(y_j) = (β/B)·σ(−β z)·γ_j`
//! (γ is a constant of the rewards), and through the log-softmax
//! `∂L/∂logits_{t,v} = ∂L/∂ℓ · (1[v = y_t] − softmax(logits_t)_v)` at non-pad positions
//! ([`logits_grad`]).
//!
//! Candidates are stored image-major: rows `i·K .. i·K + K` belong to image `i`. All
//! arithmetic is `f64`; inputs may be `f32`.

mod logprob;
mod objective;
mod preference;
mod rewards;

pub use logprob::{logits_grad, sequence_logprobs, LogSoftmax, TokenLogits};
pub use objective::{DicoOutput, Objective};
pub use preference::{preferences, Preferences};
pub use rewards::{rewards, Reward};

use crate::{Error, Result};

/// DiCO's defaults, as in the paper and the authors' code.
pub mod defaults {
    /// Candidates per image (beam width and returned sequences).
    pub const CANDIDATES: usize = 5;
    /// Temperature of the loser weights.
    pub const TAU: f64 = 300.0;
    /// Scale of the DPO-style margin.
    pub const BETA: f64 = 0.2;
    /// PAC-S's reward weight.
    pub const PAC_S_WEIGHT: f64 = 2.0;
}

/// Which image and candidate a flat candidate row `row` is, for error messages.
pub(crate) fn candidate_name(row: usize, k: usize) -> String {
    format!("image {} candidate {}", row / k, row % k)
}

/// Check that `len` candidate values come in whole groups of `k ≥ 2` per image; returns the
/// number of images.
pub(crate) fn check_groups(what: &str, len: usize, k: usize) -> Result<usize> {
    if k < 2 {
        return Err(Error::InvalidArgument {
            name: "candidates per image".into(),
            problem: format!("DiCO needs a winner and at least one loser per image, got K = {k}"),
        });
    }
    if len == 0 || !len.is_multiple_of(k) {
        return Err(Error::Shape {
            what: format!("{what} (K = {k} consecutive candidates per image)"),
            expected: format!("a positive multiple of {k} rows"),
            got: format!("{len} rows"),
        });
    }
    Ok(len / k)
}

/// Every value finite, else [`Error::NonFinite`] naming the image and candidate.
pub(crate) fn check_finite(what: &str, values: &[f64], k: usize) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(row) => Err(Error::NonFinite {
            what: format!("{what} ({})", candidate_name(row, k)),
            row,
            col: 0,
        }),
    }
}
