//! Rank correlation with human judgments: Kendall τ-b and τ-c exactly as
//! `scipy.stats.kendalltau(x, y, variant=...)` (scipy 1.17), and pairwise accuracy.
//!
//! With `n` items, `P = n(n-1)/2` pairs, `D` discordant pairs, ties `T_x`, `T_y` (pairs tied
//! in x / in y) and `T_xy` (tied in both), `S = P - T_x - T_y + T_xy - 2D` (concordant minus
//! discordant):
//!
//! - τ-b = `S / sqrt(P - T_x) / sqrt(P - T_y)`;
//! - τ-c = `2S / (n² (m - 1) / m)` with `m` = the smaller number of distinct values;
//!
//! both clamped to [-1, 1]. O(n log n): one sort and a merge-sort inversion count.
//!
//! NaN: scipy (`nan_policy='propagate'`) returns NaN when an input holds NaN; here that is an
//! error ([`Error::NonFinite`]) so it cannot pass unnoticed — drop NaN ratings first, as
//! clipscore's `compute_metrics.py` does. Like scipy, the result is NaN when every pair is
//! tied in x or in y (a constant input, or fewer than two items).

use crate::error::{Error, Result};

/// Which τ variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TauVariant {
    /// τ-b (ties adjusted), scipy's default; clipscore uses it for Flickr8k-CrowdFlower.
    B,
    /// τ-c (Stuart's), used by clipscore for Flickr8k-Expert.
    C,
}

/// Kendall τ of two paired samples (see the module docs for the formulas).
pub fn kendall_tau(x: &[f64], y: &[f64], variant: TauVariant) -> Result<f64> {
    if x.len() != y.len() {
        return Err(Error::Shape {
            what: "kendall_tau y".into(),
            expected: format!("{} values (as x)", x.len()),
            got: format!("{} values", y.len()),
        });
    }
    for (name, v) in [("x", x), ("y", y)] {
        if let Some(i) = v.iter().position(|a| a.is_nan()) {
            return Err(Error::NonFinite {
                what: format!("kendall_tau {name}"),
                row: i,
                col: 0,
            });
        }
    }
    let n = x.len();
    if n == 0 {
        return Ok(f64::NAN);
    }
    // `+ 0.0` turns -0.0 into 0.0: scipy compares with `!=`, which ties them.
    let (x, y): (Vec<f64>, Vec<f64>) = x.iter().zip(y).map(|(a, b)| (a + 0.0, b + 0.0)).unzip();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(y[a].total_cmp(&y[b])));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();

    let tot = (n as i128 * (n as i128 - 1)) / 2;
    let x_tie = tie_pairs_sorted(&xs);
    let ntie = joint_tie_pairs(&xs, &ys);
    let dis = inversions(&mut ys) as i128;
    // ys is now sorted.
    let y_tie = tie_pairs_sorted(&ys);
    if x_tie == tot || y_tie == tot {
        return Ok(f64::NAN);
    }
    let s = tot - x_tie - y_tie + ntie - 2 * dis;
    let tau = match variant {
        TauVariant::B => s as f64 / ((tot - x_tie) as f64).sqrt() / ((tot - y_tie) as f64).sqrt(),
        TauVariant::C => {
            let m = distinct_sorted(&xs).min(distinct_sorted(&ys)) as i128;
            let n2 = n as i128 * n as i128;
            (2 * s) as f64 / ((n2 * (m - 1)) as f64 / m as f64)
        }
    };
    Ok(tau.clamp(-1.0, 1.0))
}

/// Pairs tied within runs of equal values of a sorted slice.
fn tie_pairs_sorted(v: &[f64]) -> i128 {
    runs(v.len(), |i| v[i] == v[i - 1])
}

fn joint_tie_pairs(x: &[f64], y: &[f64]) -> i128 {
    runs(x.len(), |i| x[i] == x[i - 1] && y[i] == y[i - 1])
}

/// Sum of c(c-1)/2 over runs, where `same(i)` says item i continues the run of i-1.
fn runs(n: usize, same: impl Fn(usize) -> bool) -> i128 {
    let mut total = 0i128;
    let mut run = 1i128;
    for i in 1..n {
        if same(i) {
            run += 1;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    total + run * (run - 1) / 2
}

fn distinct_sorted(v: &[f64]) -> usize {
    if v.is_empty() {
        return 0;
    }
    1 + (1..v.len()).filter(|&i| v[i] != v[i - 1]).count()
}

/// Count pairs i < j with v[i] > v[j] (strictly), sorting `v` (merge sort).
fn inversions(v: &mut [f64]) -> u64 {
    let mut buf = v.to_vec();
    merge_count(v, &mut buf)
}

fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = merge_count(&mut v[..mid], &mut buf[..mid]);
    count += merge_count(&mut v[mid..], &mut buf[mid..]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if v[j] < v[i] {
            buf[k] = v[j];
            count += (mid - i) as u64;
            j += 1;
        } else {
            buf[k] = v[i];
            i += 1;
        }
        k += 1;
    }
    buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
    k += mid - i;
    buf[k..n].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buf[..n]);
    count
}

/// Pairwise accuracy (Pascal-50S / FOIL style): the fraction of pairs where the metric
/// prefers the caption people preferred. `a[i]`, `b[i]` are the metric's scores of the two
/// captions of pair i and `human_prefers_a[i]` the human choice. A metric tie earns
/// `tie_credit` (0.0 counts it wrong; 0.5 is half credit).
pub fn pairwise_accuracy(
    a: &[f64],
    b: &[f64],
    human_prefers_a: &[bool],
    tie_credit: f64,
) -> Result<f64> {
    if a.len() != b.len() || a.len() != human_prefers_a.len() {
        return Err(Error::Shape {
            what: "pairwise_accuracy inputs".into(),
            expected: format!("{} pairs in each", a.len()),
            got: format!("{} / {} / {}", a.len(), b.len(), human_prefers_a.len()),
        });
    }
    if a.is_empty() {
        return Err(Error::invalid("pairs", "no pairs to evaluate"));
    }
    let mut credit = 0.0;
    for (i, ((&sa, &sb), &pa)) in a.iter().zip(b).zip(human_prefers_a).enumerate() {
        if sa.is_nan() || sb.is_nan() {
            return Err(Error::NonFinite {
                what: "pairwise_accuracy scores".into(),
                row: i,
                col: usize::from(sb.is_nan()),
            });
        }
        credit += if sa == sb {
            tie_credit
        } else if (sa > sb) == pa {
            1.0
        } else {
            0.0
        };
    }
    Ok(credit / a.len() as f64)
}
