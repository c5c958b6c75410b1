//! Beam search with the semantics of `transformers` 5.24 `generate(num_beams=…)` for one
//! prompt (`_beam_search`): at every step the top `2·num_beams` continuations of all beams
//! by accumulated log-probability; those ending with EOS (or reaching `max_new_tokens`)
//! among the first `num_beams` enter the finished set with score
//! `logprob / generated_len^length_penalty` (EOS counted); the best `num_beams` unfinished
//! ones continue. Stopping follows `early_stopping` (see [`EarlyStopping`]).

use super::greedy::greedy;
use super::logprob::{log_softmax, rows};
use super::{Candidate, Decoder};
use crate::{Error, Result};

/// HF's `early_stopping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    /// `True`: stop as soon as `num_beams` hypotheses are finished.
    True,
    /// `False` (HF default): stop when the best running beam, normalized at the current
    /// length, cannot beat the worst finished one.
    False,
    /// `"never"`: as `False`, but with `length_penalty > 0` the best running beam is
    /// normalized at the maximum length (the canonical beam search bound).
    Never,
}

/// Beam search settings (HF names).
#[derive(Debug, Clone, PartialEq)]
pub struct BeamConfig {
    /// Beams (`num_beams`); 1 is greedy decoding, as in HF.
    pub num_beams: usize,
    /// Candidates returned, best first (`num_return_sequences ≤ num_beams`).
    pub num_return_sequences: usize,
    /// Exponent of the length normalization (HF default 1.0).
    pub length_penalty: f64,
    /// Stopping rule.
    pub early_stopping: EarlyStopping,
    /// Tokens generated at most.
    pub max_new_tokens: usize,
}

impl Default for BeamConfig {
    fn default() -> Self {
        Self {
            num_beams: 4,
            num_return_sequences: 1,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::False,
            max_new_tokens: 20,
        }
    }
}

/// HF's "impossible" score.
const NEG: f64 = -1.0e9;

#[derive(Debug, Clone)]
struct Running {
    tokens: Vec<u32>,
    /// Accumulated log-probability (with `NEG` added when it hit a stopping criterion).
    score: f64,
    /// Σ log p of the tokens (what `Candidate::logprob` reports).
    logprob: f64,
}

#[derive(Debug, Clone)]
struct TopK {
    beam: usize,
    token: u32,
    acc: f64,
    logprob: f64,
    done: bool,
}

/// Run beam search; returns `num_return_sequences` candidates, best score first, with
/// `score = logprob / len(tokens)^length_penalty` (HF's `sequences_scores`).
pub fn beam_search<D: Decoder>(decoder: &D, cfg: &BeamConfig) -> Result<Vec<Candidate>> {
    validate(cfg)?;
    if cfg.num_beams == 1 {
        let mut c = greedy(decoder, cfg.max_new_tokens)?;
        c.score = normalize(c.logprob, c.tokens.len(), cfg.length_penalty);
        return Ok(vec![c]);
    }
    let nb = cfg.num_beams;
    let keep = 2 * nb;
    let eos = decoder.eos_token_id();
    let (mut state, mut logits) = decoder.start(nb)?;
    let mut running: Vec<Running> = (0..nb)
        .map(|i| Running {
            tokens: vec![],
            score: if i == 0 { 0.0 } else { NEG },
            logprob: 0.0,
        })
        .collect();
    let mut finished: Vec<Candidate> = Vec::new();
    let mut improvable = true;
    let mut generated = 0usize; // tokens generated before this step
    loop {
        let top = top_continuations(
            &rows(&logits)?,
            &running,
            keep,
            |tok, len| tok == eos || len >= cfg.max_new_tokens,
            generated + 1,
        );
        // Finished set: only the first `num_beams` continuations may enter.
        let len = generated + 1;
        for c in top.iter().take(nb).filter(|c| c.done) {
            let mut tokens = running[c.beam].tokens.clone();
            tokens.push(c.token);
            let cand = Candidate {
                tokens,
                logprob: c.logprob,
                score: normalize(c.acc, len, cfg.length_penalty),
            };
            insert_finished(&mut finished, cand, nb);
        }
        let all_done = top.iter().all(|c| c.done);
        // Next running beams: the best `num_beams` by acc (finished ones pushed down by NEG).
        let mut order: Vec<usize> = (0..top.len()).collect();
        let key = |i: usize| top[i].acc + if top[i].done { NEG } else { 0.0 };
        order.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
        order.truncate(nb);
        let next: Vec<Running> = order
            .iter()
            .map(|&i| {
                let mut tokens = running[top[i].beam].tokens.clone();
                tokens.push(top[i].token);
                Running {
                    tokens,
                    score: key(i),
                    logprob: top[i].logprob,
                }
            })
            .collect();
        let sources: Vec<usize> = order.iter().map(|&i| top[i].beam).collect();
        running = next;
        generated += 1;
        improvable &= can_improve(&running, &finished, nb, generated, cfg);
        let full_and_early = finished.len() == nb && cfg.early_stopping == EarlyStopping::True;
        if !improvable || full_and_early || all_done {
            break;
        }
        decoder.reorder(&mut state, &sources)?;
        let tokens: Vec<u32> = running
            .iter()
            .map(|r| *r.tokens.last().unwrap_or(&eos))
            .collect();
        logits = decoder.step(&mut state, &tokens)?;
    }
    finished.truncate(cfg.num_return_sequences);
    Ok(finished)
}

