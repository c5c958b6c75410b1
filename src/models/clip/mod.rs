//! CLIP's image and text towers (`openai/clip-vit-*`: ViT-B/32, B/16, L/14, L/14@336), exact
//! to `transformers`' `CLIPModel`, with `CLIPImageProcessor`'s preprocessing (Pillow
//! backend) and `CLIPTokenizer`'s tokenization.
//!
//! Weights: the `CLIPModel` safetensors layout (`vision_model.*`, `text_model.*`,
//! `visual_projection.weight`, `text_projection.weight`, `logit_scale`); every tensor must be
//! present with the shape `config.json` implies, else [`Error::Model`](crate::Error::Model)
//! names it.
//!
//! Embeddings are the projected pooled states divided by their L2 norm,
//! `e = P x / ‖P x‖₂` (as `CLIPModel.forward`'s `image_embeds` / `text_embeds`).

pub mod config;
pub mod layers;
pub mod preprocess;
pub mod resample;
pub mod text;
pub mod tiny;
pub mod tokenize;
pub mod vision;

use std::path::PathBuf;

use candle_core::Tensor;
use image::DynamicImage;
use rayon::prelude::*;

use crate::matrix::RowMatrix;
use crate::models::weights::candle;
use crate::models::ModelFiles;
use crate::Result;

pub use config::{Activation, ClipConfig, PreprocessConfig};
pub use tokenize::{ClipTokenizer, Tokenized};

/// The default number of images or texts per forward pass.
pub const DEFAULT_BATCH: usize = 32;

/// A loaded CLIP model: both towers, the preprocessing and the tokenizer.
pub struct Clip {
    name: String,
    /// The parsed `config.json`.
    pub config: ClipConfig,
    /// The image preprocessing (`preprocessor_config.json` or CLIP's defaults).
    pub preprocess: PreprocessConfig,
    vision: vision::VisionTower,
    text: text::TextTower,
    tokenizer: ClipTokenizer,
    batch: usize,
}

