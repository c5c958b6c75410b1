#![cfg(feature = "models")]
//! FLAN-T5 against `transformers` 5.24 on the tiny fixture of
//! `tests/data/models/t5/make_fixtures.py`, plus invariants of the cache and of generation.

use std::path::{Path, PathBuf};

use recap::models::generate::{
    beam_search, greedy, sample, BeamConfig, Candidate, Decoder, EarlyStopping, SampleConfig,
};
use recap::models::resolve;
use recap::models::t5::position::relative_position_bucket;
use recap::models::t5::{PromptBatch, T5Tokenizer, T5};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/models/t5")
}

fn load_dir(dir: &Path) -> recap::Result<T5> {
    T5::load(&resolve(dir.to_str().unwrap())?)
}

fn model() -> T5 {
    load_dir(&fixture_dir()).unwrap()
}

fn inputs() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join("inputs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn npy(name: &str) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(fixture_dir().join(name)).unwrap();
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = f.shape().to_vec();
    (shape, f.into_vec::<f32>().unwrap())
}

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

/// Max |a − b| relative to max(1, max |b|).
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1f32, |m, x| m.max(x.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= tol * scale,
        "{what}: max diff {worst} (scale {scale})"
    );
}

fn prompt_batch() -> PromptBatch {
    let inp = inputs();
    PromptBatch {
        ids: ids(&inp["input_ids"]),
        mask: ids(&inp["attention_mask"]),
    }
}

/// The unpadded prompts.
fn prompts() -> Vec<Vec<u32>> {
    let b = prompt_batch();
    b.ids
        .iter()
        .zip(&b.mask)
        .map(|(i, m)| {
            i.iter()
                .zip(m)
                .filter(|(_, &m)| m == 1)
                .map(|(&i, _)| i)
                .collect()
        })
        .collect()
}

#[test]
fn buckets_match_hf_in_both_directions() {
    let text = std::fs::read_to_string(fixture_dir().join("buckets.json")).unwrap();
    let b: Value = serde_json::from_str(&text).unwrap();
    let rel: Vec<i64> = b["relative"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    for (key, nb, md) in [("fixture", 32, 20), ("flan", 32, 128)] {
        for (dir, bi) in [("bi", true), ("uni", false)] {
            let want = b[format!("{key}_{dir}")].as_array().unwrap();
            for (r, w) in rel.iter().zip(want) {
                let got = relative_position_bucket(*r, bi, nb, md);
                assert_eq!(got as u64, w.as_u64().unwrap(), "{key} {dir} relative {r}");
            }
        }
    }
}

#[test]
fn encoder_matches_hf_on_a_padded_batch() {
    let m = model();
    let states = m.encode(&prompt_batch()).unwrap();
    let (shape, want) = npy("encoder.npy");
    let (b, s, d) = states.dims();
    assert_eq!(vec![b as u64, s as u64, d as u64], shape);
    assert_close(&states.to_vec().unwrap(), &want, 1e-5, "encoder states");
}

#[test]
fn teacher_forced_logits_match_hf_at_every_position() {
    let m = model();
    let states = m.encode(&prompt_batch()).unwrap();
    let dec = ids(&inputs()["decoder_input_ids"]);
    let logits = m.forward_teacher(&states, &dec).unwrap();
    let (shape, want) = npy("logits.npy");
    assert_eq!(shape, vec![2, 40, m.config().vocab_size as u64]);
    assert_close(&logits.data, &want, 1e-5, "logits (2, 40, V)");
}

/// Copy the fixture into a tempdir, optionally renaming a tensor in the safetensors header
/// (same length, so offsets stay valid) and editing config.json.
fn edited_copy(rename: Option<(&str, &str)>, config: impl Fn(&mut Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture_dir().join(f), tmp.path().join(f)).unwrap();
    }
    if let Some((from, to)) = rename {
        assert_eq!(from.len(), to.len());
        let path = tmp.path().join("model.safetensors");
        let mut bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = &mut bytes[8..8 + n];
        let at = header
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .unwrap();
        header[at..at + to.len()].copy_from_slice(to.as_bytes());
        std::fs::write(&path, bytes).unwrap();
    }
    let path = tmp.path().join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config(&mut c);
    std::fs::write(&path, serde_json::to_string(&c).unwrap()).unwrap();
    tmp
}

