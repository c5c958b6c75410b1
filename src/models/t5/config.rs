//! `config.json` of a T5 / FLAN-T5 checkpoint (`T5Config` in `transformers`).

use serde::Deserialize;

/// The feed-forward block of every layer (`feed_forward_proj`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForwardKind {
    /// `"relu"` (original T5): `wo · relu(wi · x)`.
    Relu,
    /// `"gated-gelu"` (T5 v1.1, FLAN-T5): `wo · (gelu_new(wi_0 · x) ⊙ (wi_1 · x))`, with the
    /// tanh approximation `gelu_new(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    GatedGelu,
}

/// The fields of a T5 `config.json` this implementation uses (HF names and defaults).
#[derive(Debug, Clone, Deserialize)]
pub struct T5Config {
    /// Vocabulary size (rows of `shared.weight` and `lm_head.weight`).
    #[serde(default = "default_vocab")]
    pub vocab_size: usize,
    /// Hidden size.
    #[serde(default = "default_d_model")]
    pub d_model: usize,
    /// Size of one attention head's keys/values.
    #[serde(default = "default_d_kv")]
    pub d_kv: usize,
    /// Inner size of the feed-forward block.
    #[serde(default = "default_d_ff")]
    pub d_ff: usize,
    /// Encoder layers.
    #[serde(default = "default_layers")]
    pub num_layers: usize,
    /// Decoder layers (`num_layers` when absent).
    #[serde(default)]
    pub num_decoder_layers: Option<usize>,
    /// Attention heads.
    #[serde(default = "default_heads")]
    pub num_heads: usize,
    /// Relative-position buckets.
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    /// Relative distance at and beyond which positions share the last bucket.
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    /// `"relu"` or `"gated-gelu"`.
    #[serde(default = "default_ff")]
    pub feed_forward_proj: String,
    /// RMS-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// Whether the LM head shares `shared.weight` (HF default `true`). FLAN-T5: `false`.
    #[serde(default)]
    pub tie_word_embeddings: Option<bool>,
    /// Written by transformers ≥ 5: scale the decoder output by `d_model^-0.5` before the
    /// head. When absent it is `tie_word_embeddings != false` (as transformers derives it).
    #[serde(default)]
    pub scale_decoder_outputs: Option<bool>,
    /// The decoder's first input token (T5: the pad token, 0).
    #[serde(default)]
    pub decoder_start_token_id: Option<u32>,
    /// End-of-sequence token (T5: 1).
    #[serde(default)]
    pub eos_token_id: Option<EosId>,
    /// Padding token (T5: 0).
    #[serde(default)]
    pub pad_token_id: Option<u32>,
}

/// `eos_token_id` as a single id or a list (the first is used).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EosId {
    /// One id.
    One(u32),
    /// Several ids; generation stops at the first one listed.
    Many(Vec<u32>),
}

fn default_vocab() -> usize {
    32128
}
fn default_d_model() -> usize {
    512
}
fn default_d_kv() -> usize {
    64
}
fn default_d_ff() -> usize {
    2048
}
fn default_layers() -> usize {
    6
}
fn default_heads() -> usize {
    8
}
fn default_buckets() -> usize {
    32
}
fn default_max_distance() -> usize {
    128
}
fn default_ff() -> String {
    "relu".into()
}
fn default_eps() -> f64 {
    1e-6
}

impl T5Config {
    /// Decoder layers: `num_decoder_layers`, else `num_layers`.
    pub fn decoder_layers(&self) -> usize {
        self.num_decoder_layers.unwrap_or(self.num_layers)
    }

    /// Whether the decoder output is multiplied by `d_model^-0.5` before the LM head.
    pub fn scales_decoder_output(&self) -> bool {
        self.scale_decoder_outputs
            .unwrap_or(self.tie_word_embeddings != Some(false))
    }

    /// The end-of-sequence id (default 1).
    pub fn eos(&self) -> u32 {
        match &self.eos_token_id {
            Some(EosId::One(id)) => *id,
            Some(EosId::Many(ids)) => ids.first().copied().unwrap_or(1),
            None => 1,
        }
    }

    /// The decoder start id (default: the pad id, default 0).
    pub fn decoder_start(&self) -> u32 {
        self.decoder_start_token_id
            .or(self.pad_token_id)
            .unwrap_or(0)
    }

    /// The feed-forward kind; `Err(problem)` for an activation this implementation lacks.
    pub fn feed_forward(&self) -> std::result::Result<FeedForwardKind, String> {
        match self.feed_forward_proj.as_str() {
            "relu" => Ok(FeedForwardKind::Relu),
            "gated-gelu" => Ok(FeedForwardKind::GatedGelu),
            other => Err(format!(
                "feed_forward_proj {other:?} is not supported (expected \"relu\" or \"gated-gelu\")"
            )),
        }
    }

    /// Check the sizes are usable (non-zero, buckets ≥ 4).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_heads", self.num_heads),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(format!("config.json: {name} must be positive"));
        }
        if self.relative_attention_num_buckets < 4 || self.relative_attention_max_distance < 2 {
            return Err("config.json: relative_attention_num_buckets must be >= 4 and relative_attention_max_distance >= 2".into());
        }
        self.feed_forward().map(|_| ())
    }
}
