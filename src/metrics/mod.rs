//! Caption metrics: pycocoevalcap-exact BLEU-1..4, ROUGE-L and CIDEr-D with a Rust PTB
//! tokenizer, METEOR through its official jar, the CLIP-S family from embeddings, and
//! Kendall τ against human judgments.
//!
//! | module | what |
//! |---|---|
//! | [`tokenize`] | pycocoevalcap's PTBTokenizer pipeline, in Rust |
//! | [`bleu`], [`rouge`], [`cider`] | the COCO n-gram metrics, equal to pycocoevalcap 1.2 |
//! | [`meteor`] | METEOR 1.5 through `java -jar meteor-1.5.jar` (pycocoevalcap's protocol) |
//! | [`clip`] | CLIP-S, RefCLIP-S, PAC-S, RefPAC-S, aCLIP-S, RefaCLIP-S |
//! | [`correlation`] | Kendall τ-b / τ-c as scipy, pairwise accuracy |
//! | [`flickr8k`] | clipscore's Flickr8k human-judgment protocol |
//! | [`report`] | the `{"corpus": .., "per_image": ..}` report |

pub mod bleu;
pub mod cider;
pub mod clip;
pub mod correlation;
pub mod flickr8k;
pub mod meteor;
pub mod ngrams;
pub mod report;
pub mod rouge;
pub mod score;
pub mod text;
pub mod tokenize;

use crate::error::{Error, Result};
use crate::io::captions::{Candidates, References};

/// How captions are tokenized before the n-gram metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenization {
    /// pycocoevalcap's PTB pipeline ([`tokenize::ptb_tokenize`]).
    #[default]
    Ptb,
    /// Use the captions as given (split on whitespace by the metrics).
    None,
}

/// The evaluated set: candidate ids in order, with tokenized candidates and references.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSet {
    /// Candidate ids (sorted, as [`Candidates`] is ordered).
    pub ids: Vec<String>,
    /// One tokenized candidate per id.
    pub cands: Vec<String>,
    /// The tokenized references of each id (never empty).
    pub refs: Vec<Vec<String>>,
}

impl EvalSet {
    /// Pair candidates with their references and tokenize both.
    ///
    /// Errors: a candidate id without references ([`Error::InvalidArgument`] naming it), an
    /// id whose reference list is empty, no candidates at all. References of ids without a
    /// candidate are not part of the evaluated set (they do not enter CIDEr's document
    /// frequencies).
    pub fn new(cands: &Candidates, refs: &References, tok: Tokenization) -> Result<EvalSet> {
        if cands.is_empty() {
            return Err(Error::invalid("candidates", "no candidate captions"));
        }
        let mut raw_refs = Vec::with_capacity(cands.len());
        for id in cands.keys() {
            let r = refs.get(id).ok_or_else(|| {
                Error::invalid(
                    "references",
                    format!("candidate id {id:?} has no references"),
                )
            })?;
            if r.is_empty() {
                return Err(Error::invalid(
                    "references",
                    format!("the reference list of id {id:?} is empty"),
                ));
            }
            raw_refs.push(r.clone());
        }
        let ids: Vec<String> = cands.keys().cloned().collect();
        let raw_cands: Vec<String> = cands.values().cloned().collect();
        Ok(Self::from_raw(ids, raw_cands, raw_refs, tok))
    }

    /// Build from parallel lists (item i: `cands[i]` with `refs[i]`), tokenizing both.
    /// Ids may repeat (clipscore's Flickr8k protocol scores every judgment as one item).
    pub fn from_raw(
        ids: Vec<String>,
        cands: Vec<String>,
        refs: Vec<Vec<String>>,
        tok: Tokenization,
    ) -> EvalSet {
        match tok {
            Tokenization::None => EvalSet { ids, cands, refs },
            Tokenization::Ptb => {
                let cands = tokenize::ptb_tokenize_all(&cands);
                let refs = refs.iter().map(|r| tokenize::ptb_tokenize_all(r)).collect();
                EvalSet { ids, cands, refs }
            }
        }
    }

    /// Number of evaluated items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there is nothing to evaluate.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// BLEU-1..4, ROUGE-L and CIDEr-D of a set, per item and corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct NgramScores {
    /// BLEU-1..4.
    pub bleu: bleu::BleuScores,
    /// ROUGE-L corpus mean and per item.
    pub rouge_l: (f64, Vec<f64>),
    /// CIDEr-D corpus mean and per item.
    pub cider: (f64, Vec<f64>),
}

/// Compute BLEU-1..4, ROUGE-L and CIDEr-D (pycocoevalcap 1.2 semantics) on a set.
pub fn ngram_metrics(set: &EvalSet) -> NgramScores {
    // ROUGE-L works on the strings: it runs while the n-grams are counted.
    let ((cands, refs, n_grams), rouge_l) = rayon::join(
        || count_ngrams(set),
        || rouge::rouge_l(&set.cands, &set.refs),
    );
    let (bleu, cider) = rayon::join(
        || bleu::bleu(&cands, &refs, n_grams),
        || cider::cider(&cands, &refs, n_grams),
    );
    NgramScores {
        bleu,
        rouge_l,
        cider,
    }
}

/// N-gram counts of every candidate and reference, and the number of distinct n-grams.
pub fn count_ngrams(set: &EvalSet) -> (Vec<ngrams::Counts>, Vec<Vec<ngrams::Counts>>, usize) {
    let sentences: Vec<&str> = set
        .cands
        .iter()
        .chain(set.refs.iter().flatten())
        .map(String::as_str)
        .collect();
    let (counts, n_grams) = ngrams::count_all(&sentences);
    let mut counts = counts.into_iter();
    let cands = counts.by_ref().take(set.cands.len()).collect();
    let refs = set
        .refs
        .iter()
        .map(|rs| counts.by_ref().take(rs.len()).collect())
        .collect();
    (cands, refs, n_grams)
}