#[test]
fn tied_head_is_shared_and_scaled_like_hf() {
    let tmp = edited_copy(Some(("\"lm_head.weight\"", "\"lm_head.weighX\"")), |c| {
        c["tie_word_embeddings"] = Value::Bool(true)
    });
    let m = load_dir(tmp.path()).unwrap();
    let b = prompt_batch();
    let one = PromptBatch {
        ids: vec![b.ids[0].clone()],
        mask: vec![b.mask[0].clone()],
    };
    let states = m.encode(&one).unwrap();
    let dec = ids(&inputs()["decoder_input_ids"]);
    let logits = m.forward_teacher(&states, &dec[..1]).unwrap();
    let (_, want) = npy("logits_tied.npy");
    assert_close(&logits.data, &want, 1e-5, "tied logits");
}

#[test]
fn missing_and_misshaped_tensors_are_named() {
    let tmp = edited_copy(
        Some((
            "encoder.final_layer_norm.weight",
            "encoder.final_layer_norm.weighX",
        )),
        |_| {},
    );
    let e = load_dir(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("encoder.final_layer_norm.weight"), "{e}");
    let tmp = edited_copy(None, |c| c["d_ff"] = Value::from(48));
    let e = load_dir(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("wi_0.weight") || e.contains("wo.weight"), "{e}");
    assert!(e.contains("shape"), "{e}");
    let tmp = edited_copy(None, |c| {
        c["feed_forward_proj"] = Value::from("gated-swish")
    });
    let e = load_dir(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("gated-swish"), "{e}");
}

#[test]
fn bad_token_ids_are_errors_not_panics() {
    let m = model();
    let e = m.bind(&[5, 100_000, 1]).unwrap_err().to_string();
    assert!(e.contains("100000"), "{e}");
    let p = m.bind(&[5, 6, 1]).unwrap();
    let (mut st, _) = p.start(2).unwrap();
    assert!(
        p.step(&mut st, &[3]).is_err(),
        "one token for two hypotheses"
    );
    assert!(p.reorder(&mut st, &[2]).is_err(), "row out of range");
}

fn gen_cases() -> Vec<Value> {
    inputs()["generate"].as_array().unwrap().clone()
}

fn toks(v: &Value) -> Vec<Vec<u32>> {
    ids(v)
}

#[test]
fn greedy_matches_hf() {
    let m = model();
    let ps = prompts();
    for case in gen_cases().iter().filter(|c| c["kind"] == "greedy") {
        let p = m
            .bind(&ps[case["prompt"].as_u64().unwrap() as usize])
            .unwrap();
        let got = greedy(&p, case["max_new_tokens"].as_u64().unwrap() as usize).unwrap();
        assert_eq!(got.tokens, toks(&case["sequences"])[0]);
    }
}

fn beam_cfg(case: &Value) -> BeamConfig {
    BeamConfig {
        num_beams: case["num_beams"].as_u64().unwrap() as usize,
        num_return_sequences: case["num_return_sequences"].as_u64().unwrap() as usize,
        length_penalty: case["length_penalty"].as_f64().unwrap(),
        early_stopping: match &case["early_stopping"] {
            Value::Bool(true) => EarlyStopping::True,
            Value::Bool(false) => EarlyStopping::False,
            _ => EarlyStopping::Never,
        },
        max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
    }
}

