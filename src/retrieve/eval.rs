//! Retrieval evaluation: image→text and text→image recall@K and median rank.
//!
//! Given image embeddings (`n_images x d`), caption embeddings (`n_captions x d`) and the
//! [`Grouping`] saying which captions describe which image, every image queries all captions
//! (a hit is **any** caption of that image) and every caption queries all images (the hit is
//! its image). Scores are cosine similarities. The rank of a query is the 1-based position of
//! its best-ranked hit in the full ranking (higher score first, ties by lower row; the same
//! order as [`Datastore::search`](super::Datastore::search)), computed exactly without a
//! score matrix: one blocked pass counts, per query, the rows that rank before its best hit.
//!
//! - recall@K = share of queries whose rank is ≤ K;
//! - median rank = the median of the ranks (mean of the two middle ones for an even count,
//!   as `numpy.median`).
//!
//! Images without captions have no hit and are left out of image→text (reported as
//! `skipped`).

use serde::Serialize;

use super::{Datastore, Storage};
use std::sync::Arc;

use crate::backend::{Backend, RowsRef};
use crate::error::{Error, Result};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// The cut-offs reported.
pub const RECALL_AT: [usize; 3] = [1, 5, 10];

/// Recall and rank statistics of one direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirectionReport {
    /// Queries evaluated.
    pub queries: usize,
    /// Queries left out (no hit exists).
    pub skipped: usize,
    /// `(K, recall@K)` for K in [`RECALL_AT`], as fractions in `[0, 1]`.
    pub recall: Vec<(usize, f64)>,
    /// Median 1-based rank of the first hit.
    pub median_rank: f64,
    /// Mean 1-based rank of the first hit.
    pub mean_rank: f64,
}

/// Both directions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetrievalReport {
    /// Images query captions.
    pub image_to_text: DirectionReport,
    /// Captions query images.
    pub text_to_image: DirectionReport,
}

/// Evaluate image↔text retrieval (cosine). `images` and `texts` are raw embeddings (they
/// are normalized here; zero or non-finite rows are errors naming the row).
pub fn evaluate(
    images: &RowMatrix<f32>,
    texts: &RowMatrix<f32>,
    grouping: &Grouping,
) -> Result<RetrievalReport> {
    evaluate_on(&crate::backend::cpu(), images, texts, grouping)
}

/// [`evaluate`] on `backend` (normalization and the rank counts run there).
pub fn evaluate_on(
    backend: &Arc<dyn Backend>,
    images: &RowMatrix<f32>,
    texts: &RowMatrix<f32>,
    grouping: &Grouping,
) -> Result<RetrievalReport> {
    grouping.check_rows(images.rows(), texts.rows())?;
    if images.cols() != texts.cols() {
        return Err(Error::shape(
            "image vs text embedding dimension",
            format!("{} columns", images.cols()),
            format!("{} columns", texts.cols()),
        ));
    }
    let image_ds = Datastore::cosine(images.clone(), Storage::F32)?.on(backend.clone());
    let text_ds = Datastore::cosine(texts.clone(), Storage::F32)?.on(Arc::clone(backend));
    let image_hits: Vec<&[usize]> = (0..grouping.n_images())
        .map(|i| grouping.captions_of(i))
        .collect();
    let text_hits: Vec<[usize; 1]> = (0..grouping.n_captions())
        .map(|c| [grouping.image_of(c)])
        .collect();
    let text_hits: Vec<&[usize]> = text_hits.iter().map(|h| &h[..]).collect();
    let i2t = first_hit_ranks(&text_ds, &image_ds.to_f32(), &image_hits)?;
    let t2i = first_hit_ranks(&image_ds, &text_ds.to_f32(), &text_hits)?;
    Ok(RetrievalReport {
        image_to_text: summarize(&i2t),
        text_to_image: summarize(&t2i),
    })
}

/// For every query row (used as given: normalize first for cosine), the 1-based rank of its
/// best-ranked hit among all rows of `ds`, or `None` if it has no hit. `hits[i]` lists the
/// datastore rows that count as hits for query `i`. Runs on the datastore's backend.
pub fn first_hit_ranks(
    ds: &Datastore,
    queries: &RowMatrix<f32>,
    hits: &[&[usize]],
) -> Result<Vec<Option<usize>>> {
    let q = RowsRef::new(queries.as_slice(), queries.rows(), queries.cols())?;
    ds.backend().first_hit_ranks(q, ds.base(), hits)
}

/// Recall@K, median and mean rank of a list of ranks (`None` = skipped).
pub fn summarize(ranks: &[Option<usize>]) -> DirectionReport {
    let mut r: Vec<usize> = ranks.iter().flatten().copied().collect();
    r.sort_unstable();
    let n = r.len();
    let recall = RECALL_AT
        .iter()
        .map(|&k| {
            let hits = r.partition_point(|&x| x <= k);
            (k, if n == 0 { 0.0 } else { hits as f64 / n as f64 })
        })
        .collect();
    let median_rank = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => r[n / 2] as f64,
        _ => (r[n / 2 - 1] + r[n / 2]) as f64 / 2.0,
    };
    let mean_rank = if n == 0 {
        f64::NAN
    } else {
        r.iter().sum::<usize>() as f64 / n as f64
    };
    DirectionReport {
        queries: n,
        skipped: ranks.len() - n,
        recall,
        median_rank,
        mean_rank,
    }
}
