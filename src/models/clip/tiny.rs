//! Tiny random CLIP models in the real `openai/clip-vit-*` layout (`config.json`,
//! `tokenizer.json`, `preprocessor_config.json`, `model.safetensors`) for smoke tests of
//! `recap embed` without downloading anything. Not trained: the embeddings are meaningless.
//!
//! The tokenizer is CLIP's pipeline (NFC, whitespace folding, lowercase, CLIP's split regex,
//! byte-level, `</w>` word ends, `<|startoftext|> ... <|endoftext|>`) over the 512 byte
//! symbols and no merges. Weights are `N(0, 0.02²)` from a seeded generator
//! (LayerNorm weights `1 + N(0, 0.02²)`).

use std::collections::HashMap;

use crate::synth::rng::Rng;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{json, Value};

use super::config::{CLIP_MEAN, CLIP_STD};
use crate::models::weights::candle;
use crate::{Error, Result};

/// Width of both towers (SmallCap's tiny decoder matches the vision tower's).
pub const HIDDEN: usize = 32;
const INTERMEDIATE: usize = 37;
const LAYERS: usize = 2;
const IMAGE: usize = 32;
const PATCH: usize = 8;
const PROJECTION: usize = 16;
const POSITIONS: usize = 77;
/// Vocabulary: 256 byte symbols, the same with `</w>`, then BOS and EOS.
const VOCAB: usize = 514;

/// Write a tiny random CLIP model into `dir` (created if needed), seeded by `seed`.
pub fn write_tiny_clip(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, v: &Value| crate::io::atomic::write_json_atomic(dir.join(name), v);
    write("config.json", &config())?;
    write("tokenizer.json", &tokenizer())?;
    write("preprocessor_config.json", &preprocessor())?;
    let tensors = weights(seed).map_err(candle("tiny CLIP"))?;
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &path).map_err(candle("tiny CLIP"))
}

fn config() -> Value {
    json!({
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": PROJECTION,
        "logit_scale_init_value": 2.6592,
        "text_config": {
            "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": LAYERS, "num_attention_heads": 4,
            "max_position_embeddings": POSITIONS, "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5, "bos_token_id": VOCAB - 2, "eos_token_id": VOCAB - 1,
            "pad_token_id": 1, "projection_dim": PROJECTION
        },
        "vision_config": {
            "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": LAYERS, "num_attention_heads": 4, "num_channels": 3,
            "image_size": IMAGE, "patch_size": PATCH, "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5, "projection_dim": PROJECTION
        }
    })
}

fn preprocessor() -> Value {
    json!({
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": IMAGE}, "crop_size": {"height": IMAGE, "width": IMAGE},
        "do_resize": true, "do_center_crop": true, "do_rescale": true, "do_normalize": true,
        "do_convert_rgb": true, "resample": 3, "rescale_factor": 1.0 / 255.0,
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD
    })
}

/// GPT-2's byte-to-unicode table (printable bytes map to themselves).
pub(crate) fn byte_symbols() -> Vec<char> {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).expect("byte")
            } else {
                extra += 1;
                char::from_u32(255 + extra).expect("char")
            }
        })
        .collect()
}

fn tokenizer() -> Value {
    let syms = byte_symbols();
    let mut vocab = serde_json::Map::new();
    for (i, s) in syms.iter().enumerate() {
        vocab.insert(s.to_string(), json!(i));
    }
    for (i, s) in syms.iter().enumerate() {
        vocab.insert(format!("{s}</w>"), json!(256 + i));
    }
    let (bos, eos) = (VOCAB - 2, VOCAB - 1);
    vocab.insert("<|startoftext|>".into(), json!(bos));
    vocab.insert("<|endoftext|>".into(), json!(eos));
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(bos, "<|startoftext|>"), special(eos, "<|endoftext|>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", eos],
            "cls": ["<|startoftext|>", bos], "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": "<|endoftext|>",
            "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": false,
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
        out.insert(name, Tensor::from_vec(v, shape, &Device::Cpu)?);
        Ok(())
    };
    let h = HIDDEN;
    for tower in ["vision_model", "text_model"] {
        for i in 0..LAYERS {
            let l = format!("{tower}.encoder.layers.{i}");
            for p in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                add(format!("{l}.self_attn.{p}.weight"), &[h, h], 0.0)?;
                add(format!("{l}.self_attn.{p}.bias"), &[h], 0.0)?;
            }
            add(format!("{l}.mlp.fc1.weight"), &[INTERMEDIATE, h], 0.0)?;
            add(format!("{l}.mlp.fc1.bias"), &[INTERMEDIATE], 0.0)?;
            add(format!("{l}.mlp.fc2.weight"), &[h, INTERMEDIATE], 0.0)?;
            add(format!("{l}.mlp.fc2.bias"), &[h], 0.0)?;
            for n in ["layer_norm1", "layer_norm2"] {
                add(format!("{l}.{n}.weight"), &[h], 1.0)?;
                add(format!("{l}.{n}.bias"), &[h], 0.0)?;
            }
        }
    }
    let norms = [
        "vision_model.pre_layrnorm",
        "vision_model.post_layernorm",
        "text_model.final_layer_norm",
    ];
    for n in norms {
        add(format!("{n}.weight"), &[h], 1.0)?;
        add(format!("{n}.bias"), &[h], 0.0)?;
    }
    let g = IMAGE / PATCH;
    add(
        "vision_model.embeddings.patch_embedding.weight".into(),
        &[h, 3, PATCH, PATCH],
        0.0,
    )?;
    add("vision_model.embeddings.class_embedding".into(), &[h], 0.0)?;
    add(
        "vision_model.embeddings.position_embedding.weight".into(),
        &[g * g + 1, h],
        0.0,
    )?;
    add(
        "text_model.embeddings.token_embedding.weight".into(),
        &[VOCAB, h],
        0.0,
    )?;
    add(
        "text_model.embeddings.position_embedding.weight".into(),
        &[POSITIONS, h],
        0.0,
    )?;
    add("visual_projection.weight".into(), &[PROJECTION, h], 0.0)?;
    add("text_projection.weight".into(), &[PROJECTION, h], 0.0)?;
    out.insert("logit_scale".into(), Tensor::new(2.6592f32, &Device::Cpu)?);
    Ok(out)
}
