//! The datastore-augmentation loop (DAL, ReCap): caption every image with the current
//! datastore, add the best synthetic captions back, repeat.
//!
//! Iteration `t = 1..=T`, for every query image `i` (its embedding, mapped through W if the
//! pipeline uses one):
//! 1. retrieve the `k` best datastore rows, **skipping every synthetic row made from image
//!    `i`** (and, optionally, rows the caller excludes, e.g. the image's own human captions);
//! 2. the [`DalCaptioner`] writes the best candidate for `i` from those captions and returns
//!    its text, text embedding and score;
//! 3. after all images: keep the candidates whose score reaches the threshold, or the top
//!    fraction by score (ties by image index), and append them to the datastore with their
//!    provenance ([`Synthetic`]: iteration, source image, score).
//!
//! The state is kept on disk after every iteration: `state_dir/iter-<t>/` holds the datastore
//! ([`Datastore::save`]) and `dal.json` beside it points at the last complete iteration and
//! lists the provenance. Each iteration is written to a temporary folder, renamed into place,
//! and only then is `dal.json` replaced (atomically): a run killed at any point resumes from
//! the last complete iteration and ends in the same state as an uninterrupted run (for a
//! deterministic captioner).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backend::Exclusion;
use crate::io::atomic::write_json_atomic;
use crate::io::captions::CaptionRecord;
use crate::matrix::RowMatrix;
use crate::retrieve::{Datastore, SearchOptions};
use crate::{Error, Result};

/// Which candidates enter the datastore after an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Keep {
    /// Every candidate whose score is ≥ the threshold.
    Threshold(f64),
    /// The best fraction (0, 1] of the iteration's candidates by score (ties: lower image
    /// index first), rounded up.
    TopFraction(f64),
}

/// A synthetic caption's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synthetic {
    /// The iteration that made it (1-based).
    pub iteration: usize,
    /// The query image (row of the query matrix) it describes.
    pub image: usize,
    /// The caption.
    pub text: String,
    /// Its score when it was kept.
    pub score: f64,
    /// Its row in the datastore.
    pub row: usize,
}

/// The best candidate the captioner found for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Captioned {
    /// The caption.
    pub text: String,
    /// Its text embedding (the datastore's width).
    pub embedding: Vec<f32>,
    /// Its score (higher is better), e.g. aCLIP-S.
    pub score: f64,
}

/// What DAL needs from a pipeline: caption one image from its retrieved captions.
pub trait DalCaptioner {
    /// Caption query image `image` given its `retrieved` captions (datastore row and text,
    /// best first). `None` skips the image this iteration.
    fn caption(&mut self, image: usize, retrieved: &[(usize, &str)]) -> Result<Option<Captioned>>;
}

/// One iteration's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// The iteration (1-based).
    pub iteration: usize,
    /// Images that got a candidate.
    pub captioned: usize,
    /// Candidates added to the datastore.
    pub added: usize,
    /// Mean score of the added candidates (0 when none).
    pub mean_added_score: f64,
    /// Datastore rows after the iteration.
    pub datastore_rows: usize,
    /// What the evaluator of [`DalHooks`] made of the iteration's chosen captions (e.g. the
    /// corpus BLEU/CIDEr/CLIP-S against references); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
}

/// Scores an iteration's chosen caption of every captioned image, `(image row, caption)` in
/// image order; the result is stored in the iteration's report (and so in `dal.json`).
pub type Evaluate<'a> = dyn FnMut(&[(usize, String)]) -> Result<serde_json::Value> + 'a;

/// What [`Dal::run_with`] calls: after each committed iteration, and (optionally) to score
/// each iteration's captions before it is committed.
pub struct DalHooks<'a> {
    /// Called with each iteration's report once its state is on disk.
    pub on_iteration: &'a mut dyn FnMut(&IterationReport),
    /// Scores the iteration's chosen captions (stored in the report).
    pub evaluate: Option<&'a mut Evaluate<'a>>,
}

/// The loop's persistent state (`dal.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DalState {
    /// Iterations completed.
    pub completed: usize,
    /// Rows of the datastore before the first iteration.
    pub base_rows: usize,
    /// Every synthetic caption added so far, in datastore order.
    pub synthetic: Vec<Synthetic>,
    /// The per-iteration summaries.
    pub reports: Vec<IterationReport>,
}

