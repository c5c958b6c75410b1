//! A tiny random FLAN-T5 in the Hugging Face layout (`config.json`, `tokenizer.json`,
//! `model.safetensors`), for smoke tests of `recap caption` without any download:
//! `d_model = 32`, 2 + 2 layers of 4 heads, gated-GELU, untied head, a SentencePiece-style
//! Unigram tokenizer over caption words, letters and a few suffixes (so any lowercase
//! English text tokenizes without `<unk>`). The same shapes as the committed test fixture
//! (`tests/data/models/t5/make_fixtures.py`); the weights are random (seeded), so its
//! captions are word salad over that vocabulary.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{json, Value};

use crate::models::weights::candle;
use crate::synth::rng::Rng;
use crate::{Error, Result};

const D_MODEL: usize = 32;
const D_KV: usize = 8;
const D_FF: usize = 64;
const HEADS: usize = 4;
const LAYERS: usize = 2;
const BUCKETS: usize = 32;
const EOS: usize = 1;

/// Whole-word pieces (each also `▁`-prefixed): common caption words.
const WORDS: &str = "a man woman dog cat sitting on the of in with and is are two red blue \
    standing table street picture riding horse bike people group white black small large \
    water grass next to";

/// Write the tiny model into `dir` (created if needed; files written atomically).
pub fn write_tiny_t5(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (tokenizer, vocab) = tokenizer();
    let write = |name: &str, v: &Value| crate::io::atomic::write_json_atomic(dir.join(name), v);
    write("config.json", &config(vocab))?;
    write("tokenizer.json", &tokenizer)?;
    let tensors = weights(seed, vocab).map_err(candle("tiny T5"))?;
    let tmp = dir.join("model.safetensors.tmp");
    candle_core::safetensors::save(&tensors, &tmp).map_err(candle("tiny T5"))?;
    let path = dir.join("model.safetensors");
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

fn config(vocab: usize) -> Value {
    json!({
        "architectures": ["T5ForConditionalGeneration"], "model_type": "t5",
        "vocab_size": vocab, "d_model": D_MODEL, "d_kv": D_KV, "d_ff": D_FF,
        "num_layers": LAYERS, "num_decoder_layers": LAYERS, "num_heads": HEADS,
        "relative_attention_num_buckets": BUCKETS, "relative_attention_max_distance": 20,
        "feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu_new", "is_gated_act": true,
        "layer_norm_epsilon": 1e-6, "tie_word_embeddings": false,
        "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": EOS,
        "is_encoder_decoder": true, "dropout_rate": 0.0
    })
}

/// The Unigram pieces with their log-probabilities, and the `tokenizer.json` built on them;
/// the vocabulary size is rounded up to a multiple of 8 (as T5's 32,128).
fn tokenizer() -> (Value, usize) {
    let mut pieces: Vec<(String, f64)> = vec![
        ("<pad>".into(), 0.0),
        ("</s>".into(), 0.0),
        ("<unk>".into(), 0.0),
        ("\u{2581}".into(), -2.0),
    ];
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        pieces.push((format!("\u{2581}{w}"), -3.0 - 0.01 * i as f64));
    }
    for (i, c) in "abcdefghijklmnopqrstuvwxyz.,'".chars().enumerate() {
        pieces.push((c.to_string(), -6.0 - 0.01 * i as f64));
    }
    for (i, c) in ('a'..='z').enumerate() {
        pieces.push((format!("\u{2581}{c}"), -7.0 - 0.01 * i as f64));
    }
    for s in ["ing", "ed", "er", "s"] {
        pieces.push((s.into(), -5.0));
    }
    let vocab = pieces.len().div_ceil(8) * 8;
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let metaspace = json!({"type": "Metaspace", "replacement": "\u{2581}",
                           "prepend_scheme": "always", "split": true});
    let tok = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": metaspace,
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [EOS], "tokens": ["</s>"]}}},
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 2, "byte_fallback": false,
                  "vocab": pieces.iter().map(|(p, s)| json!([p, s])).collect::<Vec<_>>()}
    });
    (tok, vocab)
}

fn weights(seed: u64, vocab: usize) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut rng = Rng::new(seed);
    let mut out = HashMap::new();
    let mut add = |name: String, shape: &[usize], base: f32, scale: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| base + scale * (rng.normal() as f32))
            .collect();
        out.insert(name, Tensor::from_vec(v, shape, &Device::Cpu)?);
        candle_core::Result::Ok(())
    };
    let (d, inner) = (D_MODEL, HEADS * D_KV);
    add("shared.weight".into(), &[vocab, d], 0.0, 1.0)?;
    add("lm_head.weight".into(), &[vocab, d], 0.0, 0.2)?;
    for (stack, attn_blocks) in [
        ("encoder", &["SelfAttention"][..]),
        ("decoder", &["SelfAttention", "EncDecAttention"][..]),
    ] {
        for i in 0..LAYERS {
            let l = format!("{stack}.block.{i}.layer");
            for (j, block) in attn_blocks.iter().enumerate() {
                for p in ["q", "k", "v"] {
                    add(format!("{l}.{j}.{block}.{p}.weight"), &[inner, d], 0.0, 0.2)?;
                }
                add(format!("{l}.{j}.{block}.o.weight"), &[d, inner], 0.0, 0.2)?;
                add(format!("{l}.{j}.layer_norm.weight"), &[d], 1.0, 0.1)?;
            }
            let ff = attn_blocks.len();
            for w in ["wi_0", "wi_1"] {
                add(
                    format!("{l}.{ff}.DenseReluDense.{w}.weight"),
                    &[D_FF, d],
                    0.0,
                    0.2,
                )?;
            }
            add(
                format!("{l}.{ff}.DenseReluDense.wo.weight"),
                &[d, D_FF],
                0.0,
                0.2,
            )?;
            add(format!("{l}.{ff}.layer_norm.weight"), &[d], 1.0, 0.1)?;
        }
        let bias = format!("{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        add(bias, &[BUCKETS, HEADS], 0.0, 0.5)?;
        add(format!("{stack}.final_layer_norm.weight"), &[d], 1.0, 0.1)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::generate::greedy;
    use crate::models::resolve;
    use crate::models::t5::{T5Tokenizer, T5};

    #[test]
    fn loads_tokenizes_without_unk_and_generates() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_t5(dir.path(), 7).unwrap();
        let files = resolve(dir.path().to_str().unwrap()).unwrap();
        let tok = T5Tokenizer::load(&files).unwrap();
        let enc = tok
            .encode("a man riding a horse next to the water.", None)
            .unwrap();
        assert!(!enc.ids.contains(&2), "no <unk>: {:?}", enc.ids);
        assert_eq!(enc.ids.last(), Some(&(EOS as u32)));
        let model = T5::load(&files).unwrap();
        let bound = model.bind(&enc.ids).unwrap();
        let out = greedy(&bound, 6).unwrap();
        assert!(out.tokens.len() <= 6 && out.logprob.is_finite() && out.logprob <= 0.0);
    }
}
