#![cfg(feature = "models")]
//! SmallCap's decoder against the PyTorch reference of
//! `tests/data/models/smallcap/make_fixtures.py` (transformers' GPT-2 with SmallCap's reduced
//! cross-attention, random weights, a tiny byte-level BPE), through `resolve` + `load`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, IndexOp, Tensor};
use recap::models::generate::Decoder;
use recap::models::resolve;
use recap::models::smallcap::{self, prompt_text, PromptIds, SmallCap, SmallCapTokenizer};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/models/smallcap")
}

fn fixture() -> SmallCap {
    smallcap::load(&resolve(fixture_dir().to_str().unwrap()).unwrap()).unwrap()
}

fn npy(name: &str) -> Tensor {
    Tensor::read_npy(fixture_dir().join(name)).unwrap()
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn prompt_ids() -> PromptIds {
    let e = expected();
    PromptIds {
        ids: ids(&e["prompt_ids"]),
        eos_token_id: e["eos_id"].as_u64().unwrap() as u32,
    }
}

/// Image `i` of the fixture's features, `(1, S, d)`.
fn image(i: usize) -> Tensor {
    npy("features.npy").narrow(0, i, 1).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

const TOL: f32 = 2e-5;

fn assert_close(a: &Tensor, b: &Tensor, what: &str) {
    let scale = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
    let tol = TOL * scale.to_scalar::<f32>().unwrap().max(1.0);
    let d = max_abs_diff(a, b);
    assert!(d <= tol, "{what}: max |Δ| = {d:e} > {tol:e}");
}

fn argmax(row: &Tensor) -> u32 {
    row.argmax(0).unwrap().to_scalar::<u32>().unwrap()
}

#[test]
fn teacher_forced_logits_match_the_reference() {
    let model = fixture();
    let tokens = npy("tokens.npy");
    let t = tokens.dim(0).unwrap();
    let batch = Tensor::stack(&[&tokens, &tokens], 0).unwrap();
    let logits = model.forward_teacher(&npy("features.npy"), &batch).unwrap();
    let reference = npy("logits.npy");
    assert_eq!(logits.dims(), &[2, t, model.config.vocab_size]);
    assert_close(&logits, &reference, "teacher-forced logits, 2 images");
    let d = max_abs_diff(&logits, &reference);
    eprintln!("teacher-forced logits: max |Δ| vs PyTorch = {d:e}");
    // One image as (S, d): the same row.
    let one = model
        .forward_teacher(&image(1).squeeze(0).unwrap(), &tokens.unsqueeze(0).unwrap())
        .unwrap();
    assert_close(&one, &reference.narrow(0, 1, 1).unwrap(), "image 1 alone");
}

#[test]
fn the_published_pytorch_bin_layout_loads_the_same_model() {
    let bin =
        smallcap::load(&resolve(fixture_dir().join("bin").to_str().unwrap()).unwrap()).unwrap();
    let tokens = npy("tokens.npy").unsqueeze(0).unwrap();
    let logits = bin.forward_teacher(&image(0), &tokens).unwrap();
    assert_close(
        &logits,
        &npy("logits.npy").narrow(0, 0, 1).unwrap(),
        "pytorch_model.bin",
    );
}

#[test]
fn prompt_text_and_ids_equal_smallcaps_template() {
    let e = expected();
    let caps: Vec<String> = e["captions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let k = e["k"].as_u64().unwrap() as usize;
    assert_eq!(prompt_text(Some(&caps), k), e["prompt"].as_str().unwrap());
    let tok = SmallCapTokenizer::load(&resolve(fixture_dir().to_str().unwrap()).unwrap()).unwrap();
    assert_eq!(tok.prompt(Some(&caps), k).unwrap(), prompt_ids());
    assert_eq!(tok.pad_token_id as u64, e["pad_id"].as_u64().unwrap());
    assert_eq!(
        tok.prompt::<String>(None, k).unwrap().ids,
        ids(&e["no_rag_prompt_ids"])
    );
    // The caption read back as postprocess_preds(decode(prompt + generated)).
    for (g, text) in e["greedy_new_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(e["greedy_text"].as_array().unwrap())
    {
        let caption = tok.caption(&prompt_ids().ids, &ids(g)).unwrap();
        assert_eq!(
            caption,
            smallcap::prompt::postprocess(text.as_str().unwrap())
        );
    }
}

#[test]
fn kv_cache_steps_equal_full_recomputation() {
    let model = fixture();
    let prompt = prompt_ids();
    let t0 = prompt.ids.len();
    let continuation = ids(&expected()["continuation_ids"]);
    let reference = npy("logits.npy");
    for img in 0..2 {
        let bound = model.bind(&image(img), &prompt).unwrap();
        let (mut state, first) = bound.start(1).unwrap();
        let want = reference.i((img, t0 - 1..t0)).unwrap();
        assert_close(&first, &want, "start");
        for (i, &tok) in continuation.iter().enumerate() {
            let logits = bound.step(&mut state, &[tok]).unwrap();
            let want = reference.i((img, t0 + i..t0 + i + 1)).unwrap();
            assert_close(&logits, &want, &format!("image {img}, step {i}"));
        }
        assert_eq!(state.generated(), continuation.len());
    }
}

#[test]
fn greedy_decoding_through_the_trait_matches_python() {
    let model = fixture();
    let e = expected();
    for (img, want) in e["greedy_new_ids"].as_array().unwrap().iter().enumerate() {
        let want = ids(want);
        let bound = model.bind(&image(img), &prompt_ids()).unwrap();
        assert_eq!(bound.vocab_size(), model.config.vocab_size);
        let (mut state, mut logits) = bound.start(1).unwrap();
        let mut got = Vec::new();
        while got.len() < want.len() {
            let next = argmax(&logits.i(0).unwrap());
            got.push(next);
            if next == bound.eos_token_id() {
                break;
            }
            logits = bound.step(&mut state, &[next]).unwrap();
        }
        assert_eq!(got, want, "image {img}");
    }
}

/// Logits of one hypothesis continuing the prompt with `tokens`, run alone.
fn alone(model: &SmallCap, img: usize, tokens: &[u32]) -> Vec<Tensor> {
    let bound = model.bind(&image(img), &prompt_ids()).unwrap();
    let (mut state, first) = bound.start(1).unwrap();
    let mut out = vec![first];
    for &t in tokens {
        out.push(bound.step(&mut state, &[t]).unwrap());
    }
    out
}

#[test]
fn hypotheses_sharing_the_prompt_equal_one_by_one() {
    let model = fixture();
    let seqs: [[u32; 3]; 3] = [[5, 40, 7], [100, 100, 3], [299, 17, 42]];
    let bound = model.bind(&image(0), &prompt_ids()).unwrap();
    let (mut state, first) = bound.start(3).unwrap();
    let mut together = vec![first];
    for step in 0..3 {
        let tokens: Vec<u32> = seqs.iter().map(|s| s[step]).collect();
        together.push(bound.step(&mut state, &tokens).unwrap());
    }
    for (h, seq) in seqs.iter().enumerate() {
        let single = alone(&model, 0, seq);
        for (step, (a, b)) in together.iter().zip(&single).enumerate() {
            let row = a.narrow(0, h, 1).unwrap();
            assert!(max_abs_diff(&row, b) <= 1e-5, "hypothesis {h}, step {step}");
        }
    }
}

#[test]
fn reorder_gathers_each_hypothesis_cache() {
    let model = fixture();
    let bound = model.bind(&image(1), &prompt_ids()).unwrap();
    let (mut state, _) = bound.start(3).unwrap();
    bound.step(&mut state, &[1, 2, 3]).unwrap();
    bound.step(&mut state, &[4, 5, 6]).unwrap();
    bound.reorder(&mut state, &[2, 0, 2, 1]).unwrap();
    assert_eq!(state.hypotheses(), 4);
    let logits = bound.step(&mut state, &[7, 8, 9, 10]).unwrap();
    let expect = [[3, 6, 7], [1, 4, 8], [3, 6, 9], [2, 5, 10]];
    for (row, seq) in expect.iter().enumerate() {
        let single = alone(&model, 1, seq);
        let d = max_abs_diff(&logits.narrow(0, row, 1).unwrap(), &single[3]);
        assert!(d <= 1e-5, "row {row}: {d:e}");
    }
    // Out-of-range rows and a token count that is not the live count are errors.
    assert!(bound.reorder(&mut state, &[4]).is_err());
    assert!(bound.reorder(&mut state, &[]).is_err());
    let e = bound.step(&mut state, &[1, 2]).unwrap_err();
    assert!(e.to_string().contains("4 live hypotheses"), "{e}");
    // A failed call leaves the state usable.
    assert_eq!(state.generated(), 3);
    bound.step(&mut state, &[1, 2, 3, 4]).unwrap();
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let model = fixture();
    let d = model.config.n_embd;
    let wrong = Tensor::zeros((1, 5, d + 1), DType::F32, &Device::Cpu).unwrap();
    let e = model.bind(&wrong, &prompt_ids()).unwrap_err();
    assert!(e.to_string().contains("image features"), "{e}");
    let bad_token = PromptIds {
        ids: vec![300],
        eos_token_id: 0,
    };
    assert!(model.bind(&image(0), &bad_token).is_err());
    let empty = PromptIds {
        ids: vec![],
        eos_token_id: 0,
    };
    assert!(model.bind(&image(0), &empty).is_err());
    let long = PromptIds {
        ids: vec![5; model.config.n_positions + 1],
        eos_token_id: 0,
    };
    let e = model.bind(&image(0), &long).unwrap_err();
    assert!(e.to_string().contains("n_positions"), "{e}");
    // Generation past n_positions is refused.
    let full = PromptIds {
        ids: vec![5; model.config.n_positions],
        eos_token_id: 0,
    };
    let bound = model.bind(&image(0), &full).unwrap();
    let (mut state, _) = bound.start(1).unwrap();
    assert!(bound.step(&mut state, &[5]).is_err());
    assert!(bound.start(0).is_err());
}

/// Copy the fixture with its tensors edited, and return the error of loading it.
fn load_edited(edit: impl FnOnce(&mut std::collections::HashMap<String, Tensor>)) -> String {
    let mut tensors =
        candle_core::safetensors::load(fixture_dir().join("model.safetensors"), &Device::Cpu)
            .unwrap();
    edit(&mut tensors);
    let dir = tempfile::tempdir().unwrap();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    std::fs::copy(
        fixture_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let files = resolve(dir.path().to_str().unwrap()).unwrap();
    smallcap::load(&files).unwrap_err().to_string()
}

#[test]
fn missing_or_misshaped_tensors_are_named() {
    let name = "decoder.transformer.h.1.crossattention.q_attn.weight";
    let e = load_edited(|t| {
        t.remove(name);
    });
    assert!(e.contains(name), "{e}");
    let name = "decoder.transformer.h.0.crossattention.c_attn.weight";
    let e = load_edited(|t| {
        // Unreduced (2d instead of 2d/r): a plain GPT-2 cross-attention.
        t.insert(
            name.into(),
            Tensor::zeros((48, 96), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert!(e.contains(name) && e.contains("96"), "{e}");
    let e = load_edited(|t| {
        t.retain(|k, _| k.starts_with("encoder."));
    });
    assert!(e.contains("decoder.transformer.wte.weight"), "{e}");
}

#[test]
fn inconsistent_configs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_dir().join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    let text = std::fs::read_to_string(fixture_dir().join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["decoder"]["cross_attention_reduce_factor"] = 5.into();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let files = resolve(dir.path().to_str().unwrap()).unwrap();
    let e = smallcap::load(&files).unwrap_err().to_string();
    assert!(e.contains("cross_attention_reduce_factor"), "{e}");
}

#[test]
fn real_smallcap7m_when_available() {
    let Ok(dir) = std::env::var("RECAP_SMALLCAP_DIR") else {
        recap::testing::skip("SmallCap7M real weights: RECAP_SMALLCAP_DIR is not set");
        return;
    };
    let files = resolve(&dir).unwrap();
    let model = smallcap::load(&files).unwrap();
    let c = &model.config;
    assert_eq!((c.n_embd, c.n_layer, c.n_head), (768, 12, 12));
    assert_eq!(c.cross_attention_reduce_factor, 4);
    // SmallCap7M ships no tokenizer.json (it uses gpt2's); without one, arbitrary ids below
    // GPT-2's vocabulary ('.' is 13 there).
    let prompt = match SmallCapTokenizer::load(&files) {
        Ok(tok) => tok.prompt(Some(&["a dog on a couch"]), 4).unwrap(),
        Err(_) => PromptIds {
            ids: vec![100, 2000, 905, 198, 198, 64, 3290, 13],
            eos_token_id: 13,
        },
    };
    let features = Tensor::randn(0f32, 1.0, (1, 50, 768), &Device::Cpu).unwrap();
    let bound = model.bind(&features, &prompt).unwrap();
    let (mut state, logits) = bound.start(3).unwrap();
    assert_eq!(logits.dims(), &[3, c.vocab_size]);
    let next = bound.step(&mut state, &[257, 257, 3290]).unwrap();
    let full = Tensor::from_slice(
        &[prompt.ids.clone(), vec![3290]].concat(),
        (1, prompt.ids.len() + 1),
        &Device::Cpu,
    )
    .unwrap();
    let teacher = model.forward_teacher(&features, &full).unwrap();
    let last = teacher
        .i((0, prompt.ids.len()..prompt.ids.len() + 1))
        .unwrap();
    assert_close(
        &next.narrow(0, 2, 1).unwrap(),
        &last,
        "real weights: step vs full",
    );
}

/// SmallCap's decoding as `infer.py` asks transformers for it (3 beams, length penalty 0,
/// early stopping, 25 new tokens, eos "."), through `pipeline::local::decode` as
/// `recap caption --system smallcap` runs it: the same beams, in the same order, with the same
/// `sequences_scores` (make_fixtures.py records `generate`'s output).
#[test]
fn smallcaps_beam_search_equals_transformers_generate() {
    use recap::models::generate::EarlyStopping;
    use recap::pipeline::local::decode;
    use recap::pipeline::Decoding;
    let model = fixture();
    let e = expected();
    let beam = Decoding::Beam {
        width: 3,
        length_penalty: 0.0,
    };
    for img in 0..2 {
        let bound = model.bind(&image(img), &prompt_ids()).unwrap();
        let got = decode(&bound, 3, &beam, 25, EarlyStopping::True).unwrap();
        let want = e["beam3_new_ids"][img].as_array().unwrap();
        let scores = e["beam3_scores"][img].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "image {img}");
        for ((c, w), s) in got.iter().zip(want).zip(scores) {
            assert_eq!(c.tokens, ids(w), "image {img}");
            let s = s.as_f64().unwrap();
            assert!(
                (c.score - s).abs() <= 1e-4 * s.abs(),
                "image {img}: {} vs {s}",
                c.score
            );
        }
    }
}
