//! Seeded sampling with HF's warpers, in HF's order: temperature, top-k, top-p.

use super::logprob::{log_softmax, rows};
use super::{Candidate, Decoder};
use crate::synth::rng::Rng;
use crate::{Error, Result};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleConfig {
    /// Candidates drawn (independent sequences sharing the prompt).
    pub n: usize,
    /// Logits are divided by it (> 0).
    pub temperature: f64,
    /// Keep the `k` largest logits (ties with the k-th kept); `None`: no limit.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p`
    /// (`0 < top_p ≤ 1`; at least one token).
    pub top_p: f64,
    /// Tokens generated at most per candidate.
    pub max_new_tokens: usize,
    /// The PRNG seed (same seed, same candidates).
    pub seed: u64,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            n: 1,
            temperature: 1.0,
            top_k: None,
            top_p: 1.0,
            max_new_tokens: 20,
            seed: 0,
        }
    }
}

impl SampleConfig {
    fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(Error::invalid("temperature", "must be positive and finite"));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid("top_p", "must be in (0, 1]"));
        }
        if self.top_k == Some(0) {
            return Err(Error::invalid("top_k", "must be at least 1"));
        }
        if self.n == 0 {
            return Err(Error::invalid("n", "at least one candidate"));
        }
        Ok(())
    }
}

/// The warped sampling distribution of one logits row: `softmax(warp(x / T))`, with the
/// tokens top-k / top-p remove at probability 0.
pub fn warped_probs(row: &[f32], cfg: &SampleConfig) -> Vec<f64> {
    let mut x: Vec<f64> = row.iter().map(|&v| v as f64 / cfg.temperature).collect();
    if let Some(k) = cfg.top_k.filter(|&k| k < x.len()) {
        let mut sorted = x.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        x.iter_mut()
            .filter(|v| **v < kth)
            .for_each(|v| *v = f64::NEG_INFINITY);
    }
    if cfg.top_p < 1.0 {
        let lp = log_softmax_f64(&x);
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[a].total_cmp(&x[b])); // ascending, as HF
        let mut cum = 0.0;
        let last = order.len() - 1;
        for (rank, &i) in order.iter().enumerate() {
            cum += lp[i].exp();
            if cum <= 1.0 - cfg.top_p && rank < last {
                x[i] = f64::NEG_INFINITY;
            }
        }
    }
    let lp = log_softmax_f64(&x);
    lp.into_iter().map(f64::exp).collect()
}

fn log_softmax_f64(x: &[f64]) -> Vec<f64> {
    let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    x.iter().map(|v| v - lse).collect()
}

fn draw(probs: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = probs.iter().sum();
    let u = rng.uniform() * total;
    let mut cum = 0.0;
    let mut last = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            cum += p;
            last = i;
            if u < cum {
                return i;
            }
        }
    }
    last
}

/// Draw `cfg.n` candidates: each stops after EOS or `max_new_tokens`. `logprob` sums the
/// **unwarped** log-softmax of the drawn tokens; `score = logprob`. The hypotheses share
/// the prompt; finished ones leave the batch. Deterministic for a seed.
pub fn sample<D: Decoder>(decoder: &D, cfg: &SampleConfig) -> Result<Vec<Candidate>> {
    cfg.validate()?;
    let mut out: Vec<Candidate> = (0..cfg.n)
        .map(|_| Candidate {
            tokens: vec![],
            logprob: 0.0,
            score: 0.0,
        })
        .collect();
    if cfg.max_new_tokens == 0 {
        return Ok(out);
    }
    let eos = decoder.eos_token_id();
    let mut rng = Rng::new(cfg.seed);
    let (mut state, mut logits) = decoder.start(cfg.n)?;
    let mut live: Vec<usize> = (0..cfg.n).collect();
    loop {
        let rows = rows(&logits)?;
        let mut keep = Vec::new();
        let mut next = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let tok = draw(&warped_probs(row, cfg), &mut rng);
            let c = &mut out[live[r]];
            c.tokens.push(tok as u32);
            c.logprob += log_softmax(row)[tok];
            if tok as u32 != eos && c.tokens.len() < cfg.max_new_tokens {
                keep.push(r);
                next.push(tok as u32);
            }
        }
        if keep.is_empty() {
            break;
        }
        if keep.len() < live.len() {
            decoder.reorder(&mut state, &keep)?;
            live = keep.iter().map(|&r| live[r]).collect();
        }
        logits = decoder.step(&mut state, &next)?;
    }
    for c in &mut out {
        c.score = c.logprob;
    }
    Ok(out)
}
