//! Karpathy split files (`dataset_coco.json`, `dataset_flickr8k.json`, `dataset_flickr30k.json`).
//!
//! Format (Karpathy & Fei-Fei 2015, the standard COCO/Flickr captioning splits):
//!
//! ```json
//! {"dataset": "coco", "images": [
//!   {"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg", "imgid": 0,
//!    "split": "test", "cocoid": 391895, "sentids": [770337, ...],
//!    "sentences": [{"tokens": ["a", "man", ...], "raw": "A man with a red helmet ...",
//!                   "imgid": 0, "sentid": 770337}, ...]}, ...]}
//! ```
//!
//! - The image id is `cocoid` when present (COCO), else `imgid` (Flickr).
//! - `split` is one of `train`, `restval`, `val`, `test`. The usual "Karpathy train" set
//!   (113,287 COCO images) is `train` + `restval`: [`KarpathyDataset::split`] merges them when
//!   asked.
//! - A sentence's id is `sentid`; without one it is `<image id>#<k>` (k = position).
//!   `tokens` is optional (empty when absent).

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::sidecar::{required, type_name};
use super::{caption_string, id_string, read_json, References};
use crate::error::{Error, Result};

/// A Karpathy split name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// `train`.
    Train,
    /// `restval`: the rest of COCO val2014, usually added to training.
    Restval,
    /// `val`.
    Val,
    /// `test`.
    Test,
}

impl Split {
    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Restval => "restval",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// Parse a split name (`train`, `restval`, `val`, `test`).
    pub fn parse(name: &str) -> Option<Split> {
        match name {
            "train" => Some(Split::Train),
            "restval" => Some(Split::Restval),
            "val" => Some(Split::Val),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

/// One reference sentence of a Karpathy image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KarpathySentence {
    /// `sentid` (or `<image id>#<k>` when the file has none).
    pub id: String,
    /// The caption as written (`raw`).
    pub raw: String,
    /// Karpathy's lower-cased tokens (`tokens`; empty if absent).
    pub tokens: Vec<String>,
}

/// One image of a Karpathy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KarpathyImage {
    /// `cocoid` if present, else `imgid`.
    pub id: String,
    /// `filename`.
    pub filename: String,
    /// `filepath` (COCO: `train2014` / `val2014`), if present.
    pub filepath: Option<String>,
    /// `split`.
    pub split: Split,
    /// `sentences`, in file order.
    pub sentences: Vec<KarpathySentence>,
}

/// A whole Karpathy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KarpathyDataset {
    /// `dataset` (`coco`, `flickr8k`, `flickr30k`), if present.
    pub dataset: Option<String>,
    /// Images in file order.
    pub images: Vec<KarpathyImage>,
}

impl KarpathyDataset {
    /// The images of `split`, in file order. With `restval_as_train`, [`Split::Train`] also
    /// takes the `restval` images (the 113k "Karpathy train" set); other splits are unchanged.
    pub fn split(&self, split: Split, restval_as_train: bool) -> Vec<&KarpathyImage> {
        self.images
            .iter()
            .filter(|img| {
                img.split == split
                    || (restval_as_train && split == Split::Train && img.split == Split::Restval)
            })
            .collect()
    }

    /// References `{image id: [raw captions]}` of the given images, for the caption metrics.
    pub fn references<'a>(images: impl IntoIterator<Item = &'a KarpathyImage>) -> References {
        images
            .into_iter()
            .map(|img| {
                let refs = img.sentences.iter().map(|s| s.raw.trim().to_owned());
                (img.id.clone(), refs.collect())
            })
            .collect()
    }
}

/// Read a Karpathy split file. Missing or mistyped fields, unknown split names and
/// duplicated image ids are [`Error::Format`] errors naming the file and the image.
pub fn read_karpathy(path: impl AsRef<Path>) -> Result<KarpathyDataset> {
    let path = path.as_ref();
    karpathy_from_value(&read_json(path)?, path)
}

/// Parse a Karpathy file from an already-read JSON value (see [`read_karpathy`]).
pub fn karpathy_from_value(v: &Value, path: &Path) -> Result<KarpathyDataset> {
    let images = match required(v, "images", path, "Karpathy file")? {
        Value::Array(a) => a,
        other => {
            return Err(Error::format(
                path,
                format!("\"images\" must be a list, got {}", type_name(other)),
            ))
        }
    };
    let images = images
        .iter()
        .enumerate()
        .map(|(i, img)| image(img, path, i))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = HashSet::with_capacity(images.len());
    if let Some(dup) = images.iter().find(|img| !seen.insert(img.id.as_str())) {
        return Err(Error::format(
            path,
            format!("image id {:?} appears more than once", dup.id),
        ));
    }
    let dataset = v.get("dataset").and_then(Value::as_str).map(str::to_owned);
    Ok(KarpathyDataset { dataset, images })
}

fn string_field(v: &Value, key: &str, path: &Path, ctx: &str) -> Result<String> {
    match required(v, key, path, ctx)? {
        Value::String(s) => Ok(s.clone()),
        other => Err(Error::format(
            path,
            format!(
                "{ctx}: \"{key}\" must be a string, got {}",
                type_name(other)
            ),
        )),
    }
}

fn image(v: &Value, path: &Path, index: usize) -> Result<KarpathyImage> {
    let ctx = format!("images[{index}]");
    let id_value = match v.get("cocoid") {
        Some(id) => id,
        None => v.get("imgid").ok_or_else(|| {
            Error::format(path, format!("{ctx}: missing \"cocoid\" and \"imgid\""))
        })?,
    };
    let id = id_string(id_value, path, &ctx)?;
    let ctx = format!("{ctx} (id {id})");
    let split_name = string_field(v, "split", path, &ctx)?;
    let split = Split::parse(&split_name).ok_or_else(|| {
        Error::format(
            path,
            format!("{ctx}: unknown split {split_name:?} (expected train, restval, val or test)"),
        )
    })?;
    let filename = string_field(v, "filename", path, &ctx)?;
    let filepath = match v.get("filepath") {
        None => None,
        Some(_) => Some(string_field(v, "filepath", path, &ctx)?),
    };
    let sentences = match required(v, "sentences", path, &ctx)? {
        Value::Array(s) => s,
        other => {
            return Err(Error::format(
                path,
                format!(
                    "{ctx}: \"sentences\" must be a list, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    let sentences = sentences
        .iter()
        .enumerate()
        .map(|(k, s)| sentence(s, path, &id, &format!("{ctx} sentences[{k}]"), k))
        .collect::<Result<Vec<_>>>()?;
    Ok(KarpathyImage {
        id,
        filename,
        filepath,
        split,
        sentences,
    })
}

fn sentence(
    v: &Value,
    path: &Path,
    image_id: &str,
    ctx: &str,
    k: usize,
) -> Result<KarpathySentence> {
    let raw = caption_string(required(v, "raw", path, ctx)?, path, ctx)?;
    let id = match v.get("sentid") {
        Some(id) => id_string(id, path, ctx)?,
        None => format!("{image_id}#{k}"),
    };
    let tokens = match v.get("tokens") {
        None => Vec::new(),
        Some(Value::Array(t)) => t
            .iter()
            .map(|tok| {
                tok.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::format(path, format!("{ctx}: \"tokens\" must hold strings"))
                })
            })
            .collect::<Result<Vec<_>>>()?,
        Some(other) => {
            return Err(Error::format(
                path,
                format!("{ctx}: \"tokens\" must be a list, got {}", type_name(other)),
            ))
        }
    };
    Ok(KarpathySentence { id, raw, tokens })
}
