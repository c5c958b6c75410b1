//! The ReCap pipeline (Paischer et al.): retrieve captions through the alignment W, prompt a
//! language model with them, generate candidates, re-rank them in CLIP space.
//!
//! Per image with embedding `v`: the query is `v W` (or `v` without a map); the `k` best
//! datastore captions by cosine fill the [`PromptTemplate`]; the [`CaptionLm`] writes `n`
//! candidates; the [`TextEncoder`] embeds them; [`rerank`] keeps the best by CLIP-S, aCLIP-S
//! or RefaCLIP-S (against the retrieved captions' embeddings). Every stage is timed.

use std::time::Instant;

use serde::Serialize;

use super::dal::{Captioned, DalCaptioner};
use super::lm::{CaptionLm, Decoding, TextEncoder};
use super::prompt::PromptTemplate;
use super::rerank::{rerank, RerankBy};
use crate::align::LinearMap;
use crate::backend::Exclusion;
use crate::matrix::RowMatrix;
use crate::retrieve::{Datastore, SearchOptions};
use crate::{Error, Result};

/// The score the candidates are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RerankScore {
    /// CLIP-S (no map needed).
    ClipS,
    /// aCLIP-S (the image through W).
    AClipS,
    /// RefaCLIP-S (aCLIP-S with the retrieved captions as references).
    RefAClipS,
}

/// Seconds spent per stage (summed over images for a batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Mapping the queries through W and the top-k search.
    pub retrieve: f64,
    /// Building prompts.
    pub prompt: f64,
    /// The language model.
    pub generate: f64,
    /// Embedding the candidates.
    pub embed: f64,
    /// Scoring and picking.
    pub rerank: f64,
}

/// One candidate with its scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredCandidate {
    /// The text (deduplicated, trimmed).
    pub text: String,
    /// Σ log p from the LM, where it reports it.
    pub logprob: Option<f64>,
    /// The re-ranking score.
    pub score: f64,
}

/// The pipeline's result for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageCaption {
    /// Row of the image in the input.
    pub image: usize,
    /// Retrieved datastore rows with their captions and cosines, best first.
    pub retrieved: Vec<(usize, String, f32)>,
    /// The prompt given to the LM.
    pub prompt: String,
    /// Every distinct candidate with its scores, in generation order.
    pub candidates: Vec<ScoredCandidate>,
    /// The chosen caption.
    pub caption: String,
}

/// ReCap's settings and parts.
pub struct ReCap<'a> {
    /// The caption datastore (cosine, with caption records).
    pub datastore: &'a Datastore,
    /// The alignment W (required for aCLIP-S / RefaCLIP-S; retrieval uses it when present).
    pub map: Option<&'a LinearMap>,
    /// The language model.
    pub lm: &'a dyn CaptionLm,
    /// The text encoder for candidates.
    pub text_encoder: &'a dyn TextEncoder,
    /// The prompt.
    pub template: PromptTemplate,
    /// Captions retrieved per image.
    pub k: usize,
    /// Candidates generated per image.
    pub n: usize,
    /// How candidates are decoded.
    pub decoding: Decoding,
    /// Tokens per candidate at most.
    pub max_new_tokens: usize,
    /// The re-ranking score.
    pub rerank: RerankScore,
}

