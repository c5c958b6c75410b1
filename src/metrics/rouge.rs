//! ROUGE-L exactly as pycocoevalcap 1.2's `Rouge` computes it.
//!
//! Sentences are split on single spaces (`s.split(" ")`, so an empty caption is one empty
//! token). For a candidate `c` and references `r_j`, with `l_j = LCS(c, r_j)`:
//! `P = max_j l_j / |c|`, `R = max_j l_j / |r_j|` (maxima taken separately), and with
//! `β = 1.2`: `ROUGE_L = (1 + β²) P R / (R + β² P)` when both are non-zero, else 0.
//! The corpus value is the mean over candidates.

use super::text::numpy_mean;

const BETA: f64 = 1.2;

/// Length of the longest common subsequence of two token sequences.
pub fn lcs_len<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut row = vec![0usize; short.len() + 1];
    for x in long {
        let mut diag = 0;
        for (j, y) in short.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[short.len()]
}

/// ROUGE-L of one candidate against its references (both split on single spaces).
pub fn rouge_l_one(cand: &[&str], refs: &[Vec<&str>]) -> f64 {
    let mut prec_max = f64::NEG_INFINITY;
    let mut rec_max = f64::NEG_INFINITY;
    for r in refs {
        let lcs = lcs_len(r, cand) as f64;
        prec_max = prec_max.max(lcs / cand.len() as f64);
        rec_max = rec_max.max(lcs / r.len() as f64);
    }
    if prec_max != 0.0 && rec_max != 0.0 {
        let b2 = BETA * BETA;
        ((1.0 + b2) * prec_max * rec_max) / (rec_max + b2 * prec_max)
    } else {
        0.0
    }
}

/// ROUGE-L per candidate and corpus mean; `refs[i]` belongs to `cands[i]`.
pub fn rouge_l(cands: &[String], refs: &[Vec<String>]) -> (f64, Vec<f64>) {
    use rayon::prelude::*;
    let per: Vec<f64> = cands
        .par_iter()
        .zip(refs)
        .map(|(c, rs)| {
            let c: Vec<&str> = c.split(' ').collect();
            let rs: Vec<Vec<&str>> = rs.iter().map(|r| r.split(' ').collect()).collect();
            rouge_l_one(&c, &rs)
        })
        .collect();
    (numpy_mean(&per), per)
}