fn validate(cfg: &BeamConfig) -> Result<()> {
    if cfg.num_beams == 0 {
        return Err(Error::invalid("num_beams", "at least 1"));
    }
    if cfg.num_return_sequences == 0 || cfg.num_return_sequences > cfg.num_beams {
        return Err(Error::invalid(
            "num_return_sequences",
            format!("must be in 1..={}", cfg.num_beams),
        ));
    }
    if cfg.max_new_tokens == 0 {
        return Err(Error::invalid("max_new_tokens", "at least 1"));
    }
    if !cfg.length_penalty.is_finite() {
        return Err(Error::invalid("length_penalty", "must be finite"));
    }
    Ok(())
}

/// `logprob / len^length_penalty`.
pub fn normalize(logprob: f64, len: usize, length_penalty: f64) -> f64 {
    logprob / (len as f64).powf(length_penalty)
}

/// The `keep` best continuations of all beams by accumulated log-probability (stable on
/// ties: lower beam, then lower token first); `done(token, len)` marks stopping ones.
fn top_continuations(
    logits: &[Vec<f32>],
    running: &[Running],
    keep: usize,
    done: impl Fn(u32, usize) -> bool,
    len: usize,
) -> Vec<TopK> {
    let mut all: Vec<TopK> = Vec::with_capacity(keep * 2);
    for (b, row) in logits.iter().enumerate() {
        let lp = log_softmax(row);
        // Only each beam's `keep` best tokens can be among the overall `keep` best.
        let mut idx: Vec<usize> = (0..lp.len()).collect();
        let k = keep.min(idx.len());
        idx.select_nth_unstable_by(k - 1, |&x, &y| lp[y].total_cmp(&lp[x]).then(x.cmp(&y)));
        for &t in &idx[..k] {
            all.push(TopK {
                beam: b,
                token: t as u32,
                acc: running[b].score + lp[t],
                logprob: running[b].logprob + lp[t],
                done: done(t as u32, len),
            });
        }
    }
    all.sort_by(|a, b| {
        b.acc
            .total_cmp(&a.acc)
            .then(a.beam.cmp(&b.beam))
            .then(a.token.cmp(&b.token))
    });
    all.truncate(keep);
    all
}

/// Merge a finished hypothesis, keeping the best `cap` (earlier entries first on ties).
fn insert_finished(finished: &mut Vec<Candidate>, cand: Candidate, cap: usize) {
    let pos = finished
        .iter()
        .position(|f| cand.score > f.score)
        .unwrap_or(finished.len());
    finished.insert(pos, cand);
    finished.truncate(cap);
}

/// HF's `_check_early_stop_heuristic`: can the best running beam still beat the worst
/// finished one? (Always, while fewer than `num_beams` are finished.)
fn can_improve(
    running: &[Running],
    finished: &[Candidate],
    nb: usize,
    generated: usize,
    cfg: &BeamConfig,
) -> bool {
    let len = if cfg.early_stopping == EarlyStopping::Never && cfg.length_penalty > 0.0 {
        cfg.max_new_tokens
    } else {
        generated
    };
    let best = normalize(running[0].score, len, cfg.length_penalty);
    let worst = if finished.len() < nb {
        NEG
    } else {
        finished
            .iter()
            .map(|f| f.score)
            .fold(f64::INFINITY, f64::min)
    };
    best > worst
}
