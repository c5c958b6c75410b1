//! CLIP's image tower (`CLIPVisionTransformer` + `visual_projection`):
//! patches `p x p` flattened in `(c, y, x)` order times the conv weight (no bias), the class
//! embedding prepended, position embeddings added, `pre_layrnorm`, the encoder
//! (`last_hidden_state`), then `post_layernorm` of the class token and the projection.

use candle_core::{Device, Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};

use crate::models::product::Linear;

use super::config::VisionConfig;
use super::layers::{norm, BlockShape, Encoder};

/// The image tower with its projection.
pub struct VisionTower {
    patch: Tensor,
    class: Tensor,
    positions: Tensor,
    pre_ln: LayerNorm,
    encoder: Encoder,
    post_ln: LayerNorm,
    projection: Linear,
    cfg: VisionConfig,
}

impl VisionTower {
    /// Load `vision_model.*` and `visual_projection.weight` (`[projection_dim, hidden]`).
    pub fn load(
        cfg: &VisionConfig,
        projection_dim: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let (h, p, c) = (cfg.hidden_size, cfg.patch_size, cfg.num_channels);
        let m = vb.pp("vision_model");
        let e = m.pp("embeddings");
        let patch = e
            .get((h, c, p, p), "patch_embedding.weight")?
            .reshape((h, c * p * p))?
            .t()?
            .contiguous()?;
        let shape = BlockShape {
            hidden: h,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps,
            act: cfg.hidden_act,
        };
        Ok(VisionTower {
            patch,
            class: e.get(h, "class_embedding")?,
            positions: e.get((cfg.num_positions(), h), "position_embedding.weight")?,
            pre_ln: norm(h, cfg.layer_norm_eps, m.pp("pre_layrnorm"))?,
            encoder: Encoder::load(&shape, cfg.num_hidden_layers, m.pp("encoder"))?,
            post_ln: norm(h, cfg.layer_norm_eps, m.pp("post_layernorm"))?,
            projection: Linear::new(
                vb.get((projection_dim, h), "visual_projection.weight")?,
                None,
            ),
            cfg: cfg.clone(),
        })
    }

    /// `last_hidden_state` `(b, 1 + patches, hidden)` of pixels `(b, 3, size, size)` (as
    /// `CLIPVisionModel` returns it: after the encoder, before `post_layernorm`).
    pub fn hidden_states(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, hgt, wid) = pixels.dims4()?;
        let (p, g, h) = (
            self.cfg.patch_size,
            self.cfg.patches_per_side(),
            self.cfg.hidden_size,
        );
        if c != self.cfg.num_channels || hgt != self.cfg.image_size || wid != self.cfg.image_size {
            candle_core::bail!(
                "pixel values {:?} do not match the vision tower's (b, {}, {}, {})",
                pixels.dims(),
                self.cfg.num_channels,
                self.cfg.image_size,
                self.cfg.image_size
            );
        }
        // Non-overlapping p x p patches flattened in the conv weight's (c, ky, kx) order.
        let patches = pixels
            .reshape((b, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * g * g, c * p * p))?;
        let x = patches.matmul(&self.patch)?.reshape((b, g * g, h))?;
        let cls = self.class.reshape((1, 1, h))?.broadcast_as((b, 1, h))?;
        let x = Tensor::cat(&[&cls, &x], 1)?.broadcast_add(&self.positions)?;
        let x = self.pre_ln.forward(&x)?;
        self.encoder.forward(&x, None)
    }

    /// Projected image embeddings `(b, projection_dim)` (not normalized).
    pub fn embed(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        self.project(&self.hidden_states(pixels)?)
    }

    /// Projected image embeddings `(b, projection_dim)` (not normalized) of a
    /// `last_hidden_state` `(b, 1 + patches, hidden)`: `P · post_layernorm(hs[:, 0])`.
    pub fn project(&self, hidden_states: &Tensor) -> candle_core::Result<Tensor> {
        let cls = hidden_states.narrow(1, 0, 1)?.squeeze(1)?;
        self.projection.forward(&self.post_ln.forward(&cls)?)
    }

    /// The side of the square input.
    pub fn image_size(&self) -> usize {
        self.cfg.image_size
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.class.device()
    }
}
