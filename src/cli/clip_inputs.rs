//! Loading the embeddings of the CLIP-based metrics for `recap score` / `recap correlate`.
//!
//! Convention: `.npy` files (or `file.npz:member`), one embedding per row. Row order is the
//! order of the evaluated items unless an id sidecar is given: `--image-ids` / `--cand-ids`
//! (JSON list, the id of each row; each candidate id once) and `--ref-ids` (the id of each
//! reference row; an id's rows are its references). Without `--ref-ids` the reference rows
//! are the items' references in order (`ref_counts`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::io::captions::read_json;
use crate::io::{npy, Grouping};
use crate::matrix::RowMatrix;
use crate::metrics::score::ClipInputs;

/// Embedding options shared by `score` and `correlate`.
#[derive(Args, Debug, Clone, Default)]
pub struct EmbeddingArgs {
    /// Image embeddings (.npy): one row per item (or per `--image-ids` entry).
    #[arg(long, alias = "image-emb", value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// Candidate text embeddings (.npy): one row per item (or per `--cand-ids` entry).
    #[arg(long)]
    pub cand_emb: Option<PathBuf>,
    /// Reference text embeddings (.npy): the references of each item, in order.
    #[arg(long)]
    pub ref_emb: Option<PathBuf>,
    /// Fitted alignment map W (.npy, d_x x d, applied as X @ W) for aCLIP-S / RefaCLIP-S.
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// JSON list: the id of each image-embedding row.
    #[arg(long)]
    pub image_ids: Option<PathBuf>,
    /// JSON list: the id of each candidate-embedding row.
    #[arg(long)]
    pub cand_ids: Option<PathBuf>,
    /// JSON list: the id of each reference-embedding row.
    #[arg(long)]
    pub ref_ids: Option<PathBuf>,
}

fn read_ids(path: &Path) -> Result<Vec<String>> {
    let v = read_json(path)?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::format(path, "expected a JSON list of ids"))?;
    arr.iter()
        .map(|x| match x {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(Error::format(
                path,
                format!("id must be a string or integer, got {other}"),
            )),
        })
        .collect()
}

fn pick_rows(m: &RowMatrix<f32>, rows: &[usize]) -> Result<RowMatrix<f32>> {
    let mut data = Vec::with_capacity(rows.len() * m.cols());
    for &r in rows {
        data.extend_from_slice(m.row(r));
    }
    RowMatrix::from_vec(rows.len(), m.cols(), data)
}

/// One row per item: reorder by the sidecar ids when given, else check the row count.
fn per_item(
    m: RowMatrix<f32>,
    sidecar: Option<&Path>,
    item_ids: &[String],
    what: &str,
) -> Result<RowMatrix<f32>> {
    let Some(path) = sidecar else {
        if m.rows() != item_ids.len() {
            return Err(Error::shape(
                what,
                format!("{} rows (one per item)", item_ids.len()),
                format!("{} rows", m.rows()),
            ));
        }
        return Ok(m);
    };
    let ids = read_ids(path)?;
    if ids.len() != m.rows() {
        return Err(Error::shape(
            what,
            format!("{} rows (as ids in {})", ids.len(), path.display()),
            format!("{} rows", m.rows()),
        ));
    }
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let rows = item_ids
        .iter()
        .map(|id| {
            index.get(id.as_str()).copied().ok_or_else(|| {
                Error::invalid(what, format!("no row for id {id:?} in {}", path.display()))
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    pick_rows(&m, &rows)
}

/// Reference rows per item: by sidecar ids, or `ref_counts[i]` consecutive rows per item.
fn references(
    m: RowMatrix<f32>,
    sidecar: Option<&Path>,
    item_ids: &[String],
    ref_counts: &[usize],
) -> Result<(RowMatrix<f32>, Grouping)> {
    let what = "reference embeddings";
    let Some(path) = sidecar else {
        let total: usize = ref_counts.iter().sum();
        if m.rows() != total {
            return Err(Error::shape(
                what,
                format!("{total} rows (the items' references)"),
                format!("{} rows", m.rows()),
            ));
        }
        return Ok((m, Grouping::from_counts(ref_counts)));
    };
    let ids = read_ids(path)?;
    if ids.len() != m.rows() {
        return Err(Error::shape(
            what,
            format!("{} rows (as ids in {})", ids.len(), path.display()),
            format!("{} rows", m.rows()),
        ));
    }
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (r, id) in ids.iter().enumerate() {
        by_id.entry(id.as_str()).or_default().push(r);
    }
    let mut rows = Vec::new();
    let mut counts = Vec::with_capacity(item_ids.len());
    for id in item_ids {
        let r = by_id.get(id.as_str()).ok_or_else(|| {
            Error::invalid(
                what,
                format!("no reference rows for id {id:?} in {}", path.display()),
            )
        })?;
        rows.extend_from_slice(r);
        counts.push(r.len());
    }
    Ok((pick_rows(&m, &rows)?, Grouping::from_counts(&counts)))
}

impl EmbeddingArgs {
    /// Load the embeddings (None when no image/candidate embeddings were given): image and
    /// reference rows for `image_ids` (with `ref_counts[i]` references each), candidate rows
    /// for `cand_ids`.
    pub fn load(
        &self,
        image_ids: &[String],
        cand_ids: &[String],
        ref_counts: &[usize],
    ) -> Result<Option<ClipInputs>> {
        let (Some(img), Some(cand)) = (&self.images, &self.cand_emb) else {
            if self.images.is_some() || self.cand_emb.is_some() {
                return Err(Error::invalid(
                    "embeddings",
                    "--images and --cand-emb go together",
                ));
            }
            return Ok(None);
        };
        let images = per_item(
            npy::read_f32(img)?,
            self.image_ids.as_deref(),
            image_ids,
            "image embeddings",
        )?;
        let candidates = per_item(
            npy::read_f32(cand)?,
            self.cand_ids.as_deref(),
            cand_ids,
            "candidate embeddings",
        )?;
        let references = match &self.ref_emb {
            Some(p) => Some(references(
                npy::read_f32(p)?,
                self.ref_ids.as_deref(),
                image_ids,
                ref_counts,
            )?),
            None => None,
        };
        let map = match &self.map {
            Some(p) => Some(crate::align::LinearMap::load(p)?),
            None => None,
        };
        Ok(Some(ClipInputs {
            images,
            candidates,
            references,
            map,
        }))
    }
}

/// Repeat rows: row `i` of the result is row `source[i]` of `m` (images / references of an
/// image shared by several judged candidates).
pub fn expand_rows(m: &RowMatrix<f32>, source: &[usize]) -> Result<RowMatrix<f32>> {
    pick_rows(m, source)
}
