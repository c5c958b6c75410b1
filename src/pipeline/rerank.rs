//! Re-ranking generated candidates in CLIP space (ReCap's last stage).
//!
//! For an image embedding `v`, candidate text embeddings `c_i` and, for RefaCLIP-S, the text
//! embeddings `r_j` of the captions retrieved for the image:
//!
//! - **CLIP-S** `s_i = w · max(cos(v, c_i), 0)`, `w = 2.5`;
//! - **aCLIP-S** the same with `v` replaced by `v W` (the fitted alignment);
//! - **RefaCLIP-S** the harmonic mean `2 s m / (s + m)` of aCLIP-S `s` and
//!   `m = max_j cos(c_i, r_j)` (clipscore's convention, `m` unclipped; 0 when `s·m = 0`).
//!
//! Candidates are deduplicated on their trimmed text (the first occurrence and its embedding
//! kept), scored in f64, and the best is the highest score, the first among equals (the
//! crate's tie rule).

use crate::align::LinearMap;
use crate::matrix::{norm_f64, RowMatrix};
use crate::metrics::clip::CLIP_S_WEIGHT;
use crate::{Error, Result};

/// The score candidates are ranked by.
#[derive(Debug, Clone, Copy)]
pub enum RerankBy<'a> {
    /// CLIP-S against the image embedding.
    ClipS,
    /// aCLIP-S: CLIP-S against the image embedding mapped through the alignment.
    AClipS(&'a LinearMap),
    /// RefaCLIP-S: aCLIP-S combined with the best cosine to the retrieved captions
    /// (`retrieved`: their text embeddings, one per row).
    RefAClipS(&'a LinearMap, &'a RowMatrix<f32>),
}

/// Candidates after deduplication, with their scores and the winner.
#[derive(Debug, Clone, PartialEq)]
pub struct Reranked {
    /// Distinct candidate texts (trimmed), in first-seen order.
    pub texts: Vec<String>,
    /// For each distinct text, the row of its embedding in the input.
    pub rows: Vec<usize>,
    /// The ranking score of each distinct text.
    pub scores: Vec<f64>,
    /// Index (into `texts`) of the best candidate.
    pub best: usize,
}

impl Reranked {
    /// The winning caption.
    pub fn best_text(&self) -> &str {
        &self.texts[self.best]
    }
}

/// Deduplicate `texts` (row `i` of `embeddings` is the text embedding of `texts[i]`), score
/// each distinct candidate against `image` by `by`, and pick the best.
///
/// Errors: no candidates, an empty candidate text, rows ≠ texts, widths that differ, a zero
/// or non-finite embedding (naming the candidate).
pub fn rerank(
    image: &[f32],
    texts: &[String],
    embeddings: &RowMatrix<f32>,
    by: RerankBy<'_>,
) -> Result<Reranked> {
    check_inputs(texts, embeddings)?;
    let (texts, rows) = dedup(texts);
    let query = match by {
        RerankBy::ClipS => image.to_vec(),
        RerankBy::AClipS(map) | RerankBy::RefAClipS(map, _) => map
            .apply(&RowMatrix::from_vec(1, image.len(), image.to_vec())?)?
            .into_vec(),
    };
    if query.len() != embeddings.cols() {
        return Err(Error::shape(
            "image embedding (after the map, if any) vs candidates",
            embeddings.cols().to_string(),
            query.len().to_string(),
        ));
    }
    let scores = rows
        .iter()
        .map(|&r| {
            let c = embeddings.row(r);
            let s = CLIP_S_WEIGHT * cosine(&query, c, "image embedding", r)?.max(0.0);
            match by {
                RerankBy::RefAClipS(_, refs) => Ok(harmonic(s, best_ref_cosine(c, refs, r)?)),
                _ => Ok(s),
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    let best = first_argmax(&scores);
    Ok(Reranked {
        texts,
        rows,
        scores,
        best,
    })
}

fn check_inputs(texts: &[String], embeddings: &RowMatrix<f32>) -> Result<()> {
    if texts.is_empty() {
        return Err(Error::invalid("candidates", "nothing to re-rank"));
    }
    if texts.len() != embeddings.rows() {
        return Err(Error::shape(
            "candidate embeddings",
            format!("{} rows (one per candidate)", texts.len()),
            embeddings.rows().to_string(),
        ));
    }
    match texts.iter().position(|t| t.trim().is_empty()) {
        Some(i) => Err(Error::invalid(
            "candidates",
            format!("candidate {i} is empty"),
        )),
        None => Ok(()),
    }
}

fn dedup(texts: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut seen = std::collections::HashSet::new();
    texts
        .iter()
        .enumerate()
        .filter(|(_, t)| seen.insert(t.trim().to_string()))
        .map(|(i, t)| (t.trim().to_string(), i))
        .unzip()
}

fn cosine(a: &[f32], b: &[f32], what: &str, row: usize) -> Result<f64> {
    let (na, nb) = (norm_f64(a), norm_f64(b));
    if !(na.is_finite() && nb.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("{what} or candidate {row}"),
            row,
            col: 0,
        });
    }
    if na == 0.0 || nb == 0.0 {
        return Err(Error::ZeroVector {
            what: format!("{what} or candidate {row}"),
            row,
        });
    }
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum::<f64>()
        / (na * nb))
}

