//! CLIP's `config.json` (`CLIPConfig`: `text_config`, `vision_config`, `projection_dim`) and
//! `preprocessor_config.json`, with `transformers`' defaults for absent fields.

use serde::Deserialize;

use crate::models::ModelFiles;
use crate::Result;

/// The activation of the MLPs (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(1.702 x)` (OpenAI's CLIP).
    QuickGelu,
    /// The exact GELU `x * Φ(x) = x/2 (1 + erf(x/√2))`.
    Gelu,
}

/// `CLIPTextConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    /// Vocabulary size (rows of the token embedding).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Rows of the position embedding: the longest token sequence (77).
    pub max_position_embeddings: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The EOS id deciding the pooling: `2` (legacy configs) means "the position of the largest
    /// id", any other value "the first position holding this id".
    pub eos_token_id: u32,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_attention_heads: 8,
            num_hidden_layers: 12,
            max_position_embeddings: 77,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            eos_token_id: 49407,
        }
    }
}

/// `CLIPVisionConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Input channels (3).
    pub num_channels: usize,
    /// Side of the square input image.
    pub image_size: usize,
    /// Side of a square patch (the stride of the patch convolution).
    pub patch_size: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl Default for VisionConfig {
    fn default() -> Self {
        VisionConfig {
            hidden_size: 768,
            intermediate_size: 3072,
            num_attention_heads: 12,
            num_hidden_layers: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

impl VisionConfig {
    /// Patches per side, `image_size / patch_size`.
    pub fn patches_per_side(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens of the vision transformer: the patches plus the class token.
    pub fn num_positions(&self) -> usize {
        self.patches_per_side() * self.patches_per_side() + 1
    }
}

/// `CLIPConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    /// The text tower.
    #[serde(default)]
    pub text_config: TextConfig,
    /// The image tower.
    #[serde(default)]
    pub vision_config: VisionConfig,
    /// Width of the shared embedding space (both projections' output).
    #[serde(default = "default_projection_dim")]
    pub projection_dim: usize,
}

fn default_projection_dim() -> usize {
    512
}

impl ClipConfig {
    /// Read and check `config.json`.
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let c: ClipConfig = files.json("config.json")?;
        c.check(files)?;
        Ok(c)
    }

    fn check(&self, files: &ModelFiles) -> Result<()> {
        let (t, v) = (&self.text_config, &self.vision_config);
        let bad = |what: String| Err(files.error(format!("config.json: {what}")));
        for (name, hidden, heads) in [
            ("text", t.hidden_size, t.num_attention_heads),
            ("vision", v.hidden_size, v.num_attention_heads),
        ] {
            if heads == 0 || hidden == 0 || hidden % heads != 0 {
                return bad(format!(
                    "{name} hidden_size {hidden} is not a positive multiple of num_attention_heads {heads}"
                ));
            }
        }
        if v.patch_size == 0 || v.image_size == 0 || v.image_size % v.patch_size != 0 {
            return bad(format!(
                "vision image_size {} is not a positive multiple of patch_size {}",
                v.image_size, v.patch_size
            ));
        }
        if v.num_channels != 3 {
            return bad(format!(
                "vision num_channels {} (only 3 is supported)",
                v.num_channels
            ));
        }
        if t.max_position_embeddings < 2 || self.projection_dim == 0 {
            return bad("max_position_embeddings < 2 or projection_dim 0".into());
        }
        Ok(())
    }
}

/// `preprocessor_config.json` of `CLIPImageProcessor` (only what CLIP's pipeline uses).
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    /// The short side after resizing (`size.shortest_edge`).
    pub shortest_edge: usize,
    /// The centre crop `(height, width)`.
    pub crop: (usize, usize),
    /// Per-channel mean subtracted after rescaling by 1/255.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

/// OpenAI CLIP's normalization mean.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's normalization standard deviation (the published digits, rounded to f32 as
/// numpy rounds them).
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

impl PreprocessConfig {
    /// CLIP's defaults for a square input of side `size`.
    pub fn for_size(size: usize) -> Self {
        PreprocessConfig {
            shortest_edge: size,
            crop: (size, size),
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }

    /// Read `preprocessor_config.json` when the model has one (else the defaults for the
    /// vision tower's `image_size`); the crop must match the tower's input.
    pub fn load(files: &ModelFiles, image_size: usize) -> Result<Self> {
        let mut p = Self::for_size(image_size);
        if !files.dir.join("preprocessor_config.json").is_file() {
            return Ok(p);
        }
        let raw: RawPreprocess = files.json("preprocessor_config.json")?;
        let bad = |what: &str| files.error(format!("preprocessor_config.json: {what}"));
        if let Some(resample) = raw.resample {
            if resample != 3 {
                return Err(bad("resample is not 3 (bicubic), the only one implemented"));
            }
        }
        if raw.do_resize == Some(false)
            || raw.do_center_crop == Some(false)
            || raw.do_normalize == Some(false)
            || raw.do_rescale == Some(false)
        {
            return Err(bad(
                "a do_* step is turned off (only CLIP's full pipeline is implemented)",
            ));
        }
        if let Some(s) = raw.size {
            p.shortest_edge = s
                .shortest_edge()
                .ok_or_else(|| bad("size must be an int or {\"shortest_edge\": n}"))?;
        }
        if let Some(c) = raw.crop_size {
            p.crop = c
                .height_width()
                .ok_or_else(|| bad("crop_size must be an int or {height, width}"))?;
        }
        if let Some(m) = raw.image_mean {
            p.mean = m;
        }
        if let Some(s) = raw.image_std {
            p.std = s;
        }
        if p.crop != (image_size, image_size) || p.shortest_edge == 0 {
            return Err(bad(&format!(
                "crop_size {:?} does not match the vision tower's image_size {image_size}",
                p.crop
            )));
        }
        if p.std.iter().any(|&s| s.is_nan() || s == 0.0) {
            return Err(bad("image_std has a zero"));
        }
        Ok(p)
    }
}

#[derive(Deserialize)]
struct RawPreprocess {
    size: Option<SizeSpec>,
    crop_size: Option<SizeSpec>,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
    resample: Option<u32>,
    do_resize: Option<bool>,
    do_center_crop: Option<bool>,
    do_normalize: Option<bool>,
    do_rescale: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeSpec {
    Int(usize),
    Dict {
        shortest_edge: Option<usize>,
        height: Option<usize>,
        width: Option<usize>,
    },
}

impl SizeSpec {
    fn shortest_edge(&self) -> Option<usize> {
        match *self {
            SizeSpec::Int(n) => Some(n),
            SizeSpec::Dict { shortest_edge, .. } => shortest_edge,
        }
    }

    fn height_width(&self) -> Option<(usize, usize)> {
        match *self {
            SizeSpec::Int(n) => Some((n, n)),
            SizeSpec::Dict { height, width, .. } => Some((height?, width?)),
        }
    }
}
