//! BLEU-1..4 exactly as pycocoevalcap 1.2's `Bleu(4)` computes it.
//!
//! Per candidate with references `R`: clipped n-gram matches `m_n` (each n-gram's count
//! clipped to its maximum count in any single reference), guesses `g_n = max(0, len - n + 1)`,
//! effective reference length `r` = the reference length closest to the candidate length
//! (ties to the shorter one). With `tiny = 1e-15`, `small = 1e-9`:
//!
//! `BLEU_n = (prod_{k<=n} (m_k + tiny) / (g_k + small))^(1/n) * BP`,
//! `BP = exp(1 - 1/ratio)` when `ratio = (len + tiny) / (r + small) < 1`, else 1.
//!
//! The corpus score uses the same formula on the counts summed over all candidates (not the
//! mean of the per-candidate scores).

#![allow(clippy::needless_range_loop)] // parallel per-order arrays

use super::ngrams::{Counts, MAX_N};

const TINY: f64 = 1e-15;
const SMALL: f64 = 1e-9;

/// BLEU-1..4 per candidate and for the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct BleuScores {
    /// Corpus BLEU-1..4 from summed counts.
    pub corpus: [f64; MAX_N],
    /// BLEU-1..4 of each candidate, in input order.
    pub per_item: Vec<[f64; MAX_N]>,
}

/// The sufficient statistics of one candidate.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    test_len: usize,
    ref_len: usize,
    guess: [usize; MAX_N],
    correct: [usize; MAX_N],
}

/// `max_counts` is scratch indexed by n-gram id, all zeros on entry and on return.
fn stats(cand: &Counts, refs: &[Counts], max_counts: &mut [u32]) -> Stats {
    for r in refs {
        for grams in &r.by_order {
            for &(g, c) in grams {
                let e = &mut max_counts[g as usize];
                *e = (*e).max(c);
            }
        }
    }
    let t = cand.len;
    // Closest reference length; ties go to the shorter reference.
    let ref_len = refs
        .iter()
        .map(|r| (r.len.abs_diff(t), r.len))
        .min()
        .map_or(0, |(_, l)| l);
    let mut s = Stats {
        test_len: t,
        ref_len,
        ..Stats::default()
    };
    for k in 0..MAX_N {
        s.guess[k] = (t + 1).saturating_sub(k + 1);
        s.correct[k] = cand.by_order[k]
            .iter()
            .map(|&(g, c)| c.min(max_counts[g as usize]) as usize)
            .sum();
    }
    for r in refs {
        for grams in &r.by_order {
            for &(g, _) in grams {
                max_counts[g as usize] = 0;
            }
        }
    }
    s
}

fn score(s: &Stats) -> [f64; MAX_N] {
    let mut out = [0.0; MAX_N];
    let mut bleu = 1.0f64;
    for k in 0..MAX_N {
        bleu *= (s.correct[k] as f64 + TINY) / (s.guess[k] as f64 + SMALL);
        out[k] = bleu.powf(1.0 / (k as f64 + 1.0));
    }
    let ratio = (s.test_len as f64 + TINY) / (s.ref_len as f64 + SMALL);
    if ratio < 1.0 {
        let bp = (1.0 - 1.0 / ratio).exp();
        for v in &mut out {
            *v *= bp;
        }
    }
    out
}

/// BLEU-1..4 of candidates against their references (n-gram counts from one
/// [`count_all`](super::ngrams::count_all) holding `n_grams` n-grams; `refs[i]` belongs to
/// `cands[i]` and must not be empty).
pub fn bleu(cands: &[Counts], refs: &[Vec<Counts>], n_grams: usize) -> BleuScores {
    let mut scratch = vec![0u32; n_grams];
    let all: Vec<Stats> = cands
        .iter()
        .zip(refs)
        .map(|(c, r)| stats(c, r, &mut scratch))
        .collect();
    let per_item = all.iter().map(score).collect();
    let mut total = Stats::default();
    for s in &all {
        total.test_len += s.test_len;
        total.ref_len += s.ref_len;
        for k in 0..MAX_N {
            total.guess[k] += s.guess[k];
            total.correct[k] += s.correct[k];
        }
    }
    BleuScores {
        corpus: score(&total),
        per_item,
    }
}
