//! The caption metrics' kernels: pycocoevalcap's PTB tokenizer, BLEU-1..4, ROUGE-L and
//! CIDEr-D on tokenized captions (equal to pycocoevalcap 1.2), METEOR through its jar, and
//! the CLIP-S family from embeddings. The pycocoevalcap-shaped classes are Python
//! (`recap_rs.metrics`).

use std::path::PathBuf;

use pyo3::prelude::*;
use recap::io::Grouping;
use recap::metrics::clip::{self, RefCosine};
use recap::metrics::{bleu, cider, count_ngrams, meteor, rouge, tokenize, EvalSet};
use recap::RowMatrix;

use crate::arrays::rows;
use crate::errors::{invalid, IntoPy};

/// Corpus and per-item values.
type Scored = (f64, Vec<f64>);

fn eval_set(cands: Vec<String>, refs: Vec<Vec<String>>) -> PyResult<EvalSet> {
    if cands.len() != refs.len() {
        return Err(invalid(format!(
            "{} candidates but {} reference lists",
            cands.len(),
            refs.len()
        )));
    }
    if cands.is_empty() {
        return Err(invalid("no candidate captions"));
    }
    if let Some(i) = refs.iter().position(Vec::is_empty) {
        return Err(invalid(format!("item {i} has no references")));
    }
    Ok(EvalSet {
        ids: (0..cands.len()).map(|i| i.to_string()).collect(),
        cands,
        refs,
    })
}

/// pycocoevalcap's PTBTokenizer on each caption (lower-cased, punctuation removed).
#[pyfunction]
fn ptb_tokenize(py: Python<'_>, captions: Vec<String>) -> Vec<String> {
    py.detach(|| tokenize::ptb_tokenize_all(&captions))
}

/// BLEU-1..4 of tokenized candidates (one per item) against tokenized references:
/// `(corpus[4], per item[n][4])`, closest reference length, as pycocoevalcap computes them.
#[pyfunction]
fn bleu_scores(
    py: Python<'_>,
    cands: Vec<String>,
    refs: Vec<Vec<String>>,
) -> PyResult<(Vec<f64>, Vec<Vec<f64>>)> {
    let set = eval_set(cands, refs)?;
    let b = py.detach(|| {
        let (c, r, n) = count_ngrams(&set);
        bleu::bleu(&c, &r, n)
    });
    Ok((
        b.corpus.to_vec(),
        b.per_item.iter().map(|v| v.to_vec()).collect(),
    ))
}

/// ROUGE-L (β = 1.2) of tokenized candidates against tokenized references.
#[pyfunction]
fn rouge_scores(py: Python<'_>, cands: Vec<String>, refs: Vec<Vec<String>>) -> PyResult<Scored> {
    let set = eval_set(cands, refs)?;
    Ok(py.detach(|| rouge::rouge_l(&set.cands, &set.refs)))
}

/// CIDEr-D of tokenized candidates against tokenized references (document frequencies from
/// these references, as pycocoevalcap's `Cider`).
#[pyfunction]
fn cider_scores(py: Python<'_>, cands: Vec<String>, refs: Vec<Vec<String>>) -> PyResult<Scored> {
    let set = eval_set(cands, refs)?;
    Ok(py.detach(|| {
        let (c, r, n) = count_ngrams(&set);
        cider::cider(&c, &r, n)
    }))
}

/// METEOR 1.5 through its jar (`jar`, else `$RECAP_METEOR_JAR`), pycocoevalcap's protocol.
#[pyfunction]
#[pyo3(signature = (cands, refs, jar = None))]
fn meteor_scores(
    py: Python<'_>,
    cands: Vec<String>,
    refs: Vec<Vec<String>>,
    jar: Option<PathBuf>,
) -> PyResult<Scored> {
    let set = eval_set(cands, refs)?;
    let s = py
        .detach(|| {
            let jar = meteor::find_jar(jar.as_deref())?;
            meteor::meteor(&jar, &set.cands, &set.refs)
        })
        .py_err()?;
    Ok((s.corpus, s.per_item))
}

fn owned(x: &Bound<'_, PyAny>, what: &str) -> PyResult<RowMatrix<f32>> {
    let r = rows(x, what)?;
    RowMatrix::from_vec(r.rows, r.cols, r.slice().to_vec()).py_err()
}

/// CLIP-S = w · max(cos(image, candidate), 0) per row pair (w = 2.5: clipscore; 2.0: PAC-S).
#[pyfunction]
#[pyo3(signature = (images, candidates, w = 2.5))]
fn clip_score(
    py: Python<'_>,
    images: &Bound<'_, PyAny>,
    candidates: &Bound<'_, PyAny>,
    w: f64,
) -> PyResult<Scored> {
    let (i, c) = (owned(images, "images")?, owned(candidates, "candidates")?);
    let s = py.detach(|| clip::clip_s(&i, &c, w)).py_err()?;
    Ok((s.corpus, s.per_item))
}

/// RefCLIP-S: harmonic mean of CLIP-S and the best cosine of the candidate with its
/// references; `reference_owner[j]` is the candidate row of reference row `j`. Returns
/// `(clip_s, refclip_s)`. `variant`: "clipscore" (the released code) or "paper" (clipped).
#[pyfunction]
#[pyo3(signature = (images, candidates, references, reference_owner, w = 2.5, variant = "clipscore"))]
fn refclip_score(
    py: Python<'_>,
    images: &Bound<'_, PyAny>,
    candidates: &Bound<'_, PyAny>,
    references: &Bound<'_, PyAny>,
    reference_owner: Vec<usize>,
    w: f64,
    variant: &str,
) -> PyResult<(Scored, Scored)> {
    let variant = match variant {
        "clipscore" => RefCosine::Clipscore,
        "paper" => RefCosine::Paper,
        other => {
            return Err(invalid(format!(
                "variant: {other:?} is not clipscore or paper"
            )))
        }
    };
    let (i, c) = (owned(images, "images")?, owned(candidates, "candidates")?);
    let r = owned(references, "references")?;
    let n = c.rows();
    let (cs, rs) = py
        .detach(|| {
            let grouping = Grouping::new(reference_owner, n)?;
            let cs = clip::clip_s(&i, &c, w)?;
            let best = clip::ref_max_cosine(&c, &r, &grouping)?;
            let rs = clip::ref_clip_s(&cs, &best, variant)?;
            Ok::<_, recap::Error>((cs, rs))
        })
        .py_err()?;
    Ok(((cs.corpus, cs.per_item), (rs.corpus, rs.per_item)))
}

/// Add the metric functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ptb_tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(bleu_scores, m)?)?;
    m.add_function(wrap_pyfunction!(rouge_scores, m)?)?;
    m.add_function(wrap_pyfunction!(cider_scores, m)?)?;
    m.add_function(wrap_pyfunction!(meteor_scores, m)?)?;
    m.add_function(wrap_pyfunction!(clip_score, m)?)?;
    m.add_function(wrap_pyfunction!(refclip_score, m)?)?;
    Ok(())
}
