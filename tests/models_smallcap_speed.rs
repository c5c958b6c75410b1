#![cfg(feature = "models")]
//! SmallCap7M-sized decoding (GPT-2 base, r = 4, random weights written by
//! `tests/data/models/smallcap/bench_reference.py`): greedy decoding through the `Decoder`
//! trait equals PyTorch's (token ids and logits), and its wall time is printed for the
//! comparison with the PyTorch timings that script recorded. Runs when
//! `RECAP_SMALLCAP_BENCH_DIR` points at that script's output; candle's threads follow
//! `RAYON_NUM_THREADS`.

use std::path::Path;
use std::time::Instant;

use candle_core::{IndexOp, Tensor};
use recap::models::generate::Decoder;
use recap::models::resolve;
use recap::models::smallcap::{self, PromptIds, SmallCap};

const NEW: usize = 25;

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Prefill + `NEW` greedy steps for `n` hypotheses; returns row 0's tokens and logits.
fn decode(
    model: &SmallCap,
    features: &Tensor,
    prompt: &PromptIds,
    n: usize,
) -> (Vec<u32>, Vec<Tensor>) {
    let bound = model.bind(features, prompt).unwrap();
    let (mut state, mut logits) = bound.start(n).unwrap();
    let (mut tokens, mut rows) = (Vec::new(), vec![logits.i(0).unwrap()]);
    for _ in 0..NEW {
        let next: Vec<u32> = logits.argmax(1).unwrap().to_vec1().unwrap();
        tokens.push(next[0]);
        logits = bound.step(&mut state, &next).unwrap();
        rows.push(logits.i(0).unwrap());
    }
    (tokens, rows)
}

#[test]
fn smallcap7m_sized_greedy_decoding_matches_pytorch_and_is_timed() {
    let Ok(dir) = std::env::var("RECAP_SMALLCAP_BENCH_DIR") else {
        recap::testing::skip(
            "SmallCap7M-sized speed/parity: RECAP_SMALLCAP_BENCH_DIR is not set (run bench_reference.py)",
        );
        return;
    };
    let t = Instant::now();
    let model = smallcap::load(&resolve(&dir).unwrap()).unwrap();
    eprintln!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let dir = Path::new(&dir);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let prompt = PromptIds {
        ids: ids(&expected["prompt_ids"]),
        eos_token_id: 13,
    };
    let features = Tensor::read_npy(dir.join("features.npy")).unwrap();
    let reference = Tensor::read_npy(dir.join("greedy_logits.npy")).unwrap();

    let (tokens, rows) = decode(&model, &features, &prompt, 1);
    assert_eq!(tokens, ids(&expected["greedy_new_ids"]));
    let got = Tensor::stack(&rows, 0).unwrap();
    let diff = (&got - &reference)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap();
    let diff = diff.to_scalar::<f32>().unwrap();
    eprintln!(
        "max |Δ logits| vs PyTorch over {} positions: {diff:e}",
        NEW + 1
    );
    assert!(diff < 1e-3, "{diff}");

    // Where the time goes (n = 1): the prompt once, then one cached step.
    let bound = model.bind(&features, &prompt).unwrap();
    let t = Instant::now();
    let (mut state, _) = bound.start(1).unwrap();
    let prefill = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for &tok in &tokens {
        bound.step(&mut state, &[tok]).unwrap();
    }
    eprintln!(
        "n=1: prefill {:.0} ms, {NEW} steps {:.0} ms",
        prefill * 1e3,
        t.elapsed().as_secs_f64() * 1e3
    );

    for n in [1usize, 3] {
        decode(&model, &features, &prompt, n); // warm-up
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                decode(&model, &features, &prompt, n);
                t.elapsed().as_secs_f64()
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        eprintln!(
            "candle threads={} n={n}: prefill {} + {NEW} steps: {:.0} ms (median of 5)",
            std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()),
            prompt.ids.len(),
            runs[2] * 1e3
        );
    }
}