impl ReCap<'_> {
    /// Caption every row of `images` (raw CLIP image embeddings). `exclusion` (optional)
    /// lists datastore rows each image must not retrieve; `progress(done, total)` is called
    /// after each image.
    pub fn caption(
        &self,
        images: &RowMatrix<f32>,
        exclusion: Option<&Exclusion>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<ImageCaption>, StageTimes)> {
        let records = self.datastore.captions().ok_or_else(|| {
            Error::invalid("datastore", "ReCap needs caption records on the datastore")
        })?;
        if self.rerank != RerankScore::ClipS && self.map.is_none() {
            return Err(Error::invalid(
                "rerank",
                "aCLIP-S and RefaCLIP-S need the alignment map W",
            ));
        }
        let mut times = StageTimes::default();
        let start = Instant::now();
        let queries = match self.map {
            Some(m) => m.apply(images)?,
            None => images.clone(),
        };
        let opts = exclusion.map_or_else(SearchOptions::default, |e| {
            SearchOptions::default().exclude(e)
        });
        let found = self.datastore.search_with(&queries, self.k, &opts)?;
        times.retrieve = start.elapsed().as_secs_f64();
        let mut out = Vec::with_capacity(images.rows());
        for i in 0..images.rows() {
            let retrieved: Vec<(usize, String, f32)> = found
                .indices
                .row(i)
                .iter()
                .zip(found.scores.row(i))
                .filter(|(&r, _)| r >= 0)
                .map(|(&r, &s)| (r as usize, records[r as usize].text.clone(), s))
                .collect();
            out.push(self.caption_one(i, images.row(i), retrieved, &mut times)?);
            progress(i + 1, images.rows());
        }
        Ok((out, times))
    }

    fn caption_one(
        &self,
        image: usize,
        embedding: &[f32],
        retrieved: Vec<(usize, String, f32)>,
        times: &mut StageTimes,
    ) -> Result<ImageCaption> {
        let t = Instant::now();
        let texts: Vec<&str> = retrieved.iter().map(|r| r.1.as_str()).collect();
        let prompt = self.template.render(&texts);
        times.prompt += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let generated: Vec<_> = self
            .lm
            .generate(&prompt, self.n, &self.decoding, self.max_new_tokens)?
            .into_iter()
            .filter(|g| !g.text.trim().is_empty())
            .collect();
        times.generate += t.elapsed().as_secs_f64();
        if generated.is_empty() {
            return Err(Error::invalid(
                "language model",
                format!("image {image}: every candidate is empty"),
            ));
        }
        let t = Instant::now();
        let cand_texts: Vec<String> = generated.iter().map(|g| g.text.clone()).collect();
        let cand_refs: Vec<&str> = cand_texts.iter().map(String::as_str).collect();
        let emb = self.text_encoder.embed_texts(&cand_refs)?;
        times.embed += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let refs = self.retrieved_embeddings(&retrieved)?;
        let by = match (self.rerank, self.map) {
            (RerankScore::AClipS, Some(m)) => RerankBy::AClipS(m),
            (RerankScore::RefAClipS, Some(m)) => RerankBy::RefAClipS(m, &refs),
            _ => RerankBy::ClipS,
        };
        let ranked = rerank(embedding, &cand_texts, &emb, by)?;
        times.rerank += t.elapsed().as_secs_f64();
        let candidates = ranked
            .texts
            .iter()
            .zip(&ranked.rows)
            .zip(&ranked.scores)
            .map(|((text, &row), &score)| ScoredCandidate {
                text: text.clone(),
                logprob: generated[row].logprob,
                score,
            })
            .collect();
        Ok(ImageCaption {
            image,
            retrieved,
            prompt,
            candidates,
            caption: ranked.best_text().to_string(),
        })
    }

    fn retrieved_embeddings(&self, retrieved: &[(usize, String, f32)]) -> Result<RowMatrix<f32>> {
        let mut data = Vec::with_capacity(retrieved.len() * self.datastore.dim());
        for (row, _, _) in retrieved {
            data.extend(self.datastore.row_f32(*row)?);
        }
        RowMatrix::from_vec(retrieved.len(), self.datastore.dim(), data)
    }
}

/// ReCap as the captioner of the datastore-augmentation loop: image `i` of `images` is
/// captioned from the captions DAL retrieved for it, and the best candidate is returned with
/// its text embedding and re-ranking score.
pub struct ReCapCaptioner<'a> {
    recap: &'a ReCap<'a>,
    images: &'a RowMatrix<f32>,
    /// Seconds per stage, summed over the loop.
    pub times: StageTimes,
}

impl<'a> ReCapCaptioner<'a> {
    /// Caption the rows of `images` (raw CLIP image embeddings) with `recap`.
    pub fn new(recap: &'a ReCap<'a>, images: &'a RowMatrix<f32>) -> Self {
        ReCapCaptioner {
            recap,
            images,
            times: StageTimes::default(),
        }
    }
}

impl DalCaptioner for ReCapCaptioner<'_> {
    fn caption(&mut self, image: usize, retrieved: &[(usize, &str)]) -> Result<Option<Captioned>> {
        let retrieved = retrieved
            .iter()
            .map(|&(row, text)| (row, text.to_string(), f32::NAN))
            .collect();
        let out =
            self.recap
                .caption_one(image, self.images.row(image), retrieved, &mut self.times)?;
        let best = out
            .candidates
            .iter()
            .find(|c| c.text == out.caption)
            .map_or(f64::NEG_INFINITY, |c| c.score);
        let embedding = self
            .recap
            .text_encoder
            .embed_texts(&[out.caption.as_str()])?
            .into_vec();
        Ok(Some(Captioned {
            text: out.caption,
            embedding,
            score: best,
        }))
    }
}
