//! BLEU / ROUGE-L / CIDEr-D and the PTB tokenizer against pycocoevalcap 1.2 goldens made by
//! `tests/data/metrics/make_goldens.py`.

#![allow(clippy::needless_range_loop)]

use recap::metrics::tokenize::ptb_tokenize;
use recap::metrics::{ngram_metrics, EvalSet, Tokenization};
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/tests/data/metrics/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn assert_rel(what: &str, got: f64, want: f64, tol: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        got == want || ((got - want).abs() / scale) <= tol,
        "{what}: got {got:e}, want {want:e} (rel {:e})",
        (got - want).abs() / scale
    );
}

#[test]
fn tokenizer_matches_stanford_ptb_pipeline() {
    let g = golden("tokenizer.json");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in g["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want = case["tokens"].as_str().unwrap();
        let got = ptb_tokenize(text);
        if let Some(reason) = case.get("known_difference") {
            // Documented difference: must still differ (else the exclusion is stale).
            assert_ne!(got, want, "known difference now matches, drop it: {reason}");
            continue;
        }
        checked += 1;
        if got != want {
            failures.push(format!("{text:?}\n   got  {got:?}\n   want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 60);
}

fn set_from_golden(set: &Value, tokenized: bool) -> EvalSet {
    let ids = strings(&set["ids"]);
    let src = if tokenized {
        &set["tokenized"]
    } else {
        &set["raw"]
    };
    let cands = ids
        .iter()
        .map(|k| src[k]["cand"].as_str().unwrap().to_owned())
        .collect();
    let refs = ids.iter().map(|k| strings(&src[k]["refs"])).collect();
    let tok = if tokenized {
        Tokenization::None
    } else {
        Tokenization::Ptb
    };
    EvalSet::from_raw(ids, cands, refs, tok)
}

fn check_scores(name: &str, set: &Value, e: &EvalSet) {
    let s = ngram_metrics(e);
    for k in 0..4 {
        let m = format!("Bleu_{}", k + 1);
        assert_rel(
            &format!("{name} corpus {m}"),
            s.bleu.corpus[k],
            set["corpus"][&m].as_f64().unwrap(),
            1e-12,
        );
    }
    assert_rel(
        &format!("{name} corpus ROUGE_L"),
        s.rouge_l.0,
        set["corpus"]["ROUGE_L"].as_f64().unwrap(),
        1e-12,
    );
    assert_rel(
        &format!("{name} corpus CIDEr"),
        s.cider.0,
        set["corpus"]["CIDEr"].as_f64().unwrap(),
        1e-12,
    );
    for (i, id) in e.ids.iter().enumerate() {
        let want = &set["per_image"][id];
        for k in 0..4 {
            let m = format!("Bleu_{}", k + 1);
            assert_rel(
                &format!("{name}/{id} {m}"),
                s.bleu.per_item[i][k],
                want[&m].as_f64().unwrap(),
                1e-12,
            );
        }
        assert_rel(
            &format!("{name}/{id} ROUGE_L"),
            s.rouge_l.1[i],
            want["ROUGE_L"].as_f64().unwrap(),
            1e-12,
        );
        assert_rel(
            &format!("{name}/{id} CIDEr"),
            s.cider.1[i],
            want["CIDEr"].as_f64().unwrap(),
            1e-12,
        );
    }
}

#[test]
fn ngram_metrics_match_pycocoevalcap_on_tokenized_input() {
    let g = golden("ngram.json");
    for (name, set) in g["sets"].as_object().unwrap() {
        check_scores(name, set, &set_from_golden(set, true));
    }
}

#[test]
fn ngram_metrics_match_pycocoevalcap_end_to_end_with_rust_tokenizer() {
    let g = golden("ngram.json");
    for (name, set) in g["sets"].as_object().unwrap() {
        let e = set_from_golden(set, false);
        let t = set_from_golden(set, true);
        assert_eq!(e.cands, t.cands, "{name}: tokenized candidates");
        assert_eq!(e.refs, t.refs, "{name}: tokenized references");
        check_scores(name, set, &e);
    }
}

#[test]
fn clipscore_readme_example_reproduces() {
    use recap::io::captions::{read_candidates, read_references};
    let dir = format!(
        "{}/tests/data/metrics/clipscore_example",
        env!("CARGO_MANIFEST_DIR")
    );
    let refs = read_references(format!("{dir}/refs.json")).unwrap();
    // Values printed in clipscore's README (4 decimals).
    let table = [
        (
            "good_captions",
            [0.6667, 0.4899, 0.3469, 0.0000],
            0.4280,
            0.5637,
        ),
        (
            "bad_captions",
            [0.4815, 0.2404, 0.1359, 0.0000],
            0.3121,
            0.2790,
        ),
    ];
    for (name, b, r, c) in table {
        let cands = read_candidates(format!("{dir}/{name}.json")).unwrap();
        let e = EvalSet::new(&cands, &refs, Tokenization::Ptb).unwrap();
        let s = ngram_metrics(&e);
        for k in 0..4 {
            assert!(
                (s.bleu.corpus[k] - b[k]).abs() < 5e-5,
                "{name} BLEU-{}",
                k + 1
            );
        }
        assert!((s.rouge_l.0 - r).abs() < 5e-5, "{name} ROUGE-L");
        assert!((s.cider.0 - c).abs() < 5e-5, "{name} CIDEr");
    }
}

#[test]
fn tokenizer_matches_stanford_on_random_caption_like_text() {
    let g = golden("tokenizer_random.json");
    let cases = g["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want = case["tokens"].as_str().unwrap();
        let got = ptb_tokenize(text);
        if got != want {
            failures.push(format!("{text:?}\n   got  {got:?}\n   want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