fn best_ref_cosine(c: &[f32], refs: &RowMatrix<f32>, row: usize) -> Result<f64> {
    if refs.rows() == 0 || refs.cols() != c.len() {
        return Err(Error::shape(
            "retrieved caption embeddings",
            format!("≥ 1 row of width {}", c.len()),
            format!("{} x {}", refs.rows(), refs.cols()),
        ));
    }
    refs.iter_rows()
        .map(|r| cosine(r, c, "retrieved caption embedding", row))
        .try_fold(f64::NEG_INFINITY, |m, x| Ok(m.max(x?)))
}

fn harmonic(s: f64, m: f64) -> f64 {
    if s * m == 0.0 || s + m == 0.0 {
        0.0
    } else {
        2.0 * s * m / (s + m)
    }
}

/// Index of the largest score, the first among equals.
fn first_argmax(scores: &[f64]) -> usize {
    (1..scores.len()).fold(0, |best, i| if scores[i] > scores[best] { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: usize, cols: usize, v: &[f32]) -> RowMatrix<f32> {
        RowMatrix::from_vec(rows, cols, v.to_vec()).unwrap()
    }

    #[test]
    fn dedups_scores_and_breaks_ties_by_first() {
        let texts: Vec<String> = ["a dog", " a dog ", "a cat", "a bird"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let emb = m(4, 2, &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        let r = rerank(&[1.0, 0.0], &texts, &emb, RerankBy::ClipS).unwrap();
        assert_eq!(r.texts, vec!["a dog", "a cat", "a bird"]);
        assert_eq!(r.rows, vec![0, 2, 3]);
        assert_eq!(r.scores, vec![2.5, 0.0, 2.5]);
        assert_eq!(r.best, 0, "equal scores: the first wins");
    }

    #[test]
    fn aclip_maps_the_image_and_refaclip_combines_the_references() {
        let swap = LinearMap::Plain(m(2, 2, &[0.0, 1.0, 1.0, 0.0]));
        let texts: Vec<String> = vec!["x".into(), "y".into()];
        let emb = m(2, 2, &[1.0, 0.0, 0.0, 1.0]);
        let r = rerank(&[1.0, 0.0], &texts, &emb, RerankBy::AClipS(&swap)).unwrap();
        assert_eq!((r.scores.clone(), r.best_text()), (vec![0.0, 2.5], "y"));
        let refs = m(2, 2, &[0.6, 0.8, 1.0, 0.0]);
        let r = rerank(&[1.0, 0.0], &texts, &emb, RerankBy::RefAClipS(&swap, &refs)).unwrap();
        // y: s = 2.5, m = 0.8 → 2·2.5·0.8/3.3; x: s = 0 → 0.
        assert!(
            (r.scores[1] - 4.0 / 3.3).abs() < 1e-6 && r.scores[0] == 0.0,
            "{:?}",
            r.scores
        ); // 0.8 as f32
        let bad = rerank(&[0.0, 0.0], &texts, &emb, RerankBy::ClipS).unwrap_err();
        assert!(matches!(bad, Error::ZeroVector { .. }), "{bad}");
        assert!(rerank(
            &[1.0, 0.0],
            &["".into()],
            &m(1, 2, &[1.0, 0.0]),
            RerankBy::ClipS
        )
        .is_err());
    }
}
