//! Masked sequence log-probabilities from per-token logits, and their gradient.

use rayon::prelude::*;

use super::candidate_name;
use crate::{Error, Result};

/// Per-token logits of `batch` sequences: `data[(b·len + t)·vocab + v]` is the logit of token
/// `v` at position `t` of sequence `b` (row-major `(batch, len, vocab)`, as a model emits
/// them), with the target token ids `targets[b·len + t]`. Positions whose target is `pad_id`
/// do not count.
#[derive(Debug, Clone, Copy)]
pub struct TokenLogits<'a> {
    /// The logits, `batch · len · vocab` values.
    pub data: &'a [f32],
    /// The target ids, `batch · len` values.
    pub targets: &'a [u32],
    /// Sequences.
    pub batch: usize,
    /// Positions per sequence.
    pub len: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// The padding id (masked out).
    pub pad_id: u32,
}

impl TokenLogits<'_> {
    fn check(&self, k: usize) -> Result<()> {
        let (b, t, v) = (self.batch, self.len, self.vocab);
        let cells = b.checked_mul(t).and_then(|bt| bt.checked_mul(v));
        if cells != Some(self.data.len()) || self.targets.len() != b * t || v == 0 {
            return Err(Error::Shape {
                what: "token logits (batch, len, vocab) and targets (batch, len)".into(),
                expected: format!("{b}·{t}·{v} logits, {} targets, vocab > 0", b * t),
                got: format!("{} logits, {} targets", self.data.len(), self.targets.len()),
            });
        }
        for (row, seq) in self.targets.chunks_exact(t.max(1)).enumerate().take(b) {
            if let Some(&bad) = seq.iter().find(|&&y| y != self.pad_id && y as usize >= v) {
                return Err(Error::IndexOutOfRange {
                    what: format!("target token of {}", candidate_name(row, k)),
                    index: bad as usize,
                    len: v,
                });
            }
            if t == 0 || seq.iter().all(|&y| y == self.pad_id) {
                return Err(Error::InvalidArgument {
                    name: "targets".into(),
                    problem: format!("{} has no non-pad token", candidate_name(row, k)),
                });
            }
        }
        Ok(())
    }
}

/// `log Σ_v exp(x_v)` of one row in f64, stably (`m + ln Σ exp(x_v − m)`), or an error value
/// (NaN) when a logit is not finite.
fn log_sum_exp(row: &[f32]) -> f64 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    if !m.is_finite() || row.iter().any(|x| !x.is_finite()) {
        return f64::NAN;
    }
    let m = f64::from(m);
    m + row
        .iter()
        .map(|&x| (f64::from(x) - m).exp())
        .sum::<f64>()
        .ln()
}

/// `ℓ_b = Σ_t log softmax(logits_{b,t})[y_{b,t}]` over the non-pad positions of every
/// sequence (f64; no length normalization). `k` is the candidates per image, used only to
/// name a failing sequence as "image i candidate j".
///
/// Errors: inconsistent shapes, a target id ≥ vocab, a sequence with no non-pad token, a
/// non-finite logit at a counted position (each naming the image and candidate).
pub fn sequence_logprobs(logits: &TokenLogits<'_>, k: usize) -> Result<Vec<f64>> {
    let k = k.max(1);
    logits.check(k)?;
    let (t, v) = (logits.len, logits.vocab);
    let per_token: Vec<f64> = logits
        .data
        .par_chunks_exact(v)
        .zip(logits.targets.par_iter())
        .map(|(row, &y)| {
            if y == logits.pad_id {
                0.0
            } else {
                f64::from(row[y as usize]) - log_sum_exp(row)
            }
        })
        .collect();
    per_token
        .chunks_exact(t)
        .enumerate()
        .map(|(b, s)| {
            let l: f64 = s.iter().sum();
            if l.is_finite() {
                Ok(l)
            } else {
                let pos = s.iter().position(|x| !x.is_finite()).unwrap_or(0);
                Err(Error::NonFinite {
                    what: format!("token logits ({}, position {pos})", candidate_name(b, k)),
                    row: b,
                    col: pos,
                })
            }
        })
        .collect()
}

/// The gradient of a loss `L(ℓ)` with respect to the logits, given `grad_logp[b] = ∂L/∂ℓ_b`:
/// `∂L/∂x_{b,t,v} = ∂L/∂ℓ_b · (1[v = y_{b,t}] − softmax(x_{b,t})_v)` at non-pad positions,
/// 0 at pad positions. Returned as f32 in the logits' layout.
pub fn logits_grad(logits: &TokenLogits<'_>, grad_logp: &[f64], k: usize) -> Result<Vec<f32>> {
    let k = k.max(1);
    logits.check(k)?;
    if grad_logp.len() != logits.batch {
        return Err(Error::shape(
            "∂L/∂ℓ per sequence",
            logits.batch.to_string(),
            grad_logp.len().to_string(),
        ));
    }
    let (t, v) = (logits.len, logits.vocab);
    let mut grad = vec![0f32; logits.data.len()];
    grad.par_chunks_exact_mut(v)
        .zip(logits.data.par_chunks_exact(v))
        .enumerate()
        .for_each(|(pos, (out, row))| {
            let y = logits.targets[pos];
            if y == logits.pad_id {
                return;
            }
            let g = grad_logp[pos / t];
            let lse = log_sum_exp(row);
            for (o, &x) in out.iter_mut().zip(row) {
                *o = (-g * (f64::from(x) - lse).exp()) as f32;
            }
            out[y as usize] = (g * (1.0 - (f64::from(row[y as usize]) - lse).exp())) as f32;
        });
    Ok(grad)
}
