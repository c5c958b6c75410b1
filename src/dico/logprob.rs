//! Masked sequence log-probabilities from per-token logits, and their gradient.

use rayon::prelude::*;

use super::candidate_name;
use crate::math::exp::{log_sum_exp, scaled_softmax};
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

/// The log-softmax of every counted position of a batch: its normalizer
/// `lse_{b,t} = log Σ_v exp(x_{b,t,v})` computed once (f64), shared by the sequence
/// log-probabilities and their gradient.
#[derive(Debug, Clone)]
pub struct LogSoftmax<'a> {
    logits: TokenLogits<'a>,
    k: usize,
    lse: Vec<f64>,
}

impl<'a> LogSoftmax<'a> {
    /// Check the shapes and targets and compute the normalizers (pad positions: 0).
    /// `k` (candidates per image) only names a failing sequence as "image i candidate j".
    pub fn new(logits: TokenLogits<'a>, k: usize) -> Result<Self> {
        let k = k.max(1);
        logits.check(k)?;
        let lse = logits
            .data
            .par_chunks_exact(logits.vocab)
            .zip(logits.targets.par_iter())
            .map(|(row, &y)| {
                if y == logits.pad_id {
                    0.0
                } else {
                    log_sum_exp(row)
                }
            })
            .collect();
        Ok(LogSoftmax { logits, k, lse })
    }

    /// `ℓ_b = Σ_t (x_{b,t,y_{b,t}} − lse_{b,t})` over the non-pad positions (f64, no length
    /// normalization). Errors: a non-finite logit at a counted position, naming the image,
    /// candidate and position.
    pub fn sequence_logprobs(&self) -> Result<Vec<f64>> {
        let (t, v) = (self.logits.len, self.logits.vocab);
        (0..self.logits.batch)
            .map(|b| {
                let mut total = 0.0;
                for pos in 0..t {
                    let cell = b * t + pos;
                    let y = self.logits.targets[cell];
                    if y == self.logits.pad_id {
                        continue;
                    }
                    let term = f64::from(self.logits.data[cell * v + y as usize]) - self.lse[cell];
                    if !term.is_finite() {
                        let what = format!(
                            "token logits ({}, position {pos})",
                            candidate_name(b, self.k)
                        );
                        return Err(Error::NonFinite {
                            what,
                            row: b,
                            col: pos,
                        });
                    }
                    total += term;
                }
                Ok(total)
            })
            .collect()
    }

    /// The gradient of a loss `L(ℓ)` with respect to the logits, given `grad_logp[b] = ∂L/∂ℓ_b`:
    /// `∂L/∂x_{b,t,v} = ∂L/∂ℓ_b · (1[v = y_{b,t}] − softmax(x_{b,t})_v)` at non-pad positions,
    /// 0 at pad positions; f32 in the logits' layout.
    pub fn logits_grad(&self, grad_logp: &[f64]) -> Result<Vec<f32>> {
        let l = &self.logits;
        if grad_logp.len() != l.batch {
            return Err(Error::shape(
                "∂L/∂ℓ per sequence",
                l.batch.to_string(),
                grad_logp.len().to_string(),
            ));
        }
        let mut grad = vec![0f32; l.data.len()];
        grad.par_chunks_exact_mut(l.vocab)
            .zip(l.data.par_chunks_exact(l.vocab))
            .enumerate()
            .for_each(|(cell, (out, row))| {
                let y = l.targets[cell];
                if y == l.pad_id {
                    return;
                }
                let (g, lse) = (grad_logp[cell / l.len], self.lse[cell]);
                scaled_softmax(out, row, lse, -g);
                out[y as usize] = (g * (1.0 - (f64::from(row[y as usize]) - lse).exp())) as f32;
            });
        Ok(grad)
    }
}

/// `ℓ_b` of every sequence ([`LogSoftmax::sequence_logprobs`]).
///
/// Errors: inconsistent shapes, a target id ≥ vocab, a sequence with no non-pad token, a
/// non-finite logit at a counted position (each naming the image and candidate).
pub fn sequence_logprobs(logits: &TokenLogits<'_>, k: usize) -> Result<Vec<f64>> {
    LogSoftmax::new(*logits, k)?.sequence_logprobs()
}

/// `∂L/∂logits` from `∂L/∂ℓ` ([`LogSoftmax::logits_grad`]; build a [`LogSoftmax`] once to
/// share its normalizers with [`LogSoftmax::sequence_logprobs`]).
pub fn logits_grad(logits: &TokenLogits<'_>, grad_logp: &[f64], k: usize) -> Result<Vec<f32>> {
    LogSoftmax::new(*logits, k)?.logits_grad(grad_logp)
}