/// Σ log softmax of `tokens` given the prompt, by teacher forcing (no cache).
fn teacher_logprob(m: &T5, prompt: &[u32], tokens: &[u32]) -> f64 {
    let states = m.encode(&PromptBatch::pad(&[prompt.to_vec()], 0)).unwrap();
    let mut dec = vec![m.config().decoder_start()];
    dec.extend_from_slice(&tokens[..tokens.len() - 1]);
    let logits = m.forward_teacher(&states, &[dec]).unwrap();
    tokens
        .iter()
        .enumerate()
        .map(|(t, &tok)| {
            let row = logits.at(0, t);
            let max = row.iter().fold(f64::MIN, |a, &x| a.max(x as f64));
            let lse = max
                + row
                    .iter()
                    .map(|&x| (x as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            row[tok as usize] as f64 - lse
        })
        .sum()
}

#[test]
fn beam_search_matches_hf_sequences_and_scores() {
    let m = model();
    let ps = prompts();
    let mut cases = 0;
    for case in gen_cases().iter().filter(|c| c["kind"] == "beam") {
        let prompt = &ps[case["prompt"].as_u64().unwrap() as usize];
        let p = m.bind(prompt).unwrap();
        let cfg = beam_cfg(case);
        let got = beam_search(&p, &cfg).unwrap();
        let want = toks(&case["sequences"]);
        let got_tokens: Vec<Vec<u32>> = got.iter().map(|c| c.tokens.clone()).collect();
        assert_eq!(got_tokens, want, "{cfg:?} prompt {}", case["prompt"]);
        if let Some(scores) = case["sequences_scores"].as_array() {
            for (c, s) in got.iter().zip(scores) {
                let s = s.as_f64().unwrap();
                assert!(
                    (c.score - s).abs() < 1e-5 * s.abs().max(1.0),
                    "{cfg:?}: {} vs {s}",
                    c.score
                );
            }
        }
        // Scores are teacher-forced log-probs over len^length_penalty.
        for c in &got {
            let lp = teacher_logprob(&m, prompt, &c.tokens);
            assert!(
                (c.logprob - lp).abs() < 1e-4,
                "logprob {} vs teacher {lp}",
                c.logprob
            );
            let norm = lp / (c.tokens.len() as f64).powf(cfg.length_penalty);
            assert!((c.score - norm).abs() < 1e-4, "score {} vs {norm}", c.score);
        }
        cases += 1;
    }
    assert!(cases >= 8);
}

#[test]
fn beam_width_one_is_greedy() {
    let m = model();
    for prompt in prompts() {
        let p = m.bind(&prompt).unwrap();
        let g = greedy(&p, 20).unwrap();
        let cfg = BeamConfig {
            num_beams: 1,
            num_return_sequences: 1,
            ..BeamConfig::default()
        };
        let b = beam_search(&p, &cfg).unwrap();
        assert_eq!(b[0].tokens, g.tokens);
        assert!((b[0].logprob - g.logprob).abs() < 1e-9);
    }
}

#[test]
fn cached_decoding_equals_full_recomputation() {
    let m = model();
    let prompt = &prompts()[0];
    let dec = &ids(&inputs()["decoder_input_ids"])[0];
    let states = m.encode(&PromptBatch::pad(&[prompt.clone()], 0)).unwrap();
    let full = m.forward_teacher(&states, &[dec.clone()]).unwrap();
    let p = m.bind(prompt).unwrap();
    // Two hypotheses fed the same tokens: both rows must equal the full recomputation.
    let (mut st, mut logits) = p.start(2).unwrap();
    for t in 0..dec.len() {
        let rows = logits.to_vec2::<f32>().unwrap();
        for row in &rows {
            assert_close(row, full.at(0, t), 1e-5, &format!("position {t}"));
        }
        if t + 1 < dec.len() {
            logits = p.step(&mut st, &[dec[t + 1], dec[t + 1]]).unwrap();
        }
    }
}

#[test]
fn batched_equals_one_by_one() {
    let m = model();
    let batch = prompt_batch();
    let dec = ids(&inputs()["decoder_input_ids"]);
    let both = m.forward_teacher(&m.encode(&batch).unwrap(), &dec).unwrap();
    for (i, prompt) in prompts().iter().enumerate() {
        let alone = m
            .forward_teacher(
                &m.encode(&PromptBatch::pad(&[prompt.clone()], 0)).unwrap(),
                &dec[i..i + 1],
            )
            .unwrap();
        for t in 0..40 {
            assert_close(
                alone.at(0, t),
                both.at(i, t),
                1e-5,
                &format!("prompt {i} position {t}"),
            );
        }
    }
    // Binding a row of a padded batch is binding the prompt alone.
    let states = m.encode(&batch).unwrap();
    let a = greedy(&m.bind_encoded(&states, 1).unwrap(), 12).unwrap();
    let b = greedy(&m.bind(&prompts()[1]).unwrap(), 12).unwrap();
    assert_eq!(a.tokens, b.tokens);
    assert!((a.logprob - b.logprob).abs() < 1e-5);
}

fn sampled(m: &T5, seed: u64, n: usize) -> Vec<Candidate> {
    let p = m.bind(&prompts()[0]).unwrap();
    let cfg = SampleConfig {
        n,
        temperature: 1.3,
        top_k: Some(20),
        top_p: 0.9,
        max_new_tokens: 15,
        seed,
    };
    sample(&p, &cfg).unwrap()
}

#[test]
fn seeded_sampling_is_deterministic_and_scored_unwarped() {
    let m = model();
    let a = sampled(&m, 7, 8);
    assert_eq!(a, sampled(&m, 7, 8));
    assert_ne!(a, sampled(&m, 8, 8));
    let eos = m.config().eos();
    let prompt = &prompts()[0];
    for c in &a {
        assert!(!c.tokens.is_empty() && c.tokens.len() <= 15);
        assert!(
            c.tokens.len() == 15 || *c.tokens.last().unwrap() == eos,
            "stops at EOS or max"
        );
        assert!(
            !c.tokens[..c.tokens.len() - 1].contains(&eos),
            "nothing after EOS"
        );
        let lp = teacher_logprob(&m, prompt, &c.tokens);
        assert!((c.logprob - lp).abs() < 1e-4, "{} vs {lp}", c.logprob);
        assert_eq!(c.score, c.logprob);
    }
    assert!(
        a.iter().any(|c| *c.tokens.last().unwrap() == eos),
        "some sample ends with EOS"
    );
}

#[test]
fn generation_stops_at_eos_and_max_length() {
    let m = model();
    let eos = m.config().eos();
    let p = m.bind(&prompts()[0]).unwrap();
    assert_eq!(greedy(&p, 7).unwrap().tokens.len(), 7);
    assert!(greedy(&p, 0).unwrap().tokens.is_empty());
    let cfg = BeamConfig {
        num_beams: 4,
        num_return_sequences: 4,
        max_new_tokens: 20,
        ..BeamConfig::default()
    };
    let beams = beam_search(&p, &cfg).unwrap();
    for c in &beams {
        let ends = *c.tokens.last().unwrap() == eos;
        assert!(ends || c.tokens.len() == 20);
        assert!(!c.tokens[..c.tokens.len() - 1].contains(&eos));
    }
    assert!(beams.iter().any(|c| *c.tokens.last().unwrap() == eos));
    assert!(
        beams.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
}

#[test]
fn tokenizer_matches_hf_and_reports_truncation() {
    let files = resolve(fixture_dir().to_str().unwrap()).unwrap();
    let tok = T5Tokenizer::load(&files).unwrap();
    let inp = inputs();
    for case in inp["tokenize"].as_array().unwrap() {
        let e = tok.encode(case["text"].as_str().unwrap(), None).unwrap();
        assert_eq!(
            e.ids,
            ids(&Value::Array(vec![case["ids"].clone()]))[0],
            "{}",
            case["text"]
        );
        assert!(!e.truncated);
    }
    for case in inp["truncate"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let n = case["max_length"].as_u64().unwrap() as usize;
        let e = tok.encode(text, Some(n)).unwrap();
        let want = ids(&Value::Array(vec![case["ids"].clone()]))[0].clone();
        assert_eq!(e.ids, want, "{text}");
        assert_eq!(e.truncated, tok.encode(text, None).unwrap().ids.len() > n);
    }
    let (batch, truncated) = tok
        .batch(&["a man riding a horse on the street", "two dogs"], None)
        .unwrap();
    assert_eq!(batch, prompt_batch());
    assert_eq!(truncated, vec![false, false]);
}

#[test]
fn real_flan_t5_when_available() {
    let Some(dir) = std::env::var_os("RECAP_FLAN_T5_DIR") else {
        recap::testing::skip("models_t5 real weights: RECAP_FLAN_T5_DIR is not set");
        return;
    };
    let files = resolve(dir.to_str().unwrap()).unwrap();
    let m = T5::load(&files).unwrap();
    let tok = T5Tokenizer::load(&files).unwrap();
    let e = tok
        .encode("translate English to German: The house is wonderful.", None)
        .unwrap();
    let p = m.bind(&e.ids).unwrap();
    let g = greedy(&p, 20).unwrap();
    let text = tok.decode(&g.tokens).unwrap();
    assert!(text.contains("Haus"), "{text}");
    let b = beam_search(
        &p,
        &BeamConfig {
            num_beams: 4,
            num_return_sequences: 2,
            ..BeamConfig::default()
        },
    )
    .unwrap();
    let lp = teacher_logprob(&m, &e.ids, &b[0].tokens);
    assert!((b[0].logprob - lp).abs() < 1e-3);
}