impl Clip {
    /// Load a resolved model directory: `config.json`, the weights (checked tensor by tensor),
    /// `tokenizer.json`, and `preprocessor_config.json` when present.
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let config = ClipConfig::load(files)?;
        let vb = files.var_builder()?;
        let err = candle(&files.name);
        let vision =
            vision::VisionTower::load(&config.vision_config, config.projection_dim, vb.clone())
                .map_err(&err)?;
        let text = text::TextTower::load(&config.text_config, config.projection_dim, vb.clone())
            .map_err(&err)?;
        vb.get((), "logit_scale")
            .or_else(|_| vb.get(1, "logit_scale"))
            .map_err(&err)?;
        let preprocess = PreprocessConfig::load(files, config.vision_config.image_size)?;
        let tokenizer = ClipTokenizer::load(files, config.text_config.max_position_embeddings)?;
        Ok(Clip {
            name: files.name.clone(),
            config,
            preprocess,
            vision,
            text,
            tokenizer,
            batch: DEFAULT_BATCH,
        })
    }

    /// Set the number of images or texts per forward pass (at least 1).
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The width of the embeddings (`projection_dim`).
    pub fn dim(&self) -> usize {
        self.config.projection_dim
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Preprocessed pixels of images, `n x 3 x S x S` row-major (in parallel).
    pub fn pixel_values(&self, images: &[DynamicImage]) -> Result<Vec<f32>> {
        let per: Vec<Vec<f32>> = images
            .par_iter()
            .map(|img| preprocess::pixel_values(img, &self.preprocess))
            .collect::<Result<_>>()?;
        Ok(per.concat())
    }

    /// L2-normalized image embeddings, `n x projection_dim`, in batches.
    pub fn embed_images(&self, images: &[DynamicImage]) -> Result<RowMatrix<f32>> {
        let mut out = Vec::with_capacity(images.len() * self.dim());
        for chunk in images.chunks(self.batch) {
            let pixels = self.pixel_values(chunk)?;
            out.extend(self.embed_pixels_raw(&pixels, chunk.len())?);
        }
        self.finish(out, images.len(), "image embeddings")
    }

    /// L2-normalized image embeddings of image files (decoded in parallel; the first file
    /// that cannot be read or decoded is an [`Error::Image`](crate::Error::Image) naming it).
    pub fn embed_image_files(&self, paths: &[PathBuf]) -> Result<RowMatrix<f32>> {
        let mut out = Vec::with_capacity(paths.len() * self.dim());
        for chunk in paths.chunks(self.batch) {
            let pixels = self.pixel_values_of_files(chunk)?;
            out.extend(self.embed_pixels_raw(&pixels, chunk.len())?);
        }
        self.finish(out, paths.len(), "image embeddings")
    }

    /// Decode and preprocess image files in parallel: `n x 3 x S x S`.
    pub fn pixel_values_of_files(&self, paths: &[PathBuf]) -> Result<Vec<f32>> {
        let per: Vec<Vec<f32>> = paths
            .par_iter()
            .map(|p| {
                let img = preprocess::open_image(p)?;
                preprocess::pixel_values(&img, &self.preprocess).map_err(|e| crate::Error::Image {
                    path: p.clone(),
                    problem: e.to_string(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(per.concat())
    }

    /// L2-normalized embeddings of preprocessed pixels (`n x 3 x S x S`), in one pass.
    pub fn embed_pixels(&self, pixels: &[f32], n: usize) -> Result<RowMatrix<f32>> {
        let out = self.embed_pixels_raw(pixels, n)?;
        self.finish(out, n, "image embeddings")
    }

    fn pixel_tensor(&self, pixels: &[f32], n: usize) -> Result<Tensor> {
        let s = self.vision.image_size();
        if pixels.len() != n * 3 * s * s {
            return Err(crate::Error::invalid(
                "pixels",
                format!("{} values is not {n} x 3 x {s} x {s}", pixels.len()),
            ));
        }
        Tensor::from_slice(pixels, (n, 3, s, s), self.vision.device()).map_err(candle(&self.name))
    }

    fn embed_pixels_raw(&self, pixels: &[f32], n: usize) -> Result<Vec<f32>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let t = self.pixel_tensor(pixels, n)?;
        let e = self.vision.embed(&t).map_err(candle(&self.name))?;
        e.flatten_all()
            .and_then(|e| e.to_vec1::<f32>())
            .map_err(candle(&self.name))
    }

    /// The vision tower's `last_hidden_state` `(n, 1 + patches, hidden)` for preprocessed
    /// pixels `n x 3 x S x S` (all tokens, before `post_layernorm`, as `CLIPVisionModel`).
    pub fn vision_hidden_states(&self, pixels: &[f32], n: usize) -> Result<Tensor> {
        let t = self.pixel_tensor(pixels, n)?;
        self.vision.hidden_states(&t).map_err(candle(&self.name))
    }

    /// Both outputs of one vision-tower pass over preprocessed pixels `n x 3 x S x S`: the
    /// `last_hidden_state` `(n, 1 + patches, hidden)` (SmallCap's decoder input) and the
    /// L2-normalized image embeddings `n x projection_dim` (its retrieval query).
    pub fn vision_features(&self, pixels: &[f32], n: usize) -> Result<(Tensor, RowMatrix<f32>)> {
        let hidden = self.vision_hidden_states(pixels, n)?;
        let e = self.vision.project(&hidden).map_err(candle(&self.name))?;
        let data = e
            .flatten_all()
            .and_then(|e| e.to_vec1::<f32>())
            .map_err(candle(&self.name))?;
        Ok((hidden, self.finish(data, n, "image embeddings")?))
    }

    /// The width of the vision tower's hidden states (`vision_config.hidden_size`).
    pub fn vision_hidden_size(&self) -> usize {
        self.config.vision_config.hidden_size
    }

    /// Tokenize texts (special tokens, truncation to `max_position_embeddings`).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Tokenized> {
        self.tokenizer.encode(texts)
    }

    /// L2-normalized text embeddings, `n x projection_dim`, in batches.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<RowMatrix<f32>> {
        let tokens = self.tokenize(texts)?;
        self.embed_tokens(&tokens.ids)
    }

    /// L2-normalized text embeddings of token id rows (each padded per batch with the pad id).
    pub fn embed_tokens(&self, ids: &[Vec<u32>]) -> Result<RowMatrix<f32>> {
        let mut out = Vec::with_capacity(ids.len() * self.dim());
        for chunk in ids.chunks(self.batch) {
            let padded = self.tokenizer.pad(chunk);
            let e = self.text.embed(&padded).map_err(candle(&self.name))?;
            out.extend(
                e.flatten_all()
                    .and_then(|e| e.to_vec1::<f32>())
                    .map_err(candle(&self.name))?,
            );
        }
        self.finish(out, ids.len(), "text embeddings")
    }

    fn finish(&self, data: Vec<f32>, n: usize, what: &str) -> Result<RowMatrix<f32>> {
        let mut m = RowMatrix::from_vec(n, self.dim(), data)?;
        m.check_finite(what)?;
        m.l2_normalize_rows(what)?;
        Ok(m)
    }
}