/// The loop's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Dal {
    iterations: usize,
    keep: Keep,
    k: usize,
}

impl Dal {
    /// `iterations` rounds retrieving `k` captions per image, keeping candidates by `keep`.
    pub fn new(iterations: usize, k: usize, keep: Keep) -> Result<Self> {
        if k == 0 {
            return Err(Error::invalid("k", "must be ≥ 1"));
        }
        match keep {
            Keep::Threshold(t) if !t.is_finite() => {
                return Err(Error::invalid("threshold", "must be finite"))
            }
            Keep::TopFraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::invalid(
                    "top fraction",
                    format!("must be in (0, 1], got {f}"),
                ))
            }
            _ => {}
        }
        Ok(Dal {
            iterations,
            keep,
            k,
        })
    }

    /// Run (or resume) the loop. `datastore` must carry caption records; `queries` are the
    /// images' query embeddings; `base_exclusion` (optional) lists base-datastore rows each
    /// image must skip. Returns the final datastore and state; `on_iteration` is called after
    /// each completed iteration.
    pub fn run(
        &self,
        queries: &RowMatrix<f32>,
        datastore: Datastore,
        base_exclusion: Option<&Exclusion>,
        captioner: &mut dyn DalCaptioner,
        state_dir: &Path,
        on_iteration: &mut dyn FnMut(&IterationReport),
    ) -> Result<(Datastore, DalState)> {
        let hooks = DalHooks {
            on_iteration,
            evaluate: None,
        };
        self.run_with(
            queries,
            datastore,
            base_exclusion,
            captioner,
            state_dir,
            hooks,
        )
    }

    /// [`Self::run`] with an evaluator of each iteration's captions (see [`DalHooks`]).
    pub fn run_with(
        &self,
        queries: &RowMatrix<f32>,
        datastore: Datastore,
        base_exclusion: Option<&Exclusion>,
        captioner: &mut dyn DalCaptioner,
        state_dir: &Path,
        mut hooks: DalHooks<'_>,
    ) -> Result<(Datastore, DalState)> {
        if datastore.captions().is_none() {
            return Err(Error::invalid(
                "datastore",
                "DAL needs caption records on the datastore",
            ));
        }
        if base_exclusion.is_some_and(|e| e.n_queries() != queries.rows()) {
            return Err(Error::shape(
                "base exclusion",
                format!("{} queries", queries.rows()),
                base_exclusion.map_or(0, Exclusion::n_queries).to_string(),
            ));
        }
        let (mut ds, mut state) = match load_state(state_dir)? {
            Some(resumed) => resumed,
            None => (
                datastore.clone(),
                DalState {
                    completed: 0,
                    base_rows: datastore.rows(),
                    synthetic: Vec::new(),
                    reports: Vec::new(),
                },
            ),
        };
        while state.completed < self.iterations {
            let iteration = state.completed + 1;
            let exclusion = exclusion_for(queries.rows(), &state, base_exclusion);
            let found = ds.search_with(
                queries,
                self.k,
                &SearchOptions::default().exclude(&exclusion),
            )?;
            let candidates = caption_all(&ds, &found.indices, captioner)?;
            let metrics = match hooks.evaluate.as_mut() {
                Some(evaluate) => {
                    let chosen: Vec<(usize, String)> = candidates
                        .iter()
                        .map(|(i, c)| (*i, c.text.clone()))
                        .collect();
                    Some(evaluate(&chosen)?)
                }
                None => None,
            };
            let mut report = self.append_kept(iteration, candidates, &mut ds, &mut state)?;
            report.metrics = metrics;
            state.completed = iteration;
            state.reports.push(report.clone());
            save_state(state_dir, &ds, &state)?;
            (hooks.on_iteration)(&report);
        }
        Ok((ds, state))
    }

    fn append_kept(
        &self,
        iteration: usize,
        candidates: Vec<(usize, Captioned)>,
        ds: &mut Datastore,
        state: &mut DalState,
    ) -> Result<IterationReport> {
        let captioned = candidates.len();
        let kept = select(candidates, self.keep);
        let mut emb = Vec::new();
        let mut records = Vec::new();
        for (image, c) in &kept {
            emb.extend_from_slice(&c.embedding);
            let row = ds.rows() + records.len();
            records.push(CaptionRecord {
                id: format!("dal{iteration}-{image}"),
                image_id: format!("dal-image-{image}"),
                text: c.text.clone(),
            });
            state.synthetic.push(Synthetic {
                iteration,
                image: *image,
                text: c.text.clone(),
                score: c.score,
                row,
            });
        }
        if !kept.is_empty() {
            ds.append(
                RowMatrix::from_vec(kept.len(), ds.dim(), emb)?,
                Some(records),
            )?;
        }
        let mean = if kept.is_empty() {
            0.0
        } else {
            kept.iter().map(|(_, c)| c.score).sum::<f64>() / kept.len() as f64
        };
        Ok(IterationReport {
            iteration,
            captioned,
            added: kept.len(),
            mean_added_score: mean,
            datastore_rows: ds.rows(),
            metrics: None,
        })
    }
}

