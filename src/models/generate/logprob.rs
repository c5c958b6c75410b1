//! Logits → log-probabilities, row by row, in `f64`.

use candle_core::Tensor;

use crate::models::weights::model_err;
use crate::Result;

/// Rows of a `(n, vocab)` f32 logits tensor.
pub fn rows(logits: &Tensor) -> Result<Vec<Vec<f32>>> {
    logits
        .to_vec2::<f32>()
        .map_err(|e| model_err("generate", format!("logits: {e}")))
}

/// `log softmax(x)ᵢ = xᵢ − max − ln Σⱼ exp(xⱼ − max)`, in `f64`.
pub fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    row.iter().map(|&x| x as f64 - lse).collect()
}

/// Index of the largest value (the first one on ties, like `torch.argmax`).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
