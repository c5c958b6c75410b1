//! Greedy decoding: the most likely next token until EOS or `max_new_tokens`.

use super::logprob::{argmax, log_softmax, rows};
use super::{Candidate, Decoder};
use crate::Result;

/// Decode greedily (HF `generate(do_sample=False, num_beams=1)`): stops after EOS (kept in
/// the tokens) or after `max_new_tokens` tokens. `score = logprob`.
pub fn greedy<D: Decoder>(decoder: &D, max_new_tokens: usize) -> Result<Candidate> {
    let mut tokens = Vec::new();
    let mut logprob = 0.0;
    if max_new_tokens == 0 {
        return Ok(Candidate {
            tokens,
            logprob,
            score: 0.0,
        });
    }
    let eos = decoder.eos_token_id();
    let (mut state, mut logits) = decoder.start(1)?;
    loop {
        let lp = log_softmax(&rows(&logits)?[0]);
        let tok = argmax(&lp);
        tokens.push(tok as u32);
        logprob += lp[tok];
        if tok as u32 == eos || tokens.len() >= max_new_tokens {
            break;
        }
        logits = decoder.step(&mut state, &[tok as u32])?;
    }
    Ok(Candidate {
        tokens,
        logprob,
        score: logprob,
    })
}
