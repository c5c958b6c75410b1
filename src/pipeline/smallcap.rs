//! SmallCap (Ramos et al., CVPR 2023) end to end, as its `infer.py` runs it: per image,
//!
//! 1. one pass of CLIP's vision tower gives the decoder's input (`last_hidden_state`,
//!    `(1 + patches) x hidden`) and the retrieval query (the L2-normalized image embedding);
//! 2. exact cosine top-`k` (`k = 7`) over the caption datastore (faiss `IndexFlatIP` over
//!    normalized CLIP text embeddings in SmallCap's `retrieve_caps.py`), never returning a
//!    caption whose record names the same image id as the query (`filter_nns`);
//! 3. SmallCap's prompt from the first `prompt_k = 4` retrieved captions
//!    ([`crate::models::smallcap::prompt`], byte-identical to `prep_strings`);
//! 4. the decoder continues the prompt: beam search with 3 beams, `length_penalty = 0`,
//!    `early_stopping = True`, at most 25 new tokens, stopping at `"."`; the caption is read
//!    back as `postprocess_preds` does.
//!
//! Images are processed in batches for the vision tower; retrieval runs per batch; decoding
//! per image. Every stage is timed.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{IndexOp, Tensor};
use serde::Serialize;

use super::lm::Decoding;
use super::local::decode;
use crate::backend::Exclusion;
use crate::matrix::RowMatrix;
use crate::models::clip::Clip;
use crate::models::generate::EarlyStopping;
use crate::models::smallcap::{SmallCap, SmallCapTokenizer};
use crate::models::weights::candle;
use crate::retrieve::{Datastore, SearchOptions};
use crate::{Error, Result};

/// SmallCap's inference settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallCapSettings {
    /// Captions retrieved per image (7 in SmallCap).
    pub k: usize,
    /// Retrieved captions put in the prompt (4 in SmallCap).
    pub prompt_k: usize,
    /// Decoding (SmallCap: beam search, 3 beams, length penalty 0, early stopping).
    pub decoding: Decoding,
    /// Tokens generated at most (SmallCap's `CAPTION_LENGTH = 25`).
    pub max_new_tokens: usize,
}

impl Default for SmallCapSettings {
    /// `infer.py`'s values: `k = 7` retrieved, 4 in the prompt, 3 beams, `length_penalty = 0`,
    /// 25 new tokens.
    fn default() -> Self {
        SmallCapSettings {
            k: 7,
            prompt_k: crate::models::smallcap::prompt::DEFAULT_K,
            decoding: Decoding::Beam {
                width: 3,
                length_penalty: 0.0,
            },
            max_new_tokens: 25,
        }
    }
}

/// Seconds spent per stage, summed over images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SmallCapTimes {
    /// Decoding and preprocessing the image files.
    pub load: f64,
    /// The vision tower (features and embeddings in one pass).
    pub encode: f64,
    /// The top-k search with self-exclusion.
    pub retrieve: f64,
    /// Building and tokenizing prompts.
    pub prompt: f64,
    /// The decoder (prefill, decoding, reading the caption back).
    pub generate: f64,
}

/// SmallCap's result for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmallCapCaption {
    /// Row of the image in the input.
    pub image: usize,
    /// Retrieved datastore rows with their captions and cosines, best first.
    pub retrieved: Vec<(usize, String, f32)>,
    /// The prompt given to the decoder.
    pub prompt: String,
    /// The caption (as SmallCap's `postprocess_preds` returns it).
    pub caption: String,
    /// Σ log p of the generated tokens (natural log).
    pub logprob: f64,
}

/// SmallCap's parts: CLIP (vision tower), the decoder and its tokenizer, the datastore.
pub struct SmallCapPipeline<'a> {
    clip: &'a Clip,
    decoder: &'a SmallCap,
    tokenizer: &'a SmallCapTokenizer,
    datastore: &'a Datastore,
    row_image_ids: Vec<&'a str>,
    /// The settings.
    pub settings: SmallCapSettings,
}

impl<'a> SmallCapPipeline<'a> {
    /// Check the parts fit together: the decoder's width equals the vision tower's (SmallCap
    /// feeds `last_hidden_state` to the cross-attention unprojected), the datastore has caption
    /// records (their image ids drive self-exclusion) and CLIP's embedding width.
    pub fn new(
        clip: &'a Clip,
        decoder: &'a SmallCap,
        tokenizer: &'a SmallCapTokenizer,
        datastore: &'a Datastore,
        settings: SmallCapSettings,
    ) -> Result<Self> {
        if clip.vision_hidden_size() != decoder.config.n_embd {
            return Err(Error::shape(
                "SmallCap decoder",
                format!(
                    "n_embd = CLIP's vision hidden size {}",
                    clip.vision_hidden_size()
                ),
                decoder.config.n_embd.to_string(),
            ));
        }
        if datastore.dim() != clip.dim() {
            return Err(Error::shape(
                "datastore",
                format!("{} columns (CLIP's projection_dim)", clip.dim()),
                datastore.dim().to_string(),
            ));
        }
        let records = datastore.captions().ok_or_else(|| {
            Error::invalid(
                "datastore",
                "SmallCap needs caption records on the datastore",
            )
        })?;
        if settings.k == 0 || settings.prompt_k == 0 {
            return Err(Error::invalid(
                "k",
                "SmallCap retrieves at least one caption (k >= 1, prompt_k >= 1)",
            ));
        }
        Ok(SmallCapPipeline {
            clip,
            decoder,
            tokenizer,
            datastore,
            row_image_ids: records.iter().map(|r| r.image_id.as_str()).collect(),
            settings,
        })
    }

