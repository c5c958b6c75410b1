//! CIDEr-D exactly as pycocoevalcap 1.2's `Cider` computes it (the name COCO prints is
//! "CIDEr"; the formula is CIDEr-D: clipping and a length penalty).
//!
//! Document frequency `df(g)` = number of evaluated images whose references contain the
//! n-gram `g` (the references of the evaluated set only); `N` = number of images. Each
//! sentence becomes, per order n = 1..4, a tf-idf vector `v(g) = tf(g) * (ln N - ln max(1, df(g)))`.
//! For a candidate `c` and each reference `r`:
//!
//! `s_n(c, r) = Σ_{g in c} min(v_c(g), v_r(g)) v_r(g) / (|v_c| |v_r|) * exp(-δ² / (2σ²))`
//!
//! with σ = 6 and `δ` = difference of the two sentences' "lengths", where pycocoevalcap's
//! length is the number of **bigrams** (`len - 1`; reproduced). The division is skipped when a
//! norm is 0. `CIDEr = 10 * mean_n(Σ_r s_n(c, r)) / |R|`; the corpus value is the mean.

#![allow(clippy::needless_range_loop)] // parallel per-order arrays

use super::ngrams::{Counts, MAX_N};
use super::text::numpy_mean;

const SIGMA: f64 = 6.0;

/// A sentence's tf-idf vectors per order (first-occurrence order), norms and length.
struct TfIdf {
    vec: [Vec<(u32, f64)>; MAX_N],
    norm: [f64; MAX_N],
    length: usize,
}

/// `ln(max(1, df))` per n-gram id, where df counts the images whose references hold it.
fn log_doc_freq(refs: &[Vec<Counts>], n_grams: usize) -> Vec<f64> {
    let mut df = vec![0.0f64; n_grams];
    let mut seen = vec![usize::MAX; n_grams];
    for (img, rs) in refs.iter().enumerate() {
        for r in rs {
            for grams in &r.by_order {
                for &(g, _) in grams {
                    if seen[g as usize] != img {
                        seen[g as usize] = img;
                        df[g as usize] += 1.0;
                    }
                }
            }
        }
    }
    df.iter().map(|&d| d.max(1.0).ln()).collect()
}

fn tfidf(c: &Counts, log_df: &[f64], ref_len: f64) -> TfIdf {
    let mut vec: [Vec<(u32, f64)>; MAX_N] = Default::default();
    let mut norm = [0.0; MAX_N];
    let mut length = 0;
    for (k, grams) in c.by_order.iter().enumerate() {
        for &(g, tf) in grams {
            let v = f64::from(tf) * (ref_len - log_df[g as usize]);
            vec[k].push((g, v));
            norm[k] += v * v;
            if k == 1 {
                length += tf as usize;
            }
        }
    }
    TfIdf {
        vec,
        norm: norm.map(f64::sqrt),
        length,
    }
}

fn lookup(v: &[(u32, f64)], g: u32) -> f64 {
    v.iter().find(|(h, _)| *h == g).map_or(0.0, |&(_, x)| x)
}

fn sim(hyp: &TfIdf, r: &TfIdf) -> [f64; MAX_N] {
    let delta = hyp.length as f64 - r.length as f64;
    let penalty = std::f64::consts::E.powf(-(delta * delta) / (2.0 * SIGMA * SIGMA));
    let mut val = [0.0; MAX_N];
    for n in 0..MAX_N {
        for &(g, vh) in &hyp.vec[n] {
            let vr = lookup(&r.vec[n], g);
            val[n] += vh.min(vr) * vr;
        }
        if hyp.norm[n] != 0.0 && r.norm[n] != 0.0 {
            val[n] /= hyp.norm[n] * r.norm[n];
        }
        val[n] *= penalty;
    }
    val
}

/// CIDEr-D per candidate and corpus mean; `refs[i]` (non-empty) belongs to `cands[i]`;
/// counts from one [`count_all`](super::ngrams::count_all) holding `n_grams` n-grams.
pub fn cider(cands: &[Counts], refs: &[Vec<Counts>], n_grams: usize) -> (f64, Vec<f64>) {
    use rayon::prelude::*;
    let df = log_doc_freq(refs, n_grams);
    let ref_len = (refs.len() as f64).ln();
    let per: Vec<f64> = cands
        .par_iter()
        .zip(refs)
        .map(|(c, rs)| {
            let hyp = tfidf(c, &df, ref_len);
            let mut score = [0.0; MAX_N];
            for r in rs {
                let s = sim(&hyp, &tfidf(r, &df, ref_len));
                for n in 0..MAX_N {
                    score[n] += s[n];
                }
            }
            let mut avg = numpy_mean(&score);
            avg /= rs.len() as f64;
            avg *= 10.0;
            avg
        })
        .collect();
    (numpy_mean(&per), per)
}
