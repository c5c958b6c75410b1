//! `recap caption --references FILE`: the captions the pipeline chose, scored against
//! reference captions in the same run, as `recap score` would score the written results:
//! BLEU-1..4, METEOR (when Java and the jar are found, else listed as skipped), ROUGE-L,
//! CIDEr-D on PTB-tokenized text; CLIP-S and RefCLIP-S from the pipeline's own CLIP (the
//! images' embeddings, the chosen captions and the references embedded by its text tower);
//! aCLIP-S and RefaCLIP-S through `--map` when one is given.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::captions::{read_references, Candidates, References};
use crate::io::Grouping;
use crate::metrics::clip::RefCosine;
use crate::metrics::report::Report;
use crate::metrics::score::{score, ClipInputs, Metric, ScoreOptions};
use crate::metrics::{EvalSet, Tokenization};
use crate::RowMatrix;

use crate::align::LinearMap;
use crate::models::clip::Clip;

/// What the CLIP-based metrics need from a pipeline run.
pub struct ScoringParts<'a> {
    /// The pipeline's CLIP (its text tower embeds the chosen captions and the references).
    pub clip: &'a Clip,
    /// The images' normalized CLIP embeddings, one row per image id.
    pub images: &'a RowMatrix<f32>,
    /// The alignment map, for aCLIP-S and RefaCLIP-S.
    pub map: Option<&'a LinearMap>,
}

/// The metrics of the `chosen` captions (`(image row, caption)`; image `i` has id `ids[i]`)
/// against the references in `path`: the report `recap score --json` prints, and its table
/// for people.
pub fn score_captions(
    chosen: &[(usize, String)],
    ids: &[String],
    parts: &ScoringParts,
    path: &Path,
    meteor_jar: Option<&Path>,
) -> Result<Report> {
    let refs = read_references(path)?;
    let cands = candidates_with_references(chosen, ids, &refs, path)?;
    let set = EvalSet::new(&cands, &refs, Tokenization::Ptb)?;
    let mut metrics = vec![
        Metric::Bleu,
        Metric::Meteor,
        Metric::Rouge,
        Metric::Cider,
        Metric::ClipS,
        Metric::RefClipS,
    ];
    if parts.map.is_some() {
        metrics.extend([Metric::AClipS, Metric::RefAClipS]);
    }
    let opts = ScoreOptions {
        metrics,
        meteor_jar: meteor_jar.map(Path::to_path_buf),
        clip: Some(clip_inputs(&set, &cands, &refs, ids, parts)?),
        ref_cosine: RefCosine::Clipscore,
        device: crate::backend::Device::Cpu,
    };
    score(&set, &opts)
}

/// The chosen caption of every image whose id has references (an error when none has).
fn candidates_with_references(
    chosen: &[(usize, String)],
    ids: &[String],
    refs: &References,
    path: &Path,
) -> Result<Candidates> {
    let cands: Candidates = chosen
        .iter()
        .map(|(image, caption)| (ids[*image].clone(), caption.clone()))
        .filter(|(id, _)| refs.contains_key(id))
        .collect();
    if cands.is_empty() {
        return Err(Error::format(
            path,
            "no image id of this run has references here",
        ));
    }
    Ok(cands)
}

/// Image rows, chosen-caption and reference embeddings in the evaluated set's order.
fn clip_inputs(
    set: &EvalSet,
    cands: &Candidates,
    refs: &References,
    ids: &[String],
    parts: &ScoringParts,
) -> Result<ClipInputs> {
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let d = parts.images.cols();
    let mut images = Vec::with_capacity(set.ids.len() * d);
    for id in &set.ids {
        images.extend_from_slice(parts.images.row(row_of[id.as_str()]));
    }
    let texts: Vec<&str> = set.ids.iter().map(|id| cands[id].as_str()).collect();
    let ref_texts: Vec<&str> = set
        .ids
        .iter()
        .flat_map(|id| refs[id].iter().map(String::as_str))
        .collect();
    let counts: Vec<usize> = set.ids.iter().map(|id| refs[id].len()).collect();
    Ok(ClipInputs {
        images: RowMatrix::from_vec(set.ids.len(), d, images)?,
        candidates: parts.clip.embed_texts(&texts)?,
        references: Some((
            parts.clip.embed_texts(&ref_texts)?,
            Grouping::from_counts(&counts),
        )),
        map: parts.map.cloned(),
    })
}
