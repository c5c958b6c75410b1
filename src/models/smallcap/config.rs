//! SmallCap's decoder configuration: a GPT-2 `config.json` (`model_type: "this_gpt2"`) with
//! `cross_attention_reduce_factor`, read from a SmallCap checkpoint's `config.json` (its
//! `"decoder"` object) or from a bare decoder's `config.json`.

use serde::Deserialize;

use crate::models::ModelFiles;
use crate::Result;

/// The activation of the MLP (`activation_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu_new` / `gelu_pytorch_tanh`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (GPT-2's).
    GeluTanh,
    /// `gelu`: `0.5·x·(1 + erf(x/√2))`.
    GeluErf,
    /// `relu`: `max(x, 0)`.
    Relu,
}

/// The GPT-2 decoder's hyper-parameters (Hugging Face `GPT2Config` names) plus SmallCap's
/// `cross_attention_reduce_factor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmallCapConfig {
    /// Vocabulary size (rows of `wte`, columns of the logits).
    pub vocab_size: usize,
    /// Number of learned positions (rows of `wpe`): prompt + generated tokens ≤ this.
    pub n_positions: usize,
    /// Hidden size `d`.
    pub n_embd: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Number of attention heads `h` (self- and cross-attention).
    pub n_head: usize,
    /// MLP inner size; `None` means `4·d`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// `activation_function` (`gelu_new` for GPT-2).
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Layer-norm ε.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// SmallCap's reduction `r` of the cross-attention: queries `d → d/r`, keys and values of
    /// the image features `d → d/r` each, head dim `(d/h)/r`, output `d/r → d`.
    #[serde(default = "one")]
    pub cross_attention_reduce_factor: usize,
    /// Scale attention scores by `1/√(head dim)` (the reduced head dim in cross-attention).
    #[serde(default = "yes")]
    pub scale_attn_weights: bool,
    /// Also scale the scores of block `i` by `1/(i+1)`.
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Whether the decoder has cross-attention (SmallCap: always).
    #[serde(default)]
    pub add_cross_attention: bool,
    /// `lm_head` is `wte` (GPT-2's default); otherwise `lm_head.weight` is read.
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
}

fn default_activation() -> String {
    "gelu_new".into()
}
fn default_eps() -> f64 {
    1e-5
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

impl SmallCapConfig {
    /// Read the decoder's configuration from `config.json`: the `"decoder"` object of a
    /// SmallCap checkpoint (`model_type: "smallcap"`), else the file itself; then validate it.
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let value: serde_json::Value = files.json("config.json")?;
        let decoder = value.get("decoder").cloned().unwrap_or(value);
        let config: Self = serde_json::from_value(decoder)
            .map_err(|e| files.error(format!("config.json: not a GPT-2 decoder config: {e}")))?;
        config
            .validate()
            .map_err(|p| files.error(format!("config.json: {p}")))?;
        Ok(config)
    }

    /// Check the sizes are consistent: `h | d`, `r | d/h`, non-zero sizes, a known activation,
    /// cross-attention present.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            (
                "cross_attention_reduce_factor",
                self.cross_attention_reduce_factor,
            ),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is 0"));
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(format!(
                "n_embd {} is not a multiple of n_head {}",
                self.n_embd, self.n_head
            ));
        }
        if !self
            .head_dim()
            .is_multiple_of(self.cross_attention_reduce_factor)
        {
            return Err(format!(
                "head dim {} is not a multiple of cross_attention_reduce_factor {}",
                self.head_dim(),
                self.cross_attention_reduce_factor
            ));
        }
        if !self.add_cross_attention {
            return Err(
                "add_cross_attention is false: SmallCap's decoder attends to the image".into(),
            );
        }
        self.activation().map(|_| ())
    }

    /// Self-attention head dim `d/h`.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Cross-attention head dim `(d/h)/r`.
    pub fn cross_head_dim(&self) -> usize {
        self.head_dim() / self.cross_attention_reduce_factor
    }

    /// Cross-attention width `d/r` (queries; keys and values each).
    pub fn cross_dim(&self) -> usize {
        self.cross_head_dim() * self.n_head
    }

    /// MLP inner size (`n_inner`, default `4·d`).
    pub fn inner_dim(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// The MLP activation named by `activation_function`.
    pub fn activation(&self) -> std::result::Result<Activation, String> {
        match self.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "gelu" => Ok(Activation::GeluErf),
            "relu" => Ok(Activation::Relu),
            other => Err(format!("unsupported activation_function {other:?}")),
        }
    }
}