    /// Caption image files (image `i` has id `ids[i]`), `batch` images per vision pass;
    /// `progress(done, total)` after each image. Returns the captions, the images' normalized
    /// CLIP embeddings (for CLIP-S of the results) and the stage times.
    pub fn caption_files(
        &self,
        paths: &[PathBuf],
        ids: &[String],
        batch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<SmallCapCaption>, RowMatrix<f32>, SmallCapTimes)> {
        if paths.len() != ids.len() {
            return Err(Error::shape(
                "ids",
                format!("{} (one per image)", paths.len()),
                ids.len().to_string(),
            ));
        }
        let mut times = SmallCapTimes::default();
        let mut out = Vec::with_capacity(paths.len());
        let mut embeddings = Vec::with_capacity(paths.len() * self.clip.dim());
        for (b, chunk) in paths.chunks(batch.max(1)).enumerate() {
            let first = b * batch.max(1);
            let t = Instant::now();
            let pixels = self.clip.pixel_values_of_files(chunk)?;
            times.load += t.elapsed().as_secs_f64();
            let chunk_ids = &ids[first..first + chunk.len()];
            let (caps, emb) = self.caption_pixels(&pixels, chunk_ids, first, &mut times)?;
            embeddings.extend_from_slice(emb.as_slice());
            out.extend(caps);
            progress(out.len(), paths.len());
        }
        let embeddings = RowMatrix::from_vec(paths.len(), self.clip.dim(), embeddings)?;
        Ok((out, embeddings, times))
    }

    /// Caption preprocessed pixels `n x 3 x S x S` of images with ids `ids` (row `i` is
    /// reported as image `first + i`); also returns their normalized CLIP embeddings.
    pub fn caption_pixels(
        &self,
        pixels: &[f32],
        ids: &[String],
        first: usize,
        times: &mut SmallCapTimes,
    ) -> Result<(Vec<SmallCapCaption>, RowMatrix<f32>)> {
        let n = ids.len();
        let t = Instant::now();
        let (features, embeddings) = self.clip.vision_features(pixels, n)?;
        times.encode += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let retrieved = self.retrieve(&embeddings, ids)?;
        times.retrieve += t.elapsed().as_secs_f64();
        let mut out = Vec::with_capacity(n);
        for (i, retrieved) in retrieved.into_iter().enumerate() {
            let image = features.i(i).map_err(candle("CLIP features"))?;
            let mut c = self.caption_features(&image, retrieved, times)?;
            c.image = first + i;
            out.push(c);
        }
        Ok((out, embeddings))
    }

    /// The `k` nearest captions of each query image, never one of its own (same image id).
    pub fn retrieve(
        &self,
        embeddings: &RowMatrix<f32>,
        ids: &[String],
    ) -> Result<Vec<Vec<(usize, String, f32)>>> {
        let query_ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let exclusion = Exclusion::same_id(&query_ids, &self.row_image_ids);
        let opts = SearchOptions::default().exclude(&exclusion);
        let found = self
            .datastore
            .search_with(embeddings, self.settings.k, &opts)?;
        let records = self.datastore.captions().unwrap_or_default();
        Ok((0..embeddings.rows())
            .map(|i| {
                found
                    .indices
                    .row(i)
                    .iter()
                    .zip(found.scores.row(i))
                    .filter(|(&r, _)| r >= 0)
                    .map(|(&r, &s)| (r as usize, records[r as usize].text.clone(), s))
                    .collect()
            })
            .collect())
    }

    /// Caption one image from its features `(1 + patches) x hidden` and its retrieved
    /// captions (best first): the prompt, decoding, the caption read back. `image` of the
    /// result is 0 (the caller's row).
    pub fn caption_features(
        &self,
        features: &Tensor,
        retrieved: Vec<(usize, String, f32)>,
        times: &mut SmallCapTimes,
    ) -> Result<SmallCapCaption> {
        let t = Instant::now();
        let texts: Vec<&str> = retrieved.iter().map(|r| r.1.as_str()).collect();
        let prompt = crate::models::smallcap::prompt_text(Some(&texts), self.settings.prompt_k);
        let ids = self
            .tokenizer
            .prompt(Some(&texts), self.settings.prompt_k)?;
        times.prompt += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let bound = self.decoder.bind(features, &ids)?;
        let s = &self.settings;
        let best = decode(
            &bound,
            1,
            &s.decoding,
            s.max_new_tokens,
            EarlyStopping::True,
        )?
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid("SmallCap", "the decoder returned no candidate"))?;
        let caption = self.tokenizer.caption(&ids.ids, &best.tokens)?;
        times.generate += t.elapsed().as_secs_f64();
        Ok(SmallCapCaption {
            image: 0,
            retrieved,
            prompt,
            caption,
            logprob: best.logprob,
        })
    }
}
