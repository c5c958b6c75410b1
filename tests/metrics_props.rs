//! Properties: the tokenizer never panics and is idempotent-safe on arbitrary text; Kendall τ
//! equals the O(n²) definition with ties; n-gram metrics stay in range.

use proptest::prelude::*;
use recap::metrics::correlation::{kendall_tau, TauVariant};
use recap::metrics::tokenize::{ptb_tokenize, PUNCTUATIONS};
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};

/// τ from its definition: concordant minus discordant over all pairs (scipy's formulas).
fn naive_tau(x: &[f64], y: &[f64], variant: TauVariant) -> f64 {
    let n = x.len();
    let (mut s, mut tx, mut ty) = (0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = (x[i] - x[j]).signum() * f64::from(u8::from(x[i] != x[j]));
            let dy = (y[i] - y[j]).signum() * f64::from(u8::from(y[i] != y[j]));
            s += (dx * dy) as i64;
            tx += i64::from(x[i] == x[j]);
            ty += i64::from(y[i] == y[j]);
        }
    }
    let p = (n * (n - 1) / 2) as i64;
    match variant {
        TauVariant::B => s as f64 / (((p - tx) as f64) * ((p - ty) as f64)).sqrt(),
        TauVariant::C => {
            let distinct = |v: &[f64]| {
                let mut u = v.to_vec();
                u.sort_by(f64::total_cmp);
                u.dedup();
                u.len() as f64
            };
            let m = distinct(x).min(distinct(y));
            2.0 * s as f64 / ((n * n) as f64 * (m - 1.0) / m)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tokenizer_total_and_clean(s in "\\PC{0,60}") {
        let t = ptb_tokenize(&s);
        prop_assert!(!t.starts_with(' ') && !t.ends_with(' ') && !t.contains("  "));
        for tok in t.split(' ').filter(|w| !w.is_empty()) {
            prop_assert!(!PUNCTUATIONS.contains(&tok), "{tok:?} in {t:?}");
        }
    }

    #[test]
    fn tokenizer_on_caption_like_text(words in prop::collection::vec("[A-Za-z]{1,8}('s|n't|,|\\.|!|\\?|-[a-z]{1,4})?", 0..15)) {
        let s = words.join(" ");
        let t = ptb_tokenize(&s);
        prop_assert_eq!(t.clone(), t.to_lowercase());
    }

    #[test]
    fn kendall_matches_definition(pairs in prop::collection::vec((0u8..5, 0u8..4), 2..40), c in any::<bool>()) {
        let x: Vec<f64> = pairs.iter().map(|p| f64::from(p.0)).collect();
        let y: Vec<f64> = pairs.iter().map(|p| f64::from(p.1)).collect();
        let v = if c { TauVariant::C } else { TauVariant::B };
        let got = kendall_tau(&x, &y, v).unwrap();
        let want = naive_tau(&x, &y, v);
        if want.is_finite() && x.iter().any(|a| *a != x[0]) && y.iter().any(|a| *a != y[0]) {
            prop_assert!((got - want.clamp(-1.0, 1.0)).abs() < 1e-12, "{got} vs {want}");
        } else {
            prop_assert!(got.is_nan());
        }
    }

    #[test]
    fn ngram_metrics_in_range(items in prop::collection::vec(("[a-d ]{0,20}", prop::collection::vec("[a-d ]{0,20}", 1..4)), 1..8)) {
        let ids = (0..items.len()).map(|i| i.to_string()).collect();
        let (c, r): (Vec<String>, Vec<Vec<String>>) = items.into_iter().unzip();
        let s = ngram_metrics(&EvalSet::from_raw(ids, c, r, Tokenization::None));
        for b in s.bleu.per_item.iter().flatten().chain(&s.bleu.corpus) {
            prop_assert!((0.0..=1.0 + 1e-9).contains(b));
        }
        for v in s.rouge_l.1.iter().chain(std::iter::once(&s.rouge_l.0)) {
            prop_assert!((0.0..=1.0 + 1e-12).contains(v));
        }
        for v in &s.cider.1 {
            prop_assert!(v.is_finite() && *v >= 0.0);
        }
    }
}
