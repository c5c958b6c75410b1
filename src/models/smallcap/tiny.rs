//! A tiny random SmallCap checkpoint in the real `Yova/SmallCap7M` layout (`config.json` with
//! `"encoder"` and `"decoder"`, `model.safetensors` with `decoder.*` tensors, and GPT-2's
//! tokenizer files) for smoke tests of `recap caption --system smallcap` without any
//! download. Its decoder width equals the tiny CLIP's vision width
//! ([`crate::models::clip::tiny::HIDDEN`]), as SmallCap's equals ViT-B/32's (768), so the
//! tiny CLIP's `last_hidden_state` feeds it directly. Not trained: captions are random bytes.
//!
//! The tokenizer is GPT-2's pipeline (byte-level pre-tokenizer with GPT-2's split regex,
//! byte-level decoder, `<|endoftext|>`) over the 256 byte symbols and no merges, so `"."`
//! (SmallCap's end token) and `"!"` (its padding) are single tokens as in GPT-2. Weights are
//! `N(0, 0.02²)` from a seeded generator (LayerNorm weights `1 + N(0, 0.02²)`), except the
//! token embeddings and an untied output head sized so that the untrained decoder writes
//! letters (see `embeddings` in the source).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{json, Value};

use crate::models::clip::tiny::{byte_symbols, HIDDEN};
use crate::models::weights::candle;
use crate::synth::rng::Rng;
use crate::{Error, Result};

const LAYERS: usize = 2;
const HEADS: usize = 4;
const INNER: usize = 64;
const REDUCE: usize = 4;
/// Prompts of 4 captions are a few hundred byte tokens without merges.
const POSITIONS: usize = 1024;
/// 256 byte symbols, then `<|endoftext|>`.
const VOCAB: usize = 257;

/// Write a tiny random SmallCap checkpoint into `dir` (created if needed), seeded by `seed`.
pub fn write_tiny_smallcap(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, v: &Value| crate::io::atomic::write_json_atomic(dir.join(name), v);
    write("config.json", &config())?;
    write("tokenizer.json", &tokenizer())?;
    let tensors = weights(seed).map_err(candle("tiny SmallCap"))?;
    let path = dir.join("model.safetensors");
    let tmp = dir.join("model.safetensors.tmp");
    candle_core::safetensors::save(&tensors, &tmp).map_err(candle("tiny SmallCap"))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

fn config() -> Value {
    json!({
        "model_type": "smallcap", "architectures": ["SmallCap"],
        "encoder": {"model_type": "clip_vision_model", "hidden_size": HIDDEN},
        "decoder": {
            "model_type": "this_gpt2", "architectures": ["ThisGPT2LMHeadModel"],
            "vocab_size": VOCAB, "n_positions": POSITIONS, "n_embd": HIDDEN, "n_inner": INNER,
            "n_layer": LAYERS, "n_head": HEADS, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5, "add_cross_attention": true,
            "cross_attention_reduce_factor": REDUCE, "scale_attn_weights": true,
            "bos_token_id": VOCAB - 1, "eos_token_id": VOCAB - 1, "tie_word_embeddings": false
        },
        "tie_word_embeddings": false
    })
}

fn tokenizer() -> Value {
    let mut vocab = serde_json::Map::new();
    for (i, s) in byte_symbols().iter().enumerate() {
        vocab.insert(s.to_string(), json!(i));
    }
    let eot = VOCAB - 1;
    vocab.insert("<|endoftext|>".into(), json!(eot));
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false,
                            "trim_offsets": true, "use_regex": true});
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": true, "special": true}],
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": []}
    })
}

fn weights(seed: u64) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut rng = Rng::new(seed);
    let mut out = HashMap::new();
    let mut add = |name: String, shape: &[usize], base: f32| -> candle_core::Result<()> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| base + 0.02 * (rng.normal() as f32))
            .collect();
        out.insert(
            format!("decoder.{name}"),
            Tensor::from_vec(v, shape, &Device::Cpu)?,
        );
        Ok(())
    };
    let (d, w) = (HIDDEN, HIDDEN / REDUCE);
    // GPT-2's Conv1D stores (in, out).
    let mut conv = |name: String, n_in: usize, n_out: usize| -> candle_core::Result<()> {
        add(format!("{name}.weight"), &[n_in, n_out], 0.0)?;
        add(format!("{name}.bias"), &[n_out], 0.0)
    };
    for i in 0..LAYERS {
        let b = format!("transformer.h.{i}");
        conv(format!("{b}.attn.c_attn"), d, 3 * d)?;
        conv(format!("{b}.attn.c_proj"), d, d)?;
        conv(format!("{b}.crossattention.q_attn"), d, w)?;
        conv(format!("{b}.crossattention.c_attn"), d, 2 * w)?;
        conv(format!("{b}.crossattention.c_proj"), w, d)?;
        conv(format!("{b}.mlp.c_fc"), d, INNER)?;
        conv(format!("{b}.mlp.c_proj"), INNER, d)?;
    }
    let mut norms: Vec<String> = (0..LAYERS)
        .flat_map(|i| ["ln_1", "ln_cross_attn", "ln_2"].map(|n| format!("transformer.h.{i}.{n}")))
        .collect();
    norms.push("transformer.ln_f".into());
    for n in norms {
        add(format!("{n}.weight"), &[d], 1.0)?;
        add(format!("{n}.bias"), &[d], 0.0)?;
    }
    add("transformer.wpe.weight".into(), &[POSITIONS, d], 0.0)?;
    let (wte, head) = (
        embeddings(&mut rng, 0.3, 0.3)?,
        embeddings(&mut rng, 0.5, 0.02)?,
    );
    out.insert("decoder.transformer.wte.weight".into(), wte);
    out.insert("decoder.lm_head.weight".into(), head);
    Ok(out)
}

/// A `VOCAB x HIDDEN` table with rows `N(0, σ²)`: `σ = readable` for lowercase letters,
/// space and `"."`, `σ = other` for the other tokens. With `wte` at 0.3 the last token
/// dominates the untrained decoder's state and the untied head (0.5 / 0.02) maps it to a
/// readable successor: captions are letters that end, rather than arbitrary bytes.
fn embeddings(rng: &mut Rng, readable: f32, other: f32) -> candle_core::Result<Tensor> {
    let is_readable = |v: usize| {
        v < 256 && (v as u8 == b' ' || v as u8 == b'.' || (v as u8).is_ascii_lowercase())
    };
    let mut data = Vec::with_capacity(VOCAB * HIDDEN);
    for v in 0..VOCAB {
        let std = if is_readable(v) { readable } else { other };
        data.extend((0..HIDDEN).map(|_| std * (rng.normal() as f32)));
    }
    Tensor::from_vec(data, (VOCAB, HIDDEN), &Device::Cpu)
}