/// Per query: the base rows the caller excludes plus every synthetic row made from it.
fn exclusion_for(n: usize, state: &DalState, base: Option<&Exclusion>) -> Exclusion {
    let mut lists: Vec<Vec<usize>> = (0..n)
        .map(|i| base.map_or_else(Vec::new, |e| e.rows_of(i).to_vec()))
        .collect();
    for s in &state.synthetic {
        if let Some(l) = lists.get_mut(s.image) {
            l.push(s.row);
        }
    }
    Exclusion::per_query(lists)
}

fn caption_all(
    ds: &Datastore,
    indices: &RowMatrix<i64>,
    captioner: &mut dyn DalCaptioner,
) -> Result<Vec<(usize, Captioned)>> {
    let records = ds.captions().expect("checked in run");
    let mut out = Vec::new();
    for image in 0..indices.rows() {
        let retrieved: Vec<(usize, &str)> = indices
            .row(image)
            .iter()
            .filter(|&&r| r >= 0)
            .map(|&r| (r as usize, records[r as usize].text.as_str()))
            .collect();
        if let Some(c) = captioner.caption(image, &retrieved)? {
            if c.embedding.len() != ds.dim() || !c.score.is_finite() {
                return Err(Error::shape(
                    format!("DAL candidate of image {image} (embedding width, finite score)"),
                    ds.dim().to_string(),
                    c.embedding.len().to_string(),
                ));
            }
            out.push((image, c));
        }
    }
    Ok(out)
}

/// The kept candidates, in image order.
fn select(mut candidates: Vec<(usize, Captioned)>, keep: Keep) -> Vec<(usize, Captioned)> {
    match keep {
        Keep::Threshold(t) => candidates.retain(|(_, c)| c.score >= t),
        Keep::TopFraction(f) => {
            let n = ((candidates.len() as f64) * f).ceil() as usize;
            candidates.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
            candidates.truncate(n);
            candidates.sort_by_key(|(i, _)| *i);
        }
    }
    candidates
}

fn iteration_dir(state_dir: &Path, iteration: usize) -> PathBuf {
    state_dir.join(format!("iter-{iteration}"))
}

/// Write the iteration's datastore to a temporary folder, rename it into place, then
/// replace `dal.json` (the commit point).
fn save_state(state_dir: &Path, ds: &Datastore, state: &DalState) -> Result<()> {
    let tmp = state_dir.join(format!(".iter-{}.partial", state.completed));
    let _ = std::fs::remove_dir_all(&tmp);
    ds.save(&tmp)?;
    let dir = iteration_dir(state_dir, state.completed);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|e| Error::io(&dir, e))?;
    write_json_atomic(state_dir.join("dal.json"), state)?;
    if state.completed > 1 {
        let _ = std::fs::remove_dir_all(iteration_dir(state_dir, state.completed - 1));
    }
    Ok(())
}

/// The last committed state, if any.
fn load_state(state_dir: &Path) -> Result<Option<(Datastore, DalState)>> {
    let path = state_dir.join("dal.json");
    if !path.exists() {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        return Ok(None);
    }
    let value = crate::io::captions::read_json(&path)?;
    let state: DalState = serde_json::from_value(value).map_err(|e| Error::Json {
        path: path.clone(),
        source: e,
    })?;
    let ds = Datastore::load(iteration_dir(state_dir, state.completed))?;
    if ds.rows() != state.base_rows + state.synthetic.len() {
        return Err(Error::format(&path, format!("{} synthetic captions recorded, but the saved datastore has {} rows over the base {}", state.synthetic.len(), ds.rows(), state.base_rows)));
    }
    Ok(Some((ds, state)))
}
